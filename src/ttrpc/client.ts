/**
 * A unary ttrpc client over a unix socket: odd, increasing stream ids from 1; answers are
 * matched by id, so calls may be in flight concurrently and complete in any order.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { MessageType } from '../../proto/message.js';
import { TtrpcRequest, TtrpcResponse } from '../../proto/ttrpc.js';
import type { KeyValue } from '../../proto/ttrpc.js';
import { ProtoDecodeError } from '../../proto/wire.js';
import { FrameDecoder, FrameType, MAX_MESSAGE_SIZE, encodeFrame } from './frame.js';
import type { Frame } from './frame.js';
import { Code, DEADLINE_EXCEEDED_MESSAGE, TtrpcError, oversizedMessage } from './status.js';

export interface CallOptions {
  /** Sent as the request's timeout_nano, and the call is rejected locally when it passes. */
  timeoutMs?: number;
  metadata?: KeyValue[];
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

const MAX_TIMER_MS = 0x7fffffff;
const MAX_STREAM_ID = 0xffffffff;

/** containerd hands out addresses with or without the `unix://` scheme. */
export function socketPathOf(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

export class TtrpcClient {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, PendingCall>();
  private readonly closeListeners: Array<(err?: Error) => void> = [];
  private nextStreamId = 1;
  private isClosed = false;
  private closeError: Error | undefined;
  /** The socket error that preceded 'close', if any. */
  private socketError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.socketError = err;
    });
    socket.on('close', () => this.shutdown(this.socketError ?? new Error('connection closed by peer')));
  }

  static connect(path: string, options: ConnectOptions = {}): Promise<TtrpcClient> {
    const socketPath = socketPathOf(path);
    return new Promise((resolve, reject) => {
      const socket = connect({ path: socketPath });
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: TtrpcError): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onError = (err: Error): void =>
        fail(new TtrpcError(Code.UNAVAILABLE, `connect ${socketPath}: ${err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new TtrpcClient(socket));
      });
      const ms = options.connectTimeoutMs;
      if (ms !== undefined && ms > 0 && ms <= MAX_TIMER_MS) {
        timer = setTimeout(
          () => fail(new TtrpcError(Code.DEADLINE_EXCEEDED, `connect ${socketPath}: timed out after ${ms} ms`)),
          ms,
        );
      }
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** `err` is set when the connection was lost, undefined after close(). */
  onClose(listener: (err?: Error) => void): void {
    if (this.isClosed) {
      const err = this.closeError;
      queueMicrotask(() => listener(err));
      return;
    }
    this.closeListeners.push(listener);
  }

  close(): void {
    this.shutdown(undefined);
  }

  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(new TtrpcError(Code.UNAVAILABLE, 'ttrpc: client is closed'));
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) {
      return Promise.reject(new TtrpcError(Code.UNAVAILABLE, 'ttrpc: stream ids exhausted, reconnect'));
    }

    const timeoutMs = options.timeoutMs ?? 0;
    const hasTimeout = timeoutMs > 0 && Number.isFinite(timeoutMs);
    let frame: Buffer;
    try {
      const request = TtrpcRequest.encode({
        service,
        method,
        payload,
        timeoutNano: hasTimeout ? BigInt(Math.ceil(timeoutMs * 1e6)) : 0n,
        metadata: options.metadata ?? [],
      });
      frame = encodeFrame(id, FrameType.Request, request);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.nextStreamId += 2;

    return new Promise<Uint8Array>((resolve, reject) => {
      const call: PendingCall = { resolve, reject, timer: undefined };
      if (hasTimeout && timeoutMs <= MAX_TIMER_MS) {
        call.timer = setTimeout(() => {
          // A late answer finds no pending call and is dropped.
          this.pending.delete(id);
          reject(new TtrpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE));
        }, timeoutMs);
      }
      this.pending.set(id, call);
      this.socket.write(frame);
    });
  }

  async callTyped<Req, Resp>(
    service: string,
    method: string,
    reqType: MessageType<Req>,
    req: Partial<Req>,
    respType: MessageType<Resp>,
    options?: CallOptions,
  ): Promise<Resp> {
    const payload = await this.call(service, method, reqType.encode(req), options);
    try {
      return respType.decode(payload);
    } catch (err) {
      if (!(err instanceof ProtoDecodeError)) throw err;
      throw new TtrpcError(Code.INTERNAL, `error unmarshalling ${respType.typeName}: ${err.message}`, { cause: err });
    }
  }

  private onData(chunk: Buffer): void {
    for (const decoded of this.decoder.push(chunk)) {
      if (this.isClosed) return;
      if (decoded.kind === 'oversize') {
        const { streamId, length } = decoded.oversize;
        this.settle(streamId, (call) =>
          call.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, oversizedMessage(length, MAX_MESSAGE_SIZE))),
        );
      } else if (decoded.frame.type === FrameType.Response) {
        this.onResponse(decoded.frame);
      }
    }
  }

  private onResponse(frame: Frame): void {
    let response: TtrpcResponse;
    try {
      response = TtrpcResponse.decode(frame.data);
    } catch (err) {
      // The stream is corrupt: no later answer can be trusted either.
      this.shutdown(new Error(`invalid ttrpc response: ${(err as Error).message}`));
      return;
    }
    this.settle(frame.streamId, (call) => {
      const status = response.status;
      if (status !== undefined && status.code !== Code.OK) {
        call.reject(new TtrpcError(status.code as Code, status.message));
      } else {
        call.resolve(response.payload);
      }
    });
  }

  private settle(streamId: number, action: (call: PendingCall) => void): void {
    const call = this.pending.get(streamId);
    if (call === undefined) return;
    this.pending.delete(streamId);
    clearTimeout(call.timer);
    action(call);
  }

  private shutdown(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = err;
    this.socket.destroy();
    const reason = err
      ? new TtrpcError(Code.UNAVAILABLE, `ttrpc: connection lost: ${err.message}`, { cause: err })
      : new TtrpcError(Code.UNAVAILABLE, 'ttrpc: client closed');
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) {
      clearTimeout(call.timer);
      call.reject(reason);
    }
    for (const listener of this.closeListeners.splice(0)) listener(err);
  }
}
