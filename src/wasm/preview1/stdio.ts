/**
 * The guest's stdio is the runner's fds 0/1/2, used with synchronous system calls: never through
 * process.stdout/stdin, which switch a pipe to non-blocking mode and buffer in the event loop (the
 * guest runs synchronously, so the loop would never drain). The fds were passed blocking, but
 * whoever shares them may have set O_NONBLOCK: EAGAIN is waited out here so the guest always sees
 * a blocking stream, and a short write is finished before returning.
 */
import { readSync, readvSync, writeSync, writevSync } from 'node:fs';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` milliseconds without spinning. */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isRetryable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';
}

/** Writes bytes [offset, offset+length) of `buf` entirely; returns what was written before an error. */
export function writeFully(fd: number, buf: Uint8Array, offset: number, length: number): number {
  let done = 0;
  while (done < length) {
    try {
      done += writeSync(fd, buf, offset + done, length - done);
    } catch (e) {
      if (isRetryable(e)) {
        sleepMs(1);
        continue;
      }
      // Report what went out; the guest's next write meets the error (EPIPE...) itself.
      if (done > 0) return done;
      throw e;
    }
  }
  return done;
}

/** Writes every view (iovecs) entirely, with one writev in the usual case. */
export function writeAllViews(fd: number, views: Uint8Array[], total: number): number {
  let done = 0;
  try {
    done = writevSync(fd, views);
  } catch (e) {
    if (!isRetryable(e)) throw e;
  }
  if (done === total) return done;
  let skip = done;
  for (const v of views) {
    if (skip >= v.length) {
      skip -= v.length;
      continue;
    }
    const want = v.length - skip;
    const n = writeFully(fd, v, skip, want);
    done += n;
    if (n < want) return done;
    skip = 0;
  }
  return done;
}

/** One read into the views; waits while the fd has nothing yet (EAGAIN); 0 is end of file. */
export function readViews(fd: number, views: Uint8Array[]): number {
  for (;;) {
    try {
      if (views.length === 1) return readSync(fd, views[0]!, 0, views[0]!.length, null);
      return readvSync(fd, views);
    } catch (e) {
      if (!isRetryable(e)) throw e;
      sleepMs(1);
    }
  }
}
