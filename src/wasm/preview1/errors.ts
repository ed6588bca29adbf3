/**
 * How failures inside a host call become a WASI errno. Host code throws either a WasiError (an
 * errno decided by the host itself) or lets Node's fs errors through; `errnoOf` maps both. Anything
 * else is a bug in the host or the end of the guest (proc_exit, a stack overflow) and is rethrown.
 */
import { Errno, errnoByPosixName } from './constants.js';

/** An errno the host decided on. Not an Error: no stack is captured on this frequent path. */
export class WasiError {
  constructor(readonly errno: number) {}
}

/** Throws the errno; for use in expressions. */
export function fail(errno: number): never {
  throw new WasiError(errno);
}

/** "ENOENT" for 44: for messages. */
export function errnoName(errno: number): string {
  for (const [name, n] of errnoByPosixName) if (n === errno) return name;
  return `errno ${errno}`;
}

/** Node reports a few POSIX errors under aliases or its own codes. */
const aliases: Record<string, number> = {
  EOPNOTSUPP: Errno.NOTSUP,
  EWOULDBLOCK: Errno.AGAIN,
  EDEADLOCK: errnoByPosixName.get('EDEADLK')!,
  // A path holding a NUL byte or another argument Node refuses before any system call.
  ERR_INVALID_ARG_VALUE: Errno.INVAL,
  ERR_INVALID_ARG_TYPE: Errno.INVAL,
  ERR_OUT_OF_RANGE: Errno.INVAL,
  ERR_FS_FILE_TOO_LARGE: errnoByPosixName.get('EFBIG')!,
};

/**
 * The errno for a thrown value, or undefined when the value is not an I/O failure and must
 * propagate (proc_exit's sentinel, a stack overflow, a bug).
 */
export function errnoOf(e: unknown): number | undefined {
  if (e instanceof WasiError) return e.errno;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return errnoByPosixName.get(code) ?? aliases[code] ?? Errno.IO;
    // Typed-array and DataView accesses outside guest memory: the guest passed a bad pointer.
    if (e instanceof RangeError && !e.message.includes('call stack')) return Errno.FAULT;
  }
  return undefined;
}
