/**
 * Our WASI preview1 host: builds the `wasi_snapshot_preview1` import object over a guest root and
 * runs a command module. Every call returns an errno; host-side failures map through errnoOf, and
 * anything that is not an I/O failure (proc_exit, a stack overflow, a bug) unwinds the guest.
 */
import { Errno, DIR_RIGHTS, FILE_RIGHTS, STDIN_RIGHTS, STDOUT_RIGHTS } from './constants.js';
import type { HostContext } from './context.js';
import { errnoOf, fail } from './errors.js';
import { fdCalls } from './fd-calls.js';
import { FdTable } from './fd-table.js';
import { encodeUtf8, GuestMemory } from './memory.js';
import { pathCalls } from './path-calls.js';
import { PathResolver } from './paths.js';
import { readdirCalls } from './readdir.js';
import { timeCalls } from './time-calls.js';
import { isMemory, type WasmInstance, type WasmMemory } from '../wasm-api.js';

export interface Preview1Options {
  /** The guest's argv. */
  args: readonly string[];
  /** The guest's environment, KEY=VALUE, exactly as given. */
  env: readonly string[];
  /** The host directory that is the guest's "/". */
  root: string;
  /** Directories to preopen from fd 3 on: the name the guest sees, and the guest path it is. */
  preopens?: readonly { name: string; guestPath: string }[];
  /** Host fds for the guest's 0, 1 and 2 (the runner's own by default). */
  stdio?: readonly [number, number, number];
}

/** Thrown by proc_exit to unwind the guest. Not an Error: the guest's code is what matters. */
export class ProcExit {
  constructor(readonly code: number) {}
}

/** A host call failed in a way that is not an errno: a bug in the host, reported as such. */
export class HostCallError extends Error {
  constructor(readonly call: string, override readonly cause: unknown) {
    super(`${call}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** NUL-terminated strings packed in one buffer, for args_* and environ_*. */
function packStrings(list: readonly string[]): { buf: Uint8Array; offsets: number[] } {
  const encoded = list.map((s) => encodeUtf8(s));
  const offsets: number[] = [];
  let size = 0;
  for (const e of encoded) {
    offsets.push(size);
    size += e.length + 1;
  }
  const buf = new Uint8Array(size);
  encoded.forEach((e, i) => buf.set(e, offsets[i]));
  return { buf, offsets };
}

type Call = (...args: never[]) => void;

export class Preview1Host implements HostContext {
  readonly mem = new GuestMemory();
  readonly fds = new FdTable();
  readonly paths: PathResolver;
  /** Set by proc_exit. */
  exitCode: number | undefined;
  readonly imports: { wasi_snapshot_preview1: Record<string, (...args: never[]) => number | void> };

  constructor(options: Preview1Options) {
    this.paths = new PathResolver(options.root);
    const [i, o, e] = options.stdio ?? [0, 1, 2];
    const stdio = (hostFd: number, rights: bigint) =>
      ({ kind: 'stdio', hostFd, filetype: undefined, fdflags: 0, rightsBase: rights, rightsInheriting: 0n }) as const;
    this.fds.add(stdio(i, STDIN_RIGHTS));
    this.fds.add(stdio(o, STDOUT_RIGHTS));
    this.fds.add(stdio(e, STDOUT_RIGHTS));
    for (const p of options.preopens ?? [{ name: '/', guestPath: '/' }]) {
      const parts = this.paths.resolve([], '.' + p.guestPath, true).parts;
      this.fds.add({
        kind: 'dir', parts, preopenName: encodeUtf8(p.name), listing: undefined, fdflags: 0,
        rightsBase: DIR_RIGHTS, rightsInheriting: DIR_RIGHTS | FILE_RIGHTS,
      });
    }
    this.imports = { wasi_snapshot_preview1: this.buildImports(options) };
  }

  /** Runs a command's `_start` (or a reactor's `_initialize`); returns the exit code. */
  run(instance: WasmInstance, entry: '_start' | '_initialize' = '_start', memory?: WasmMemory): number {
    const mem = memory ?? instance.exports['memory'];
    if (isMemory(mem)) this.mem.attach(mem);
    try {
      (instance.exports[entry] as () => void)();
    } catch (e) {
      if (e instanceof ProcExit) return e.code;
      throw e;
    }
    // A guest that caught proc_exit's unwinding (wasm exception handling can) still exited.
    return this.exitCode ?? 0;
  }

  /** Closes what the guest left open (the runner exits anyway; the benchmark reuses the process). */
  dispose(): void {
    this.fds.closeAll();
  }

  private buildImports(options: Preview1Options) {
    const mem = this.mem;
    const args = packStrings(options.args);
    const env = packStrings(options.env);

    const sizes = (packed: typeof args) => (countPtr: number, sizePtr: number) => {
      mem.setU32(countPtr >>> 0, packed.offsets.length);
      mem.setU32(sizePtr >>> 0, packed.buf.length);
    };
    const strings = (packed: typeof args) => (listPtr: number, bufPtr: number) => {
      listPtr >>>= 0;
      bufPtr >>>= 0;
      mem.bytes(bufPtr, packed.buf.length).set(packed.buf);
      mem.bytes(listPtr, packed.offsets.length * 4);
      packed.offsets.forEach((off, i) => mem.setU32(listPtr + i * 4, bufPtr + off));
    };
    const badSocket = (fd: number) => {
      this.fds.get(fd >>> 0); // EBADF for no descriptor at all
      fail(Errno.NOTSOCK); // the host hands out no sockets
    };

    const calls: Record<string, Call> = {
      args_sizes_get: sizes(args),
      args_get: strings(args),
      environ_sizes_get: sizes(env),
      environ_get: strings(env),
      ...fdCalls(this),
      ...readdirCalls(this),
      ...pathCalls(this),
      ...timeCalls(this),
      proc_raise: () => fail(Errno.NOSYS),
      sock_accept: badSocket,
      sock_recv: badSocket,
      sock_send: badSocket,
      sock_shutdown: badSocket,
    };

    const imports: Record<string, (...args: never[]) => number | void> = {};
    for (const [name, call] of Object.entries(calls)) imports[name] = this.guard(name, call);
    imports['proc_exit'] = (code: number) => {
      this.exitCode = code >>> 0;
      throw new ProcExit(this.exitCode);
    };
    return imports;
  }

  /** Wraps a call: refreshes the memory views, maps failures to an errno, returns 0 on success. */
  private guard(name: string, call: Call): (...args: never[]) => number {
    const mem = this.mem;
    return (...args: never[]): number => {
      // A guest that caught proc_exit's unwinding is still exiting: unwind again.
      if (this.exitCode !== undefined) throw new ProcExit(this.exitCode);
      try {
        mem.refresh();
        call(...args);
        return Errno.SUCCESS;
      } catch (e) {
        const errno = errnoOf(e);
        if (errno !== undefined) return errno;
        if (e instanceof RangeError || e instanceof ProcExit) throw e;
        throw new HostCallError(name, e);
      }
    };
  }
}
