/**
 * The path_* calls. Every guest path goes through PathResolver first (see paths.ts for why), and
 * the host call then acts on the resolved host path without following its last component.
 */
import {
  fstatSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readlinkSync, renameSync,
  rmdirSync, symlinkSync, unlinkSync, constants as fsc, type BigIntStats,
} from 'node:fs';
import {
  DIR_RIGHTS, Errno, FdFlags, FILE_RIGHTS, LookupFlags, OFlags, Rights as R,
} from './constants.js';
import type { HostContext } from './context.js';
import { timesFor, writeFilestat } from './context.js';
import { fail } from './errors.js';
import type { DirEntry } from './fd-table.js';
import { fileTypeOf } from './fd-table.js';
import type { Resolved } from './paths.js';

/** Rights that need a host fd open for writing. */
const WRITE_RIGHTS = R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE;

export function pathCalls(cx: HostContext) {
  const { mem, fds, paths } = cx;

  function resolve(dir: DirEntry, ptr: number, len: number, follow: boolean): Resolved {
    return paths.resolve(dir.parts, mem.string(ptr >>> 0, len >>> 0), follow);
  }

  /** The target's lstat, ENOENT when it does not exist. */
  function statOf(r: Resolved): BigIntStats {
    if (r.stat === null) fail(Errno.NOENT);
    return r.stat ?? lstatSync(r.host, { bigint: true });
  }

  return {
    path_open(
      dirFd: number, dirflags: number, pathPtr: number, pathLen: number, oflags: number,
      base: bigint, inheriting: bigint, fdflags: number, fdPtr: number,
    ): void {
      const creat = (oflags & OFlags.CREAT) !== 0;
      const excl = creat && (oflags & OFlags.EXCL) !== 0;
      const trunc = (oflags & OFlags.TRUNC) !== 0;
      const directory = (oflags & OFlags.DIRECTORY) !== 0;
      const needed = R.PATH_OPEN | (creat ? R.PATH_CREATE_FILE : 0n) | (trunc ? R.PATH_FILESTAT_SET_SIZE : 0n);
      const dir = fds.dir(dirFd >>> 0, needed);
      // O_CREAT|O_EXCL never follows the last component: an existing symlink is EEXIST.
      const follow = (dirflags & LookupFlags.SYMLINK_FOLLOW) !== 0 && !excl;
      const r = resolve(dir, pathPtr, pathLen, follow);
      const st = r.stat === undefined ? (lstatSync(r.host, { bigint: true, throwIfNoEntry: false }) ?? null) : r.stat;

      if (st === null) {
        if (!creat) fail(Errno.NOENT);
        if (directory) fail(Errno.INVAL);
      } else {
        if (excl) fail(Errno.EXIST);
        if (st.isSymbolicLink()) fail(directory ? Errno.NOTDIR : Errno.LOOP);
        if (st.isDirectory()) {
          if (trunc || base & R.FD_WRITE) fail(Errno.ISDIR);
          const fd = fds.add({
            kind: 'dir', parts: r.parts, preopenName: undefined, listing: undefined, fdflags,
            rightsBase: base & DIR_RIGHTS & dir.rightsInheriting,
            rightsInheriting: inheriting & dir.rightsInheriting,
          });
          mem.setU32(fdPtr >>> 0, fd);
          return;
        }
        if (directory) fail(Errno.NOTDIR);
      }

      const read = (base & (R.FD_READ | R.FD_READDIR)) !== 0n;
      const write = (base & WRITE_RIGHTS) !== 0n || (fdflags & FdFlags.APPEND) !== 0;
      let flags = fsc.O_NOFOLLOW | (read && write ? fsc.O_RDWR : write ? fsc.O_WRONLY : fsc.O_RDONLY);
      if (creat) flags |= fsc.O_CREAT;
      if (excl) flags |= fsc.O_EXCL;
      if (trunc) flags |= fsc.O_TRUNC;
      if (fdflags & FdFlags.APPEND) flags |= fsc.O_APPEND;
      if (fdflags & FdFlags.DSYNC) flags |= fsc.O_DSYNC;
      if (fdflags & (FdFlags.SYNC | FdFlags.RSYNC)) flags |= fsc.O_SYNC;
      if (fdflags & FdFlags.NONBLOCK) flags |= fsc.O_NONBLOCK;
      const hostFd = openSync(r.host, flags, 0o666);
      const fst = fstatSync(hostFd, { bigint: true });
      const seekable = fst.isFile() || fst.isBlockDevice();
      let rights = base & FILE_RIGHTS & dir.rightsInheriting;
      if (!seekable) rights &= ~(R.FD_SEEK | R.FD_TELL);
      const fd = fds.add({
        kind: 'file', hostFd, parts: r.parts, filetype: fileTypeOf(fst), seekable, position: 0,
        openFlags: flags, hostAppend: (flags & fsc.O_APPEND) !== 0, positionAtEnd: false, fdflags,
        rightsBase: rights, rightsInheriting: inheriting & dir.rightsInheriting,
      });
      mem.setU32(fdPtr >>> 0, fd);
    },

    path_filestat_get(dirFd: number, flags: number, pathPtr: number, pathLen: number, ptr: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_FILESTAT_GET);
      const r = resolve(dir, pathPtr, pathLen, (flags & LookupFlags.SYMLINK_FOLLOW) !== 0);
      writeFilestat(mem, ptr >>> 0, statOf(r));
    },

    path_filestat_set_times(
      dirFd: number, flags: number, pathPtr: number, pathLen: number, atim: bigint, mtim: bigint, fstflags: number,
    ): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_FILESTAT_SET_TIMES);
      const r = resolve(dir, pathPtr, pathLen, (flags & LookupFlags.SYMLINK_FOLLOW) !== 0);
      const [a, m] = timesFor(statOf(r), atim, mtim, fstflags);
      lutimesSync(r.host, a, m);
    },

    path_create_directory(dirFd: number, pathPtr: number, pathLen: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_CREATE_DIRECTORY);
      const r = resolve(dir, pathPtr, pathLen, false);
      if (!r.named) fail(Errno.EXIST);
      mkdirSync(r.host, 0o777);
    },

    path_remove_directory(dirFd: number, pathPtr: number, pathLen: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_REMOVE_DIRECTORY);
      const r = resolve(dir, pathPtr, pathLen, false);
      if (!r.named) fail(r.parts.length === 0 ? Errno.BUSY : Errno.INVAL);
      rmdirSync(r.host);
    },

    path_unlink_file(dirFd: number, pathPtr: number, pathLen: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_UNLINK_FILE);
      const r = resolve(dir, pathPtr, pathLen, false);
      if (!r.named) fail(Errno.ISDIR);
      unlinkSync(r.host);
    },

    path_link(
      oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number,
    ): void {
      const from = fds.dir(oldFd >>> 0, R.PATH_LINK_SOURCE);
      const to = fds.dir(newFd >>> 0, R.PATH_LINK_TARGET);
      const src = resolve(from, oldPtr, oldLen, (oldFlags & LookupFlags.SYMLINK_FOLLOW) !== 0);
      if (src.stat === null) fail(Errno.NOENT);
      const dst = resolve(to, newPtr, newLen, false);
      if (!dst.named) fail(Errno.EXIST);
      linkSync(src.host, dst.host);
    },

    path_rename(oldFd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): void {
      const from = fds.dir(oldFd >>> 0, R.PATH_RENAME_SOURCE);
      const to = fds.dir(newFd >>> 0, R.PATH_RENAME_TARGET);
      const src = resolve(from, oldPtr, oldLen, false);
      const dst = resolve(to, newPtr, newLen, false);
      if (!src.named || !dst.named) fail(Errno.BUSY);
      renameSync(src.host, dst.host);
    },

    path_symlink(targetPtr: number, targetLen: number, dirFd: number, pathPtr: number, pathLen: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_SYMLINK);
      // Stored as given, absolute or not: it is resolved inside the guest root when used.
      const target = mem.string(targetPtr >>> 0, targetLen >>> 0);
      const r = resolve(dir, pathPtr, pathLen, false);
      if (!r.named) fail(Errno.EXIST);
      symlinkSync(target, r.host);
    },

    path_readlink(dirFd: number, pathPtr: number, pathLen: number, buf: number, bufLen: number, usedPtr: number): void {
      const dir = fds.dir(dirFd >>> 0, R.PATH_READLINK);
      const r = resolve(dir, pathPtr, pathLen, false);
      if (!r.named) fail(Errno.INVAL);
      const target = readlinkSync(r.host, { encoding: 'buffer' });
      // Truncated to the buffer, as readlink(2) does.
      const n = Math.min(target.length, bufLen >>> 0);
      mem.bytes(buf >>> 0, n).set(target.subarray(0, n));
      mem.setU32(usedPtr >>> 0, n);
    },
  };
}
