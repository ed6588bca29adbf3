/**
 * CPU-bound guests, as wasm in our container and natively in runc's, timed as the whole
 * `ctr run --rm`; and the same programs outside containers, which leaves out what a container
 * start costs each side:
 * - fib(N) by recursion (fixtures/src/fib.c): calls, and a recursion gcc rewrites far better
 *   than clang;
 * - n-body (fixtures/src/nbody.c): floating-point loops, where clang's code is far better than
 *   gcc's.
 * The goal's native side is `cc -static -O2` (gcc); a row per program, without a goal, compares
 * with the same source built natively by clang, the compiler that built the wasm.
 */
import { runnerCommand, timedBare } from './bare.js';
import { NODEWASM, RUNC, expectOutput, inTurn, timedRun, uniqueId } from './containers.js';
import type { BenchContext, Figure } from './figure.js';
import type { Program } from './images.js';

export interface ComputeWork {
  program: Program & ('fib' | 'nbody');
  args: string[];
  /** What it prints, e.g. `fib(42)=267914296`. */
  label: string;
}

function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

export function computeWork(fibN: number, nbodySteps: number): ComputeWork[] {
  return [
    { program: 'fib', args: [String(fibN)], label: `fib(${fibN})` },
    { program: 'nbody', args: [String(nbodySteps)], label: `n-body, ${nbodySteps.toLocaleString('en-US')} steps` },
  ];
}

export async function compute(ctx: BenchContext, works: readonly ComputeWork[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const work of works) figures.push(...(await computeOne(ctx, work)));
  return figures;
}

async function computeOne(ctx: BenchContext, work: ComputeWork): Promise<Figure[]> {
  const { program, args, label } = work;
  const nativeCommand = [ctx.images.native[program], ...args];
  // The native program's output is the reference; fib's is also checked against the arithmetic.
  const reference = await timedBare(nativeCommand);
  if (reference.code !== 0) throw new Error(`${nativeCommand.join(' ')}: exit ${reference.code} ${reference.stderr}`);
  const expected = reference.stdout;
  if (program === 'fib' && expected !== `fib(${args[0]})=${fib(Number(args[0]))}\n`) throw new Error(`native fib printed ${JSON.stringify(expected)}`);

  const inContainer = { nodewasm: [] as number[], runc: [] as number[] };
  const outside = { nodewasm: [] as number[], runc: [] as number[] };
  const clangTimes: number[] = [];
  const clang = ctx.images.clangNative[program];
  const runner = await runnerCommand(ctx, program, args);
  const check = (what: string, run: { code: number | null; stdout: string; stderr: string }): void => {
    if (run.code !== 0 || run.stdout !== expected) throw new Error(`${what}: exit ${run.code}, ${JSON.stringify(run.stdout)} (expected ${JSON.stringify(expected)}) ${run.stderr}`);
  };
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      const run = await timedRun(ctx.pc, side.target(program, args), uniqueId(`${side.name}-${program}`));
      expectOutput(run, expected, `${side.name}: ctr run --rm ${program} ${args.join(' ')}`);
      inContainer[side.name].push(run.ms);
    }
    for (const [name, command] of inTurn(round, ['nodewasm', runner] as const, ['runc', nativeCommand] as const)) {
      const run = await timedBare(command);
      check(command.join(' '), run);
      outside[name].push(run.ms);
    }
    if (clang !== undefined) {
      const run = await timedBare([clang, ...args]);
      check(clang, run);
      clangTimes.push(run.ms);
    }
  }
  const rounded = (values: number[]): string => values.map(Math.round).join(' ');
  ctx.progress(`compute ${label}: container ${rounded(inContainer.nodewasm)} | runc ${rounded(inContainer.runc)}; bare ${rounded(outside.nodewasm)} | native ${rounded(outside.runc)} | clang native ${rounded(clangTimes)}`);
  return [
    {
      title: `compute: ${label} in a container, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: inContainer.nodewasm,
      peerName: 'native static in runc',
      peer: inContainer.runc,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: ${label} outside containers, process wall time (ms)`,
      unit: 'ms',
      ours: outside.nodewasm,
      peerName: 'native static process',
      peer: outside.runc,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: ${label} outside containers, against native built by clang -O2 like the wasm (ms)`,
      unit: 'ms',
      ours: outside.nodewasm,
      peerName: 'clang -static -O2 native process',
      peer: clang === undefined ? undefined : clangTimes,
      ratio: 'peer/ours',
      note: "informative, not the goal's peer: the same source, compiler and optimisation level on both sides, so what is left is wasm in V8 against native code",
    },
  ];
}
