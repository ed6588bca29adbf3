/**
 * The canonical ABI's view of one instance, for bindings written by hand: reading strings and
 * lists out of the guest's memory, allocating results in it through its cabi_realloc (called for
 * every string and list, empty ones too, as the canonical ABI says), and one table of resource
 * handles. Handles index one array for every resource type; a lookup checks the type, so a handle
 * of the wrong kind traps as the canonical ABI requires.
 */
import type { WasmMemory } from '../../wasm-api.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** A trap raised by the bindings themselves (a bad handle, a bad pointer). */
export class CanonTrap extends Error {}

export type Realloc = (old: number, oldSize: number, align: number, size: number) => number;

export class Canon {
  memory!: WasmMemory;
  realloc!: Realloc;
  private buffer: ArrayBuffer | SharedArrayBuffer | undefined;
  private view!: DataView;
  private bytes!: Uint8Array;
  private handles: Array<object | undefined> = [undefined];
  private free: number[] = [];

  /** Binds to the instance's memory and realloc once it exists. */
  bind(memory: WasmMemory, realloc: Realloc): void {
    this.memory = memory;
    this.realloc = realloc;
    this.refresh();
  }

  /** The memory's buffer changes when it grows: views are remade then. */
  private refresh(): void {
    const buffer = this.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  dv(): DataView {
    this.refresh();
    return this.view;
  }

  u8(): Uint8Array {
    this.refresh();
    return this.bytes;
  }

  string(ptr: number, len: number): string {
    // i32 arguments arrive signed: a pointer past 2 GiB must not count from the end.
    ptr >>>= 0;
    len >>>= 0;
    const b = this.u8();
    if (ptr + len > b.length) throw new CanonTrap('string out of bounds');
    return utf8.decode(b.subarray(ptr, ptr + len));
  }

  /** A copy of guest bytes (the guest may reuse its buffer as soon as the call returns). */
  copy(ptr: number, len: number): Uint8Array {
    ptr >>>= 0;
    len >>>= 0;
    const b = this.u8();
    if (ptr + len > b.length) throw new CanonTrap('list out of bounds');
    return b.slice(ptr, ptr + len);
  }

  /** Allocates `size` bytes in the guest; returns the pointer. */
  alloc(size: number, align: number): number {
    const ptr = this.realloc(0, 0, align, size) >>> 0;
    if (ptr + size > this.u8().length) throw new CanonTrap('cabi_realloc returned memory out of bounds');
    return ptr;
  }

  /** Writes bytes into a new guest allocation: [ptr, len]. */
  putBytes(data: Uint8Array): [number, number] {
    const ptr = this.alloc(data.length, 1);
    this.u8().set(data, ptr);
    return [ptr, data.length];
  }

  putString(s: string): [number, number] {
    return this.putBytes(encoder.encode(s));
  }

  /** Stores (ptr, len) of a new string at `at`. */
  storeString(at: number, s: string): void {
    const [ptr, len] = this.putString(s);
    const dv = this.dv();
    dv.setUint32(at, ptr, true);
    dv.setUint32(at + 4, len, true);
  }

  storeBytes(at: number, data: Uint8Array): void {
    const [ptr, len] = this.putBytes(data);
    const dv = this.dv();
    dv.setUint32(at, ptr, true);
    dv.setUint32(at + 4, len, true);
  }

  /** A new handle owning `value`. */
  own(value: object): number {
    const h = this.free.pop();
    if (h !== undefined) {
      this.handles[h] = value;
      return h;
    }
    this.handles.push(value);
    return this.handles.length - 1;
  }

  /** The resource behind a borrowed handle. */
  get<T>(handle: number, type: abstract new (...args: never[]) => T): T {
    const v = this.handles[handle];
    if (!(v instanceof type)) throw new CanonTrap(`unknown handle ${handle} (expected ${type.name})`);
    return v;
  }

  /** The resource behind an owned handle, which leaves the guest's table. */
  take<T>(handle: number, type: abstract new (...args: never[]) => T): T {
    const v = this.get(handle, type);
    this.handles[handle] = undefined;
    this.free.push(handle);
    return v;
  }

  /** resource.drop: the guest let go; the resource may clean up. */
  drop<T>(handle: number, type: abstract new (...args: never[]) => T): void {
    const v = this.take(handle, type) as { [Symbol.dispose]?: () => void };
    v[Symbol.dispose]?.();
  }

  /** Forgets every handle: what one request had can never be reached by the next. */
  clearHandles(): void {
    this.handles = [undefined];
    this.free = [];
  }
}
