/**
 * The shim's component cache: one jco transpile per component digest, reused afterwards, written
 * atomically; invalid components and unsupported worlds refused with a message for ctr.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareComponent } from '../../src/container/component-cache.js';
import { ContainerError } from '../../src/container/errors.js';
import { checkWorld } from '../../src/wasm/component/transpile-options.js';
import { repoRoot } from '../harness/containerd.js';

const component = (name: string) => join(repoRoot, 'fixtures', 'components', `${name}.component.wasm`);

let cache: string;

beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'nodewasm-cache-test-'));
});

afterAll(() => {
  rmSync(cache, { recursive: true, force: true });
});

describe('prepareComponent', () => {
  it('transpiles a command once per digest, then finds it in the cache', async () => {
    const first = await prepareComponent(component('hello'), '/hello.wasm', cache);
    expect(first.transpiled).toBe(true);
    expect(first.world).toBe('cli');
    expect(first.dir.startsWith(cache)).toBe(true);
    const files = readdirSync(first.dir).sort();
    expect(files).toContain('component.js');
    expect(files).toContain('component.core.wasm');
    expect(files.some((f) => f.endsWith('.d.ts'))).toBe(false);
    // Readable by any container user: the cache is mounted read-only into containers.
    expect(statSync(join(first.dir, 'component.js')).mode & 0o444).toBe(0o444);

    const second = await prepareComponent(component('hello'), '/hello.wasm', cache);
    expect(second).toEqual({ ...first, transpiled: false });
    expect(readdirSync(cache).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  }, 60_000);

  it('recognises the wasi:http proxy world', async () => {
    const http = await prepareComponent(component('http_handler'), '/http_handler.wasm', cache);
    expect(http.world).toBe('http');
  }, 60_000);

  it('two concurrent prepares of one component end with one complete entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodewasm-cache-race-'));
    try {
      const [a, b] = await Promise.all([
        prepareComponent(component('echo_env'), '/e.wasm', dir),
        prepareComponent(component('echo_env'), '/e.wasm', dir),
      ]);
      expect(a.dir).toBe(b.dir);
      expect(readdirSync(dir)).toEqual([a.dir.slice(dir.length + 1)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses an invalid component, naming the entrypoint', async () => {
    const err = await prepareComponent(component('invalid'), '/invalid.wasm', cache).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerError);
    expect((err as ContainerError).kind).toBe('invalid');
    expect((err as Error).message).toMatch(/^entrypoint "\/invalid\.wasm" is not a valid WebAssembly component: /);
    expect((err as Error).message).not.toContain('\n');
  }, 60_000);
});

describe('checkWorld', () => {
  it('names imports we do not provide', () => {
    const r = checkWorld(['wasi:cli/environment', 'wasi:sockets/tcp', 'acme:kv/store'], [['wasi:cli/run@0.2.0', 'instance']]);
    expect(r.world).toBeUndefined();
    expect(r.problem).toContain('wasi:sockets/tcp, acme:kv/store');
  });

  it('needs wasi:cli/run or wasi:http/incoming-handler', () => {
    expect(checkWorld([], [['acme:thing/api@1.0.0', 'instance']]).problem).toMatch(/must export wasi:cli\/run .* or wasi:http\/incoming-handler/);
    expect(checkWorld([], [['wasi:cli/run@0.2.3', 'instance']]).world).toBe('cli');
    expect(checkWorld(['wasi:http/types'], [['wasi:http/incoming-handler@0.2.0', 'instance']]).world).toBe('http');
  });

  it('refuses worlds other than WASI 0.2', () => {
    expect(checkWorld([], [['wasi:cli/run@0.3.0', 'instance']]).problem).toMatch(/only WASI 0\.2\.x/);
  });
});
