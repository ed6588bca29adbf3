/**
 * wasi:io 0.2 (error, poll, streams) for components transpiled by jco. jco's bindings hand our
 * objects to the guest as resources and check them with `instanceof` against the classes given in
 * the import object, so each resource is one class here, specialised by the backend it wraps.
 *
 * Error convention of jco's bindings: a `result<T, E>` import returns T, or throws E as a plain
 * value (never an Error: an Error thrown from a host call is a trap).
 *
 * Blocking calls (`pollable.block`, `poll`, `blocking-*`) may return a promise: they are listed as
 * JSPI suspending imports (see transpile-options.ts), so the guest's stack is suspended while the
 * event loop runs, with no worker thread.
 */

/** wasi:io/error. */
export class IoError {
  constructor(private readonly message: string) {}
  toDebugString(): string {
    return this.message;
  }
}

export type StreamError = { tag: 'last-operation-failed'; val: IoError } | { tag: 'closed' };

export const CLOSED: StreamError = Object.freeze({ tag: 'closed' });

export function streamFailure(e: unknown): StreamError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return { tag: 'last-operation-failed', val: new IoError(typeof code === 'string' ? code : String((e as Error)?.message ?? e)) };
}

/** What a pollable waits for: `ready()` is checked first; `wait()` resolves once it may be. */
export interface Readiness {
  ready(): boolean;
  wait(): Promise<void>;
}

const ALWAYS: Readiness = { ready: () => true, wait: () => Promise.resolve() };

/** wasi:io/poll pollable. */
export class Pollable {
  constructor(private readonly readiness: Readiness = ALWAYS) {}

  ready(): boolean {
    return this.readiness.ready();
  }

  block(): void | Promise<void> {
    if (this.readiness.ready()) return;
    return this.readiness.wait();
  }
}

/** wasi:io/poll.poll: the indexes of the ready pollables, waiting for at least one. */
export function poll(pollables: Pollable[]): Uint32Array | Promise<Uint32Array> {
  if (pollables.length === 0) throw new RangeError('poll: empty list'); // a trap, as in wasmtime
  const readyNow = readyIndexes(pollables);
  if (readyNow.length > 0) return readyNow;
  return Promise.race(pollables.map((p) => p.block())).then(() => readyIndexes(pollables));
}

function readyIndexes(pollables: Pollable[]): Uint32Array {
  const ready: number[] = [];
  pollables.forEach((p, i) => {
    if (p.ready()) ready.push(i);
  });
  return Uint32Array.from(ready);
}

/** Where an input stream's bytes come from. `read` returns what is there now (maybe nothing). */
export interface ByteSource {
  /** Up to `max` bytes available now; empty when none yet; throws CLOSED at the end. */
  read(max: number): Uint8Array;
  /** Reads that block; defaults to waiting on `readiness` then reading. */
  blockingRead?(max: number): Uint8Array | Promise<Uint8Array>;
  readiness: Readiness;
  close?(): void;
}

/** wasi:io/streams input-stream. */
export class InputStream {
  constructor(private readonly source: ByteSource) {}

  read(len: bigint): Uint8Array {
    return this.source.read(clampLength(len));
  }

  blockingRead(len: bigint): Uint8Array | Promise<Uint8Array> {
    const max = clampLength(len);
    if (this.source.blockingRead) return this.source.blockingRead(max);
    const now = this.source.read(max);
    if (now.length > 0 || max === 0) return now;
    return this.source.readiness.wait().then(() => this.blockingRead(len));
  }

  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }

  blockingSkip(len: bigint): bigint | Promise<bigint> {
    const r = this.blockingRead(len);
    return r instanceof Promise ? r.then((b) => BigInt(b.length)) : BigInt(r.length);
  }

  subscribe(): Pollable {
    return new Pollable(this.source.readiness);
  }

  [Symbol.dispose](): void {
    this.source.close?.();
  }
}

/** Where an output stream's bytes go. */
export interface ByteSink {
  /** How many bytes `write` accepts now (0: wait on `readiness`). */
  capacity(): number;
  write(bytes: Uint8Array): void;
  /** Resolves (or returns) when what was written has left. */
  flush?(): void | Promise<void>;
  readiness: Readiness;
  close?(): void;
}

/** Largest write accepted at once, as wasmtime's blocking-write-and-flush limit is 4096: generous. */
const MAX_CHUNK = 1 << 20;

/** wasi:io/streams output-stream. */
export class OutputStream {
  constructor(private readonly sink: ByteSink) {}

  checkWrite(): bigint {
    return BigInt(Math.min(this.sink.capacity(), MAX_CHUNK));
  }

  write(contents: Uint8Array): void {
    this.sink.write(contents);
  }

  /**
   * Writes, waiting first for room when `mayWait` (a caller that can suspend: our own bindings);
   * jco's bindings call it without, and then it never returns a promise: the bytes are queued.
   */
  blockingWriteAndFlush(contents: Uint8Array, mayWait = false): void | Promise<void> {
    if (!mayWait || this.sink.capacity() >= contents.length) {
      this.sink.write(contents);
      return mayWait ? this.sink.flush?.() : undefined;
    }
    return this.sink.readiness.wait().then(() => this.blockingWriteAndFlush(contents, true));
  }

  flush(): void {
    void this.sink.flush?.();
  }

  blockingFlush(mayWait = false): void | Promise<void> {
    const flushed = this.sink.flush?.();
    return mayWait ? flushed : undefined;
  }

  subscribe(): Pollable {
    return new Pollable(this.sink.readiness);
  }

  writeZeroes(len: bigint): void {
    this.write(new Uint8Array(clampLength(len)));
  }

  blockingWriteZeroesAndFlush(len: bigint, mayWait = false): void | Promise<void> {
    return this.blockingWriteAndFlush(new Uint8Array(clampLength(len)), mayWait);
  }

  splice(src: InputStream, len: bigint): bigint {
    const bytes = src.read(BigInt(Math.min(clampLength(len), this.sink.capacity())));
    this.write(bytes);
    return BigInt(bytes.length);
  }

  /** Not a suspending import through jco: only what the source has now is moved. */
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }

  [Symbol.dispose](): void {
    this.sink.close?.();
  }
}

/** Guests ask for u64 lengths; no single read or write needs more than a few MiB. */
function clampLength(len: bigint): number {
  return len > BigInt(MAX_CHUNK) ? MAX_CHUNK : Number(len);
}

export const ioImports = {
  'wasi:io/error': { Error: IoError },
  'wasi:io/poll': { Pollable, poll },
  'wasi:io/streams': { InputStream, OutputStream },
} as const;
