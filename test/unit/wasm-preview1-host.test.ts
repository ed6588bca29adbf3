/**
 * The preview1 host called directly, on a memory of our own: the details a C guest does not
 * show easily (readdir cookies and truncation, rights, poll_oneoff, bad pointers).
 */
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Errno, FileType, LookupFlags, OFlags, Rights } from '../../src/wasm/preview1/constants.js';
import { Preview1Host, ProcExit } from '../../src/wasm/preview1/host.js';
import type { WasmMemory } from '../../src/wasm/wasm-api.js';
import { wasm } from '../../src/wasm/wasm-api.js';

type Call = (...args: (number | bigint)[]) => number;

const base = mkdtempSync(join(tmpdir(), 'nodewasm-host-'));
const root = join(base, 'root');
mkdirSync(join(root, 'd/sub'), { recursive: true });
const fileNames = Array.from({ length: 40 }, (_, i) => `file-${'x'.repeat(i % 13)}-${i}`);
for (const n of fileNames) writeFileSync(join(root, 'd', n), n);
symlinkSync('sub', join(root, 'd/link'));
writeFileSync(join(root, 'data.txt'), 'some data');
// A name that is not UTF-8: listed with its raw bytes and its real inode.
const rawName = Buffer.from([0x66, 0xff, 0x2e]);
mkdirSync(join(root, 'raw'));
writeFileSync(Buffer.concat([Buffer.from(join(root, 'raw') + '/'), rawName]), '');

afterAll(() => rmSync(base, { recursive: true, force: true }));

let host: Preview1Host;
let w: Record<string, Call>;
let memory: WasmMemory;
let view: DataView;
let u8: Uint8Array;

beforeEach(() => {
  host = new Preview1Host({ args: ['prog', 'bé'], env: ['X=1', 'EMPTY='], root });
  memory = new wasm.Memory({ initial: 4 });
  host.mem.attach(memory);
  view = new DataView(memory.buffer);
  u8 = new Uint8Array(memory.buffer);
  w = host.imports.wasi_snapshot_preview1 as unknown as Record<string, Call>;
});

/** Scratch areas of guest memory. */
const RET = 0;
const STR = 1024;
const BUF = 8192;

function str(s: string, at = STR): [number, number] {
  const b = Buffer.from(s);
  u8.set(b, at);
  return [at, b.length];
}

function open(path: string, oflags = 0, rights = Rights.FD_READ | Rights.FD_READDIR, dirflags: number = LookupFlags.SYMLINK_FOLLOW): number {
  const errno = w['path_open']!(3, dirflags, ...str(path), oflags, rights, 0n, 0, RET);
  if (errno !== 0) return -errno;
  return view.getUint32(RET, true);
}

interface Dirent {
  next: bigint;
  ino: bigint;
  name: string;
  type: number;
}

/** Parses whole entries from a readdir buffer, as wasi-libc does. */
function parse(used: number): { entries: Dirent[]; partial: boolean } {
  const entries: Dirent[] = [];
  let at = BUF;
  while (at + 24 <= BUF + used) {
    const namlen = view.getUint32(at + 16, true);
    if (at + 24 + namlen > BUF + used) return { entries, partial: true };
    entries.push({
      next: view.getBigUint64(at, true),
      ino: view.getBigUint64(at + 8, true),
      name: Buffer.from(u8.subarray(at + 24, at + 24 + namlen)).toString(),
      type: u8[at + 20]!,
    });
    at += 24 + namlen;
  }
  return { entries, partial: at < BUF + used };
}

/** Reads a whole directory with a buffer of `size` bytes, following cookies. */
function readAll(fd: number, size: number): Dirent[] {
  const all: Dirent[] = [];
  let cookie = 0n;
  for (;;) {
    expect(w['fd_readdir']!(fd, BUF, size, cookie, RET)).toBe(0);
    const used = view.getUint32(RET, true);
    const { entries } = parse(used);
    all.push(...entries);
    if (used < size) return all;
    expect(entries.length, `a ${size}-byte buffer must hold at least one entry`).toBeGreaterThan(0);
    cookie = entries[entries.length - 1]!.next;
  }
}

describe('preview1 host: args, environ, preopens', () => {
  it('gives args and environ as NUL-terminated strings', () => {
    expect(w['args_sizes_get']!(RET, RET + 4)).toBe(0);
    expect([view.getUint32(RET, true), view.getUint32(RET + 4, true)]).toEqual([2, 5 + 4]);
    expect(w['args_get']!(64, BUF)).toBe(0);
    expect(view.getUint32(64, true)).toBe(BUF);
    expect(view.getUint32(68, true)).toBe(BUF + 5);
    expect(Buffer.from(u8.subarray(BUF, BUF + 9)).toString()).toBe('prog\0bé\0');
    expect(w['environ_sizes_get']!(RET, RET + 4)).toBe(0);
    expect([view.getUint32(RET, true), view.getUint32(RET + 4, true)]).toEqual([2, 4 + 7]);
  });

  it('preopens the root as "/" at fd 3 and nothing after it', () => {
    expect(w['fd_prestat_get']!(3, RET)).toBe(0);
    expect([u8[RET], view.getUint32(RET + 4, true)]).toEqual([0, 1]);
    expect(w['fd_prestat_dir_name']!(3, STR, 1)).toBe(0);
    expect(String.fromCharCode(u8[STR]!)).toBe('/');
    expect(w['fd_prestat_get']!(4, RET)).toBe(Errno.BADF);
    expect(w['fd_prestat_get']!(1, RET)).toBe(Errno.BADF);
    expect(w['fd_fdstat_get']!(3, RET)).toBe(0);
    expect(u8[RET]).toBe(FileType.DIRECTORY);
    expect(view.getBigUint64(RET + 8, true) & Rights.PATH_OPEN).toBe(Rights.PATH_OPEN);
  });
});

describe('preview1 host: fd_readdir', () => {
  const expected = ['.', '..', 'link', 'sub', ...fileNames].sort();

  it('lists every entry once with cookies, types and inodes', () => {
    const fd = open('d', OFlags.DIRECTORY);
    expect(fd).toBeGreaterThan(3);
    const entries = readAll(fd, 4096);
    expect(entries.map((e) => e.name).sort()).toEqual(expected);
    entries.forEach((e, i) => expect(e.next).toBe(BigInt(i + 1)));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('sub')!.type).toBe(FileType.DIRECTORY);
    expect(byName.get('link')!.type).toBe(FileType.SYMBOLIC_LINK);
    expect(byName.get(fileNames[0]!)!.type).toBe(FileType.REGULAR_FILE);
    expect(byName.get('sub')!.ino).toBe(lstatSync(join(root, 'd/sub'), { bigint: true }).ino);
    expect(byName.get('.')!.ino).toBe(lstatSync(join(root, 'd'), { bigint: true }).ino);
    expect(byName.get('..')!.ino).toBe(lstatSync(root, { bigint: true }).ino);
  });

  it('gives the same entries whatever the buffer size cuts', () => {
    const fd = open('d', OFlags.DIRECTORY);
    for (const size of [24 + 40, 57, 64, 100, 333, 1000]) {
      expect(readAll(fd, size).map((e) => e.name).sort(), `buffer ${size}`).toEqual(expected);
    }
  });

  it('fills the buffer completely when more entries follow, cutting the last one', () => {
    const fd = open('d', OFlags.DIRECTORY);
    expect(w['fd_readdir']!(fd, BUF, 10, 0n, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(10);
    expect(w['fd_readdir']!(fd, BUF, 30, 0n, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(30);
    // "." (25 bytes) whole, then the first 5 bytes of "..".
    const { entries, partial } = parse(30);
    expect(entries.map((e) => e.name)).toEqual(['.']);
    expect(partial).toBe(true);
  });

  it('returns nothing past the end, and the root lists ".." as itself', () => {
    const fd = open('d', OFlags.DIRECTORY);
    readAll(fd, 4096);
    expect(w['fd_readdir']!(fd, BUF, 4096, 1000n, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(0);
    const rootEntries = readAll(3, 4096);
    const dotdot = rootEntries.find((e) => e.name === '..')!;
    expect(dotdot.ino).toBe(lstatSync(root, { bigint: true }).ino);
  });

  it('lists a name that is not UTF-8 with its own bytes and inode', () => {
    const fd = open('raw', OFlags.DIRECTORY);
    expect(w['fd_readdir']!(fd, BUF, 4096, 2n, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(24 + 3);
    expect(Buffer.from(u8.subarray(BUF + 24, BUF + 27))).toEqual(rawName);
    const ino = lstatSync(Buffer.concat([Buffer.from(join(root, 'raw') + '/'), rawName]), { bigint: true }).ino;
    expect(view.getBigUint64(BUF + 8, true)).toBe(ino);
  });

  it('refuses a descriptor that is not a directory', () => {
    const fd = open('data.txt');
    expect(w['fd_readdir']!(fd, BUF, 4096, 0n, RET)).toBe(Errno.NOTDIR);
  });
});

describe('preview1 host: files and rights', () => {
  it('reads, seeks and tells', () => {
    const fd = open('data.txt', 0, Rights.FD_READ | Rights.FD_SEEK | Rights.FD_TELL);
    view.setUint32(64, BUF, true);
    view.setUint32(68, 4, true);
    expect(w['fd_read']!(fd, 64, 1, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(4);
    expect(Buffer.from(u8.subarray(BUF, BUF + 4)).toString()).toBe('some');
    expect(w['fd_tell']!(fd, RET)).toBe(0);
    expect(view.getBigUint64(RET, true)).toBe(4n);
    expect(w['fd_seek']!(fd, -4n, 2, RET)).toBe(0);
    expect(view.getBigUint64(RET, true)).toBe(5n);
    expect(w['fd_read']!(fd, 64, 1, RET)).toBe(0);
    expect(Buffer.from(u8.subarray(BUF, BUF + 4)).toString()).toBe('data');
    expect(w['fd_seek']!(fd, -100n, 1, RET)).toBe(Errno.INVAL);
  });

  it('enforces rights: no write without FD_WRITE, rights only shrink', () => {
    const fd = open('data.txt', 0, Rights.FD_READ);
    view.setUint32(64, BUF, true);
    view.setUint32(68, 1, true);
    expect(w['fd_write']!(fd, 64, 1, RET)).toBe(Errno.BADF);
    expect(w['fd_seek']!(fd, 0n, 0, RET)).toBe(Errno.NOTCAPABLE);
    expect(w['fd_fdstat_set_rights']!(fd, Rights.FD_READ | Rights.FD_WRITE, 0n)).toBe(Errno.NOTCAPABLE);
    expect(w['fd_fdstat_set_rights']!(fd, 0n, 0n)).toBe(0);
    expect(w['fd_read']!(fd, 64, 1, RET)).toBe(Errno.BADF);
  });

  it('keeps paths inside: absolute paths refused, .. stops at the root', () => {
    expect(open('/data.txt')).toBe(-Errno.NOTCAPABLE);
    expect(open('../../../data.txt')).toBeGreaterThan(3);
    expect(open('../../etc/passwd')).toBe(-Errno.NOENT);
    // Not following a final symlink: opening it is ELOOP (O_NOFOLLOW), O_DIRECTORY is ENOTDIR.
    expect(open('d/link', 0, Rights.FD_READ, 0)).toBe(-Errno.LOOP);
    expect(open('d/link', OFlags.DIRECTORY, Rights.FD_READ, 0)).toBe(-Errno.NOTDIR);
    expect(open('d/link', OFlags.DIRECTORY)).toBeGreaterThan(3);
  });

  it('renumbers and closes', () => {
    const a = open('data.txt');
    const b = open('d', OFlags.DIRECTORY);
    expect(w['fd_renumber']!(a, 99)).toBe(Errno.BADF);
    expect(w['fd_renumber']!(b, a)).toBe(0);
    expect(w['fd_fdstat_get']!(a, RET)).toBe(0);
    expect(u8[RET]).toBe(FileType.DIRECTORY);
    expect(w['fd_close']!(b)).toBe(Errno.BADF);
    expect(w['fd_close']!(a)).toBe(0);
    expect(w['fd_close']!(a)).toBe(Errno.BADF);
  });

  it('answers EFAULT for pointers outside guest memory', () => {
    const end = memory.buffer.byteLength;
    view.setUint32(64, end - 2, true);
    view.setUint32(68, 100, true);
    expect(w['fd_write']!(1, 64, 1, RET)).toBe(Errno.FAULT);
    expect(w['args_sizes_get']!(end, 0)).toBe(Errno.FAULT);
    expect(w['path_open']!(3, 0, end - 1, 10, 0, 0n, 0n, 0, RET)).toBe(Errno.FAULT);
  });

  it('sees memory that grew after it attached', () => {
    memory.grow(1);
    const last = memory.buffer.byteLength - 8;
    expect(w['clock_time_get']!(1, 0n, last)).toBe(0);
    expect(new DataView(memory.buffer).getBigUint64(last, true)).toBeGreaterThan(0n);
  });
});

describe('preview1 host: clocks, poll, exit', () => {
  function clockSub(at: number, userdata: bigint, clock: number, timeoutNs: bigint, abstime = false): void {
    u8.fill(0, at, at + 48);
    view.setBigUint64(at, userdata, true);
    u8[at + 8] = 0;
    view.setUint32(at + 16, clock, true);
    view.setBigUint64(at + 24, timeoutNs, true);
    view.setUint16(at + 40, abstime ? 1 : 0, true);
  }

  it('reads the clocks', () => {
    expect(w['clock_time_get']!(0, 0n, RET)).toBe(0);
    const realMs = Number(view.getBigUint64(RET, true) / 1_000_000n);
    expect(Math.abs(realMs - Date.now())).toBeLessThan(100);
    for (const id of [1, 2, 3]) expect(w['clock_time_get']!(id, 0n, RET)).toBe(0);
    expect(w['clock_time_get']!(9, 0n, RET)).toBe(Errno.INVAL);
    expect(w['clock_res_get']!(1, RET)).toBe(0);
    expect(view.getBigUint64(RET, true)).toBe(1n);
  });

  it('sleeps on a relative clock subscription', () => {
    clockSub(STR, 7n, 1, 30_000_000n);
    const t0 = performance.now();
    expect(w['poll_oneoff']!(STR, BUF, 1, RET)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(view.getUint32(RET, true)).toBe(1);
    expect(view.getBigUint64(BUF, true)).toBe(7n);
    expect(view.getUint16(BUF + 8, true)).toBe(0);
    expect(u8[BUF + 10]).toBe(0);
  });

  it('sleeps until an absolute realtime deadline', () => {
    expect(w['clock_time_get']!(0, 0n, RET)).toBe(0);
    clockSub(STR, 1n, 0, view.getBigUint64(RET, true) + 20_000_000n, true);
    const t0 = performance.now();
    expect(w['poll_oneoff']!(STR, BUF, 1, RET)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });

  it('reports stdio ready at once instead of sleeping', () => {
    clockSub(STR, 1n, 1, 5_000_000_000n);
    u8.fill(0, STR + 48, STR + 96);
    view.setBigUint64(STR + 48, 2n, true);
    u8[STR + 56] = 2; // fd_write
    view.setUint32(STR + 64, 1, true);
    // Had it slept, the 5 s clock would have fired too and two events would be reported.
    expect(w['poll_oneoff']!(STR, BUF, 2, RET)).toBe(0);
    expect(view.getUint32(RET, true)).toBe(1);
    expect(view.getBigUint64(BUF, true)).toBe(2n);
    expect(u8[BUF + 10]).toBe(2);
    expect(w['poll_oneoff']!(STR, BUF, 0, RET)).toBe(Errno.INVAL);
  });

  it('fills random bytes', () => {
    u8.fill(0, BUF, BUF + 64);
    expect(w['random_get']!(BUF, 64)).toBe(0);
    expect(u8.subarray(BUF, BUF + 64).some((b) => b !== 0)).toBe(true);
  });

  it('unwinds on proc_exit and keeps unwinding', () => {
    expect(() => w['proc_exit']!(3)).toThrow(ProcExit);
    expect(host.exitCode).toBe(3);
    expect(() => w['sched_yield']!()).toThrow(ProcExit);
  });

  it('has no sockets and no signals', () => {
    expect(w['sock_accept']!(1, 0, RET)).toBe(Errno.NOTSOCK);
    expect(w['sock_shutdown']!(42, 0)).toBe(Errno.BADF);
    expect(w['proc_raise']!(9)).toBe(Errno.NOSYS);
  });
});
