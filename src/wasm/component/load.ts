/**
 * Loads a component the shim transpiled (the read-only cache mounted into the container): its
 * core modules compiled once, memory-capped like a core module's, and an `instantiate` that
 * makes a new, isolated instance synchronously (no await between the core instantiations, which
 * is what makes an instance per HTTP request affordable).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { capMemory } from '../memory-cap.js';
import { wasm, type Imports, type WasmInstance, type WasmModule } from '../wasm-api.js';
import { COMPONENT_MODULE, COMPONENT_NAME } from './transpile-options.js';
import type { ImportObject } from './host.js';

type JcoInstantiate = (
  getCoreModule: (name: string) => WasmModule,
  imports: ImportObject,
  instantiateCore: (module: WasmModule, imports: Imports) => WasmInstance,
) => Promise<ComponentExports> | ComponentExports;

export type ComponentExports = Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;

export interface LoadedComponent {
  /** A new instance of the component, linked to `imports`. */
  instantiate(imports: ImportObject): Promise<ComponentExports> | ComponentExports;
}

const instantiateCoreSync = (module: WasmModule, imports: Imports): WasmInstance => new wasm.Instance(module, imports);

export async function loadComponent(dir: string, memoryLimitBytes: number | undefined): Promise<LoadedComponent> {
  const modules = new Map<string, WasmModule>();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${COMPONENT_NAME}.core`) || !name.endsWith('.wasm')) continue;
    let bytes: Uint8Array = readFileSync(join(dir, name));
    if (memoryLimitBytes !== undefined) bytes = capMemory(bytes, memoryLimitBytes).bytes;
    modules.set(name, await wasm.compile(bytes));
  }
  const mod = (await import(pathToFileURL(join(dir, COMPONENT_MODULE)).href)) as { instantiate: JcoInstantiate };
  const getCoreModule = (name: string): WasmModule => {
    const m = modules.get(name);
    if (m === undefined) throw new Error(`the transpiled component has no core module ${name}`);
    return m;
  };
  return { instantiate: (imports) => mod.instantiate(getCoreModule, imports, instantiateCoreSync) };
}

/** The export of an interface, whatever its 0.2.x version ('wasi:cli/run' finds 'wasi:cli/run@0.2.3'). */
export function findExport(exports: ComponentExports, iface: string): Record<string, (...args: unknown[]) => Promise<unknown>> | undefined {
  for (const [name, value] of Object.entries(exports)) {
    if (name === iface || name.startsWith(`${iface}@`)) return value;
  }
  return undefined;
}
