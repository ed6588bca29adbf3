/**
 * The wasi:http proxy world's server: Node's HTTP/1.1 server in the runner; each request runs in
 * an instance no other request used (see RequestHandler's two implementations). The guest's
 * handle() runs as a JSPI promise: while it waits (a body read, a timer) other requests go on.
 *
 * - status, headers and the body stream out as the guest produces them;
 * - a request body larger than the limit ends the guest's body stream with an error and, when no
 *   response has started, is answered 413;
 * - a request still unanswered at the timeout is answered 504 and its instance abandoned (a guest
 *   that computes without ever calling the host cannot be interrupted on this thread);
 * - a trap, or a handler that returns without a response, is answered 500 and logged on stderr;
 * - SIGTERM stops accepting, lets in-flight requests finish (bounded by the timeout), exits 0.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { ReadableSource } from './http-body.js';
import { IncomingRequest, ResponseOutparam, type ErrorCode, type OutgoingResponse } from './http-types.js';
import { describeFailure, type Say } from './run-command.js';
import { findExport, type ComponentExports } from './load.js';
import { GuestExit } from './cli.js';
import { ResponseWriter } from './response-writer.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  requestTimeoutMs: number;
  maxRequestBodyBytes: number;
  say: Say;
}

/** Runs the guest's incoming-handler on one request, in an instance no other request used. */
export type RequestHandler = (request: IncomingRequest, outparam: ResponseOutparam) => Promise<void>;

/** jco's path: a new instance of the transpiled component for every request. */
export function freshInstanceHandler(newInstance: () => Promise<ComponentExports> | ComponentExports): RequestHandler {
  return async (request, outparam) => {
    const exports = await newInstance();
    const handle = findExport(exports, 'wasi:http/incoming-handler')?.['handle'];
    if (handle === undefined) throw new Error('the component does not export wasi:http/incoming-handler');
    await handle(request, outparam);
  };
}

/** One request's life: at most one answer, whoever gives it first (guest, timeout, error). */
class Exchange {
  done = false;
  private bodyFinished = false;
  private response: OutgoingResponse | undefined;
  private writer: ResponseWriter | undefined;

  constructor(readonly req: IncomingMessage, readonly res: ServerResponse, private readonly say: Say) {
    res.once('close', () => {
      this.done = true;
      this.response?.body_.sink.close();
    });
  }

  /** Whether the guest has set its response. */
  get responded(): boolean {
    return this.response !== undefined;
  }

  /** An answer from the host itself (error, timeout), unless part of the guest's went out. */
  answer(status: number, text: string): void {
    if (this.done) return;
    this.done = true;
    this.response?.body_.sink.close();
    if (this.writer?.headSent) {
      // Part of the guest's response went out already: only cutting the connection tells the client.
      this.res.destroy();
      return;
    }
    this.writer?.cancel();
    this.res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    this.res.end(text);
  }

  respond(response: OutgoingResponse): void {
    if (this.done || this.response) {
      response.body_.sink.close();
      return;
    }
    this.response = response;
    const writer = new ResponseWriter(this.res, response.status, response.fields.toRaw(), (e) =>
      this.say(`http: ${this.req.method} ${this.req.url}: cannot send the response: ${e.message}`),
    );
    this.writer = writer;
    const body = response.body_;
    body.sink.attach(writer);
    const finish = () => {
      this.bodyFinished = true;
      this.done = true;
      writer.end();
    };
    if (body.finishedEarly) finish();
    else body.events = { finished: finish, abandoned: () => this.answer(500, 'incomplete response body\n') };
  }

  fail(error: ErrorCode): void {
    this.say(`http: ${this.req.method} ${this.req.url}: the handler answered error ${error.tag}`);
    this.answer(500, `internal server error\n`);
  }

  /** The guest's handle() returned: a response must have been set, and its body finished. */
  handlerReturned(): void {
    if (this.done) return;
    if (!this.response) {
      this.say(`http: ${this.req.method} ${this.req.url}: the handler returned without setting a response`);
      this.answer(500, 'internal server error\n');
    } else if (!this.bodyFinished) {
      this.say(`http: ${this.req.method} ${this.req.url}: the handler returned without finishing the response body`);
      this.answer(500, 'incomplete response body\n');
    }
  }
}

export interface RunningServer {
  address: { address: string; port: number };
  /** Resolves with the exit status once the server stopped (after SIGTERM and draining). */
  stopped: Promise<number>;
  /** Stops accepting, waits for in-flight requests (at most the timeout), then resolves `stopped`. */
  drain(): void;
}

export function serveHttp(handler: RequestHandler, options: HttpServerOptions): Promise<RunningServer> {
  const { say } = options;
  let draining = false;
  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const server = http.createServer({ keepAliveTimeout: 5000, requestTimeout: 0 });

  // While draining, a connection whose request is answered is closed rather than kept alive.
  const maybeStopped = () => {
    if (draining) server.closeIdleConnections();
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const exchange = new Exchange(req, res, say);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > options.maxRequestBodyBytes) {
      exchange.answer(413, 'request body too large\n');
      req.resume();
      return;
    }
    const timer = setTimeout(() => {
      say(`http: ${req.method} ${req.url}: no response within ${options.requestTimeoutMs} ms`);
      exchange.answer(504, 'request timed out\n');
    }, options.requestTimeoutMs);
    try {
      const bodySource = () =>
        new ReadableSource(req, options.maxRequestBodyBytes, () => exchange.answer(413, 'request body too large\n'));
      const request = new IncomingRequest(req, bodySource);
      const outparam = new ResponseOutparam(exchange);
      await handler(request, outparam);
      exchange.handlerReturned();
    } catch (e) {
      if (e instanceof GuestExit) say(`http: ${req.method} ${req.url}: the handler called exit(${e.code})`);
      else say(`http: ${req.method} ${req.url}: ${describeFailure(e).startsWith('wasm trap') ? '' : 'wasm trap: '}${describeFailure(e)}`);
      exchange.answer(500, 'internal server error\n');
    } finally {
      clearTimeout(timer);
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // The exchange is over when the response is, whether or not the guest is.
    res.once('close', maybeStopped);
    if (draining) res.shouldKeepAlive = false;
    void handle(req, res);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      const addr = server.address() as { address: string; port: number };
      resolve({
        address: { address: addr.address, port: addr.port },
        stopped,
        drain() {
          if (draining) return;
          draining = true;
          server.close(() => resolveStopped(0));
          server.closeIdleConnections();
          // In-flight requests end by the timeout at the latest; then the status is 0 anyway.
          setTimeout(() => resolveStopped(0), options.requestTimeoutMs + 1000).unref();
          maybeStopped();
        },
      });
    });
  });
}
