/** The fd_* calls: I/O on open descriptors, their flags, rights and metadata. */
import {
  closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, futimesSync, lstatSync, lutimesSync,
  openSync, readSync, readvSync, writeSync, writevSync, constants as fsc, type BigIntStats,
} from 'node:fs';
import { Errno, FdFlags, FileType, PREOPENTYPE_DIR, Rights as R, Whence } from './constants.js';
import type { HostContext } from './context.js';
import { timesFor, writeFilestat } from './context.js';
import { fail } from './errors.js';
import type { Entry, FileEntry, StdioEntry } from './fd-table.js';
import { fileTypeOf } from './fd-table.js';
import { readViews, writeAllViews, writeFully } from './stdio.js';

/** The file's offset, resolving "at the end" after an append write. */
function position(e: FileEntry): number {
  if (e.positionAtEnd) {
    e.position = Number(fstatSync(e.hostFd).size);
    e.positionAtEnd = false;
  }
  return e.position;
}

function hostStat(cx: HostContext, e: Entry): BigIntStats {
  if (e.kind === 'dir') return lstatSync(cx.paths.hostPath(e.parts), { bigint: true });
  return fstatSync(e.hostFd, { bigint: true });
}

type IsaTTY = (fd: number) => boolean;
let isatty: IsaTTY | undefined;

/** Major number 1 is the kernel's memory devices: /dev/null, /dev/zero, /dev/urandom... */
function isMemoryDevice(rdev: bigint): boolean {
  return (((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n)) === 1n;
}

/**
 * A stdio fd's file type, found on first use. wasi-libc's isatty() is "a character device without
 * seek and tell rights", which would make /dev/null a terminal and the guest's stdout line-buffered
 * (a write per line): a character device that is not a terminal gets the two rights, as it is
 * seekable natively too. node:tty (which loads node:net, milliseconds of start-up) is asked only
 * about character devices that are not /dev/null and its kin.
 */
function stdioFileType(e: StdioEntry): number {
  if (e.filetype === undefined) {
    const st = fstatSync(e.hostFd, { bigint: true });
    e.filetype = fileTypeOf(st);
    if (e.filetype === FileType.CHARACTER_DEVICE) {
      let terminal = false;
      if (!isMemoryDevice(st.rdev)) {
        isatty ??= process.getBuiltinModule('node:tty').isatty as IsaTTY;
        terminal = isatty(e.hostFd);
      }
      if (!terminal) e.rightsBase |= R.FD_SEEK | R.FD_TELL;
    }
  }
  return e.filetype;
}

function readFile(e: FileEntry, views: Uint8Array[], total: number, at: number | null): number {
  if (total === 0) return 0;
  if (views.length === 1) return readSync(e.hostFd, views[0]!, 0, total, at);
  return readvSync(e.hostFd, views, at ?? undefined);
}

function writeFile(e: FileEntry, views: Uint8Array[], total: number, at: number | null): number {
  if (total === 0) return 0;
  if (views.length === 1) return writeSync(e.hostFd, views[0]!, 0, total, at);
  return writevSync(e.hostFd, views, at ?? undefined);
}

/** Opens a directory's host path just long enough to sync it (Node syncs only fds). */
function syncDirectory(cx: HostContext, parts: string[], sync: (fd: number) => void): void {
  const fd = openSync(cx.paths.hostPath(parts), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  try {
    sync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fdCalls(cx: HostContext) {
  const { mem, fds } = cx;

  return {
    fd_read(fd: number, iovs: number, iovsLen: number, nreadPtr: number): void {
      const e = fds.io(fd >>> 0, R.FD_READ);
      const { views, total } = mem.iovecs(iovs >>> 0, iovsLen >>> 0);
      let n: number;
      if (e.kind === 'stdio') n = total === 0 ? 0 : readViews(e.hostFd, views);
      else if (e.seekable) {
        const at = position(e);
        n = readFile(e, views, total, at);
        e.position = at + n;
      } else n = readFile(e, views, total, null);
      mem.setU32(nreadPtr >>> 0, n);
    },

    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): void {
      const e = fds.io(fd >>> 0, R.FD_WRITE);
      iovs >>>= 0;
      let n: number;
      if (e.kind === 'stdio' && iovsLen === 1) {
        // The hot path (stdout): one iovec written straight from guest memory, nothing allocated.
        const ptr = mem.u32(iovs);
        const len = mem.u32(iovs + 4);
        mem.check(ptr, len);
        n = writeFully(e.hostFd, mem.u8, ptr, len);
      } else {
        const { views, total } = mem.iovecs(iovs, iovsLen >>> 0);
        if (e.kind === 'stdio') n = total === 0 ? 0 : writeAllViews(e.hostFd, views, total);
        else if (e.hostAppend) {
          n = writeFile(e, views, total, null);
          e.positionAtEnd = true;
        } else if (e.seekable) {
          const at = position(e);
          n = writeFile(e, views, total, at);
          e.position = at + n;
        } else n = writeFile(e, views, total, null);
      }
      mem.setU32(nwrittenPtr >>> 0, n);
    },

    fd_pread(fd: number, iovs: number, iovsLen: number, offset: bigint, nreadPtr: number): void {
      const e = fds.io(fd >>> 0, R.FD_READ | R.FD_SEEK);
      if (e.kind !== 'file' || !e.seekable) fail(Errno.SPIPE);
      const { views, total } = mem.iovecs(iovs >>> 0, iovsLen >>> 0);
      mem.setU32(nreadPtr >>> 0, readFile(e, views, total, Number(offset)));
    },

    fd_pwrite(fd: number, iovs: number, iovsLen: number, offset: bigint, nwrittenPtr: number): void {
      const e = fds.io(fd >>> 0, R.FD_WRITE | R.FD_SEEK);
      if (e.kind !== 'file' || !e.seekable) fail(Errno.SPIPE);
      const { views, total } = mem.iovecs(iovs >>> 0, iovsLen >>> 0);
      mem.setU32(nwrittenPtr >>> 0, writeFile(e, views, total, Number(offset)));
    },

    fd_seek(fd: number, offset: bigint, whence: number, newOffsetPtr: number): void {
      const e = fds.get(fd >>> 0);
      if (e.kind === 'dir') fail(Errno.BADF);
      if (e.kind === 'stdio' || !e.seekable) fail(Errno.SPIPE);
      const tellOnly = offset === 0n && whence === Whence.CUR;
      if ((e.rightsBase & (tellOnly ? R.FD_TELL : R.FD_SEEK)) === 0n) fail(Errno.NOTCAPABLE);
      let base: number;
      if (whence === Whence.SET) base = 0;
      else if (whence === Whence.CUR) base = position(e);
      else if (whence === Whence.END) base = Number(fstatSync(e.hostFd).size);
      else fail(Errno.INVAL);
      const next = BigInt(base) + offset;
      if (next < 0n) fail(Errno.INVAL);
      if (next > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.OVERFLOW);
      e.position = Number(next);
      e.positionAtEnd = false;
      mem.setU64(newOffsetPtr >>> 0, next);
    },

    fd_tell(fd: number, offsetPtr: number): void {
      const e = fds.get(fd >>> 0);
      if (e.kind === 'dir') fail(Errno.BADF);
      if (e.kind === 'stdio' || !e.seekable) fail(Errno.SPIPE);
      if ((e.rightsBase & R.FD_TELL) === 0n) fail(Errno.NOTCAPABLE);
      mem.setU64(offsetPtr >>> 0, BigInt(position(e)));
    },

    fd_close(fd: number): void {
      fds.close(fd >>> 0);
    },

    fd_renumber(from: number, to: number): void {
      fds.renumber(from >>> 0, to >>> 0);
    },

    fd_fdstat_get(fd: number, ptr: number): void {
      const e = fds.get(fd >>> 0);
      ptr >>>= 0;
      const filetype = e.kind === 'dir' ? FileType.DIRECTORY : e.kind === 'stdio' ? stdioFileType(e) : e.filetype;
      mem.bytes(ptr, 24);
      mem.setU64(ptr, 0n);
      mem.setU8(ptr, filetype);
      mem.setU16(ptr + 2, e.fdflags);
      mem.setU64(ptr + 8, e.rightsBase);
      mem.setU64(ptr + 16, e.rightsInheriting);
    },

    fd_fdstat_set_flags(fd: number, flags: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_FDSTAT_SET_FLAGS);
      const changed = e.fdflags ^ flags;
      // Linux cannot change the sync flags of an open file either.
      if (changed & (FdFlags.DSYNC | FdFlags.RSYNC | FdFlags.SYNC)) fail(Errno.NOTSUP);
      if (changed & FdFlags.APPEND && e.kind === 'file') reopenForAppend(e, (flags & FdFlags.APPEND) !== 0);
      // NONBLOCK is recorded only: the guest is synchronous and its I/O waits in any case.
      e.fdflags = flags;
    },

    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): void {
      const e = fds.get(fd >>> 0);
      // Rights can only be dropped.
      if (base & ~e.rightsBase || inheriting & ~e.rightsInheriting) fail(Errno.NOTCAPABLE);
      e.rightsBase = base;
      e.rightsInheriting = inheriting;
    },

    fd_filestat_get(fd: number, ptr: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_FILESTAT_GET);
      writeFilestat(mem, ptr >>> 0, hostStat(cx, e));
    },

    fd_filestat_set_size(fd: number, size: bigint): void {
      const e = fds.withRights(fd >>> 0, R.FD_FILESTAT_SET_SIZE);
      if (e.kind !== 'file') fail(e.kind === 'dir' ? Errno.ISDIR : Errno.INVAL);
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.FBIG);
      ftruncateSync(e.hostFd, Number(size));
    },

    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_FILESTAT_SET_TIMES);
      const [a, m] = timesFor(hostStat(cx, e), atim, mtim, flags);
      if (e.kind === 'dir') lutimesSync(cx.paths.hostPath(e.parts), a, m);
      else futimesSync(e.hostFd, a, m);
    },

    fd_advise(fd: number, _offset: bigint, _len: bigint, advice: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_ADVISE);
      if (e.kind === 'dir') fail(Errno.BADF);
      if (advice < 0 || advice > 5) fail(Errno.INVAL);
      // Advice is only advice, and Node has no posix_fadvise: accepted and ignored.
    },

    fd_allocate(fd: number, offset: bigint, len: bigint): void {
      const e = fds.withRights(fd >>> 0, R.FD_ALLOCATE);
      if (e.kind !== 'file') fail(e.kind === 'dir' ? Errno.BADF : Errno.SPIPE);
      const end = offset + len;
      if (end > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.INVAL);
      // No fallocate in Node: growing the file gives the same visible result (size and zeros).
      if (end > fstatSync(e.hostFd, { bigint: true }).size) ftruncateSync(e.hostFd, Number(end));
    },

    fd_datasync(fd: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_DATASYNC);
      if (e.kind === 'dir') syncDirectory(cx, e.parts, fdatasyncSync);
      else fdatasyncSync(e.hostFd);
    },

    fd_sync(fd: number): void {
      const e = fds.withRights(fd >>> 0, R.FD_SYNC);
      if (e.kind === 'dir') syncDirectory(cx, e.parts, fsyncSync);
      else fsyncSync(e.hostFd);
    },

    fd_prestat_get(fd: number, ptr: number): void {
      const e = fds.get(fd >>> 0);
      if (e.kind !== 'dir' || e.preopenName === undefined) fail(Errno.BADF);
      ptr >>>= 0;
      mem.bytes(ptr, 8);
      mem.setU32(ptr, PREOPENTYPE_DIR); // the tag byte, then padding
      mem.setU32(ptr + 4, e.preopenName.length);
    },

    fd_prestat_dir_name(fd: number, ptr: number, len: number): void {
      const e = fds.get(fd >>> 0);
      if (e.kind !== 'dir' || e.preopenName === undefined) fail(Errno.BADF);
      if (len >>> 0 < e.preopenName.length) fail(Errno.NAMETOOLONG);
      mem.bytes(ptr >>> 0, e.preopenName.length).set(e.preopenName);
    },
  };

  /**
   * Node cannot fcntl(F_SETFL): toggling append reopens the same file (checked by inode) with the
   * new mode and drops the old host fd.
   */
  function reopenForAppend(e: FileEntry, append: boolean): void {
    const before = fstatSync(e.hostFd, { bigint: true });
    let flags = (e.openFlags & ~(fsc.O_CREAT | fsc.O_EXCL | fsc.O_TRUNC | fsc.O_APPEND)) | fsc.O_NOFOLLOW;
    if (append) flags |= fsc.O_APPEND;
    const fd = openSync(cx.paths.hostPath(e.parts), flags);
    const after = fstatSync(fd, { bigint: true });
    if (after.ino !== before.ino || after.dev !== before.dev) {
      closeSync(fd);
      fail(Errno.NOTSUP);
    }
    const at = position(e);
    closeSync(e.hostFd);
    e.hostFd = fd;
    e.openFlags = flags;
    e.hostAppend = append;
    e.position = at;
  }
}
