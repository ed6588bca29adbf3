/**
 * Views of the guest's linear memory. memory.grow replaces the ArrayBuffer, so every host call
 * starts with `refresh()`, which rebuilds the views only when the buffer changed.
 */
import { Errno } from './constants.js';
import { fail } from './errors.js';
import type { WasmMemory } from '../wasm-api.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class GuestMemory {
  private memory: WasmMemory | undefined;
  private buffer: ArrayBufferLike | undefined;
  u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  attach(memory: WasmMemory): void {
    this.memory = memory;
    this.buffer = undefined;
    this.refresh();
  }

  refresh(): void {
    const memory = this.memory;
    // A module without memory can still make calls that need none (proc_exit, sched_yield).
    if (memory === undefined) return;
    const buffer = memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.u8 = new Uint8Array(buffer);
      this.view = new DataView(buffer);
    }
  }

  /** EFAULT unless [ptr, ptr+len) is inside guest memory. */
  check(ptr: number, len: number): void {
    if (ptr + len > this.u8.length) fail(Errno.FAULT);
  }

  /** A view of [ptr, ptr+len) in guest memory, after checking it is inside. */
  bytes(ptr: number, len: number): Uint8Array<ArrayBufferLike> {
    if (ptr + len > this.u8.length) fail(Errno.FAULT);
    return this.u8.subarray(ptr, ptr + len);
  }

  /** A guest string (pointer + byte length); invalid UTF-8 is EILSEQ. */
  string(ptr: number, len: number): string {
    try {
      return utf8.decode(this.bytes(ptr, len));
    } catch (e) {
      if (e instanceof TypeError) fail(Errno.ILSEQ);
      throw e;
    }
  }

  u32(ptr: number): number {
    return this.view.getUint32(ptr, true);
  }

  setU8(ptr: number, value: number): void {
    this.view.setUint8(ptr, value);
  }

  setU16(ptr: number, value: number): void {
    this.view.setUint16(ptr, value, true);
  }

  setU32(ptr: number, value: number): void {
    this.view.setUint32(ptr, value, true);
  }

  setU64(ptr: number, value: bigint): void {
    this.view.setBigUint64(ptr, value, true);
  }

  /** The guest's iovec array as views of guest memory, and their total length. */
  iovecs(ptr: number, count: number): { views: Uint8Array[]; total: number } {
    const views: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const at = ptr + i * 8;
      const len = this.u32(at + 4);
      if (len === 0) continue;
      views.push(this.bytes(this.u32(at), len));
      total += len;
    }
    return { views, total };
  }
}

export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}
