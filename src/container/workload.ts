import fs from 'node:fs';
import { ContainerError } from './errors.js';

/** What kind of program a container's entrypoint is, decided once from the file's first bytes. */
export type WorkloadKind =
  | { kind: 'wasm-module' }
  | { kind: 'wasm-component' }
  | { kind: 'native'; format: 'elf' | 'script' };

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
const CORE_MODULE_VERSION = [0x01, 0x00, 0x00, 0x00];
/** Component binaries: version 0x0d, layer 1 (the component-model binary format). */
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00];

export function classifyBytes(head: Uint8Array, arg0: string): WorkloadKind {
  if (startsWith(head, WASM_MAGIC)) {
    const version = head.subarray(4, 8);
    if (startsWith(version, CORE_MODULE_VERSION)) return { kind: 'wasm-module' };
    if (startsWith(version, COMPONENT_VERSION)) return { kind: 'wasm-component' };
    if (version.length < 4) {
      throw new ContainerError('invalid', `entrypoint "${arg0}": truncated WebAssembly binary (no version after the magic bytes)`);
    }
    throw new ContainerError('invalid', `entrypoint "${arg0}": unsupported WebAssembly binary version ${hex(version)}`);
  }
  if (startsWith(head, [0x7f, 0x45, 0x4c, 0x46])) return { kind: 'native', format: 'elf' };
  if (startsWith(head, [0x23, 0x21])) return { kind: 'native', format: 'script' };
  const what = head.length === 0 ? 'an empty file' : `starts with ${hex(head.subarray(0, 4))}`;
  throw new ContainerError(
    'invalid',
    `entrypoint "${arg0}" is neither a WebAssembly module or component nor a native program (${what})`,
  );
}

export function classifyFile(hostPath: string, arg0: string): WorkloadKind {
  const head = new Uint8Array(8);
  let length: number;
  const fd = fs.openSync(hostPath, 'r');
  try {
    length = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return classifyBytes(head.subarray(0, length), arg0);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
