/**
 * The runner: the program a wasm container runs (under tini, on the pinned Node 24), bundled into
 * dist/runner.mjs. `node runner.mjs SETTINGS.json`: reads the settings the shim wrote (see
 * settings.ts), loads the entrypoint from the guest root, caps its memory, and runs it with our
 * WASI preview1 host, whose only preopen is the guest root as "/". A component goes to
 * component/run.ts instead: the shim's transpile of it, our WASI 0.2 host, a command or an HTTP
 * server (docs/components.md).
 *
 * Exit status: the guest's proc_exit code (0 when _start returns), RunnerExit.trap (70) for a trap,
 * RunnerExit.cannotExecute (126) for a module that cannot be read, compiled or instantiated;
 * every failure of its own is one "nodewasm: ..." line on fd 2.
 *
 * Keep this file's imports small: every container start loads it.
 */
import { readFileSync, writeSync } from 'node:fs';
import { withCompileHints } from './compile-hints.js';
import { capMemory, listMemories, MemoryCapError, type MemoryDecl } from './memory-cap.js';
import { errnoName, WasiError } from './preview1/errors.js';
import { HostCallError, Preview1Host } from './preview1/host.js';
import { RunnerExit, WASM_COMPILE_CHOICES, type RunnerSettings } from './settings.js';
import type { runComponent as RunComponent } from './component/run.js';
import { isMemory, wasm, type Imports, type WasmInstance, type WasmMemory, type WasmModule } from './wasm-api.js';

const WASI_MODULE = 'wasi_snapshot_preview1';

function say(line: string): void {
  try {
    writeSync(2, `nodewasm: ${line}\n`);
  } catch {
    // stderr is gone: the exit status still tells.
  }
}

function describe(e: unknown): string {
  if (e instanceof WasiError) return errnoName(e.errno);
  // A system call's error code alone: its message would name host paths the guest never sees.
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && (e as NodeJS.ErrnoException).syscall) return code;
  if (e instanceof Error) return e.message;
  return String(e);
}

function readSettings(path: string): RunnerSettings {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunnerSettings>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (s.version !== 1) throw new Error(`unsupported settings version ${String(s.version)}`);
  if (s.kind !== 'module' && s.kind !== 'component') throw new Error('kind must be "module" or "component"');
  if (typeof s.guestRoot !== 'string' || typeof s.entrypoint !== 'string' || !s.entrypoint.startsWith('/')) {
    throw new Error('guestRoot and an absolute entrypoint are required');
  }
  if (!strings(s.args) || !strings(s.env) || typeof s.cwd !== 'string') throw new Error('args, env and cwd are required');
  if (s.memoryLimitBytes !== undefined && !(typeof s.memoryLimitBytes === 'number' && s.memoryLimitBytes > 0)) {
    throw new Error('memoryLimitBytes must be a positive number');
  }
  if (s.component !== undefined && (typeof s.component.dir !== 'string' || !['cli', 'http'].includes(s.component.world))) {
    throw new Error('component needs a dir and a world ("cli" or "http")');
  }
  if (s.compile !== undefined && !WASM_COMPILE_CHOICES.includes(s.compile)) {
    throw new Error(`compile must be one of ${WASM_COMPILE_CHOICES.map((c) => `"${c}"`).join(', ')}`);
  }
  if (s.http !== undefined && !(typeof s.http.host === 'string' && s.http.port >= 0 && s.http.requestTimeoutMs > 0 && s.http.maxRequestBodyBytes > 0)) {
    throw new Error('http needs host, port, requestTimeoutMs and maxRequestBodyBytes');
  }
  return s as RunnerSettings;
}

/** What the module's first 8 bytes say it is, or why it cannot run. */
function checkHeader(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    return 'not a WebAssembly module (no \\0asm header)';
  }
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (version === 1 && layer === 0) return undefined;
  if (layer === 1) return 'is a WebAssembly component; components are not supported yet (only core modules)';
  return `unsupported WebAssembly binary version ${version} (layer ${layer})`;
}

/**
 * The import object: the preview1 host, plus a memory for a module that imports its memory
 * (created with the module's declared, possibly capped, limits). Names anything left unresolved.
 */
function linkImports(
  module: WasmModule, host: Preview1Host, memories: MemoryDecl[],
): { imports: Imports; memory: WasmMemory | undefined } | string {
  const provided = host.imports[WASI_MODULE];
  const imports: Imports = { [WASI_MODULE]: provided };
  const missing: string[] = [];
  let memory: WasmMemory | undefined;
  const importedMemories = memories.filter((m) => m.import);
  for (const imp of wasm.Module.imports(module)) {
    if (imp.module === WASI_MODULE && imp.kind === 'function' && Object.hasOwn(provided, imp.name)) continue;
    const decl = imp.kind === 'memory' ? importedMemories.find((m) => m.import!.module === imp.module && m.import!.name === imp.name) : undefined;
    if (decl?.min !== undefined) {
      const descriptor: { initial: number; maximum?: number; shared?: boolean } = { initial: decl.min, shared: decl.shared };
      if (decl.max !== undefined) descriptor.maximum = decl.max;
      memory = new wasm.Memory(descriptor);
      (imports[imp.module] ??= {})[imp.name] = memory;
      continue;
    }
    missing.push(`${imp.module}.${imp.name} (${imp.kind})`);
  }
  if (missing.length === 0) return { imports, memory };
  return `unresolved import${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: the runner provides only ${WASI_MODULE}`;
}

function isTrap(e: unknown): e is Error {
  return e instanceof wasm.RuntimeError || (e instanceof RangeError && e.message.includes('call stack'));
}

async function main(): Promise<number> {
  const settingsPath = process.argv[2];
  if (!settingsPath) {
    say('usage: runner.mjs SETTINGS.json');
    return RunnerExit.cannotExecute;
  }
  let settings: RunnerSettings;
  try {
    settings = readSettings(settingsPath);
  } catch (e) {
    say(`cannot read the runner settings ${settingsPath}: ${describe(e)}`);
    return RunnerExit.cannotExecute;
  }
  // V8 flags are set before any guest code is compiled, here rather than on node's command line,
  // where any V8 flag makes Node reject its code cache and every container start slower.
  const v8 = process.getBuiltinModule('node:v8');
  const compile = settings.compile ?? 'auto';
  if (compile === 'optimized') v8.setFlagsFromString('--no-liftoff');
  const entry = settings.entrypoint;
  const refuse = (why: string): number => {
    say(`${entry}: ${why}`);
    return RunnerExit.cannotExecute;
  };
  if (settings.kind === 'component') {
    // A bundle of its own beside this one (runner-component.mjs): a core module's start never
    // loads the component host and the node:http, node:https and node:crypto it imports.
    const bundle = new URL('./runner-component.mjs', import.meta.url).href;
    const { runComponent } = (await import(bundle)) as { runComponent: typeof RunComponent };
    return runComponent(settings, say);
  }

  let host: Preview1Host;
  let bytes: Uint8Array;
  try {
    // Only "/" is preopened, whatever settings.cwd says: see docs/preview1-host.md ("Working directory").
    host = new Preview1Host({ args: settings.args, env: settings.env, root: settings.guestRoot });
  } catch (e) {
    return refuse(`cannot open the guest root ${settings.guestRoot}: ${describe(e)}`);
  }
  try {
    // Through our resolver as well: the file is read from inside the guest root, never beside it.
    bytes = readFileSync(host.paths.resolve([], '.' + entry, true).host);
  } catch (e) {
    return refuse(`cannot read the module: ${describe(e)}`);
  }
  const notCore = checkHeader(bytes);
  if (notCore) return refuse(notCore);

  let memories: MemoryDecl[] | undefined;
  if (settings.memoryLimitBytes !== undefined) {
    try {
      ({ bytes, memories } = capMemory(bytes, settings.memoryLimitBytes));
    } catch (e) {
      if (e instanceof MemoryCapError) return refuse(`cannot run within the memory limit: ${e.message}`);
      throw e;
    }
  }

  if (compile === 'auto') {
    const hinted = withCompileHints(bytes);
    if (hinted !== bytes) {
      v8.setFlagsFromString('--experimental-wasm-compilation-hints');
      bytes = hinted;
    }
  }

  let module: WasmModule;
  try {
    module = await wasm.compile(bytes);
  } catch (e) {
    return refuse(`cannot compile: ${describe(e)}`);
  }
  const needsMemory = wasm.Module.imports(module).some((i) => i.kind === 'memory');
  const imported = linkImports(module, host, needsMemory ? (memories ?? listMemories(bytes)) : []);
  if (typeof imported === 'string') return refuse(imported);

  let instance: WasmInstance;
  try {
    instance = new wasm.Instance(module, imported.imports);
  } catch (e) {
    if (isTrap(e)) {
      say(`${entry}: wasm trap: ${e.message}`);
      return RunnerExit.trap;
    }
    return refuse(`cannot instantiate: ${describe(e)}`);
  }

  const exports = instance.exports;
  const start = typeof exports['_start'] === 'function' ? '_start' : typeof exports['_initialize'] === 'function' ? '_initialize' : undefined;
  if (start === undefined) return refuse('exports neither _start (a command) nor _initialize (a reactor)');
  // WASI calls read and write the guest's memory: its exported one, or the one it imported.
  const memory = isMemory(exports['memory']) ? exports['memory'] : imported.memory;
  const usesWasi = wasm.Module.imports(module).some((i) => i.module === WASI_MODULE);
  if (usesWasi && memory === undefined) return refuse('exports no "memory", which WASI calls need');

  try {
    // A reactor has no main: initializing it is all there is to run.
    return host.run(instance, start, memory);
  } catch (e) {
    if (e instanceof HostCallError) {
      say(`${entry}: WASI host error in ${e.message}`);
      return RunnerExit.trap;
    }
    if (isTrap(e)) {
      say(`${entry}: wasm trap: ${e.message}`);
      return RunnerExit.trap;
    }
    say(`${entry}: ${describe(e)}`);
    return RunnerExit.trap;
  }
}

const code = await main();
// Every guest write was synchronous, so nothing is left to flush. The status is a byte, as for
// any process: exit(256) is 0 on Linux too.
process.exit(code & 0xff);
