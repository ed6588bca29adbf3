/**
 * The fast wasi:http path: the component's main core module linked directly to hand-written
 * canonical-ABI bindings (io-bindings.ts, http-bindings.ts) instead of jco's generated glue, and
 * instances reused from a pool, each put back into its post-initialization state before it
 * serves another request: every memory's bytes and size-beyond-snapshot zeroed, every mutable
 * global restored, every resource handle forgotten. A request therefore sees nothing any earlier
 * request left, as with a fresh instance, for a fraction of the cost (measured in
 * docs/components.md). An instance that trapped or was abandoned is never reused.
 *
 * Eligible components: one core module that exports memory, cabi_realloc and
 * wasi:http/incoming-handler@0.2.x#handle and imports only functions these bindings provide (the
 * shape of a component made from one module by `jco new`/wit-component, or by cargo component).
 * Others (adapters, several modules, outgoing-handler...) take jco's path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capMemory } from '../../memory-cap.js';
import { wasm, type Imports, type WasmMemory, type WasmModule } from '../../wasm-api.js';
import { COMPONENT_NAME, unversioned } from '../transpile-options.js';
import type { IncomingRequest, ResponseOutparam } from '../http-types.js';
import { Canon, type Realloc } from './canon.js';
import { exportState } from './export-state.js';
import { httpBindings } from './http-bindings.js';
import { ioBindings, SUSPENDING, type BindingHost, type CoreFn, type InterfaceBindings } from './io-bindings.js';

interface JspiApi {
  Suspending: new (fn: CoreFn) => object;
  promising(fn: unknown): (...args: number[]) => Promise<unknown>;
}
interface WasmGlobal {
  value: number | bigint;
}

const jspi = (globalThis as unknown as { WebAssembly: JspiApi }).WebAssembly;

export type InstanceStrategy = 'reset' | 'fresh';

export interface FastHandler {
  handle(request: IncomingRequest, outparam: ResponseOutparam): Promise<void>;
  /** Instances made so far (for tests and the benchmark). */
  readonly instancesCreated: number;
}

interface Pooled {
  canon: Canon;
  handle: (request: number, outparam: number) => Promise<unknown>;
  memories: WasmMemory[];
  globals: WasmGlobal[];
}

interface Snapshot {
  memories: Uint8Array[];
  globals: Array<number | bigint>;
}

/** Why a component cannot take the fast path, or the linked module. */
type Plan = { reason: string } | { module: WasmModule; handleName: string; memories: string[]; globals: string[]; imports: Array<{ module: string; name: string; make: InterfaceBindings[string] }> };

function plan(dir: string, memoryLimitBytes: number | undefined): Plan {
  const bindings: Record<string, InterfaceBindings> = { ...ioBindings, ...httpBindings() };
  const cores = readdirSync(dir).filter((n) => n.startsWith(`${COMPONENT_NAME}.core`) && n.endsWith('.wasm'));
  let main: { bytes: Uint8Array; handleName: string } | undefined;
  for (const name of cores) {
    const bytes: Uint8Array = readFileSync(join(dir, name));
    const exports = wasm.Module.exports(new wasm.Module(bytes)).map((e) => e.name);
    const handleName = exports.find((e) => /^wasi:http\/incoming-handler@0\.2\.\d+#handle$/.test(e));
    if (handleName === undefined) continue;
    if (main) return { reason: 'more than one core module exports the handler' };
    if (!exports.includes('memory') || !exports.includes('cabi_realloc')) return { reason: 'the handler\'s module does not export memory and cabi_realloc' };
    main = { bytes, handleName };
  }
  if (!main) return { reason: 'no core module exports wasi:http/incoming-handler#handle' };
  let bytes = main.bytes;
  if (memoryLimitBytes !== undefined) bytes = capMemory(bytes, memoryLimitBytes).bytes;
  const state = exportState(bytes);
  if (!state) return { reason: 'the module\'s state cannot be located' };
  const module = new wasm.Module(state.bytes);
  const imports: Array<{ module: string; name: string; make: InterfaceBindings[string] }> = [];
  for (const imp of wasm.Module.imports(module)) {
    const make = imp.kind === 'function' ? bindings[unversioned(imp.module)]?.[imp.name] : undefined;
    if (!make) return { reason: `no fast binding for ${imp.module} ${imp.name} (${imp.kind})` };
    imports.push({ module: imp.module, name: imp.name, make });
  }
  return { module, handleName: main.handleName, memories: state.memories, globals: state.globals, imports };
}

/**
 * The fast handler for the transpiled component in `dir`, or the reason it cannot have one.
 */
export function fastHandler(dir: string, memoryLimitBytes: number | undefined, host: BindingHost, strategy: InstanceStrategy = 'reset'): FastHandler | string {
  const p = plan(dir, memoryLimitBytes);
  if ('reason' in p) return p.reason;
  let created = 0;

  const instantiate = (): Pooled => {
    const canon = new Canon();
    const imports: Imports = {};
    for (const { module, name, make } of p.imports) {
      const fn = make(canon, host);
      (imports[module] ??= {})[name] = (fn as { [SUSPENDING]?: boolean })[SUSPENDING] ? new jspi.Suspending(fn) : fn;
    }
    const instance = new wasm.Instance(p.module, imports);
    const exports = instance.exports;
    canon.bind(exports['memory'] as WasmMemory, exports['cabi_realloc'] as Realloc);
    // wit-component runs a reactor's _initialize before the first call; so do we.
    if (typeof exports['_initialize'] === 'function') (exports['_initialize'] as () => void)();
    created++;
    return {
      canon,
      handle: jspi.promising(exports[p.handleName]) as Pooled['handle'],
      memories: p.memories.map((n) => exports[n] as WasmMemory),
      globals: p.globals.map((n) => exports[n] as WasmGlobal),
    };
  };

  const first = instantiate();
  const snapshot: Snapshot = {
    memories: first.memories.map((m) => new Uint8Array(m.buffer).slice()),
    globals: first.globals.map((g) => g.value),
  };
  const idle: Pooled[] = [first];

  /** Back to the state right after initialization. */
  const reset = (inst: Pooled): void => {
    inst.memories.forEach((m, i) => {
      const saved = snapshot.memories[i]!;
      const now = new Uint8Array(m.buffer);
      now.set(saved);
      if (now.length > saved.length) now.fill(0, saved.length);
    });
    inst.globals.forEach((g, i) => (g.value = snapshot.globals[i]!));
    inst.canon.clearHandles();
  };

  return {
    get instancesCreated() {
      return created;
    },
    async handle(request, outparam) {
      const inst = strategy === 'reset' ? (idle.pop() ?? instantiate()) : instantiate();
      const result = inst.handle(inst.canon.own(request), inst.canon.own(outparam));
      // Only an instance whose handler returned normally is put back; one that trapped is dropped.
      await result;
      if (strategy === 'reset') {
        reset(inst);
        idle.push(inst);
      }
    },
  };
}
