/**
 * A unary ttrpc server: services are tables of handlers from payload bytes to payload bytes.
 * Connections are served by ServerConnection; this class owns the registry and their lifetimes.
 */
import type { Server, Socket } from 'node:net';
import type { MessageType } from '../../proto/message.js';
import type { KeyValue } from '../../proto/ttrpc.js';
import { ProtoDecodeError } from '../../proto/wire.js';
import { ServerConnection } from './server-connection.js';
import type { Dispatcher } from './server-connection.js';
import { Code, TtrpcError } from './status.js';

export interface CallContext {
  service: string;
  method: string;
  metadata: KeyValue[];
  /** absolute ms (Date.now() base) or undefined */
  deadline?: number;
  /** Aborts when the deadline passes or the connection closes; the reason is a TtrpcError. */
  signal: AbortSignal;
}

export type UnaryHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

export interface TtrpcServerOptions {
  /** Called for handler failures that are not a TtrpcError (answered as UNKNOWN). */
  onError?: (err: unknown, info: { service?: string; method?: string }) => void;
  /** Called as each request arrives, before its handler runs. */
  onRequest?: () => void;
}

export class TtrpcServer {
  private readonly services = new Map<string, Map<string, UnaryHandler>>();
  private readonly connections = new Set<ServerConnection>();
  private readonly listeners: Server[] = [];
  private readonly closedListeners: Array<() => void> = [];
  private closing = false;
  private readonly dispatcher: Dispatcher;

  constructor(options: TtrpcServerOptions = {}) {
    const { onError, onRequest } = options;
    this.dispatcher = {
      resolve: (service, method) => {
        onRequest?.();
        const methods = this.services.get(service);
        if (methods === undefined) return new TtrpcError(Code.UNIMPLEMENTED, `service ${service}`);
        return methods.get(method) ?? new TtrpcError(Code.UNIMPLEMENTED, `method ${method}`);
      },
      reportError: (err, info) => {
        try {
          onError?.(err, info);
        } catch {
          // A failing error hook must not take a connection (or the process) down with it.
        }
      },
    };
  }

  register(service: string, methods: Record<string, UnaryHandler>): void {
    if (this.services.has(service)) throw new Error(`ttrpc: service ${service} registered twice`);
    this.services.set(service, new Map(Object.entries(methods)));
  }

  /** Serve one accepted connection. */
  handleConnection(socket: Socket): void {
    if (this.closing || socket.destroyed) {
      socket.destroy();
      return;
    }
    const connection = new ServerConnection(socket, this.dispatcher, () => {
      this.connections.delete(connection);
      for (const listener of this.closedListeners) {
        try {
          listener();
        } catch (err) {
          this.dispatcher.reportError(err, {});
        }
      }
    });
    this.connections.add(connection);
  }

  /** Convenience: accept connections from a listening net.Server. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.handleConnection(socket));
    this.listeners.push(server);
  }

  /** Called when a connection closes (containerd closing its client). */
  onConnectionClosed(listener: () => void): void {
    this.closedListeners.push(listener);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting on attached servers, destroys every connection and aborts their calls. */
  async close(): Promise<void> {
    this.closing = true;
    for (const connection of [...this.connections]) connection.close();
    await Promise.all(
      this.listeners.map(
        // The callback also fires (with ERR_SERVER_NOT_RUNNING) when it was already closed: fine.
        (server) => new Promise<void>((resolve) => server.close(() => resolve())),
      ),
    );
  }
}

/** Wrap a typed handler: decode request with reqType, encode the result with respType. */
export function unary<Req, Resp>(
  reqType: MessageType<Req>,
  respType: MessageType<Resp>,
  fn: (req: Req, ctx: CallContext) => Promise<Partial<Resp>> | Partial<Resp>,
): UnaryHandler {
  return (payload, ctx) => {
    let request: Req;
    try {
      request = reqType.decode(payload);
    } catch (err) {
      if (err instanceof ProtoDecodeError) {
        throw new TtrpcError(Code.INVALID_ARGUMENT, `error unmarshalling ${reqType.typeName}: ${err.message}`);
      }
      throw err;
    }
    const result = fn(request, ctx);
    if (result instanceof Promise) return result.then((resp) => respType.encode(resp ?? {}));
    return respType.encode(result ?? {});
  };
}
