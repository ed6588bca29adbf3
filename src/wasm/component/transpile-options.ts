/**
 * How the shim asks jco to transpile a component, shared with the runner that loads the result.
 * - instantiation mode: the output is a plain `instantiate(getCoreModule, imports)` function
 *   that imports nothing; the runner passes our WASI 0.2 host keyed by interface name without a
 *   version ('wasi:io/streams'), so any 0.2.x component links against the same host.
 * - JSPI: the listed host calls may return a promise, on which V8 suspends the guest's stack,
 *   so blocking calls neither block the event loop nor need a worker thread.
 */
export const COMPONENT_MODULE = 'component.js';
/** The name jco gives the files: component.js, component.core.wasm, component.core2.wasm... */
export const COMPONENT_NAME = 'component';

/**
 * Host calls that may wait: each is a JSPI suspending import. Output writes are not among them:
 * through jco's bindings a suspending call costs a JSPI switch and jco's task bookkeeping on every
 * write (measured: a 5 MiB stdout took 5x longer to write), so on this path writes never wait
 * (stdout is written synchronously; an HTTP body is buffered by Node). Our own wasi:http bindings
 * (fast/) do wait for a slow client.
 */
export const SUSPENDING_IMPORTS = [
  'wasi:io/poll#[method]pollable.block',
  'wasi:io/poll#poll',
  'wasi:io/streams#[method]input-stream.blocking-read',
  'wasi:io/streams#[method]input-stream.blocking-skip',
] as const;

/** Exports called through WebAssembly.promising, so that the imports above may suspend. */
export const PROMISING_EXPORTS = ['wasi:cli/run#run', 'wasi:http/incoming-handler#handle'] as const;

/** Options of `transpileBytes` of @bytecodealliance/jco-transpile (what `jco transpile` runs). */
export interface JcoTranspileOptions {
  name: string;
  instantiation: 'async';
  asyncMode: 'jspi';
  asyncImports: string[];
  asyncExports: string[];
  emitTypescriptDeclarations: boolean;
  /** false: a top-level `result` error comes out as jco's ComponentError, as `jco transpile` does. */
  noComponentErrorWrapping: boolean;
}

export function transpileOptions(): JcoTranspileOptions {
  return {
    name: COMPONENT_NAME,
    instantiation: 'async',
    asyncMode: 'jspi',
    asyncImports: [...SUSPENDING_IMPORTS],
    asyncExports: [...PROMISING_EXPORTS],
    emitTypescriptDeclarations: false,
    noComponentErrorWrapping: false,
  };
}

/** The worlds the runner runs, decided from the component's exports. */
export type ComponentWorld = 'cli' | 'http';

/** Interfaces the runner's host provides (any 0.2.x version). */
export const PROVIDED_INTERFACES = new Set([
  'wasi:cli/environment', 'wasi:cli/exit', 'wasi:cli/stdin', 'wasi:cli/stdout', 'wasi:cli/stderr',
  'wasi:cli/terminal-input', 'wasi:cli/terminal-output', 'wasi:cli/terminal-stdin', 'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr', 'wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock', 'wasi:filesystem/types',
  'wasi:filesystem/preopens', 'wasi:io/error', 'wasi:io/poll', 'wasi:io/streams', 'wasi:random/random',
  'wasi:random/insecure', 'wasi:random/insecure-seed', 'wasi:http/types', 'wasi:http/outgoing-handler',
]);

/** "wasi:cli/run@0.2.3" → "wasi:cli/run". */
export function unversioned(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

export interface WorldCheck {
  world?: ComponentWorld;
  /** Why the component cannot run here, for the Create error. */
  problem?: string;
}

/** Decides the world from jco's lists of imports and exports, naming what we cannot provide. */
export function checkWorld(imports: readonly string[], exports: ReadonlyArray<readonly [string, string]>): WorldCheck {
  const exported = new Set(exports.map(([name]) => unversioned(name)));
  const versions = exports.map(([name]) => name).filter((n) => n.startsWith('wasi:cli/run@') || n.startsWith('wasi:http/incoming-handler@'));
  const badVersion = versions.find((n) => !/@0\.2\.\d+/.test(n));
  if (badVersion) return { problem: `exports ${badVersion}: only WASI 0.2.x worlds are supported` };
  const unsupported = imports.map(unversioned).filter((name) => !PROVIDED_INTERFACES.has(name));
  if (unsupported.length > 0) {
    return { problem: `imports ${unsupported.join(', ')}, which nodewasm does not provide (supported: wasi:cli, wasi:clocks, wasi:filesystem, wasi:io, wasi:random, wasi:http)` };
  }
  if (exported.has('wasi:http/incoming-handler')) return { world: 'http' };
  if (exported.has('wasi:cli/run')) return { world: 'cli' };
  const names = [...exported].join(', ') || 'nothing';
  return { problem: `exports ${names}: a component must export wasi:cli/run (a command) or wasi:http/incoming-handler (the wasi:http proxy world)` };
}
