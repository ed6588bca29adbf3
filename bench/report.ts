/** Writes bench/RESULTS.md: the machine, the date, one table of medians and ratios, how measured. */
import { writeFile } from 'node:fs/promises';
import { evaluate, type Figure, type FigureResult, type Unit } from './figure.js';
import type { Machine } from './machine.js';
import { maxOf, median, minOf } from './stats.js';

export interface Report {
  machine: Machine;
  /** The commit measured (see describeCode). */
  code: string;
  date: Date;
  durationSeconds: number;
  /** The 1-minute load average when the run started and when it ended: other work adds noise to both sides. */
  loadAverage: [number, number];
  runs: number;
  heavyRuns: number;
  snapshotter: string;
  figures: Figure[];
  /** Markdown of the cold-start breakdown, when it was measured. */
  breakdown: string | undefined;
  howMeasured: string[];
  leftovers: string[];
}

function number(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '—';
  switch (unit) {
    case 'ms':
      return value >= 100 ? value.toFixed(0) : value.toFixed(1);
    case 's':
      return value.toFixed(2);
    case 'MiB':
      return value.toFixed(1);
    case 'tasks/s':
      return value.toFixed(1);
    case 'req/s':
    case 'calls/s':
      return Math.round(value).toLocaleString('en-US');
  }
}

function withUnit(value: number | undefined, unit: Unit): string {
  return value === undefined ? '—' : `${number(value, unit)} ${unit}`;
}

function row(result: FigureResult): string {
  const { figure } = result;
  const ours = figure.ours === undefined ? 'not available (see notes)' : withUnit(result.oursMedian, figure.unit);
  const peer = figure.peer === undefined ? '—' : `${withUnit(result.peerMedian, figure.unit)} (${figure.peerName})`;
  const ratio = result.ratio === undefined ? '—' : `${result.ratio.toFixed(2)}x${figure.ratio === 'peer/ours' ? ' (speed)' : ''}`;
  const goal = figure.goal?.text ?? '—';
  const met = figure.goal === undefined ? '—' : result.met === undefined ? 'not measured' : result.met ? '**yes**' : '**no**';
  return `| ${figure.title} | ${ours} | ${peer} | ${ratio} | ${goal} | ${met} |`;
}

/**
 * The median of the per-round ratios (round i of ours against round i of the peer, measured next
 * to each other): less moved than the ratio of medians by a burst of load that hits a few rounds.
 */
function pairedRatio(figure: Figure): string {
  const { ours, peer } = figure;
  if (ours === undefined || peer === undefined || ours.length !== peer.length || ours.length < 2) return '—';
  const ratios = ours.map((value, index) => (figure.ratio === 'peer/ours' ? peer[index]! / value : value / peer[index]!));
  return `${median(ratios).toFixed(2)}x`;
}

function spread(values: number[] | undefined, unit: Unit): string {
  if (values === undefined || values.length === 0) return '—';
  return `${number(minOf(values), unit)} – ${number(maxOf(values), unit)} (n=${values.length})`;
}

export function renderReport(report: Report): string {
  const { machine } = report;
  const results = report.figures.map(evaluate);
  const lines = [
    '# nodewasm benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${report.date.toISOString()}, in ${Math.round(report.durationSeconds)} s. ` +
      'Regenerate rather than edit; docs/benchmark.md says how it measures and what each row means.',
    '',
    '## Machine',
    '',
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores`,
    `- memory: ${machine.memoryGiB.toFixed(1)} GiB`,
    `- kernel: ${machine.kernel} (${machine.os}), cgroup ${machine.cgroup}`,
    `- containerd: ${machine.containerd}; snapshotter ${report.snapshotter}`,
    `- runc: ${machine.runc}`,
    `- Node (shim, runner, bench): ${machine.node}`,
    `- code: ${report.code}`,
    `- 1-minute load average: ${report.loadAverage[0].toFixed(2)} at the start, ${report.loadAverage[1].toFixed(2)} at the end`,
    '',
    '## Results',
    '',
    `Each figure is the median of ${report.runs} runs (memory, parallel starts and HTTP: ${report.heavyRuns}), nodewasm and its ` +
      'peer measured in the same run, their runs interleaved (ours, peer, peer, ours…). The ratio is nodewasm / peer, ' +
      'except where it says "speed": peer time / our time, as the compute goal is stated.',
    '',
    '| figure | nodewasm | peer | ratio | goal | met? |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(row),
    '',
    '### Spread',
    '',
    'Min – max of the runs, and the median of the per-round ratios (each round measures both sides back to back).',
    '',
    '| figure | nodewasm | peer | per-round ratio |',
    '| --- | --- | --- | --- |',
    ...results.map(({ figure }) => `| ${figure.title} | ${spread(figure.ours, figure.unit)} | ${spread(figure.peer, figure.unit)} | ${pairedRatio(figure)} |`),
    '',
  ];
  const notes = report.figures.filter((figure) => figure.note !== undefined);
  if (notes.length > 0) {
    lines.push('### Notes', '', ...notes.map((figure) => `- ${figure.title}: ${figure.note}`), '');
  }
  if (report.breakdown !== undefined) lines.push(report.breakdown, '');
  lines.push('## How measured', '', ...report.howMeasured.map((line) => `- ${line}`), '');
  lines.push(
    '## Leftovers',
    '',
    report.leftovers.length === 0
      ? '`findLeftovers` after stopping the private containerd: nothing (no process, mount, shim socket, cgroup, FIFO or bundle).'
      : `\`findLeftovers\` after stopping the private containerd found:\n\n${report.leftovers.map((line) => `- ${line}`).join('\n')}`,
    '',
  );
  return lines.join('\n');
}

export async function writeReport(path: string, report: Report): Promise<void> {
  await writeFile(path, renderReport(report));
}
