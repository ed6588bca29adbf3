/**
 * CPU-bound guests, as wasm in our container and natively in runc's, timed as the whole
 * `ctr run --rm`; our side under each NODEWASM_WASM_COMPILE (src/container/compile-settings.ts):
 * the default, `auto` (nested loops compiled by V8's optimising compiler on first call), then
 * `baseline` (V8's own default, what `auto` improves on) and `optimized` (every function optimised
 * before the guest starts). Each of those runs also reports its own time for its work, by the
 * program's clock from before main to its exit (fixtures/src/work_timer.h), which leaves out the
 * container's start on both sides. And the same programs outside containers, by default,
 * which leaves out what a container start costs each side. The programs (bench/images.ts): fib(N)
 * by recursion, a recursion gcc rewrites far better than clang; n-body, fannkuch-redux,
 * spectral-norm and mandelbrot from the Computer Language Benchmarks Game.
 * The goal's native side is `cc -static -O2` (gcc); a row per program, without a goal, compares
 * with the same source built natively by clang, the compiler that built the wasm. Two rows sum
 * the programs up by their geometric mean.
 */
import { runnerCommand, timedBare } from './bare.js';
import { NODEWASM, RUNC, expectOutput, inTurn, timedRun, uniqueId } from './containers.js';
import type { BenchContext, Figure } from './figure.js';
import type { ComputeProgram } from './images.js';

export interface ComputeWork {
  program: ComputeProgram;
  args: string[];
  /** How the report names it, e.g. `fib(42)`. */
  label: string;
}

/** Our container runs, each with its own NODEWASM_WASM_COMPILE; the first is the default. */
const COMPILE_CHOICES = [
  { name: 'nodewasm', flags: [], titled: '' },
  { name: 'nodewasm-baseline', flags: ['--env', 'NODEWASM_WASM_COMPILE=baseline'], titled: ' with NODEWASM_WASM_COMPILE=baseline' },
  { name: 'nodewasm-optimized', flags: ['--env', 'NODEWASM_WASM_COMPILE=optimized'], titled: ' with NODEWASM_WASM_COMPILE=optimized' },
] as const;
type CompileChoice = (typeof COMPILE_CHOICES)[number]['name'];

/**
 * Has every container run's program report on stderr how long it ran by its own clock, from
 * before main to its exit (fixtures/src/work_timer.h): its work apart from the container's start.
 */
const WORK_TIMER = ['--env', 'BENCH_WORK_TIMER=1'];

function reportedWorkMs(stderr: string, what: string): number {
  const match = /^work_ms=(\d+(?:\.\d+)?)$/m.exec(stderr);
  if (match === null) throw new Error(`${what}: no work_ms line on stderr: ${JSON.stringify(stderr.slice(0, 300))}`);
  return Number(match[1]);
}

function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** Sizes chosen so that each native run takes a few hundred milliseconds on the bench machine. */
export function computeWork(fibN: number, nbodySteps: number): ComputeWork[] {
  return [
    { program: 'fib', args: [String(fibN)], label: `fib(${fibN})` },
    { program: 'nbody', args: [String(nbodySteps)], label: `n-body, ${nbodySteps.toLocaleString('en-US')} steps` },
    { program: 'fannkuch', args: ['10'], label: 'fannkuch-redux(10)' },
    { program: 'spectralnorm', args: ['2500'], label: 'spectral-norm(2500)' },
    { program: 'mandelbrot', args: ['2500'], label: 'mandelbrot(2500)' },
  ];
}

interface ComputeTimes {
  /** Our `ctr run --rm` times under each compile choice. */
  inContainer: Record<CompileChoice, number[]>;
  runcInContainer: number[];
  /** The same runs' own times for their work (work_ms). */
  workInContainer: Record<CompileChoice, number[]>;
  runcWorkInContainer: number[];
  outside: number[];
  native: number[];
}

export async function compute(ctx: BenchContext, works: readonly ComputeWork[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  const all: ComputeTimes[] = [];
  for (const work of works) {
    const times = await measure(ctx, work);
    all.push(times);
    figures.push(...programFigures(work, times));
  }
  const names = works.map((work) => work.program).join(', ');
  const geomean = (pick: (times: ComputeTimes) => number[]): number[] => perRoundGeometricMean(all.map(pick));
  figures.push(
    ...COMPILE_CHOICES.map(({ name, titled }, i): Figure => ({
      title: `compute: geometric mean of the ${works.length} programs in a container${titled}, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: geomean((t) => t.inContainer[name]),
      peerName: 'native static in runc',
      peer: geomean((t) => t.runcInContainer),
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
      ...(i === 0 ? { note: `${names}: each round's times multiplied together, then the n-th root` } : {}),
    })),
    ...COMPILE_CHOICES.map(({ name, titled }): Figure => ({
      title: `compute: geometric mean of the ${works.length} programs in a container${titled}, the programs' own time for their work (ms)`,
      unit: 'ms',
      ours: geomean((t) => t.workInContainer[name]),
      peerName: 'native static in runc',
      peer: geomean((t) => t.runcWorkInContainer),
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    })),
  );
  return figures;
}

/** Round by round, the geometric mean over programs (all lists have one time per round). */
function perRoundGeometricMean(lists: number[][]): number[] {
  const rounds = Math.min(...lists.map((list) => list.length));
  return Array.from({ length: rounds }, (_, round) => Math.exp(lists.reduce((sum, list) => sum + Math.log(list[round]!), 0) / lists.length));
}

async function measure(ctx: BenchContext, work: ComputeWork): Promise<ComputeTimes & { clang: number[] | undefined }> {
  const { program, args, label } = work;
  const nativeCommand = [ctx.images.native[program], ...args];
  // The native program's output is the reference; fib's is also checked against the arithmetic.
  const reference = await timedBare(nativeCommand);
  if (reference.code !== 0) throw new Error(`${nativeCommand.join(' ')}: exit ${reference.code} ${reference.stderr}`);
  const expected = reference.stdout;
  if (program === 'fib' && expected !== `fib(${args[0]})=${fib(Number(args[0]))}\n`) throw new Error(`native fib printed ${JSON.stringify(expected)}`);

  const perChoice = (): ComputeTimes['inContainer'] => Object.fromEntries(COMPILE_CHOICES.map(({ name }) => [name, []])) as unknown as ComputeTimes['inContainer'];
  const times: ComputeTimes = {
    inContainer: perChoice(), runcInContainer: [], workInContainer: perChoice(), runcWorkInContainer: [], outside: [], native: [],
  };
  const clangTimes: number[] = [];
  const clang = ctx.images.clangNative[program];
  const runner = await runnerCommand(ctx, program, args);
  const check = (what: string, run: { code: number | null; stdout: string; stderr: string }): void => {
    if (run.code !== 0 || run.stdout !== expected) throw new Error(`${what}: exit ${run.code}, ${JSON.stringify(run.stdout)} (expected ${JSON.stringify(expected)}) ${run.stderr}`);
  };
  const containerRun = async (name: string, target: ReturnType<typeof NODEWASM.target>, choiceFlags: readonly string[]): Promise<[number, number]> => {
    const flags = [...choiceFlags, ...WORK_TIMER];
    const what = `${name}: ctr run --rm ${flags.join(' ')} ${program} ${args.join(' ')}`;
    const run = await timedRun(ctx.pc, target, uniqueId(`${name}-${program}`), flags);
    expectOutput(run, expected, what);
    return [run.ms, reportedWorkMs(run.result.stderr, what)];
  };
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      if (side === RUNC) {
        const [ms, workMs] = await containerRun('runc', RUNC.target(program, args), []);
        times.runcInContainer.push(ms);
        times.runcWorkInContainer.push(workMs);
      } else {
        for (const { name, flags } of COMPILE_CHOICES) {
          const [ms, workMs] = await containerRun(name, NODEWASM.target(program, args), flags);
          times.inContainer[name].push(ms);
          times.workInContainer[name].push(workMs);
        }
      }
    }
    for (const [name, command] of inTurn(round, ['nodewasm', runner] as const, ['runc', nativeCommand] as const)) {
      const run = await timedBare(command);
      check(command.join(' '), run);
      (name === 'nodewasm' ? times.outside : times.native).push(run.ms);
    }
    if (clang !== undefined) {
      const run = await timedBare([clang, ...args]);
      check(clang, run);
      clangTimes.push(run.ms);
    }
  }
  const rounded = (values: number[]): string => values.map(Math.round).join(' ');
  ctx.progress(
    `compute ${label}: ${COMPILE_CHOICES.map(({ name }) => `${name} ${rounded(times.inContainer[name])}`).join(' | ')} | runc ${rounded(times.runcInContainer)}; ` +
      `work: ${COMPILE_CHOICES.map(({ name }) => `${name} ${rounded(times.workInContainer[name])}`).join(' | ')} | runc ${rounded(times.runcWorkInContainer)}; ` +
      `bare ${rounded(times.outside)} | native ${rounded(times.native)} | clang native ${rounded(clangTimes)}`,
  );
  return { ...times, clang: clang === undefined ? undefined : clangTimes };
}

function programFigures(work: ComputeWork, times: ComputeTimes & { clang: number[] | undefined }): Figure[] {
  const { label } = work;
  // Per program the default and `baseline`, which shows what the default's hints change; the
  // geometric means have `optimized` too.
  return [
    ...COMPILE_CHOICES.filter(({ name }) => name !== 'nodewasm-optimized').map(({ name, titled }): Figure => ({
      title: `compute: ${label} in a container${titled}, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: times.inContainer[name],
      peerName: 'native static in runc',
      peer: times.runcInContainer,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    })),
    {
      title: `compute: ${label} in a container, the program's own time for its work (ms)`,
      unit: 'ms',
      ours: times.workInContainer['nodewasm'],
      peerName: 'native static in runc',
      peer: times.runcWorkInContainer,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: ${label} outside containers, process wall time (ms)`,
      unit: 'ms',
      ours: times.outside,
      peerName: 'native static process',
      peer: times.native,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: ${label} outside containers, against native built by clang -O2 like the wasm (ms)`,
      unit: 'ms',
      ours: times.outside,
      peerName: 'clang -static -O2 native process',
      peer: times.clang,
      ratio: 'peer/ours',
      note: "informative, not the goal's peer: the same source, compiler and optimisation level on both sides, so what is left is wasm in V8 against native code",
    },
  ];
}
