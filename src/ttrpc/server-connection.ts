/**
 * One accepted ttrpc connection on the server side: reads Request frames, runs their handlers
 * concurrently, and writes each answer on its stream id as soon as it is ready.
 */
import type { Socket } from 'node:net';
import { TtrpcRequest, TtrpcResponse } from '../../proto/ttrpc.js';
import { FrameDecoder, FrameType, MAX_MESSAGE_SIZE, encodeFrame } from './frame.js';
import type { Frame } from './frame.js';
import { Code, DEADLINE_EXCEEDED_MESSAGE, TtrpcError, oversizedMessage } from './status.js';
import type { CallContext, UnaryHandler } from './server.js';

/** What a connection needs from its server: handler lookup and error reporting. */
export interface Dispatcher {
  /** The handler, or the error to answer with (UNIMPLEMENTED). */
  resolve(service: string, method: string): UnaryHandler | TtrpcError;
  reportError(err: unknown, info: { service?: string; method?: string }): void;
}

interface ActiveCall {
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout fires at once for delays past 2^31-1 ms; such deadlines are as good as none. */
const MAX_TIMER_MS = 0x7fffffff;
/** In UTF-16 units: at most 3 bytes each in UTF-8, far below MAX_MESSAGE_SIZE. */
const MAX_STATUS_MESSAGE = 64 * 1024;

export class ServerConnection {
  private readonly decoder = new FrameDecoder();
  private readonly active = new Map<number, ActiveCall>();
  private lastStreamId = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly dispatcher: Dispatcher,
    private readonly onClosed: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // EOF from the client ends the connection, as in Go's ttrpc: pending answers are dropped.
    socket.on('end', () => this.close());
    // ECONNRESET and the like are the peer going away, not our failure.
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', () => {
      if (!this.closed) socket.resume();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const reason = new TtrpcError(Code.CANCELLED, 'connection closed');
    for (const call of this.active.values()) {
      clearTimeout(call.timer);
      call.controller.abort(reason);
    }
    this.active.clear();
    this.socket.destroy();
    this.onClosed();
  }

  private onData(chunk: Buffer): void {
    try {
      for (const decoded of this.decoder.push(chunk)) {
        if (this.closed) return;
        if (decoded.kind === 'oversize') {
          const { streamId, length } = decoded.oversize;
          this.sendStatus(streamId, Code.RESOURCE_EXHAUSTED, oversizedMessage(length, MAX_MESSAGE_SIZE));
        } else if (decoded.frame.type === FrameType.Request) {
          this.onRequest(decoded.frame);
        }
        // Other frame types (streaming Data, stray Responses) are ignored, as ttrpc 1.1 does.
      }
    } catch (err) {
      // Only a bug of ours gets here; losing one connection beats losing the process.
      this.dispatcher.reportError(err, {});
      this.close();
    }
  }

  private onRequest(frame: Frame): void {
    const id = frame.streamId;
    if (id % 2 === 0) {
      this.sendStatus(id, Code.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams');
      return;
    }
    if (id <= this.lastStreamId) {
      this.sendStatus(id, Code.INVALID_ARGUMENT, 'StreamID cannot be re-used and must increment');
      return;
    }
    this.lastStreamId = id;

    let request: TtrpcRequest;
    try {
      request = TtrpcRequest.decode(frame.data);
    } catch {
      // Not a ttrpc peer (or a corrupted stream): nothing later on this socket can be trusted.
      this.close();
      return;
    }

    const { service, method } = request;
    const handler = this.dispatcher.resolve(service, method);
    if (handler instanceof TtrpcError) {
      this.sendStatus(id, handler.code, handler.message);
      return;
    }
    this.run(id, handler, request);
  }

  private run(id: number, handler: UnaryHandler, request: TtrpcRequest): void {
    const { service, method } = request;
    const call: ActiveCall = { controller: new AbortController(), timer: undefined };
    const ctx: CallContext = { service, method, metadata: request.metadata, signal: call.controller.signal };
    if (request.timeoutNano > 0n) {
      const ms = Number(request.timeoutNano) / 1e6;
      ctx.deadline = Date.now() + ms;
      if (ms <= MAX_TIMER_MS) call.timer = setTimeout(() => this.expire(id, call), ms);
    }
    this.active.set(id, call);

    let result: Uint8Array | Promise<Uint8Array>;
    try {
      result = handler(request.payload, ctx);
    } catch (err) {
      this.fail(id, call, err, { service, method });
      return;
    }
    if (result instanceof Uint8Array) {
      this.succeed(id, call, result, { service, method });
      return;
    }
    Promise.resolve(result).then(
      (payload) => this.succeed(id, call, payload, { service, method }),
      (err: unknown) => this.fail(id, call, err, { service, method }),
    );
  }

  /** Claims the right to answer `call`; false when the deadline or a close got there first. */
  private finish(id: number, call: ActiveCall): boolean {
    if (this.active.get(id) !== call) return false;
    this.active.delete(id);
    clearTimeout(call.timer);
    return true;
  }

  private succeed(id: number, call: ActiveCall, payload: Uint8Array, info: { service: string; method: string }): void {
    if (payload !== undefined && !(payload instanceof Uint8Array)) {
      // A handler bug, caught here so it becomes an answer rather than an exception in a callback.
      this.fail(id, call, new TypeError(`handler returned ${typeof payload}, not a Uint8Array`), info);
      return;
    }
    if (!this.finish(id, call)) return;
    const data = TtrpcResponse.encode({ payload });
    if (data.length > MAX_MESSAGE_SIZE) {
      // Never send what the peer must refuse; tell the caller why instead.
      const message = oversizedMessage(data.length, MAX_MESSAGE_SIZE);
      this.sendStatus(id, Code.RESOURCE_EXHAUSTED, message);
      return;
    }
    this.send(id, data);
  }

  private fail(id: number, call: ActiveCall, err: unknown, info: { service: string; method: string }): void {
    if (!this.finish(id, call)) return;
    if (err instanceof TtrpcError) {
      this.sendStatus(id, err.code, err.message);
      return;
    }
    this.sendStatus(id, Code.UNKNOWN, err instanceof Error ? err.message : String(err));
    this.dispatcher.reportError(err, info);
  }

  private expire(id: number, call: ActiveCall): void {
    if (!this.finish(id, call)) return;
    this.sendStatus(id, Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE);
    call.controller.abort(new TtrpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE));
  }

  private sendStatus(id: number, code: Code, message: string): void {
    // An error message can come from anywhere; it must never make the frame oversized.
    const text = message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE)}…` : message;
    this.send(id, TtrpcResponse.encode({ status: { code, message: text, details: [] } }));
  }

  private send(id: number, data: Uint8Array): void {
    const socket = this.socket;
    if (this.closed || socket.destroyed || !socket.writable) return;
    // Backpressure: a peer that does not read its answers gets no more requests read.
    if (!socket.write(encodeFrame(id, FrameType.Response, data))) socket.pause();
  }
}
