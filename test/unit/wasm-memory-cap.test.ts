/** The memory-section rewriter, on modules assembled byte by byte. */
import { describe, expect, it } from 'vitest';
import { capMemory, listMemories, MemoryCapError, PAGE_SIZE } from '../../src/wasm/memory-cap.js';
import { encodeU32, readU32 } from '../../src/wasm/module-bytes.js';
import { custom, HEADER, module, name, section, vec } from './wasm-module-builder.js';

const memorySection = (...limits: number[][]) => section(5, vec(limits));
const exportMemory = section(7, vec([[...name('memory'), 0x02, 0x00]]));
const limits = (flags: number, min: number, max?: number) => [flags, ...encodeU32(min), ...(max === undefined ? [] : encodeU32(max))];

type Mem = { buffer: ArrayBuffer; grow(pages: number): number };
const WA = (globalThis as unknown as {
  WebAssembly: {
    Module: new (b: Uint8Array) => object;
    Instance: new (m: object, i: object) => { exports: Record<string, unknown> };
    Memory: new (d: { initial: number; maximum?: number }) => Mem;
  };
}).WebAssembly;

/** Instantiates the module and returns its exported memory. */
function memoryOf(bytes: Uint8Array, imports: object = {}): Mem {
  return new WA.Instance(new WA.Module(bytes), imports).exports['memory'] as Mem;
}

const MiB = 1024 * 1024;

describe('LEB128', () => {
  it('round-trips u32 values', () => {
    for (const v of [0, 1, 127, 128, 300, 16383, 16384, 65536, 2 ** 31, 2 ** 32 - 1]) {
      const enc = encodeU32(v);
      expect(readU32(Uint8Array.from([0xff, ...enc]), 1)).toEqual([v, 1 + enc.length]);
    }
    expect(encodeU32(127)).toEqual([0x7f]);
    expect(encodeU32(128)).toEqual([0x80, 0x01]);
  });

  it('reads padded encodings and refuses bad ones', () => {
    expect(readU32(Uint8Array.from([0x82, 0x80, 0x80, 0x80, 0x00]), 0)).toEqual([2, 5]);
    expect(() => readU32(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 0)).toThrow();
    expect(() => readU32(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x1f]), 0)).toThrow();
    expect(() => readU32(Uint8Array.from([0x80]), 0)).toThrow();
    expect(() => encodeU32(2 ** 32)).toThrow(RangeError);
  });
});

describe('capMemory', () => {
  it('adds a maximum to a memory that has none', () => {
    const bytes = module(memorySection(limits(0x00, 2)), exportMemory);
    const capped = capMemory(bytes, 4 * MiB);
    expect(capped.memories).toEqual([{ min: 2, max: 64, shared: false, cappable: true }]);
    const mem = memoryOf(capped.bytes);
    expect(mem.grow(62)).toBe(2);
    expect(() => mem.grow(1)).toThrow(RangeError);
    // Without the cap the same module grows past it.
    expect(memoryOf(bytes).grow(100)).toBe(2);
  });

  it('rounds the cap down to whole pages', () => {
    const capped = capMemory(module(memorySection(limits(0x00, 1)), exportMemory), 3 * PAGE_SIZE + 100);
    expect(capped.memories[0]!.max).toBe(3);
  });

  it('lowers a maximum above the cap and keeps one below it', () => {
    const above = capMemory(module(memorySection(limits(0x01, 1, 1000)), exportMemory), 1 * MiB);
    expect(above.memories[0]!.max).toBe(16);
    expect(() => memoryOf(above.bytes).grow(16)).toThrow(RangeError);

    const below = module(memorySection(limits(0x01, 1, 8)), exportMemory);
    const kept = capMemory(below, 1 * MiB);
    expect(kept.bytes).toBe(below);
    expect(kept.memories[0]!.max).toBe(8);
  });

  it('refuses a memory whose minimum is over the cap', () => {
    expect(() => capMemory(module(memorySection(limits(0x00, 20)), exportMemory), 1 * MiB)).toThrow(MemoryCapError);
  });

  it('never caps above what a 32-bit memory can address', () => {
    const capped = capMemory(module(memorySection(limits(0x00, 1)), exportMemory), 64 * 1024 * MiB);
    expect(capped.memories[0]!.max).toBe(65536);
  });

  it('keeps other sections, custom ones included, byte for byte', () => {
    const before = custom('before', [1, 2, 3]);
    const after = custom('after', [4, 5]);
    const bytes = module(before, memorySection(limits(0x00, 1)), exportMemory, after);
    const out = capMemory(bytes, 2 * MiB).bytes;
    const hex = Buffer.from(out).toString('hex');
    expect(hex.startsWith(Buffer.from([...HEADER, ...before]).toString('hex'))).toBe(true);
    expect(hex.endsWith(Buffer.from([...exportMemory, ...after]).toString('hex'))).toBe(true);
    memoryOf(out);
  });

  it('re-encodes the section size when its LEB grows a byte', () => {
    // An import section of exactly 127 bytes: adding a maximum makes it need a 2-byte size.
    // count, name length, name, field length, "memory", kind, flags, min
    const pad = 127 - (1 + 1 + 1 + 6 + 1 + 1 + 1);
    const longName = 'm'.repeat(pad);
    const importSection = section(2, vec([[...name(longName), ...name('memory'), 0x02, ...limits(0x00, 1)]]));
    expect(importSection[1]).toBe(127);
    const bytes = module(importSection);
    const out = capMemory(bytes, 2 * MiB);
    expect(out.bytes[8]).toBe(2);
    expect(readU32(out.bytes, 9)).toEqual([128, 11]); // one byte more: the maximum
    expect(listMemories(out.bytes)).toEqual([
      { import: { module: longName, name: 'memory' }, min: 1, max: 32, shared: false, cappable: true },
    ]);
    new WA.Module(out.bytes);
  });

  it('caps an imported memory, skipping the other import kinds', () => {
    const imports = section(2, vec([
      [...name('wasi_snapshot_preview1'), ...name('proc_exit'), 0x00, 0x00],
      [...name('env'), ...name('table'), 0x01, 0x70, ...limits(0x00, 1)],
      [...name('env'), ...name('g'), 0x03, 0x7f, 0x00],
      [...name('env'), ...name('ref'), 0x03, 0x63, 0x70, 0x00],
      [...name('env'), ...name('memory'), 0x02, ...limits(0x01, 1, 300)],
    ]));
    const types = section(1, vec([[0x60, 0x01, 0x7f, 0x00]]));
    const bytes = module(types, imports);
    const out = capMemory(bytes, 1 * MiB);
    expect(out.memories).toEqual([{ import: { module: 'env', name: 'memory' }, min: 1, max: 16, shared: false, cappable: true }]);
    const m = new WA.Module(out.bytes);
    const base = { wasi_snapshot_preview1: { proc_exit: () => {} } };
    const env = (maximum: number) => ({
      table: new (globalThis as unknown as { WebAssembly: { Table: new (d: object) => object } }).WebAssembly.Table({ element: 'anyfunc', initial: 1 }),
      g: 0,
      ref: null,
      memory: new WA.Memory({ initial: 1, maximum }),
    });
    // The module now declares maximum 16: a memory allowed to grow further no longer links.
    expect(() => new WA.Instance(m, { ...base, env: env(300) })).toThrow();
    new WA.Instance(m, { ...base, env: env(16) });
  });

  it('keeps the shared flag', () => {
    const out = capMemory(module(memorySection(limits(0x03, 1, 1000))), 1 * MiB);
    expect(out.memories[0]).toEqual({ min: 1, max: 16, shared: true, cappable: true });
    expect(out.bytes[out.bytes.length - 3]).toBe(0x03);
  });

  it('leaves memory64 and custom page sizes alone', () => {
    const mem64 = module(memorySection([0x04, 0x01]));
    expect(capMemory(mem64, 1 * MiB).bytes).toBe(mem64);
    expect(capMemory(mem64, 1 * MiB).memories[0]).toMatchObject({ cappable: false });
    const pages = module(memorySection([0x08, 0x01, 0x00]));
    expect(capMemory(pages, 1 * MiB).bytes).toBe(pages);
  });

  it('returns a module it cannot read unchanged', () => {
    const truncated = module(memorySection(limits(0x00, 2))).subarray(0, 11);
    expect(capMemory(truncated, 1 * MiB)).toEqual({ bytes: truncated, memories: [] });
    const unknownImport = module(section(2, vec([[...name('a'), ...name('b'), 0x7f]])));
    expect(capMemory(unknownImport, 1 * MiB).bytes).toBe(unknownImport);
    expect(listMemories(unknownImport)).toEqual([]);
  });
});
