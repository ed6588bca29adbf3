/**
 * fd_readdir. The directory is read once into a snapshot (again whenever the guest starts over
 * at cookie 0) and a cookie is an index into it, so cookies stay valid across calls however the
 * guest's buffer cut the entries. "." and ".." come first, as readdir(3) callers expect.
 *
 * The buffer is filled completely, the last entry cut short if it does not fit: that is how the
 * guest tells "more may follow" (bufused == buf_len) from the end (bufused < buf_len), and
 * wasi-libc then reads again from the cookie of the last entry it got whole.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { FileType, Rights as R } from './constants.js';
import type { HostContext } from './context.js';
import type { DirEntry, DirListing } from './fd-table.js';
import { fileTypeOf } from './fd-table.js';

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const header = new DataView(new ArrayBuffer(24));
const headerBytes = new Uint8Array(header.buffer);

function snapshot(cx: HostContext, dir: DirEntry): DirListing {
  const entries = readdirSync(cx.paths.hostPath(dir.parts), { withFileTypes: true, encoding: 'buffer' });
  const names = [DOT, DOTDOT];
  const types: number[] = [FileType.DIRECTORY, FileType.DIRECTORY];
  for (const d of entries) {
    names.push(d.name);
    types.push(fileTypeOf(d));
  }
  return { names, types, inodes: new Array<bigint | undefined>(names.length) };
}

/**
 * The entry's inode (d_ino), 0 if it vanished since the snapshot. Many programs skip entries whose
 * d_ino is 0, so it is looked up (one lstat per entry returned; Node's readdir does not pass on
 * the inode getdents gave it). The lstat is the plain one, cheaper than BigInt stats; an inode
 * too large for a double is read again exactly.
 */
function inodeOf(cx: HostContext, dir: DirEntry, parent: string, name: Buffer): bigint {
  let path: string | Buffer;
  if (name === DOT) path = parent;
  else if (name === DOTDOT) path = cx.paths.hostPath(dir.parts.slice(0, -1));
  else {
    // A name that is valid UTF-8 (no replacement character) round-trips through a string.
    const text = name.toString();
    path = text.includes('\uFFFD') ? Buffer.concat([Buffer.from(parent + '/'), name]) : parent + '/' + text;
  }
  const ino = lstatSync(path, { throwIfNoEntry: false })?.ino;
  if (ino === undefined) return 0n;
  if (ino <= Number.MAX_SAFE_INTEGER) return BigInt(ino);
  return lstatSync(path, { bigint: true, throwIfNoEntry: false })?.ino ?? 0n;
}

export function readdirCalls(cx: HostContext) {
  const { mem, fds } = cx;
  return {
    fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, bufUsedPtr: number): void {
      const dir = fds.dir(fd >>> 0, R.FD_READDIR);
      bufLen >>>= 0;
      const out = mem.bytes(buf >>> 0, bufLen);
      if (cookie === 0n || dir.listing === undefined) dir.listing = snapshot(cx, dir);
      const { names, types, inodes } = dir.listing;
      const parent = cx.paths.hostPath(dir.parts);
      let used = 0;
      for (let i = cookie > BigInt(names.length) ? names.length : Number(cookie); i < names.length && used < bufLen; i++) {
        const name = names[i]!;
        const ino = (inodes[i] ??= inodeOf(cx, dir, parent, name));
        header.setBigUint64(0, BigInt(i + 1), true); // d_next: the cookie of the entry after this one
        header.setBigUint64(8, ino, true);
        header.setUint32(16, name.length, true);
        header.setUint32(20, types[i]!, true); // d_type, then three bytes of padding
        const h = Math.min(24, bufLen - used);
        out.set(h === 24 ? headerBytes : headerBytes.subarray(0, h), used);
        used += h;
        const n = Math.min(name.length, bufLen - used);
        out.set(n === name.length ? name : name.subarray(0, n), used);
        used += n;
      }
      mem.setU32(bufUsedPtr >>> 0, used);
    },
  };
}
