/**
 * CPU-bound guests, as wasm in our container and natively in runc's, timed as the whole
 * `ctr run --rm`; our side once as containers start by default and once with
 * NODEWASM_WASM_COMPILE=optimized (every function compiled by V8's optimising compiler before the
 * guest starts; src/container/compile-settings.ts). And the same programs outside containers,
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

const OPTIMIZED = ['--env', 'NODEWASM_WASM_COMPILE=optimized'];

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
  inContainer: number[];
  optimizedInContainer: number[];
  runcInContainer: number[];
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
    {
      title: `compute: geometric mean of the ${works.length} programs in a container, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: geomean((t) => t.inContainer),
      peerName: 'native static in runc',
      peer: geomean((t) => t.runcInContainer),
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
      note: `${names}: each round's times multiplied together, then the n-th root`,
    },
    {
      title: `compute: geometric mean of the ${works.length} programs in a container with NODEWASM_WASM_COMPILE=optimized (ms)`,
      unit: 'ms',
      ours: geomean((t) => t.optimizedInContainer),
      peerName: 'native static in runc',
      peer: geomean((t) => t.runcInContainer),
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
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

  const times: ComputeTimes = { inContainer: [], optimizedInContainer: [], runcInContainer: [], outside: [], native: [] };
  const clangTimes: number[] = [];
  const clang = ctx.images.clangNative[program];
  const runner = await runnerCommand(ctx, program, args);
  const check = (what: string, run: { code: number | null; stdout: string; stderr: string }): void => {
    if (run.code !== 0 || run.stdout !== expected) throw new Error(`${what}: exit ${run.code}, ${JSON.stringify(run.stdout)} (expected ${JSON.stringify(expected)}) ${run.stderr}`);
  };
  const containerRun = async (name: string, target: ReturnType<typeof NODEWASM.target>, flags: string[]): Promise<number> => {
    const run = await timedRun(ctx.pc, target, uniqueId(`${name}-${program}`), flags);
    expectOutput(run, expected, `${name}: ctr run --rm ${flags.join(' ')} ${program} ${args.join(' ')}`);
    return run.ms;
  };
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      if (side === RUNC) {
        times.runcInContainer.push(await containerRun('runc', RUNC.target(program, args), []));
      } else {
        times.inContainer.push(await containerRun('nodewasm', NODEWASM.target(program, args), []));
        times.optimizedInContainer.push(await containerRun('nodewasm-optimized', NODEWASM.target(program, args), OPTIMIZED));
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
    `compute ${label}: container ${rounded(times.inContainer)} | optimized ${rounded(times.optimizedInContainer)} | runc ${rounded(times.runcInContainer)}; ` +
      `bare ${rounded(times.outside)} | native ${rounded(times.native)} | clang native ${rounded(clangTimes)}`,
  );
  return { ...times, clang: clang === undefined ? undefined : clangTimes };
}

function programFigures(work: ComputeWork, times: ComputeTimes & { clang: number[] | undefined }): Figure[] {
  const { label } = work;
  return [
    {
      title: `compute: ${label} in a container, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: times.inContainer,
      peerName: 'native static in runc',
      peer: times.runcInContainer,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: ${label} in a container with NODEWASM_WASM_COMPILE=optimized (ms)`,
      unit: 'ms',
      ours: times.optimizedInContainer,
      peerName: 'native static in runc',
      peer: times.runcInContainer,
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
