/**
 * How the runner has V8 compile the guest, read from the container's environment at Create and
 * removed from the guest's environment, as the wasi:http settings are (http-settings.ts).
 *
 * - `auto` (the default): functions that hold a loop inside a loop, up to a size, are compiled by
 *   V8's optimising compiler on their first call; every other function by its baseline compiler
 *   first and optimised once it has run enough (src/wasm/compile-hints.ts says why). A hello
 *   compiles nothing optimised and starts as with `baseline`, a few milliseconds for reading its
 *   functions aside; a program whose work is in such loops runs up to three times as fast
 *   (spectral-norm in the bench, 2026-12-04).
 * - `baseline`: V8's own default for every function: the baseline compiler first. V8 cannot
 *   replace a function while it runs, so a long loop in a function called once stays at baseline.
 * - `optimized`: V8's optimising compiler for every function before it first runs. A hello starts
 *   tens of milliseconds later (printf's formatter alone takes most of that).
 */
import { WASM_COMPILE_CHOICES, type WasmCompile } from '../wasm/settings.js';
import { lastEnvValue, withoutEnv } from './env-entries.js';
import { ContainerError } from './errors.js';

export const COMPILE_ENV = 'NODEWASM_WASM_COMPILE';

/** The choice the environment makes (its last NODEWASM_WASM_COMPILE), refused if unknown. */
export function compileFromEnv(env: readonly string[]): WasmCompile {
  const choice = lastEnvValue(env, COMPILE_ENV);
  if (choice === undefined || choice === '') return 'auto';
  if (!(WASM_COMPILE_CHOICES as readonly string[]).includes(choice)) {
    throw new ContainerError('invalid', `${COMPILE_ENV}="${choice}": expected ${WASM_COMPILE_CHOICES.join(', ')}`);
  }
  return choice as WasmCompile;
}

export function withoutCompileVariable(env: readonly string[]): string[] {
  return withoutEnv(env, new Set([COMPILE_ENV]));
}
