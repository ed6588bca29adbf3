/** What every group of calls shares, and the struct writers more than one group needs. */
import type { BigIntStats } from 'node:fs';
import { Errno, FstFlags } from './constants.js';
import { fail } from './errors.js';
import type { FdTable } from './fd-table.js';
import { fileTypeOf } from './fd-table.js';
import type { GuestMemory } from './memory.js';
import type { PathResolver } from './paths.js';

export interface HostContext {
  readonly mem: GuestMemory;
  readonly fds: FdTable;
  readonly paths: PathResolver;
}

/** Writes a filestat (64 bytes) for a host stat. */
export function writeFilestat(mem: GuestMemory, ptr: number, st: BigIntStats): void {
  mem.bytes(ptr, 64);
  mem.setU64(ptr, st.dev);
  mem.setU64(ptr + 8, st.ino);
  mem.setU64(ptr + 16, 0n); // filetype and its padding
  mem.setU8(ptr + 16, fileTypeOf(st));
  mem.setU64(ptr + 24, st.nlink);
  mem.setU64(ptr + 32, st.size);
  mem.setU64(ptr + 40, st.atimeNs);
  mem.setU64(ptr + 48, st.mtimeNs);
  mem.setU64(ptr + 56, st.ctimeNs);
}

/**
 * The [atime, mtime] pair, in seconds as Node's utimes calls take them, for a set_times call:
 * each is the given time, now, or (neither flag) the current value kept.
 */
export function timesFor(current: BigIntStats, atim: bigint, mtim: bigint, flags: number): [number, number] {
  if ((flags & FstFlags.ATIM && flags & FstFlags.ATIM_NOW) || (flags & FstFlags.MTIM && flags & FstFlags.MTIM_NOW)) {
    fail(Errno.INVAL);
  }
  const now = Date.now() / 1000;
  const pick = (given: bigint, set: number, setNow: number, kept: bigint): number =>
    flags & setNow ? now : flags & set ? nsToSeconds(given) : nsToSeconds(kept);
  return [
    pick(atim, FstFlags.ATIM, FstFlags.ATIM_NOW, current.atimeNs),
    pick(mtim, FstFlags.MTIM, FstFlags.MTIM_NOW, current.mtimeNs),
  ];
}

/** Seconds with microsecond precision: a double cannot hold today's time in nanoseconds exactly. */
function nsToSeconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}
