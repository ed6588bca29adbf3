import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyBytes } from '../../src/container/workload.js';
import { lookupEntrypoint, resolveInRoot } from '../../src/container/resolve-in-root.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('classifyBytes', () => {
  it('recognises core modules, components, ELF and scripts', () => {
    expect(classifyBytes(bytes(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0), 'a')).toEqual({ kind: 'wasm-module' });
    expect(classifyBytes(bytes(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0), 'a')).toEqual({ kind: 'wasm-component' });
    expect(classifyBytes(bytes(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0), 'a')).toEqual({ kind: 'native', format: 'elf' });
    expect(classifyBytes(bytes(0x23, 0x21, 0x2f, 0x62), 'a')).toEqual({ kind: 'native', format: 'script' });
  });

  it('names arg0 when the file is neither', () => {
    expect(() => classifyBytes(bytes(0x68, 0x65, 0x6c, 0x6c, 0x6f), '/app.txt')).toThrow(/entrypoint "\/app.txt" is neither/);
    expect(() => classifyBytes(bytes(), '/empty')).toThrow(/an empty file/);
  });

  it('refuses truncated and unknown wasm versions', () => {
    expect(() => classifyBytes(bytes(0, 0x61, 0x73, 0x6d, 1), '/t.wasm')).toThrow(/truncated/);
    expect(() => classifyBytes(bytes(0, 0x61, 0x73, 0x6d, 2, 0, 0, 0), '/v.wasm')).toThrow(/unsupported WebAssembly binary version/);
  });
});

describe('resolveInRoot and lookupEntrypoint', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-root-'));
  fs.mkdirSync(path.join(root, 'bin'));
  fs.mkdirSync(path.join(root, 'app'));
  fs.writeFileSync(path.join(root, 'app', 'real.wasm'), 'x');
  fs.symlinkSync('/app/real.wasm', path.join(root, 'bin', 'tool'));
  fs.symlinkSync('/', path.join(root, 'esc'));
  fs.symlinkSync('../../../../../../../../etc', path.join(root, 'up'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('follows an absolute link inside the root, never on the host', () => {
    expect(resolveInRoot(root, '/bin/tool')).toBe('/app/real.wasm');
    expect(resolveInRoot(root, '/esc/app/real.wasm')).toBe('/app/real.wasm');
    expect(() => resolveInRoot(root, '/esc/etc/passwd')).toThrow(/no such file/);
    expect(() => resolveInRoot(root, '/up/passwd')).toThrow(/no such file/);
  });

  it('looks a bare name up on PATH and a relative one from cwd', () => {
    expect(lookupEntrypoint(root, 'tool', '/usr/bin:/bin', '/')).toBe('/app/real.wasm');
    expect(lookupEntrypoint(root, './real.wasm', '/bin', '/app')).toBe('/app/real.wasm');
    expect(() => lookupEntrypoint(root, 'missing', '/bin', '/')).toThrow(/not found on PATH/);
    expect(() => lookupEntrypoint(root, '/app', '/bin', '/')).toThrow(/not a regular file/);
  });
});
