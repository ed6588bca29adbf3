/**
 * Peak resident memory (VmHWM of /proc/<pid>/status, summed over processes) of one container
 * running the `sleep` guest, read after the guest printed "sleeping" and a short settle:
 * - the shim daemon (ours vs containerd-shim-runc-v2), found by the shim's own Connect answer;
 * - what else the shim keeps per container (ours: nodewasm-reaper; runc's: nothing);
 * - the container's processes (ours: tini + the node runner; runc's: the native program);
 * - the runner alone outside any container (`node dist/runner.mjs`), the goal's "bare node";
 * and RssAnon at the same moment, which leaves out the node binary's pages that all share.
 * Then the same with several standalone containers running at once, per container: ours share
 * one daemon (the namespace's default group), runc's shim runs one per container.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runnerCommand, startBare, type BareProcess } from './bare.js';
import { BackgroundContainer, NODEWASM, RUNC, inTurn, uniqueId, type Side } from './containers.js';
import { delay, type BenchContext, type Figure } from './figure.js';
import { anonymousRssKb, describeTree, peakRssKb, physicalKb, processTree } from './procs.js';
import { connectShim, shimPids } from './shim-client.js';

/**
 * After "sleeping": the steady state of a running container, on both sides. Our daemon compacts
 * its heap once containerd has been quiet for a second (src/shim/quiet-compaction.ts).
 */
const SETTLE_MS = 2_000;

interface ContainerSample {
  shimDaemonKb: number;
  shimSideKb: number;
  containerKb: number;
  /** RssAnon of the shim side plus the container's processes, at the same moment. */
  anonymousKb: number;
  containerAnonymousKb: number;
  /** Physical memory of the shim side plus the container's processes now, each page once. */
  physicalKb: number;
  shimSide: string;
  container: string;
}

async function sampleContainer(ctx: BenchContext, side: Side): Promise<ContainerSample> {
  const id = uniqueId(`${side.name}-mem`);
  const container = await BackgroundContainer.start(ctx.pc, side.target('sleep', ['3600']), id, 'sleeping');
  try {
    await delay(SETTLE_MS);
    const client = await connectShim(await container.shimAddress());
    try {
      const { shimPid, taskPid } = await shimPids(client, id);
      const containerTree = await processTree(taskPid);
      const shimSide = (await processTree(shimPid)).filter((pid) => !containerTree.includes(pid));
      return {
        shimDaemonKb: await peakRssKb([shimPid]),
        shimSideKb: await peakRssKb(shimSide),
        containerKb: await peakRssKb(containerTree),
        anonymousKb: await anonymousRssKb([...shimSide, ...containerTree]),
        containerAnonymousKb: await anonymousRssKb(containerTree),
        physicalKb: await physicalKb([...shimSide, ...containerTree]),
        shimSide: await describeTree(shimSide),
        container: await describeTree(containerTree),
      };
    } finally {
      client.close();
    }
  } finally {
    await container.stop();
  }
}

/** Standalone containers running at once in the group figure. */
export const GROUP_SIZE = 8;

interface GroupSample {
  /** Every shim daemon serving the group, each counted once, and what each keeps per container. */
  shimSideKb: number;
  containerKb: number;
  anonymousKb: number;
  physicalKb: number;
  daemons: number;
}

/** `count` `sleep` containers of one side at once, all ready; the sums over all of them. */
async function sampleGroup(ctx: BenchContext, side: Side, count: number): Promise<GroupSample> {
  const containers: BackgroundContainer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      containers.push(await BackgroundContainer.start(ctx.pc, side.target('sleep', ['3600']), uniqueId(`${side.name}-group`), 'sleeping'));
    }
    await delay(SETTLE_MS);
    const daemons = new Set<number>();
    const containerPids: number[] = [];
    for (const container of containers) {
      const client = await connectShim(await container.shimAddress());
      try {
        const { shimPid, taskPid } = await shimPids(client, container.id);
        daemons.add(shimPid);
        containerPids.push(...(await processTree(taskPid)));
      } finally {
        client.close();
      }
    }
    const shimSide: number[] = [];
    for (const daemon of daemons) shimSide.push(...(await processTree(daemon)).filter((pid) => !containerPids.includes(pid)));
    return {
      shimSideKb: await peakRssKb(shimSide),
      containerKb: await peakRssKb(containerPids),
      anonymousKb: await anonymousRssKb([...shimSide, ...containerPids]),
      physicalKb: await physicalKb([...shimSide, ...containerPids]),
      daemons: daemons.size,
    };
  } finally {
    for (const container of containers) await container.stop();
  }
}

interface BareSample {
  peakKb: number;
  anonymousKb: number;
  physicalKb: number;
}

async function sampleBareRunner(ctx: BenchContext): Promise<BareSample> {
  const bare = await startBare(await runnerCommand(ctx, 'sleep', ['3600']), 'sleeping');
  try {
    await delay(SETTLE_MS);
    const tree = await processTree(bare.pid);
    return { peakKb: await peakRssKb(tree), anonymousKb: await anonymousRssKb(tree), physicalKb: await physicalKb(tree) };
  } finally {
    await bare.stop();
  }
}

/**
 * `count` bare runners at once: the physical pages of all of them, each page once, per runner.
 * The peer of the group's physical row, since bare runners share the node binary's pages too.
 */
async function sampleBareGroupPhysicalKb(ctx: BenchContext, count: number): Promise<number> {
  const runners: BareProcess[] = [];
  try {
    for (let i = 0; i < count; i++) runners.push(await startBare(await runnerCommand(ctx, 'sleep', ['3600']), 'sleeping'));
    await delay(SETTLE_MS);
    const pids: number[] = [];
    for (const runner of runners) pids.push(...(await processTree(runner.pid)));
    return (await physicalKb(pids)) / count;
  } finally {
    for (const runner of runners) await runner.stop();
  }
}

/** The runner's floor as docs/memory-floor.md states it, when that document exists. */
async function runnerFloor(repo: string): Promise<{ mib: number | undefined; note: string }> {
  const path = join(repo, 'docs', 'memory-floor.md');
  if (!existsSync(path)) return { mib: undefined, note: 'not yet measured (docs/memory-floor.md does not exist yet)' };
  const text = await readFile(path, 'utf8');
  const line = text.split('\n').find((candidate) => /floor/i.test(candidate) && /\d+(\.\d+)?\s*MiB/.test(candidate));
  const mib = line === undefined ? undefined : Number(/(\d+(?:\.\d+)?)\s*MiB/.exec(line)![1]);
  return { mib, note: line === undefined ? 'see docs/memory-floor.md' : `from docs/memory-floor.md: "${line.trim().slice(0, 160)}"` };
}

const toMiB = (kb: number): number => kb / 1024;

export async function memory(ctx: BenchContext): Promise<Figure[]> {
  const samples = { nodewasm: [] as ContainerSample[], runc: [] as ContainerSample[] };
  const groups = { nodewasm: [] as GroupSample[], runc: [] as GroupSample[] };
  const bare: BareSample[] = [];
  const bareGroupPhysicalKb: number[] = [];
  for (let round = 0; round < ctx.heavyRuns; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) samples[side.name].push(await sampleContainer(ctx, side));
    for (const side of inTurn(round, NODEWASM, RUNC)) groups[side.name].push(await sampleGroup(ctx, side, GROUP_SIZE));
    bare.push(await sampleBareRunner(ctx));
    bareGroupPhysicalKb.push(await sampleBareGroupPhysicalKb(ctx, GROUP_SIZE));
  }
  const perGroupContainer = (name: Side['name'], field: (sample: GroupSample) => number): number[] =>
    groups[name].map((sample) => toMiB(field(sample)) / GROUP_SIZE);
  const daemonCounts = (name: Side['name']): string => [...new Set(groups[name].map((sample) => sample.daemons))].join('/');
  const groupNote = `${GROUP_SIZE} containers started one after another with plain \`ctr run\`, all running; the sums over all of them divided by ${GROUP_SIZE}; shim daemons serving them: ours ${daemonCounts('nodewasm')}, runc ${daemonCounts('runc')}`;
  const pick = (name: Side['name'], field: 'shimDaemonKb' | 'shimSideKb' | 'containerKb' | 'anonymousKb' | 'containerAnonymousKb' | 'physicalKb'): number[] =>
    samples[name].map((sample) => toMiB(sample[field]));
  const last = (name: Side['name']): ContainerSample => samples[name][samples[name].length - 1]!;
  ctx.progress(`memory: ours shim side [${last('nodewasm').shimSide}] container [${last('nodewasm').container}]; runc shim side [${last('runc').shimSide}] container [${last('runc').container}]`);
  const total = (name: Side['name']): number[] => samples[name].map((sample) => toMiB(sample.shimSideKb + sample.containerKb));
  const floor = await runnerFloor(ctx.repo);
  return [
    {
      title: 'memory: shim daemon peak RSS (MiB)',
      unit: 'MiB',
      ours: pick('nodewasm', 'shimDaemonKb'),
      peerName: 'containerd-shim-runc-v2',
      peer: pick('runc', 'shimDaemonKb'),
    },
    {
      title: 'memory: shim side per container, daemon + what it keeps running (MiB)',
      unit: 'MiB',
      ours: pick('nodewasm', 'shimSideKb'),
      peerName: 'containerd-shim-runc-v2',
      peer: pick('runc', 'shimSideKb'),
      note: `ours: ${last('nodewasm').shimSide}; runc: ${last('runc').shimSide} (MiB, last run)`,
    },
    {
      title: "memory: container's processes peak RSS (MiB)",
      unit: 'MiB',
      ours: pick('nodewasm', 'containerKb'),
      peerName: 'native process (runc)',
      peer: pick('runc', 'containerKb'),
      note: `ours: ${last('nodewasm').container}; runc: ${last('runc').container} (MiB, last run)`,
    },
    {
      title: "memory per container: container's processes vs the runner outside containers (MiB)",
      unit: 'MiB',
      ours: pick('nodewasm', 'containerKb'),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.peakKb)),
      goal: { text: '≤ 1.3x', on: 'ratio', atMost: 1.3 },
    },
    {
      title: 'memory per container, strict reading, one container alone: shim side + container vs the runner outside containers (MiB)',
      unit: 'MiB',
      ours: total('nodewasm'),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.peakKb)),
      goal: { text: '≤ 1.3x', on: 'ratio', atMost: 1.3 },
      note: 'the only container of its runtime: its shim daemon serves it alone; containers of one pod, and standalone containers of one namespace, share a daemon (the reaper it keeps per container is not shared)',
    },
    {
      title: `memory per container, strict reading, ${GROUP_SIZE} standalone containers at once: shim side + containers, per container, vs the runner outside containers (MiB)`,
      unit: 'MiB',
      ours: perGroupContainer('nodewasm', (sample) => sample.shimSideKb + sample.containerKb),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.peakKb)),
      goal: { text: '≤ 1.3x', on: 'ratio', atMost: 1.3 },
      note: groupNote,
    },
    {
      title: 'memory per container, physical pages, one container alone: shim side + container vs the runner outside containers, each page counted once (MiB)',
      unit: 'MiB',
      ours: pick('nodewasm', 'physicalKb'),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.physicalKb)),
      goal: { text: '≤ 1.3x', on: 'ratio', atMost: 1.3 },
      note: 'resident now, not peak: the distinct page frames behind the processes\' resident pages (/proc/<pid>/pagemap), so the node binary\'s pages, which the daemon and the runner both map, count once, as the machine holds them',
    },
    {
      title: `memory per container, physical pages, ${GROUP_SIZE} standalone containers at once: shim side + containers, per container, vs as many runners outside containers, each page counted once (MiB)`,
      unit: 'MiB',
      ours: perGroupContainer('nodewasm', (sample) => sample.physicalKb),
      peerName: `${GROUP_SIZE} bare \`node dist/runner.mjs\` at once, same guest, per runner`,
      peer: bareGroupPhysicalKb.map(toMiB),
      goal: { text: '≤ 1.3x', on: 'ratio', atMost: 1.3 },
      note: `${groupNote}; the peer: ${GROUP_SIZE} bare runners of the same guest at once, which share the node binary's pages among themselves as the containers do`,
    },
    {
      title: `memory: everything per container, physical pages, ${GROUP_SIZE} standalone containers at once (MiB)`,
      unit: 'MiB',
      ours: perGroupContainer('nodewasm', (sample) => sample.physicalKb),
      peerName: 'runc shims + native processes',
      peer: perGroupContainer('runc', (sample) => sample.physicalKb),
    },
    {
      title: `memory: everything per container, ${GROUP_SIZE} standalone containers at once (MiB)`,
      unit: 'MiB',
      ours: perGroupContainer('nodewasm', (sample) => sample.shimSideKb + sample.containerKb),
      peerName: 'runc shims + native processes',
      peer: perGroupContainer('runc', (sample) => sample.shimSideKb + sample.containerKb),
    },
    {
      title: `memory, anonymous only: shim side + containers per container, ${GROUP_SIZE} standalone containers at once, vs the runner outside containers (MiB)`,
      unit: 'MiB',
      ours: perGroupContainer('nodewasm', (sample) => sample.anonymousKb),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.anonymousKb)),
    },
    {
      title: 'memory: everything per container, shim side + container (MiB)',
      unit: 'MiB',
      ours: total('nodewasm'),
      peerName: 'runc shim + native process',
      peer: total('runc'),
    },
    {
      title: "memory, anonymous only (RssAnon, without the node binary's shared pages): container's processes vs the runner outside containers (MiB)",
      unit: 'MiB',
      ours: pick('nodewasm', 'containerAnonymousKb'),
      peerName: 'bare `node dist/runner.mjs`, same guest',
      peer: bare.map((sample) => toMiB(sample.anonymousKb)),
    },
    {
      title: 'memory, anonymous only: everything per container, shim side + container (MiB)',
      unit: 'MiB',
      ours: pick('nodewasm', 'anonymousKb'),
      peerName: 'runc shim + native process',
      peer: pick('runc', 'anonymousKb'),
    },
    {
      title: "memory: the runner's floor (MiB)",
      unit: 'MiB',
      ours: floor.mib === undefined ? undefined : [floor.mib],
      peerName: '—',
      peer: undefined,
      note: floor.note,
    },
  ];
}
