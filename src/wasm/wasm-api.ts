/**
 * The slice of the WebAssembly JS API the runner uses, typed here: the project compiles without
 * the DOM lib (which is where TypeScript declares `WebAssembly`), and a global declaration of our
 * own would clash with it the day someone enables it.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface ModuleImportDescriptor {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

export interface ModuleExportDescriptor {
  name: string;
  kind: ModuleImportDescriptor['kind'];
}

export type Imports = Record<string, Record<string, unknown>>;

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: {
    new (bytes: Uint8Array): WasmModule;
    imports(module: WasmModule): ModuleImportDescriptor[];
    exports(module: WasmModule): ModuleExportDescriptor[];
  };
  Instance: new (module: WasmModule, imports: Imports) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  CompileError: new (message?: string) => Error;
  LinkError: new (message?: string) => Error;
  RuntimeError: new (message?: string) => Error;
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export function isMemory(value: unknown): value is WasmMemory {
  return value instanceof (wasm.Memory as unknown as new () => object);
}
