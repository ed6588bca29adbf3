/** Cold, warm and parallel container starts: wall time of `ctr run --rm` of hello, each side. */
import { BackgroundContainer, NODEWASM, RUNC, SANDBOX_ID_ANNOTATION, expectOutput, inTurn, shimBinaryName, timedRun, uniqueId, type Side } from './containers.js';
import { delay, type BenchContext, type Figure } from './figure.js';
import { processesWhose } from './procs.js';

/** What hello prints first, native or wasm: the C source is the same. */
const HELLO = 'hello from wasm\n';
const SIDES = [NODEWASM, RUNC] as const;

async function helloRun(ctx: BenchContext, side: Side, flags: string[] = []): Promise<number> {
  const run = await timedRun(ctx.pc, side.target('hello'), uniqueId(`${side.name}-hello`), flags);
  expectOutput(run, HELLO, `${side.name}: ctr run --rm hello`);
  return run.ms;
}

/** Waits (bounded) until no shim daemon of the side's runtime serves this containerd. */
export async function noShimRunning(ctx: BenchContext, side: Side): Promise<void> {
  const binary = shimBinaryName(side.runtime);
  const deadline = performance.now() + 10_000;
  const running = () => processesWhose((cmdline) => cmdline.startsWith(binary) && cmdline.includes(`-address ${ctx.pc.address} `));
  while ((await running()).length > 0) {
    if (performance.now() > deadline) throw new Error(`${side.name}: a shim daemon still runs 10 s after its last container`);
    await delay(5);
  }
}

/**
 * A shim started for this container alone: nothing of this runtime runs when ctr starts (the
 * last run's daemon is waited for). One unmeasured run per side first, so that both sides start
 * from a warm page cache.
 */
export async function coldStart(ctx: BenchContext): Promise<Figure[]> {
  const times = { nodewasm: [] as number[], runc: [] as number[] };
  const coldRun = async (side: Side): Promise<number> => {
    await noShimRunning(ctx, side);
    return helloRun(ctx, side);
  };
  for (const side of SIDES) await coldRun(side);
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) times[side.name].push(await coldRun(side));
  }
  ctx.progress(`cold start: ${times.nodewasm.map(Math.round).join(' ')} | runc ${times.runc.map(Math.round).join(' ')}`);
  return [
    {
      title: 'cold start: `ctr run --rm` hello (ms)',
      unit: 'ms',
      ours: times.nodewasm,
      peerName: 'runc, native static',
      peer: times.runc,
      goal: { text: '≤ 2x', on: 'ratio', atMost: 2 },
    },
  ];
}

export interface Pod {
  sandbox: BackgroundContainer;
  /** The `ctr run` flags that put a container into this pod. */
  flags: string[];
}

/** A pod of this side's runtime: its sandbox runs until stopped, and its shim with it. */
export async function startPod(ctx: BenchContext, side: Side): Promise<Pod> {
  const id = uniqueId(`${side.name}-pod`);
  const flags = ['--annotation', `${SANDBOX_ID_ANNOTATION}=${id}`];
  const sandbox = await BackgroundContainer.start(ctx.pc, side.sandbox(), id, 'sleeping', flags);
  return { sandbox, flags };
}

/** Proves that a second container of the pod joined the sandbox's shim instead of starting its own. */
async function checkGrouping(ctx: BenchContext, side: Side, sandbox: BackgroundContainer, flags: string[]): Promise<void> {
  const second = await BackgroundContainer.start(ctx.pc, side.target('sleep', ['3600']), uniqueId(`${side.name}-member`), 'sleeping', flags);
  try {
    const [expected, actual] = [await sandbox.shimAddress(), await second.shimAddress()];
    if (expected !== actual) {
      throw new Error(`${side.name}: the pod's second container got shim ${actual}, not the sandbox's ${expected}: no grouping, no warm start`);
    }
  } finally {
    await second.stop();
  }
}

/**
 * A second container in a pod whose shim already runs: every side keeps one pod whose sandbox is a
 * native `sleep` (what a "pause" container is) and starts hello in it with the CRI's sandbox-id
 * annotation, which both shims group by.
 */
export async function warmStart(ctx: BenchContext): Promise<Figure[]> {
  const pods = new Map<Side['name'], Pod>();
  try {
    for (const side of SIDES) {
      const pod = await startPod(ctx, side);
      pods.set(side.name, pod);
      await checkGrouping(ctx, side, pod.sandbox, pod.flags);
      await helloRun(ctx, side, pod.flags);
    }
    const times = { nodewasm: [] as number[], runc: [] as number[] };
    for (let round = 0; round < ctx.runs; round++) {
      for (const side of inTurn(round, NODEWASM, RUNC)) times[side.name].push(await helloRun(ctx, side, pods.get(side.name)!.flags));
    }
    ctx.progress(`warm start: ${times.nodewasm.map(Math.round).join(' ')} | runc ${times.runc.map(Math.round).join(' ')}`);
    return [
      {
        title: 'warm start: hello as a second container of a pod (ms)',
        unit: 'ms',
        ours: times.nodewasm,
        peerName: 'runc, native static',
        peer: times.runc,
        goal: { text: '≤ 1.5x', on: 'ratio', atMost: 1.5 },
      },
    ];
  } finally {
    for (const pod of pods.values()) await pod.sandbox.stop();
  }
}

/**
 * `ctr run --rm` of hello while another standalone container of the same runtime runs, as on a
 * host running several: ours joins the daemon already serving the namespace's standalone
 * containers; runc's shim groups only pods, so it starts a shim of its own.
 */
export async function besideStart(ctx: BenchContext): Promise<Figure[]> {
  const running = new Map<Side['name'], BackgroundContainer>();
  try {
    for (const side of SIDES) {
      running.set(side.name, await BackgroundContainer.start(ctx.pc, side.target('sleep', ['3600']), uniqueId(`${side.name}-beside`), 'sleeping'));
      await helloRun(ctx, side);
    }
    const times = { nodewasm: [] as number[], runc: [] as number[] };
    for (let round = 0; round < ctx.runs; round++) {
      for (const side of inTurn(round, NODEWASM, RUNC)) times[side.name].push(await helloRun(ctx, side));
    }
    ctx.progress(`beside start: ${times.nodewasm.map(Math.round).join(' ')} | runc ${times.runc.map(Math.round).join(' ')}`);
    return [
      {
        title: 'start beside a running container: `ctr run --rm` hello while another standalone container runs (ms)',
        unit: 'ms',
        ours: times.nodewasm,
        peerName: 'runc, native static',
        peer: times.runc,
        note: "ours joins the daemon of the namespace's standalone containers; runc's shim starts one per container outside pods",
      },
    ];
  } finally {
    for (const container of running.values()) await container.stop();
  }
}

/** `count` `ctr run --rm` of hello started at once; the figure is count / wall time of the batch. */
export async function parallelStarts(ctx: BenchContext, count = 20): Promise<Figure[]> {
  const rates = { nodewasm: [] as number[], runc: [] as number[] };
  const failures = { nodewasm: [] as string[], runc: [] as string[] };
  for (let round = 0; round < ctx.heavyRuns; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      const started = performance.now();
      const runs = await Promise.all(
        Array.from({ length: count }, () => timedRun(ctx.pc, side.target('hello'), uniqueId(`${side.name}-par`), [], 180_000)),
      );
      const seconds = (performance.now() - started) / 1000;
      // A start that fails under this load is a finding, not a reason to lose the run: the rate
      // counts only the tasks that ran and printed, and the failures go into the report.
      let succeeded = 0;
      runs.forEach((run, index) => {
        try {
          expectOutput(run, HELLO, `${side.name}: parallel start ${index + 1} of ${count}`);
          succeeded++;
        } catch (error) {
          failures[side.name].push((error as Error).message);
        }
      });
      rates[side.name].push(succeeded / seconds);
    }
  }
  ctx.progress(`parallel: ${rates.nodewasm.map((r) => r.toFixed(1)).join(' ')} | runc ${rates.runc.map((r) => r.toFixed(1)).join(' ')}`);
  const failed = [...failures.nodewasm, ...failures.runc];
  if (failed.length > 0) ctx.progress(`parallel: ${failed.length} starts failed:\n  ${failed.join('\n  ')}`);
  const total = count * ctx.heavyRuns;
  return [
    {
      title: `parallel starts: ${count} \`ctr run --rm\` hello at once (tasks/s)`,
      unit: 'tasks/s',
      ours: rates.nodewasm,
      peerName: 'runc, native static',
      peer: rates.runc,
      ...(failed.length > 0
        ? {
            note:
              `failed starts, not counted in the rate: nodewasm ${failures.nodewasm.length} of ${total}, runc ${failures.runc.length} of ${total}; ` +
              `first: ${failed[0]!.slice(0, 300)}`,
          }
        : {}),
    },
  ];
}
