/**
 * The fast wasi:http path's building blocks: the rewrite that exports a module's mutable state,
 * and which components may take the path.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareComponent } from '../../src/container/component-cache.js';
import { processStdio } from '../../src/wasm/component/cli.js';
import { exportState } from '../../src/wasm/component/fast/export-state.js';
import { fastHandler } from '../../src/wasm/component/fast/instance-pool.js';
import { wasm } from '../../src/wasm/wasm-api.js';
import { repoRoot } from '../harness/containerd.js';

let cache: string;
beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'nodewasm-fast-test-'));
});
afterAll(() => {
  rmSync(cache, { recursive: true, force: true });
});

const prepare = (name: string) => prepareComponent(join(repoRoot, 'fixtures/components', `${name}.component.wasm`), `/${name}.wasm`, cache);

/** A module with one defined memory, one mutable and one immutable global, and no exports. */
const SMALL_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x05, 0x03, 0x01, 0x00, 0x01, // memory section: 1 memory, min 1
  0x06, 0x0b, 0x02, 0x7f, 0x01, 0x41, 0x2a, 0x0b, 0x7e, 0x00, 0x42, 0x07, 0x0b, // globals: mut i32 = 42, i64 = 7
]);

describe('exportState', () => {
  it('exports every defined memory and mutable global, and nothing else changes', () => {
    const state = exportState(SMALL_MODULE)!;
    expect(state.memories).toEqual(['nodewasm:memory:0']);
    expect(state.globals).toEqual(['nodewasm:global:0']);
    const module = new wasm.Module(state.bytes);
    expect(wasm.Module.exports(module)).toEqual([
      { name: 'nodewasm:memory:0', kind: 'memory' },
      { name: 'nodewasm:global:0', kind: 'global' },
    ]);
    const instance = new wasm.Instance(module, {});
    expect((instance.exports['nodewasm:global:0'] as { value: number }).value).toBe(42);
  });

  it('adds to an existing export section: a real handler keeps its exports', async () => {
    const dir = (await prepare('http_handler')).dir;
    const main = readdirSync(dir).filter((n) => n.endsWith('.wasm')).map((n) => readFileSync(join(dir, n)))
      .find((b) => wasm.Module.exports(new wasm.Module(b)).some((e) => e.name.includes('incoming-handler')))!;
    const state = exportState(main)!;
    const names = wasm.Module.exports(new wasm.Module(state.bytes)).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['memory', 'cabi_realloc', 'wasi:http/incoming-handler@0.2.12#handle', ...state.globals, ...state.memories]));
    expect(state.globals.length).toBeGreaterThan(0); // at least the C stack pointer
  }, 60_000);

  it('leaves a module it cannot follow to the slow path', () => {
    expect(exportState(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x02, 0x05, 0x01, 0x00, 0x00, 0x09, 0x00]))).toBeUndefined();
  });
});

describe('fastHandler', () => {
  it('takes a one-module handler', async () => {
    const handler = fastHandler((await prepare('http_handler')).dir, undefined, processStdio());
    expect(typeof handler).toBe('object');
  }, 60_000);

  it('says why a component must take jco\'s path', async () => {
    expect(fastHandler((await prepare('http_outgoing')).dir, undefined, processStdio())).toMatch(/^no fast binding for wasi:http\/(types|outgoing-handler)@0\.2\.12 .*(outgoing|incoming-response)/);
    expect(fastHandler((await prepare('hello')).dir, undefined, processStdio())).toBe('no core module exports wasi:http/incoming-handler#handle');
  }, 60_000);
});
