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
import { lastEnvValue, withoutEnv } from './env-entries.js';
import { ContainerError } from './errors.js';

export const COMPILE_ENV = 'NODEWASM_WASM_COMPILE';
const CHOICES: readonly WasmCompile[] = ['baseline', 'optimized'];

/** The choice the environment makes (its last NODEWASM_WASM_COMPILE), refused if unknown. */
export function compileFromEnv(env: readonly string[]): WasmCompile {
  const choice = lastEnvValue(env, COMPILE_ENV);
  if (choice === undefined || choice === '') return 'baseline';
  if (!(CHOICES as readonly string[]).includes(choice)) {
    throw new ContainerError('invalid', `${COMPILE_ENV}="${choice}": expected ${CHOICES.join(' or ')}`);
  }
  return choice as WasmCompile;
}

export function withoutCompileVariable(env: readonly string[]): string[] {
  return withoutEnv(env, new Set([COMPILE_ENV]));
}
