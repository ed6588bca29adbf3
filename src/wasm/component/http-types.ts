/**
 * wasi:http/types 0.2 resources for both directions: what the incoming handler gets (request,
 * response-outparam) and builds (outgoing-response), and what outgoing-handler takes (outgoing-
 * request, request-options) and gives back (future-incoming-response, incoming-response).
 * Messages are plain state here; http-server.ts and http-client.ts put them on the wire.
 */
import type { IncomingMessage } from 'node:http';
import { Fields } from './http-fields.js';
import { FutureTrailers, IncomingBody, OutgoingBody, ReadableSource, WritableSink } from './http-body.js';
import { IoError, Pollable } from './io.js';

export type Method = { tag: 'get' | 'head' | 'post' | 'put' | 'delete' | 'connect' | 'options' | 'trace' | 'patch' } | { tag: 'other'; val: string };
export type Scheme = { tag: 'HTTP' | 'HTTPS' } | { tag: 'other'; val: string };
/** wasi:http error-code: a tag, some with a payload. */
export type ErrorCode = { tag: string; val?: unknown };

const METHODS = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']);

export function methodFromNode(method: string): Method {
  const lower = method.toLowerCase();
  return METHODS.has(lower) ? ({ tag: lower } as Method) : { tag: 'other', val: method };
}

export function methodToNode(method: Method): string {
  return method.tag === 'other' ? method.val : method.tag.toUpperCase();
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class IncomingRequest {
  private bodyTaken = false;
  private readonly fields: Fields;

  constructor(
    private readonly message: IncomingMessage,
    private readonly bodySource: () => ReadableSource,
    private readonly schemeValue: Scheme = { tag: 'HTTP' },
  ) {
    this.fields = Fields.fromRaw(message.rawHeaders, true);
  }

  method(): Method {
    return methodFromNode(this.message.method ?? 'GET');
  }

  pathWithQuery(): string | undefined {
    return this.message.url;
  }

  scheme(): Scheme | undefined {
    return this.schemeValue;
  }

  authority(): string | undefined {
    return this.message.headers.host;
  }

  headers(): Fields {
    return this.fields.view(true);
  }

  consume(): IncomingBody {
    if (this.bodyTaken) throw undefined;
    this.bodyTaken = true;
    return new IncomingBody(this.bodySource());
  }
}

export class OutgoingResponse {
  status = 200;
  private bodyTaken = false;
  readonly body_: OutgoingBody = new OutgoingBody(new WritableSink());

  constructor(readonly fields: Fields) {}

  statusCode(): number {
    return this.status;
  }

  setStatusCode(code: number): void {
    if (code < 100 || code > 999) throw undefined;
    this.status = code;
  }

  headers(): Fields {
    return this.fields.view(false);
  }

  body(): OutgoingBody {
    if (this.bodyTaken) throw undefined;
    this.bodyTaken = true;
    return this.body_;
  }
}

export interface OutparamTarget {
  respond(response: OutgoingResponse): void;
  fail(error: ErrorCode): void;
}

export class ResponseOutparam {
  private used = false;

  constructor(private readonly target: OutparamTarget) {}

  static set(param: ResponseOutparam, response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: ErrorCode }): void {
    // Setting it twice is a guest bug; the canonical ABI gives the outparam only once anyway.
    if (param.used) return;
    param.used = true;
    if (response.tag === 'ok') param.target.respond(response.val);
    else param.target.fail(response.val);
  }

  sendInformational(): void {
    // 1xx responses are not sent: the header-error says so to the guest.
    throw { tag: 'internal-error', val: 'informational responses are not supported' };
  }
}

export class RequestOptions {
  connect: bigint | undefined;
  firstByte: bigint | undefined;
  betweenBytes: bigint | undefined;
  connectTimeout(): bigint | undefined {
    return this.connect;
  }
  setConnectTimeout(d: bigint | undefined): void {
    this.connect = d;
  }
  firstByteTimeout(): bigint | undefined {
    return this.firstByte;
  }
  setFirstByteTimeout(d: bigint | undefined): void {
    this.firstByte = d;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.betweenBytes;
  }
  setBetweenBytesTimeout(d: bigint | undefined): void {
    this.betweenBytes = d;
  }
}

export class OutgoingRequest {
  methodValue: Method = { tag: 'get' };
  path: string | undefined;
  schemeValue: Scheme | undefined;
  authorityValue: string | undefined;
  private bodyTaken = false;
  readonly body_: OutgoingBody = new OutgoingBody(new WritableSink());

  constructor(readonly fields: Fields) {}

  get bodyRequested(): boolean {
    return this.bodyTaken;
  }

  body(): OutgoingBody {
    if (this.bodyTaken) throw undefined;
    this.bodyTaken = true;
    return this.body_;
  }
  method(): Method {
    return this.methodValue;
  }
  setMethod(m: Method): void {
    if (m.tag === 'other' && !TOKEN.test(m.val)) throw undefined;
    this.methodValue = m;
  }
  pathWithQuery(): string | undefined {
    return this.path;
  }
  setPathWithQuery(p: string | undefined): void {
    if (p !== undefined && /[\s\0]/.test(p)) throw undefined;
    this.path = p;
  }
  scheme(): Scheme | undefined {
    return this.schemeValue;
  }
  setScheme(s: Scheme | undefined): void {
    this.schemeValue = s;
  }
  authority(): string | undefined {
    return this.authorityValue;
  }
  setAuthority(a: string | undefined): void {
    if (a !== undefined && /[\s\0/?#@]/.test(a)) throw undefined;
    this.authorityValue = a;
  }
  headers(): Fields {
    return this.fields.view(false);
  }
}

export class IncomingResponse {
  private bodyTaken = false;
  private readonly fields: Fields;

  constructor(private readonly message: IncomingMessage, private readonly source: ReadableSource) {
    this.fields = Fields.fromRaw(message.rawHeaders, true);
  }
  status(): number {
    return this.message.statusCode ?? 0;
  }
  headers(): Fields {
    return this.fields.view(true);
  }
  consume(): IncomingBody {
    if (this.bodyTaken) throw undefined;
    this.bodyTaken = true;
    return new IncomingBody(this.source);
  }
}

type FutureResult = { tag: 'ok'; val: IncomingResponse } | { tag: 'err'; val: ErrorCode };

export class FutureIncomingResponse {
  private result: FutureResult | undefined;
  private taken = false;
  private readonly settled: Promise<void>;

  constructor(pending: Promise<IncomingResponse>) {
    this.settled = pending.then(
      (val) => {
        this.result = { tag: 'ok', val };
      },
      (val: ErrorCode) => {
        this.result = { tag: 'err', val };
      },
    );
  }

  subscribe(): Pollable {
    return new Pollable({ ready: () => this.result !== undefined, wait: () => this.settled });
  }

  get(): { tag: 'ok' | 'err'; val?: FutureResult } | undefined {
    if (this.result === undefined) return undefined;
    if (this.taken) return { tag: 'err' };
    this.taken = true;
    return { tag: 'ok', val: this.result };
  }
}

/** wasi:http/types.http-error-code: what an io error of a body stream was, as far as we know. */
export function httpErrorCode(err: IoError): ErrorCode | undefined {
  return { tag: 'internal-error', val: err.toDebugString() };
}

export const httpTypeImports = {
  Fields,
  IncomingRequest,
  OutgoingRequest,
  RequestOptions,
  ResponseOutparam,
  IncomingResponse,
  IncomingBody,
  FutureTrailers,
  OutgoingResponse,
  OutgoingBody,
  FutureIncomingResponse,
  httpErrorCode,
};
