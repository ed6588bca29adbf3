/**
 * Hand-written canonical-ABI bindings of wasi:http/types for the fast incoming-handler path (the
 * incoming side and response building; a component that calls out through outgoing-handler takes
 * jco's path). Same host objects as jco's path: ../http-types.ts, ../http-fields.ts, ../http-body.ts.
 */
import { Fields } from '../http-fields.js';
import { FutureTrailers, IncomingBody, OutgoingBody } from '../http-body.js';
import { IncomingRequest, OutgoingResponse, ResponseOutparam, type Method, type Scheme } from '../http-types.js';
import { IoError } from '../io.js';
import type { Canon } from './canon.js';
import { type InterfaceBindings } from './io-bindings.js';
import { attempt, errorCodeName, storeErrorCode, storeHeaderResult } from './lower.js';

const METHOD_CASES = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch', 'other'] as const;
const SCHEME_CASES = ['HTTP', 'HTTPS', 'other'] as const;

/** method variant at `at`: case byte, other's string at +4. */
function storeMethod(c: Canon, at: number, m: Method): void {
  c.dv().setUint8(at, METHOD_CASES.indexOf(m.tag));
  if (m.tag === 'other') c.storeString(at + 4, m.val);
}

/** option<string> at `at`. */
function storeOptionString(c: Canon, at: number, s: string | undefined): void {
  c.dv().setUint8(at, s === undefined ? 0 : 1);
  if (s !== undefined) c.storeString(at + 4, s);
}

/** result<own<T>> (unit error) at `at`: case byte, handle at +4. */
function storeOwnResult(c: Canon, at: number, make: () => object): void {
  const outcome = attempt(make);
  c.dv().setUint8(at, outcome.ok ? 0 : 1);
  if (outcome.ok) c.dv().setUint32(at + 4, c.own(outcome.val), true);
}

/** list<list<u8>> read from the guest. */
function readValues(c: Canon, ptr: number, len: number): Uint8Array[] {
  const dv = c.dv();
  const values: Uint8Array[] = [];
  for (let i = 0; i < len; i++) values.push(c.copy(dv.getUint32(ptr + 8 * i, true), dv.getUint32(ptr + 8 * i + 4, true)));
  return values;
}

export function httpBindings(): Record<string, InterfaceBindings> {
  return {
    'wasi:http/types': {
      '[constructor]fields': (c) => () => c.own(new Fields()),
      '[static]fields.from-list': (c) => (ptr: number, len: number, retptr: number) => {
        const dv = c.dv();
        const entries: Array<[string, Uint8Array]> = [];
        for (let i = 0; i < len; i++) {
          const at = ptr + 16 * i;
          entries.push([c.string(dv.getUint32(at, true), dv.getUint32(at + 4, true)), c.copy(dv.getUint32(at + 8, true), dv.getUint32(at + 12, true))]);
        }
        const outcome = attempt(() => Fields.fromList(entries));
        if (outcome.ok) {
          c.dv().setUint8(retptr, 0);
          c.dv().setUint32(retptr + 4, c.own(outcome.val), true);
        } else storeHeaderResult(c, retptr, outcome);
      },
      '[method]fields.get': (c) => (self: number, ptr: number, len: number, retptr: number) => {
        const values = c.get(self, Fields).get(c.string(ptr, len));
        const list = c.alloc(8 * values.length, 4);
        values.forEach((v, i) => c.storeBytes(list + 8 * i, v));
        c.dv().setUint32(retptr, list, true);
        c.dv().setUint32(retptr + 4, values.length, true);
      },
      '[method]fields.has': (c) => (self: number, ptr: number, len: number) => (c.get(self, Fields).has(c.string(ptr, len)) ? 1 : 0),
      '[method]fields.set': (c) => (self: number, ptr: number, len: number, vptr: number, vlen: number, retptr: number) =>
        storeHeaderResult(c, retptr, attempt(() => c.get(self, Fields).set(c.string(ptr, len), readValues(c, vptr, vlen)))),
      '[method]fields.delete': (c) => (self: number, ptr: number, len: number, retptr: number) =>
        storeHeaderResult(c, retptr, attempt(() => c.get(self, Fields).delete(c.string(ptr, len)))),
      '[method]fields.append': (c) => (self: number, ptr: number, len: number, vptr: number, vlen: number, retptr: number) =>
        storeHeaderResult(c, retptr, attempt(() => c.get(self, Fields).append(c.string(ptr, len), c.copy(vptr, vlen)))),
      '[method]fields.entries': (c) => (self: number, retptr: number) => {
        const entries = c.get(self, Fields).entriesList;
        const list = c.alloc(16 * entries.length, 4);
        entries.forEach(([name, value], i) => {
          c.storeString(list + 16 * i, name);
          c.storeBytes(list + 16 * i + 8, value);
        });
        c.dv().setUint32(retptr, list, true);
        c.dv().setUint32(retptr + 4, entries.length, true);
      },
      '[method]fields.clone': (c) => (self: number) => c.own(c.get(self, Fields).clone()),
      '[resource-drop]fields': (c) => (h: number) => c.drop(h, Fields),

      '[method]incoming-request.method': (c) => (self: number, retptr: number) => storeMethod(c, retptr, c.get(self, IncomingRequest).method()),
      '[method]incoming-request.path-with-query': (c) => (self: number, retptr: number) =>
        storeOptionString(c, retptr, c.get(self, IncomingRequest).pathWithQuery()),
      '[method]incoming-request.scheme': (c) => (self: number, retptr: number) => {
        const s: Scheme | undefined = c.get(self, IncomingRequest).scheme();
        c.dv().setUint8(retptr, s === undefined ? 0 : 1);
        if (s === undefined) return;
        c.dv().setUint8(retptr + 4, SCHEME_CASES.indexOf(s.tag));
        if (s.tag === 'other') c.storeString(retptr + 8, s.val);
      },
      '[method]incoming-request.authority': (c) => (self: number, retptr: number) =>
        storeOptionString(c, retptr, c.get(self, IncomingRequest).authority()),
      '[method]incoming-request.headers': (c) => (self: number) => c.own(c.get(self, IncomingRequest).headers()),
      '[method]incoming-request.consume': (c) => (self: number, retptr: number) => storeOwnResult(c, retptr, () => c.get(self, IncomingRequest).consume()),
      '[resource-drop]incoming-request': (c) => (h: number) => c.drop(h, IncomingRequest),

      '[method]incoming-body.stream': (c) => (self: number, retptr: number) => storeOwnResult(c, retptr, () => c.get(self, IncomingBody).stream()),
      '[static]incoming-body.finish': (c) => (self: number) => c.own(IncomingBody.finish(c.take(self, IncomingBody))),
      '[resource-drop]incoming-body': (c) => (h: number) => c.drop(h, IncomingBody),
      '[method]future-trailers.subscribe': (c) => (self: number) => c.own(c.get(self, FutureTrailers).subscribe()),
      '[method]future-trailers.get': (c) => (self: number, retptr: number) => {
        // option<result<result<option<trailers>, error-code>>>: none, or some(ok(ok(option))).
        const r = c.get(self, FutureTrailers).get();
        const dv = c.dv();
        dv.setUint8(retptr, r === undefined ? 0 : 1);
        if (r === undefined) return;
        dv.setUint8(retptr + 8, 0);
        dv.setUint8(retptr + 16, 0);
        const trailers = r.val.val;
        dv.setUint8(retptr + 24, trailers === undefined ? 0 : 1);
        if (trailers !== undefined) dv.setUint32(retptr + 28, c.own(trailers), true);
      },
      '[resource-drop]future-trailers': (c) => (h: number) => c.drop(h, FutureTrailers),

      '[constructor]outgoing-response': (c) => (headers: number) => c.own(new OutgoingResponse(c.take(headers, Fields))),
      '[method]outgoing-response.status-code': (c) => (self: number) => c.get(self, OutgoingResponse).statusCode(),
      '[method]outgoing-response.set-status-code': (c) => (self: number, code: number) =>
        attempt(() => c.get(self, OutgoingResponse).setStatusCode(code)).ok ? 0 : 1,
      '[method]outgoing-response.headers': (c) => (self: number) => c.own(c.get(self, OutgoingResponse).headers()),
      '[method]outgoing-response.body': (c) => (self: number, retptr: number) => storeOwnResult(c, retptr, () => c.get(self, OutgoingResponse).body()),
      '[resource-drop]outgoing-response': (c) => (h: number) => c.drop(h, OutgoingResponse),

      '[method]outgoing-body.write': (c) => (self: number, retptr: number) => storeOwnResult(c, retptr, () => c.get(self, OutgoingBody).write()),
      '[static]outgoing-body.finish': (c) => (self: number, hasTrailers: number, trailers: number, retptr: number) => {
        const body = c.take(self, OutgoingBody);
        OutgoingBody.finish(body, hasTrailers ? c.take(trailers, Fields) : undefined);
        c.dv().setUint8(retptr, 0);
      },
      '[resource-drop]outgoing-body': (c) => (h: number) => c.drop(h, OutgoingBody),

      '[static]response-outparam.set': (c) => (param: number, isErr: number, a: number) => {
        const outparam = c.take(param, ResponseOutparam);
        if (!isErr) ResponseOutparam.set(outparam, { tag: 'ok', val: c.take(a, OutgoingResponse) });
        else ResponseOutparam.set(outparam, { tag: 'err', val: { tag: errorCodeName(a) } });
      },
      '[resource-drop]response-outparam': (c) => (h: number) => c.drop(h, ResponseOutparam),
      'http-error-code': (c) => (err: number, retptr: number) => {
        // option<error-code>: an io error of a body stream is described as internal-error.
        const e = c.get(err, IoError);
        c.dv().setUint8(retptr, 1);
        storeErrorCode(c, retptr + 8, { tag: 'internal-error', val: e.toDebugString() });
      },
    },
  };
}

