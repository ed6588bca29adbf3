/**
 * The guest's file descriptor table: what each WASI fd stands for on the host, with the rights
 * WASI attaches to it.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import { closeSync } from 'node:fs';
import { Errno, FileType } from './constants.js';
import { fail } from './errors.js';

interface Common {
  rightsBase: bigint;
  rightsInheriting: bigint;
  /** WASI fdflags as the guest last set them. */
  fdflags: number;
}

/** One of the runner's own stdio fds: a blocking stream from the guest's point of view. */
export interface StdioEntry extends Common {
  kind: 'stdio';
  hostFd: number;
  /** Found by fstat on first use. */
  filetype: number | undefined;
}

/** A file the guest opened: regular files, devices and FIFOs. */
export interface FileEntry extends Common {
  kind: 'file';
  hostFd: number;
  /** Components from the guest root, to reopen it (fd_fdstat_set_flags). */
  parts: string[];
  filetype: number;
  /** Regular files: Node has no lseek, so the offset lives here and I/O is positional. */
  seekable: boolean;
  position: number;
  /** The flags the host fd was opened with. */
  openFlags: number;
  /** The host fd was opened with O_APPEND. */
  hostAppend: boolean;
  /** After an append write the end of the file, wherever it is, is the position. */
  positionAtEnd: boolean;
}

/** A directory: held by path (Node cannot list or resolve relative to a directory fd). */
export interface DirEntry extends Common {
  kind: 'dir';
  parts: string[];
  /** The preopen name, for fd_prestat_*; undefined for directories the guest opened. */
  preopenName: Uint8Array | undefined;
  /** The snapshot fd_readdir serves cookies from; taken again at cookie 0. */
  listing: DirListing | undefined;
}

export interface DirListing {
  /** Entry names, "." and ".." first, as the host's raw bytes. */
  names: Buffer[];
  types: number[];
  /** Inode numbers, looked up when an entry is first returned. */
  inodes: (bigint | undefined)[];
}

export type Entry = StdioEntry | FileEntry | DirEntry;

export class FdTable {
  private readonly entries: (Entry | undefined)[] = [];

  get(fd: number): Entry {
    return this.entries[fd] ?? fail(Errno.BADF);
  }

  /** The entry, if it holds every right in `rights`. */
  withRights(fd: number, rights: bigint): Entry {
    const e = this.get(fd);
    if ((e.rightsBase & rights) !== rights) fail(Errno.NOTCAPABLE);
    return e;
  }

  /** A stream or file entry with `rights`; a directory is EBADF, as for read(2) on one. */
  io(fd: number, rights: bigint): StdioEntry | FileEntry {
    const e = this.get(fd);
    // read(2)/write(2) on a directory or on a descriptor not opened for it: EBADF, as on Linux.
    if (e.kind === 'dir' || (e.rightsBase & rights) !== rights) fail(Errno.BADF);
    return e;
  }

  /** A directory entry with `rights`, for path_* calls. */
  dir(fd: number, rights: bigint): DirEntry {
    const e = this.get(fd);
    if (e.kind !== 'dir') fail(Errno.NOTDIR);
    if ((e.rightsBase & rights) !== rights) fail(Errno.NOTCAPABLE);
    return e;
  }

  /** Puts `entry` at the lowest free fd, as POSIX does. */
  add(entry: Entry): number {
    let fd = 0;
    while (this.entries[fd] !== undefined) fd++;
    this.entries[fd] = entry;
    return fd;
  }

  close(fd: number): void {
    const e = this.get(fd);
    this.entries[fd] = undefined;
    release(e);
  }

  renumber(from: number, to: number): void {
    const e = this.get(from);
    const old = this.get(to);
    if (from === to) return;
    this.entries[to] = e;
    this.entries[from] = undefined;
    release(old);
  }

  /** Closes every host fd the guest opened (the host's stdio stays open). */
  closeAll(): void {
    for (let fd = 0; fd < this.entries.length; fd++) {
      const e = this.entries[fd];
      this.entries[fd] = undefined;
      if (e) release(e);
    }
  }
}

function release(e: Entry): void {
  // The runner's own stdio fds are never closed: a later open would reuse 0-2 and the runner's
  // own messages to fd 2 would land in a guest file.
  if (e.kind === 'file') closeSync(e.hostFd);
}

/** WASI's file type for a host stat. FIFOs have no WASI type of their own. */
export function fileTypeOf(st: BigIntStats | Dirent<Buffer>): number {
  if (st.isFile()) return FileType.REGULAR_FILE;
  if (st.isDirectory()) return FileType.DIRECTORY;
  if (st.isSymbolicLink()) return FileType.SYMBOLIC_LINK;
  if (st.isCharacterDevice()) return FileType.CHARACTER_DEVICE;
  if (st.isBlockDevice()) return FileType.BLOCK_DEVICE;
  if (st.isSocket()) return FileType.SOCKET_STREAM;
  return FileType.UNKNOWN;
}
