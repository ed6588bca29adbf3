/**
 * wasi:filesystem 0.2 over the guest root. Every guest path goes through the preview1 host's
 * PathResolver (see ../preview1/paths.ts): resolved component by component beneath the guest
 * root, symlinks spliced in and absolute targets restarting at the guest root, never the host's
 * "/". The host call then acts on the resolved path without following its last component.
 * The only preopen is the guest root, as "/".
 */
import {
  closeSync, fstatSync, ftruncateSync, futimesSync, fsyncSync, fdatasyncSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, rmdirSync, symlinkSync, unlinkSync,
  writeSync, constants as fsc, type BigIntStats, type Dirent,
} from 'node:fs';
import { errnoName, WasiError } from '../preview1/errors.js';
import { PathResolver, type Resolved } from '../preview1/paths.js';
import { CLOSED, InputStream, IoError, OutputStream, streamFailure, type ByteSink, type ByteSource } from './io.js';

type DescriptorType =
  | 'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo' | 'symbolic-link' | 'regular-file' | 'socket';

interface Datetime { seconds: bigint; nanoseconds: number }
type NewTimestamp = { tag: 'no-change' } | { tag: 'now' } | { tag: 'timestamp'; val: Datetime };
interface PathFlags { symlinkFollow?: boolean }
interface OpenFlags { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }
interface DescriptorFlags {
  read?: boolean; write?: boolean; fileIntegritySync?: boolean; dataIntegritySync?: boolean;
  requestedWriteSync?: boolean; mutateDirectory?: boolean;
}

/** POSIX error names to wasi:filesystem error-code. */
const ERROR_CODES: Record<string, string> = {
  EACCES: 'access', EAGAIN: 'would-block', EALREADY: 'already', EBADF: 'bad-descriptor', EBUSY: 'busy',
  EDEADLK: 'deadlock', EDQUOT: 'quota', EEXIST: 'exist', EFBIG: 'file-too-large', EILSEQ: 'illegal-byte-sequence',
  EINPROGRESS: 'in-progress', EINTR: 'interrupted', EINVAL: 'invalid', EIO: 'io', EISDIR: 'is-directory',
  ELOOP: 'loop', EMLINK: 'too-many-links', EMSGSIZE: 'message-size', ENAMETOOLONG: 'name-too-long',
  ENODEV: 'no-device', ENOENT: 'no-entry', ENOLCK: 'no-lock', ENOMEM: 'insufficient-memory',
  ENOSPC: 'insufficient-space', ENOTDIR: 'not-directory', ENOTEMPTY: 'not-empty', ENOTRECOVERABLE: 'not-recoverable',
  ENOTSUP: 'unsupported', EOPNOTSUPP: 'unsupported', ENOSYS: 'unsupported', ENOTTY: 'no-tty', ENXIO: 'no-such-device',
  EOVERFLOW: 'overflow', EPERM: 'not-permitted', EPIPE: 'pipe', EROFS: 'read-only', ESPIPE: 'invalid-seek',
  ETXTBSY: 'text-file-busy', EXDEV: 'cross-device', ENOTCAPABLE: 'not-permitted',
};

/** The error-code for a failure, thrown as jco's bindings expect; anything else propagates (a trap). */
function codeOf(e: unknown): string {
  if (e instanceof WasiError) return ERROR_CODES[errnoName(e.errno)] ?? 'io';
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return ERROR_CODES[code] ?? (code.startsWith('ERR_') ? 'invalid' : 'io');
  throw e;
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw codeOf(e);
  }
}

function typeOf(st: BigIntStats | Dirent): DescriptorType {
  if (st.isFile()) return 'regular-file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symbolic-link';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

function datetime(ns: bigint): Datetime {
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

function statOf(st: BigIntStats) {
  return {
    type: typeOf(st),
    linkCount: st.nlink,
    size: st.size,
    dataAccessTimestamp: datetime(st.atimeNs),
    dataModificationTimestamp: datetime(st.mtimeNs),
    statusChangeTimestamp: datetime(st.ctimeNs),
  };
}

/** Seconds (as Node's utimes takes them) for a new-timestamp, keeping the current one for no-change. */
function timeFor(ts: NewTimestamp, currentNs: bigint): number {
  if (ts.tag === 'now') return Date.now() / 1000;
  if (ts.tag === 'timestamp') return Number(ts.val.seconds) + ts.val.nanoseconds / 1e9;
  return Number(currentNs) / 1e9;
}

function hashOf(st: BigIntStats): { lower: bigint; upper: bigint } {
  return { lower: st.ino, upper: st.dev };
}

/** A file's bytes from a position on, read with positioned reads. */
function fileSource(fd: number, offset: bigint): ByteSource {
  let position = offset;
  return {
    readiness: { ready: () => true, wait: () => Promise.resolve() },
    read(max) {
      if (max === 0) return new Uint8Array(0);
      const buf = new Uint8Array(Math.min(max, 1 << 20));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, position);
      } catch (e) {
        throw streamFailure(e);
      }
      if (n === 0) throw CLOSED;
      position += BigInt(n);
      return buf.subarray(0, n);
    },
  };
}

/** Writes at a position (or at the end, for append streams: the fd has O_APPEND then). */
function fileSink(fd: number, offset: bigint | 'append'): ByteSink {
  let position = offset === 'append' ? 0n : offset;
  return {
    readiness: { ready: () => true, wait: () => Promise.resolve() },
    capacity: () => 1 << 20,
    write(bytes) {
      let done = 0;
      try {
        while (done < bytes.length) {
          done += writeSync(fd, bytes, done, bytes.length - done, offset === 'append' ? null : Number(position) + done);
        }
      } catch (e) {
        throw streamFailure(e);
      }
      position += BigInt(done);
    },
  };
}

export class Descriptor {
  /** Open host fd of a file; directories are opened by path when used. */
  private hostFd: number | undefined;

  constructor(
    private readonly fs: GuestFilesystem,
    readonly parts: string[],
    readonly kind: 'directory' | 'file',
    readonly flags: DescriptorFlags,
    hostFd?: number,
  ) {
    this.hostFd = hostFd;
  }

  private get host(): string {
    return this.fs.paths.hostPath(this.parts);
  }

  private fd(): number {
    if (this.hostFd === undefined) throw 'bad-descriptor';
    return this.hostFd;
  }

  private dir(): string[] {
    if (this.kind !== 'directory') throw 'not-directory';
    return this.parts;
  }

  private resolve(path: string, follow: boolean): Resolved {
    const dir = this.dir();
    if (path.startsWith('/')) throw 'not-permitted';
    return guarded(() => this.fs.paths.resolve(dir, path, follow));
  }

  private mutable(): void {
    if (!this.flags.mutateDirectory) throw 'read-only';
  }

  readViaStream(offset: bigint): InputStream {
    if (!this.flags.read) throw 'bad-descriptor';
    return new InputStream(fileSource(this.fd(), offset));
  }

  writeViaStream(offset: bigint): OutputStream {
    if (!this.flags.write) throw 'bad-descriptor';
    return new OutputStream(fileSink(this.fd(), offset));
  }

  appendViaStream(): OutputStream {
    if (!this.flags.write) throw 'bad-descriptor';
    const fd = this.fd();
    // Appending must hit the end at each write, so a second fd with O_APPEND is opened.
    const appendFd = guarded(() => openSync(`/proc/self/fd/${fd}`, fsc.O_WRONLY | fsc.O_APPEND));
    const sink = fileSink(appendFd, 'append');
    sink.close = () => closeSync(appendFd);
    return new OutputStream(sink);
  }

  advise(): void {}

  syncData(): void {
    if (this.hostFd !== undefined) guarded(() => fdatasyncSync(this.hostFd!));
  }

  sync(): void {
    if (this.hostFd !== undefined) guarded(() => fsyncSync(this.hostFd!));
  }

  getFlags(): DescriptorFlags {
    return { ...this.flags };
  }

  getType(): DescriptorType {
    return this.kind === 'directory' ? 'directory' : guarded(() => typeOf(fstatSync(this.fd(), { bigint: true })));
  }

  setSize(size: bigint): void {
    if (!this.flags.write) throw 'bad-descriptor';
    guarded(() => ftruncateSync(this.fd(), Number(size)));
  }

  setTimes(atime: NewTimestamp, mtime: NewTimestamp): void {
    guarded(() => {
      const st = this.statRaw();
      if (this.hostFd !== undefined) futimesSync(this.hostFd, timeFor(atime, st.atimeNs), timeFor(mtime, st.mtimeNs));
      else lutimesSync(this.host, timeFor(atime, st.atimeNs), timeFor(mtime, st.mtimeNs));
    });
  }

  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    if (!this.flags.read) throw 'bad-descriptor';
    const buf = new Uint8Array(Number(length > 1n << 24n ? 1n << 24n : length));
    const n = guarded(() => readSync(this.fd(), buf, 0, buf.length, offset));
    return [buf.subarray(0, n), n === 0 && buf.length > 0];
  }

  write(buffer: Uint8Array, offset: bigint): bigint {
    if (!this.flags.write) throw 'bad-descriptor';
    return BigInt(guarded(() => writeSync(this.fd(), buffer, 0, buffer.length, Number(offset))));
  }

  readDirectory(): DirectoryEntryStream {
    this.dir();
    const entries = guarded(() => readdirSync(this.host, { withFileTypes: true }));
    return new DirectoryEntryStream(entries.map((d) => ({ type: typeOf(d), name: d.name })));
  }

  createDirectoryAt(path: string): void {
    this.mutable();
    const r = this.resolve(path, false);
    if (!r.named) throw 'exist';
    guarded(() => mkdirSync(r.host, 0o777));
  }

  private statRaw(): BigIntStats {
    return this.hostFd !== undefined ? fstatSync(this.hostFd, { bigint: true }) : lstatSync(this.host, { bigint: true });
  }

  stat() {
    return guarded(() => statOf(this.statRaw()));
  }

  private statTarget(r: Resolved): BigIntStats {
    if (r.stat === null) throw 'no-entry';
    return r.stat ?? guarded(() => lstatSync(r.host, { bigint: true }));
  }

  statAt(flags: PathFlags, path: string) {
    return statOf(this.statTarget(this.resolve(path, !!flags.symlinkFollow)));
  }

  setTimesAt(flags: PathFlags, path: string, atime: NewTimestamp, mtime: NewTimestamp): void {
    const r = this.resolve(path, !!flags.symlinkFollow);
    const st = this.statTarget(r);
    guarded(() => lutimesSync(r.host, timeFor(atime, st.atimeNs), timeFor(mtime, st.mtimeNs)));
  }

  linkAt(oldFlags: PathFlags, oldPath: string, newDescriptor: Descriptor, newPath: string): void {
    this.mutable();
    const src = this.resolve(oldPath, !!oldFlags.symlinkFollow);
    if (src.stat === null) throw 'no-entry';
    const dst = newDescriptor.resolve(newPath, false);
    if (!dst.named) throw 'exist';
    guarded(() => linkSync(src.host, dst.host));
  }

  openAt(pathFlags: PathFlags, path: string, open: OpenFlags, flags: DescriptorFlags): Descriptor {
    const creating = !!open.create;
    const exclusive = creating && !!open.exclusive;
    if ((creating || open.truncate || flags.write || flags.mutateDirectory) && !this.flags.mutateDirectory) throw 'read-only';
    // Create+exclusive never follows the last component: an existing symlink is "exist".
    const r = this.resolve(path, !!pathFlags.symlinkFollow && !exclusive);
    const st = r.stat === undefined ? (guarded(() => lstatSync(r.host, { bigint: true, throwIfNoEntry: false })) ?? null) : r.stat;
    if (st === null) {
      if (!creating) throw 'no-entry';
      if (open.directory) throw 'invalid';
    } else {
      if (exclusive) throw 'exist';
      if (st.isSymbolicLink()) throw open.directory ? 'not-directory' : 'loop';
      if (st.isDirectory()) {
        if (open.truncate || flags.write) throw 'is-directory';
        return new Descriptor(this.fs, r.parts, 'directory', { ...flags, mutateDirectory: !!flags.mutateDirectory && !!this.flags.mutateDirectory });
      }
      if (open.directory) throw 'not-directory';
    }
    const read = flags.read !== false && !flags.write ? true : !!flags.read;
    const write = !!flags.write;
    let mode = fsc.O_NOFOLLOW | (read && write ? fsc.O_RDWR : write ? fsc.O_WRONLY : fsc.O_RDONLY);
    if (creating) mode |= fsc.O_CREAT;
    if (exclusive) mode |= fsc.O_EXCL;
    if (open.truncate) mode |= fsc.O_TRUNC;
    if (flags.dataIntegritySync) mode |= fsc.O_DSYNC;
    if (flags.fileIntegritySync) mode |= fsc.O_SYNC;
    const hostFd = guarded(() => openSync(r.host, mode, 0o666));
    this.fs.track(hostFd);
    return new Descriptor(this.fs, r.parts, 'file', { ...flags, read, write }, hostFd);
  }

  readlinkAt(path: string): string {
    const r = this.resolve(path, false);
    if (!r.named) throw 'invalid';
    return guarded(() => readlinkSync(r.host, 'utf8'));
  }

  removeDirectoryAt(path: string): void {
    this.mutable();
    const r = this.resolve(path, false);
    if (!r.named) throw r.parts.length === 0 ? 'busy' : 'invalid';
    guarded(() => rmdirSync(r.host));
  }

  renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string): void {
    this.mutable();
    const src = this.resolve(oldPath, false);
    const dst = newDescriptor.resolve(newPath, false);
    if (!src.named || !dst.named) throw 'busy';
    guarded(() => renameSync(src.host, dst.host));
  }

  symlinkAt(oldPath: string, newPath: string): void {
    this.mutable();
    // Stored as given, absolute or not: it is resolved inside the guest root when used.
    const r = this.resolve(newPath, false);
    if (!r.named) throw 'exist';
    guarded(() => symlinkSync(oldPath, r.host));
  }

  unlinkFileAt(path: string): void {
    this.mutable();
    const r = this.resolve(path, false);
    if (!r.named) throw 'is-directory';
    guarded(() => unlinkSync(r.host));
  }

  isSameObject(other: Descriptor): boolean {
    try {
      const a = this.statRaw();
      const b = other.statRaw();
      return a.ino === b.ino && a.dev === b.dev;
    } catch {
      return false;
    }
  }

  metadataHash() {
    return guarded(() => hashOf(this.statRaw()));
  }

  metadataHashAt(flags: PathFlags, path: string) {
    return hashOf(this.statTarget(this.resolve(path, !!flags.symlinkFollow)));
  }

  [Symbol.dispose](): void {
    if (this.hostFd !== undefined) {
      this.fs.untrack(this.hostFd);
      closeSync(this.hostFd);
      this.hostFd = undefined;
    }
  }
}

export class DirectoryEntryStream {
  private next = 0;
  constructor(private readonly entries: Array<{ type: DescriptorType; name: string }>) {}

  readDirectoryEntry(): { type: DescriptorType; name: string } | undefined {
    return this.entries[this.next++];
  }
}

/** One guest's view of its root; closes what the guest left open when the instance is done. */
export class GuestFilesystem {
  readonly paths: PathResolver;
  private readonly open = new Set<number>();
  readonly root: Descriptor;

  constructor(guestRoot: string, writable = true) {
    this.paths = new PathResolver(guestRoot);
    this.root = new Descriptor(this, [], 'directory', { read: true, write: writable, mutateDirectory: writable });
  }

  track(fd: number): void {
    this.open.add(fd);
  }

  untrack(fd: number): void {
    this.open.delete(fd);
  }

  closeAll(): void {
    for (const fd of this.open) {
      try {
        closeSync(fd);
      } catch {
        // already gone
      }
    }
    this.open.clear();
  }

  imports() {
    return {
      'wasi:filesystem/preopens': { getDirectories: (): Array<[Descriptor, string]> => [[this.root, '/']] },
      'wasi:filesystem/types': {
        Descriptor,
        DirectoryEntryStream,
        filesystemErrorCode: (err: IoError): string | undefined => {
          const text = err.toDebugString();
          return ERROR_CODES[text];
        },
      },
    };
  }
}
