/** Guest path resolution beneath the guest root (src/wasm/preview1/paths.ts). */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno } from '../../src/wasm/preview1/constants.js';
import { WasiError } from '../../src/wasm/preview1/errors.js';
import { PathResolver } from '../../src/wasm/preview1/paths.js';

let base: string;
let root: string;
let outside: string;
let paths: PathResolver;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'nodewasm-paths-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'a/b'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
  writeFileSync(join(root, 'a/b/file'), 'file');
  symlinkSync('/', join(root, 'esc'));
  symlinkSync('../../../../../../..', join(root, 'a/up'));
  symlinkSync('../a/b', join(root, 'a/rel'));
  symlinkSync('/a/b/file', join(root, 'abs-file'));
  symlinkSync(join(outside, 'secret'), join(root, 'host-secret'));
  symlinkSync(outside, join(root, 'host-dir'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  symlinkSync('missing', join(root, 'dangling'));
  paths = new PathResolver(root);
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function errnoOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof WasiError) return e.errno;
    throw e;
  }
  return undefined;
}

describe('PathResolver', () => {
  it('resolves plain paths component by component', () => {
    const r = paths.resolve([], 'a/b/file', true);
    expect(r.parts).toEqual(['a', 'b', 'file']);
    expect(r.host).toBe(join(root, 'a/b/file'));
    expect(r.stat?.isFile()).toBe(true);
    expect(r.named).toBe(true);
    expect(paths.resolve(['a'], 'b/./file', true).parts).toEqual(['a', 'b', 'file']);
  });

  it('resolves an absolute symlink from the guest root, not the host root', () => {
    expect(paths.resolve([], 'esc', true).host).toBe(root);
    expect(paths.resolve([], 'esc/a/b/file', true).parts).toEqual(['a', 'b', 'file']);
    expect(paths.resolve([], 'esc/esc/esc/a', true).parts).toEqual(['a']);
    expect(paths.resolve([], 'abs-file', true).parts).toEqual(['a', 'b', 'file']);
    // The host's own files are not there.
    expect(errnoOf(() => paths.resolve([], `esc${outside}/secret`, true))).toBe(Errno.NOENT);
    expect(errnoOf(() => paths.resolve([], 'host-secret', true))).toBe(Errno.NOENT);
    expect(errnoOf(() => paths.resolve([], 'host-dir/secret', true))).toBe(Errno.NOENT);
  });

  it('never climbs above the guest root with ..', () => {
    expect(paths.resolve([], '..', true).parts).toEqual([]);
    expect(paths.resolve([], '../../..', true).host).toBe(root);
    expect(paths.resolve(['a', 'b'], '../../../../a', true).parts).toEqual(['a']);
    expect(paths.resolve([], 'a/up', true).parts).toEqual([]);
    expect(paths.resolve([], 'a/up/a/b/file', true).parts).toEqual(['a', 'b', 'file']);
    expect(errnoOf(() => paths.resolve([], `a/up${outside}/secret`, true))).toBe(Errno.NOENT);
    expect(paths.resolve([], 'a/rel/file', true).parts).toEqual(['a', 'b', 'file']);
  });

  it('resolves .. physically, after the symlink it follows', () => {
    // a/rel -> ../a/b, so a/rel/.. is a (b's parent), not the directory holding rel.
    expect(paths.resolve([], 'a/rel/..', true).parts).toEqual(['a']);
  });

  it('follows the final component only when asked', () => {
    const r = paths.resolve([], 'esc', false);
    expect(r.parts).toEqual(['esc']);
    expect(r.host).toBe(join(root, 'esc'));
    expect(r.stat).toBeUndefined();
    expect(paths.resolve([], 'dangling', false).parts).toEqual(['dangling']);
    // Followed, a dangling symlink names its missing target (where O_CREAT would create it).
    const d = paths.resolve([], 'dangling', true);
    expect(d.parts).toEqual(['missing']);
    expect(d.stat).toBeNull();
  });

  it('reports loops, missing parents, files used as directories', () => {
    expect(errnoOf(() => paths.resolve([], 'loop1', true))).toBe(Errno.LOOP);
    expect(paths.resolve([], 'loop1', false).parts).toEqual(['loop1']);
    expect(errnoOf(() => paths.resolve([], 'nope/x', true))).toBe(Errno.NOENT);
    expect(paths.resolve([], 'nope', true).stat).toBeNull();
    expect(errnoOf(() => paths.resolve([], 'a/b/file/x', true))).toBe(Errno.NOTDIR);
    expect(errnoOf(() => paths.resolve([], 'a/b/file/', true))).toBe(Errno.NOTDIR);
    expect(errnoOf(() => paths.resolve([], 'a/b/file/', false))).toBe(Errno.NOTDIR);
    expect(errnoOf(() => paths.resolve([], 'a/b/file/.', true))).toBe(Errno.NOTDIR);
  });

  it('refuses absolute, empty and NUL-holding paths', () => {
    expect(errnoOf(() => paths.resolve([], '/a', true))).toBe(Errno.NOTCAPABLE);
    expect(errnoOf(() => paths.resolve([], '', true))).toBe(Errno.NOENT);
    expect(errnoOf(() => paths.resolve([], 'a\0b', true))).toBe(Errno.INVAL);
  });

  it('tells names from . and ..', () => {
    expect(paths.resolve([], '.', true).named).toBe(false);
    expect(paths.resolve([], 'a/..', true).named).toBe(false);
    expect(paths.resolve([], 'a/', true).named).toBe(true);
    expect(paths.resolve([], 'new-dir/', false)).toMatchObject({ parts: ['new-dir'], stat: null, named: true });
  });

  it('maps parts to host paths under a root of /', () => {
    const slash = new PathResolver('/');
    expect(slash.hostPath([])).toBe('/');
    expect(slash.hostPath(['etc', 'hosts'])).toBe('/etc/hosts');
  });
});
