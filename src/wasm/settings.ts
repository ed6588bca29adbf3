/**
 * The runner's settings file: the contract between the shim (which writes it, read-only, into the
 * container) and the runner (which reads it at start). Settings never travel through the guest's
 * environment.
 */
export interface RunnerSettings {
  version: 1;
  /** What the entrypoint file is. */
  kind: 'module' | 'component';
  /**
   * The directory, as the runner sees it inside the container, that holds the guest's root: the
   * image rootfs plus the user's mounts. It is what the guest sees as "/".
   */
  guestRoot: string;
  /** The entrypoint as a guest path (absolute, symlinks already resolved inside guestRoot). */
  entrypoint: string;
  /** The guest's argv; args[0] is arg0 as the user gave it. */
  args: string[];
  /** Exactly the user's spec process.env, KEY=VALUE. */
  env: string[];
  /** The guest's working directory, a guest path. */
  cwd: string;
  /** Cap for the guest's linear memory, from the container's memory limit. */
  memoryLimitBytes?: number;
  /** For a component: where the shim's transpiled code is mounted, and the world it runs. */
  component?: ComponentSettings;
  /** For a wasi:http component: where and how to serve. */
  http?: HttpSettings;
  /** How V8 compiles the guest (src/container/compile-settings.ts); absent means 'auto'. */
  compile?: WasmCompile;
}

export type WasmCompile = 'auto' | 'baseline' | 'optimized';
export const WASM_COMPILE_CHOICES: readonly WasmCompile[] = ['auto', 'baseline', 'optimized'];

export interface ComponentSettings {
  /** Directory (in the container) holding jco's output: component.js and its core modules. */
  dir: string;
  /** wasi:cli/run command, or wasi:http/incoming-handler service. */
  world: 'cli' | 'http';
}

export interface HttpSettings {
  /** Listen host (an IPv4 or IPv6 address) and port, in the container's network namespace. */
  host: string;
  port: number;
  /** A request still unanswered after this long is answered 504. */
  requestTimeoutMs: number;
  /** Larger request bodies are refused (413). */
  maxRequestBodyBytes: number;
}

/** Exit codes the runner uses for failures of its own; guests' own codes pass through unchanged. */
export const RunnerExit = {
  /** The guest trapped (unreachable, out-of-bounds access, stack overflow...). */
  trap: 70,
  /** The module could not be read, compiled or instantiated (bad bytes, missing import...). */
  cannotExecute: 126,
} as const;
