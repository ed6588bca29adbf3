/**
 * Bodies of wasi:http messages over Node streams: an incoming body reads a Node Readable (a
 * server's request or a client's response) with backpressure (the socket is paused while the
 * guest has not read what came), and an outgoing body writes a Node Writable (a server's response
 * or a client's request), respecting its drain events. Both ends outlive no guest: once the
 * exchange is over, reads end and writes fail with a closed stream.
 */
import type { Readable } from 'node:stream';
import { Fields } from './http-fields.js';
import { CLOSED, InputStream, IoError, OutputStream, Pollable, type ByteSink, type ByteSource, type Readiness } from './io.js';

/** Most bytes kept from a Readable before it is paused until the guest reads. */
const HIGH_WATER = 1 << 20;

export class BodyTooLarge extends Error {}

/** A Node Readable as a ByteSource; `limit` caps the total (a request body limit). */
export class ReadableSource implements ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private total = 0;
  private ended = false;
  private failure: IoError | undefined;
  private waiter: (() => void) | undefined;
  readonly readiness: Readiness;
  /** Trailers Node received, once the body ended. */
  trailers: Fields | undefined;

  constructor(private readonly stream: Readable & { rawTrailers?: string[] }, private readonly limit = Infinity, private readonly onLimit?: () => void) {
    this.readiness = { ready: () => this.chunks.length > 0 || this.ended || this.failure !== undefined, wait: () => this.wait() };
    stream.on('data', (chunk: Buffer) => {
      this.total += chunk.length;
      if (this.total > this.limit) {
        this.fail(new IoError(`body larger than ${this.limit} bytes`));
        this.onLimit?.();
        return;
      }
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered >= HIGH_WATER) stream.pause();
      this.wake();
    });
    stream.on('end', () => {
      this.ended = true;
      if (stream.rawTrailers && stream.rawTrailers.length > 0) this.trailers = Fields.fromRaw(stream.rawTrailers, true);
      this.wake();
    });
    stream.on('error', (e: Error) => this.fail(new IoError(e.message)));
    stream.on('aborted', () => this.fail(new IoError('the peer aborted the body')));
    stream.on('close', () => {
      if (!this.ended) this.fail(new IoError('the connection closed before the body ended'));
    });
  }

  private fail(e: IoError): void {
    if (this.failure || this.ended) return;
    this.failure = e;
    this.chunks = [];
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.waiter;
      this.waiter = () => {
        previous?.();
        resolve();
      };
    });
  }

  get done(): boolean {
    return this.ended || this.failure !== undefined;
  }

  read(max: number): Uint8Array {
    if (this.chunks.length === 0) {
      if (this.failure) throw { tag: 'last-operation-failed', val: this.failure };
      if (this.ended) throw CLOSED;
      return new Uint8Array(0);
    }
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length <= max) {
      out = first;
      this.chunks.shift();
    } else {
      out = first.subarray(0, max);
      this.chunks[0] = first.subarray(max);
    }
    this.buffered -= out.length;
    if (this.buffered < HIGH_WATER && this.stream.isPaused()) this.stream.resume();
    return out;
  }

  close(): void {
    // The guest dropped the stream: what is left of the body is read and thrown away.
    this.chunks = [];
    this.buffered = 0;
    this.stream.resume();
  }
}

/** wasi:http incoming-body: its stream once, then finish for the trailers. */
export class IncomingBody {
  private streamTaken = false;

  constructor(readonly source: ReadableSource) {}

  stream(): InputStream {
    if (this.streamTaken) throw undefined;
    this.streamTaken = true;
    return new InputStream(this.source);
  }

  static finish(body: IncomingBody): FutureTrailers {
    return new FutureTrailers(body.source);
  }
}

export class FutureTrailers {
  constructor(private readonly source: ReadableSource) {}

  subscribe(): Pollable {
    return new Pollable({
      ready: () => this.source.done,
      wait: () => new Promise<void>((resolve) => {
        const check = () => (this.source.done ? resolve() : void this.source.readiness.wait().then(check));
        this.source.close();
        check();
      }),
    });
  }

  get(): { tag: 'ok'; val: { tag: 'ok'; val: Fields | undefined } } | undefined {
    if (!this.source.done) return undefined;
    return { tag: 'ok', val: { tag: 'ok', val: this.source.trailers } };
  }
}

/** What an outgoing body writes to: a Node Writable (a client request) or the server's ResponseWriter. */
export interface BodyTarget {
  write(chunk: Uint8Array): unknown;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Where an outgoing body's bytes go: buffered until the message is sent (a guest may write
 * before it sets the response), then written to the target.
 */
export class WritableSink implements ByteSink {
  private target: BodyTarget | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private closed = false;
  readonly readiness: Readiness;

  constructor() {
    this.readiness = {
      ready: () => this.capacity() > 0 || this.closed,
      wait: () => new Promise<void>((resolve) => {
        const t = this.target;
        if (!t) return resolve();
        const done = () => {
          t.off('drain', done);
          t.off('close', done);
          resolve();
        };
        t.once('drain', done);
        t.once('close', done);
      }),
    };
  }

  attach(target: BodyTarget): void {
    this.target = target;
    for (const chunk of this.pending) target.write(chunk);
    this.pending = [];
    this.pendingBytes = 0;
  }

  get attached(): boolean {
    return this.target !== undefined;
  }

  capacity(): number {
    if (this.closed) return 1 << 20; // the write fails with "closed", which is the answer
    if (!this.target) return Math.max(0, HIGH_WATER - this.pendingBytes);
    return this.target.writableNeedDrain ? 0 : HIGH_WATER;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.target?.destroyed) throw CLOSED;
    if (bytes.length === 0) return;
    // The guest's memory is copied by the bindings already; the view is ours to keep.
    if (this.target) this.target.write(bytes);
    else {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
    }
  }

  /** No more writes: the exchange ended (timeout, client gone) or the body was finished. */
  close(): void {
    this.closed = true;
  }
}

export interface OutgoingBodyEvents {
  /** The guest finished the body (with trailers or not). */
  finished(trailers: Fields | undefined): void;
  /** The guest dropped the body without finishing it: the message is incomplete. */
  abandoned(): void;
}

/** wasi:http outgoing-body: one output stream, then finish. */
export class OutgoingBody {
  private streamTaken = false;
  private ended = false;
  events: OutgoingBodyEvents | undefined;
  /** Set when finish came before anyone listened (the message was not sent yet). */
  finishedEarly: { trailers: Fields | undefined } | undefined;

  constructor(readonly sink: WritableSink) {}

  write(): OutputStream {
    if (this.streamTaken) throw undefined;
    this.streamTaken = true;
    // Dropping the stream is not the end of the body: only finish (or dropping the body) is.
    return new OutputStream({ readiness: this.sink.readiness, capacity: () => this.sink.capacity(), write: (b) => this.sink.write(b) });
  }

  static finish(body: OutgoingBody, trailers: Fields | undefined): void {
    if (body.ended) return;
    body.ended = true;
    if (body.events) body.events.finished(trailers);
    else body.finishedEarly = { trailers };
  }

  [Symbol.dispose](): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.close();
    this.events?.abandoned();
  }
}
