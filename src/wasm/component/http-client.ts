/**
 * wasi:http/outgoing-handler: the guest's requests sent with node:http(s) from the runner, so
 * from the container's own network namespace, as any process of the container would. The
 * request body streams from the guest's outgoing-body; the response body streams to the guest.
 */
import http from 'node:http';
import https from 'node:https';
import { ReadableSource } from './http-body.js';
import {
  FutureIncomingResponse, IncomingResponse, methodToNode, type ErrorCode, type OutgoingRequest, type RequestOptions,
} from './http-types.js';

/** Node's error codes to wasi:http error-code. */
export function errorCodeOf(e: NodeJS.ErrnoException): ErrorCode {
  switch (e.code) {
    case 'ECONNREFUSED':
      return { tag: 'connection-refused' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return { tag: 'DNS-error', val: { rcode: e.code, infoCode: undefined } };
    case 'ETIMEDOUT':
      return { tag: 'connection-timeout' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { tag: 'connection-terminated' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { tag: 'destination-unavailable' };
    default:
      return { tag: 'internal-error', val: e.message };
  }
}

function millis(ns: bigint | undefined): number | undefined {
  return ns === undefined ? undefined : Number(ns / 1_000_000n);
}

export function handleOutgoing(request: OutgoingRequest, options: RequestOptions | undefined): FutureIncomingResponse {
  const scheme = request.schemeValue ?? { tag: 'HTTP' };
  if (scheme.tag === 'other') throw { tag: 'HTTP-protocol-error' } satisfies ErrorCode;
  const authority = request.authorityValue;
  if (!authority) throw { tag: 'HTTP-request-URI-invalid' } satisfies ErrorCode;
  let url: URL;
  try {
    url = new URL(`${scheme.tag === 'HTTPS' ? 'https' : 'http'}://${authority}${request.path ?? '/'}`);
  } catch {
    throw { tag: 'HTTP-request-URI-invalid' } satisfies ErrorCode;
  }
  const client = scheme.tag === 'HTTPS' ? https : http;
  // Headers go as a raw list (so repeated names stay apart), which Node sends without adding Host.
  const headers = request.fields.toRaw();
  if (!request.fields.has('host')) headers.push('host', authority);
  const req = client.request(url, {
    method: methodToNode(request.methodValue),
    headers,
    timeout: millis(options?.connect ?? options?.firstByte),
  });
  const pending = new Promise<IncomingResponse>((resolve, reject) => {
    req.once('response', (res) => resolve(new IncomingResponse(res, new ReadableSource(res))));
    req.once('timeout', () => {
      req.destroy();
      reject({ tag: 'connection-timeout' } satisfies ErrorCode);
    });
    req.once('error', (e: NodeJS.ErrnoException) => reject(errorCodeOf(e)));
  });
  const body = request.body_;
  if (!request.bodyRequested && body.finishedEarly === undefined) {
    req.end();
  } else {
    body.sink.attach(req);
    const finish = () => req.end();
    if (body.finishedEarly) finish();
    else body.events = { finished: finish, abandoned: () => req.destroy() };
  }
  return new FutureIncomingResponse(pending);
}
