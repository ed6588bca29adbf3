/**
 * A CPU-bound guest: fib(N) computed recursively (fixtures/src/fib.c), as wasm in our container and
 * natively in runc's, timed as the whole `ctr run --rm`; and the same two programs outside
 * containers, which leaves out what a container start costs each side.
 */
import { runnerCommand, timedBare } from './bare.js';
import { NODEWASM, RUNC, expectOutput, inTurn, timedRun, uniqueId } from './containers.js';
import type { BenchContext, Figure } from './figure.js';

function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

export async function compute(ctx: BenchContext, n: number): Promise<Figure[]> {
  const expected = `fib(${n})=${fib(n)}\n`;
  const inContainer = { nodewasm: [] as number[], runc: [] as number[] };
  const outside = { nodewasm: [] as number[], runc: [] as number[] };
  const clangNative: number[] = [];
  const runner = await runnerCommand(ctx, 'fib', [String(n)]);
  const native = [ctx.images.native.fib, String(n)];
  for (let round = 0; round < ctx.runs; round++) {
    for (const side of inTurn(round, NODEWASM, RUNC)) {
      const run = await timedRun(ctx.pc, side.target('fib', [String(n)]), uniqueId(`${side.name}-fib`));
      expectOutput(run, expected, `${side.name}: ctr run --rm fib ${n}`);
      inContainer[side.name].push(run.ms);
    }
    for (const [name, command] of inTurn(round, ['nodewasm', runner] as const, ['runc', native] as const)) {
      const run = await timedBare(command);
      if (run.code !== 0 || run.stdout !== expected) throw new Error(`${command.join(' ')}: exit ${run.code}, ${JSON.stringify(run.stdout)} ${run.stderr}`);
      outside[name].push(run.ms);
    }
    if (ctx.images.clangFib !== undefined) {
      const run = await timedBare([ctx.images.clangFib, String(n)]);
      if (run.code !== 0 || run.stdout !== expected) throw new Error(`${ctx.images.clangFib}: exit ${run.code}, ${JSON.stringify(run.stdout)}`);
      clangNative.push(run.ms);
    }
  }
  ctx.progress(`compute: container ${inContainer.nodewasm.map(Math.round).join(' ')} | runc ${inContainer.runc.map(Math.round).join(' ')}; bare ${outside.nodewasm.map(Math.round).join(' ')} | native ${outside.runc.map(Math.round).join(' ')} | clang native ${clangNative.map(Math.round).join(' ')}`);
  return [
    {
      title: `compute: fib(${n}) in a container, \`ctr run --rm\` wall time (ms)`,
      unit: 'ms',
      ours: inContainer.nodewasm,
      peerName: 'native static in runc',
      peer: inContainer.runc,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: fib(${n}) outside containers, process wall time (ms)`,
      unit: 'ms',
      ours: outside.nodewasm,
      peerName: 'native static process',
      peer: outside.runc,
      ratio: 'peer/ours',
      goal: { text: '≥ 0.8x native speed', on: 'ratio', atLeast: 0.8 },
    },
    {
      title: `compute: fib(${n}) outside containers, against native built by clang -O2 like the wasm (ms)`,
      unit: 'ms',
      ours: outside.nodewasm,
      peerName: 'clang -static -O2 native process',
      peer: ctx.images.clangFib === undefined ? undefined : clangNative,
      ratio: 'peer/ours',
      note: 'informative, not the goal\'s peer: the same source, compiler and optimisation level on both sides, so what is left is wasm in V8 against native code',
    },
  ];
}
