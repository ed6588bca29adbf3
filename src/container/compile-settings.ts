/**
 * How the runner has V8 compile the guest, read from the container's environment at Create and
 * removed from the guest's environment, as the wasi:http settings are (http-settings.ts).
 *
 * - `baseline` (the default): V8's baseline compiler first, which starts a container soonest;
 *   functions that are called often are optimised later. V8 cannot replace a function while it
 *   runs, so a long loop in a function called once (a `main` that computes) stays at baseline.
 * - `optimized`: V8's optimising compiler for every function before the guest starts. A hello
 *   starts about 30 ms later; loop-heavy programs run up to 1.8x faster (docs/benchmark.md).
 */
import type { WasmCompile } from '../wasm/settings.js';
import { ContainerError } from './errors.js';

export const COMPILE_ENV = 'NODEWASM_WASM_COMPILE';
const CHOICES: readonly WasmCompile[] = ['baseline', 'optimized'];

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** The choice the environment makes (its last NODEWASM_WASM_COMPILE), refused if unknown. */
export function compileFromEnv(env: readonly string[]): WasmCompile {
  let choice: string | undefined;
  for (const entry of env) if (keyOf(entry) === COMPILE_ENV) choice = entry.slice(COMPILE_ENV.length + 1);
  if (choice === undefined || choice === '') return 'baseline';
  if (!(CHOICES as readonly string[]).includes(choice)) {
    throw new ContainerError('invalid', `${COMPILE_ENV}="${choice}": expected ${CHOICES.join(' or ')}`);
  }
  return choice as WasmCompile;
}

export function withoutCompileVariable(env: readonly string[]): string[] {
  return env.filter((entry) => keyOf(entry) !== COMPILE_ENV);
}
