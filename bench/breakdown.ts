/**
 * Where a start goes: a few more timed `ctr run --rm` of hello per side, cold and warm, each split
 * at what containerd recorded for that container id inside that run's time window:
 * - the events every private containerd records with `ctr events` (events.log; each event carries
 *   the publisher's timestamp): /containers/create, /tasks/create, /tasks/start, /tasks/exit,
 *   /tasks/delete, /containers/delete;
 * - containerd's log at its normal level: our shim's pino lines (JSON, `time` in ms: "shim daemon
 *   listening", "delete: cleaned up"), runc's shim's "starting signal loop", containerd's own
 *   "shim disconnected".
 * ctr's spawn and exit come from the bench's clock; all of these are wall-clock times.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runnerCommand, timedBare } from './bare.js';
import { NODEWASM, RUNC, inTurn, runArgs, uniqueId, type Side } from './containers.js';
import type { BenchContext } from './figure.js';
import { noShimRunning, startPod, type Pod } from './starts.js';
import { median } from './stats.js';

interface Mark {
  /** Epoch milliseconds, with the sub-millisecond part where the source has it. */
  at: number;
  /** An event topic (`/tasks/exit`) or a log message (`shim daemon listening`). */
  what: string;
  /** The container id the mark belongs to. */
  id: string;
}

/** "2026-11-22 01:32:40.350945181 +0000 UTC default /tasks/exit {json}" → a mark. */
function parseEvent(line: string): Mark | undefined {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? ([+-])(\d\d)(\d\d) \S+ \S+ (\/\S+) (\{.*\})$/.exec(line);
  if (match === null) return undefined;
  const [, date, time, fraction, sign, hours, minutes, topic, json] = match;
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000;
  const at = Date.parse(`${date}T${time}Z`) + Number(`0.${fraction ?? '0'}`) * 1000 - offsetMs;
  try {
    const fields = JSON.parse(json!) as { id?: string; container_id?: string; key?: string };
    const id = fields.container_id ?? fields.id ?? fields.key;
    return id === undefined ? undefined : { at, what: topic!, id };
  } catch {
    return undefined;
  }
}

/** containerd's log: our shim's JSON lines and the logrus lines named above. */
function parseLogLine(line: string): Mark | undefined {
  if (line.startsWith('{')) {
    try {
      const json = JSON.parse(line) as { time?: number; msg?: string; id?: string; bundle?: string };
      const id = json.id ?? json.bundle?.split('/').at(-1);
      return typeof json.time === 'number' && json.msg !== undefined && id !== undefined ? { at: json.time, what: json.msg, id } : undefined;
    } catch {
      return undefined;
    }
  }
  const match = /^time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z" level=\w+ msg="([^"]*)"(.*)$/.exec(line);
  if (match === null) return undefined;
  const [, time, fraction, message, rest] = match;
  const id = / id=(\S+)/.exec(rest!)?.[1] ?? / path=\S+\/([^/\s]+)(?:\s|$)/.exec(rest!)?.[1];
  if (id === undefined) return undefined;
  return { at: Date.parse(`${time}Z`) + Number(`0.${fraction ?? '0'}`) * 1000, what: message!, id };
}

async function readMarks(ctx: BenchContext): Promise<Mark[]> {
  const events = (await readFile(ctx.pc.eventsLogPath, 'utf8')).split('\n').map(parseEvent);
  const log = (await readFile(ctx.pc.logPath, 'utf8')).split('\n').map(parseLogLine);
  return [...events, ...log].filter((mark): mark is Mark => mark !== undefined).sort((a, b) => a.at - b.at);
}

interface Window {
  id: string;
  started: number;
  ended: number;
}

/** Each phase ends at the first mark (for this id, in this window) that `ends` names. */
const PHASES: ReadonlyArray<{ label: string; ends: (side: Side) => string }> = [
  { label: 'ctr start until the container exists (image, snapshot, container record)', ends: () => '/containers/create' },
  {
    label: 'until the shim daemon serves (task create in containerd, shim `start`, daemon start); cold only',
    ends: (side) => (side.name === 'nodewasm' ? 'shim daemon listening' : 'starting signal loop'),
  },
  { label: 'until the task is created (address back to containerd, Create; warm: all of the task create)', ends: () => '/tasks/create' },
  { label: 'until the task started (ours: `runc run --detach` under the reaper until its pid file; runc: `runc start`)', ends: () => '/tasks/start' },
  { label: 'until the task exited (the process runs; ours: tini + node runner + guest)', ends: () => '/tasks/exit' },
  { label: 'until the task is deleted (Wait returns, State, Delete)', ends: () => '/tasks/delete' },
  { label: "until containerd's connection to the shim closed (Shutdown; cold: the daemon exits)", ends: () => 'shim disconnected' },
  { label: 'until the container is deleted (the shim\'s `delete` action, bundle and snapshot removal)', ends: () => '/containers/delete' },
  { label: 'until ctr exits', ends: () => 'ctr exit' },
];

/** The phases' lengths of one run; undefined where a phase's end mark is missing (it then counts in the next). */
function phaseLengths(marks: readonly Mark[], side: Side, window: Window): Array<number | undefined> {
  const mine = marks.filter((mark) => mark.id === window.id && mark.at >= window.started - 1 && mark.at <= window.ended + 1);
  let previous = window.started;
  return PHASES.map((phase) => {
    const name = phase.ends(side);
    const at = name === 'ctr exit' ? window.ended : mine.find((mark) => mark.what === name && mark.at >= previous - 1)?.at;
    if (at === undefined) return undefined;
    const length = at - previous;
    previous = at;
    return length;
  });
}

/** When the shim's `delete` action finished, relative to ctr's exit (negative: before it). */
function binDeleteOffset(marks: readonly Mark[], side: Side, window: Window): number | undefined {
  if (side.name !== 'nodewasm') return undefined;
  const done = marks.find((mark) => mark.id === window.id && mark.what === 'delete: cleaned up' && mark.at >= window.started);
  return done === undefined || done.at > window.ended + 5_000 ? undefined : done.at - window.ended;
}

/**
 * How the shim's `delete` action went in one column's runs. The launcher answers it without
 * starting Node once the container layer has removed the task's files (bin/containerd-shim-nodewasm-v1),
 * and then no "delete: cleaned up" line is logged; otherwise the Node action ran, and when it
 * finished relative to ctr's exit tells whether ctr waited for it.
 */
function binDeleteSummary(cell: { binDelete: number[]; runs: number }, kind: string, ms: (value: number | undefined) => string): string {
  const ran = cell.binDelete.length;
  const answered = `${kind}: answered by the launcher without Node in ${cell.runs - ran} of ${cell.runs} runs`;
  if (ran === 0) return answered;
  return `${answered}, run in Node in ${ran}, finishing a median ${ms(-median(cell.binDelete))} ms before ctr exited`;
}

async function timedWindows(ctx: BenchContext, runs: number, pods?: Map<Side['name'], Pod>): Promise<Record<Side['name'], Window[]>> {
  const windows = { nodewasm: [] as Window[], runc: [] as Window[] };
  for (let round = 0; round < runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      const id = uniqueId(`${side.name}-${pods === undefined ? 'cold' : 'warm'}`);
      const flags = pods?.get(side.name)?.flags ?? [];
      if (pods === undefined) await noShimRunning(ctx, side);
      const started = performance.timeOrigin + performance.now();
      const result = await ctx.pc.ctr(runArgs(side.target('hello'), id, flags), { timeoutMs: 60_000 });
      const ended = performance.timeOrigin + performance.now();
      if (result.code !== 0) throw new Error(`breakdown run ${id} failed: ${result.stderr}`);
      windows[side.name].push({ id, started, ended });
    }
  }
  return windows;
}

/** The median wall time of five runs of a short command. */
async function referenceTime(command: string[]): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const result = await timedBare(command, 30_000);
    if (result.code !== 0) throw new Error(`${command.join(' ')} exited ${result.code}: ${result.stderr}`);
    times.push(result.ms);
  }
  return median(times);
}

export async function startBreakdown(ctx: BenchContext, runs = 5): Promise<string> {
  const cold = await timedWindows(ctx, runs);
  const pods = new Map<Side['name'], Pod>();
  let warm: Record<Side['name'], Window[]>;
  try {
    for (const side of [NODEWASM, RUNC]) pods.set(side.name, await startPod(ctx, side));
    warm = await timedWindows(ctx, runs, pods);
  } finally {
    for (const pod of pods.values()) await pod.sandbox.stop();
  }
  // ctr events and containerd's log reach their files a moment after the fact.
  await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
  const marks = await readMarks(ctx);

  const columns = [
    { side: NODEWASM, windows: cold.nodewasm },
    { side: RUNC, windows: cold.runc },
    { side: NODEWASM, windows: warm.nodewasm },
    { side: RUNC, windows: warm.runc },
  ];
  const cells = columns.map(({ side, windows }) => {
    const lengths = windows.map((window) => phaseLengths(marks, side, window));
    return {
      phases: PHASES.map((_, phase) => {
        const found = lengths.map((run) => run[phase]).filter((value): value is number => value !== undefined);
        return found.length === 0 ? undefined : median(found);
      }),
      total: median(windows.map((window) => window.ended - window.started)),
      binDelete: windows.map((window) => binDeleteOffset(marks, side, window)).filter((value): value is number => value !== undefined),
      runs: windows.length,
    };
  });
  const ms = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(0));

  const emptyNode = await referenceTime([ctx.node, '-e', '0']);
  const shimLoad = await referenceTime([ctx.node, join(ctx.snapshot, 'dist', 'shim.mjs'), '-v']);
  const runnerHello = await referenceTime(await runnerCommand(ctx, 'hello', []));
  const section = [
    '## Where a start goes',
    '',
    `Medians of ${runs} extra \`ctr run --rm\` hello per side and kind of start (in a pod for warm), split at the events ` +
      "containerd recorded for that container and at the shim log lines containerd copies into its log. A '—' means the mark " +
      'does not exist for that kind of start; its time then counts in the next row.',
    '',
    '| phase | nodewasm cold | runc cold | nodewasm warm | runc warm |',
    '| --- | --- | --- | --- | --- |',
    ...PHASES.map((phase, index) => `| ${phase.label} | ${cells.map((cell) => ms(cell.phases[index])).join(' | ')} |`),
    `| **total, ctr spawn to exit (ms)** | ${cells.map((cell) => `**${ms(cell.total)}**`).join(' | ')} |`,
    '',
    `On the same machine: an empty \`node -e 0\` takes ${ms(emptyNode)} ms; a Node start that loads the shim bundle ` +
      `(\`node dist/shim.mjs -v\`: what each of our shim's \`start\`, daemon and \`delete\` processes pays before its first step) ` +
      `${ms(shimLoad)} ms; the runner running hello outside containers ${ms(runnerHello)} ms.`,
    '',
    `Our shim's \`delete\` action, which containerd 1.6 runs whenever its connection to a shim closes and waits for: ` +
      `${binDeleteSummary(cells[0]!, 'cold', ms)}; ${binDeleteSummary(cells[2]!, 'warm', ms)}.`,
  ];
  ctx.progress(`breakdown:\n${section.join('\n')}`);
  return section.join('\n');
}
