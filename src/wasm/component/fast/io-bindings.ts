/**
 * Hand-written canonical-ABI bindings of wasi:io, wasi:clocks, wasi:random and wasi:cli stdio
 * for the fast wasi:http path: each export of the table below is the core function a guest's
 * import links to, working on the guest's memory through Canon. The host objects are the same
 * as on jco's path (../io.ts, ../clocks-random.ts, ../cli.ts).
 */
import { clockImports } from '../clocks-random.js';
import { InputStream, IoError, OutputStream, Pollable, poll } from '../io.js';
import type { Canon } from './canon.js';
import { attempt, storeStreamError } from './lower.js';

/** A core function as linked: numbers for i32/f64, bigints for i64. */
export type CoreFn = (...args: never[]) => unknown;
/** Bindings of one interface: function name → maker, given the instance's Canon. */
export type InterfaceBindings = Record<string, (c: Canon, host: BindingHost) => CoreFn>;

/** What the bindings need from the runner beyond the guest's memory. */
export interface BindingHost {
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
}

/** Marks a binding that may return a promise: it is linked as a JSPI suspending import. */
export const SUSPENDING = Symbol('suspending');
export function suspending(fn: CoreFn): CoreFn {
  return Object.assign(fn, { [SUSPENDING]: true });
}

const monotonic = clockImports['wasi:clocks/monotonic-clock'];
const wall = clockImports['wasi:clocks/wall-clock'];
const random = clockImports['wasi:random/random'];
const insecure = clockImports['wasi:random/insecure'];

/** result<list<u8>, stream-error> at retptr. */
function storeReadResult(c: Canon, retptr: number, read: () => Uint8Array): void {
  const outcome = attempt(read);
  const dv = c.dv();
  if (outcome.ok) {
    c.storeBytes(retptr + 4, outcome.val);
    c.dv().setUint8(retptr, 0);
  } else {
    dv.setUint8(retptr, 1);
    storeStreamError(c, retptr + 4, outcome.err);
  }
}

/** result<_, stream-error> at retptr. */
function storeUnitResult(c: Canon, retptr: number, outcome: { ok: boolean; err?: unknown }): void {
  c.dv().setUint8(retptr, outcome.ok ? 0 : 1);
  if (!outcome.ok) storeStreamError(c, retptr + 4, outcome.err);
}

/** result<u64, stream-error> at retptr (payload 8-aligned). */
function storeU64Result(c: Canon, retptr: number, fn: () => bigint): void {
  const outcome = attempt(fn);
  const dv = c.dv();
  if (outcome.ok) {
    dv.setUint8(retptr, 0);
    dv.setBigUint64(retptr + 8, outcome.val, true);
  } else {
    dv.setUint8(retptr, 1);
    storeStreamError(c, retptr + 8, outcome.err);
  }
}

/** Runs a host call that may return a promise, then stores its outcome. */
function settle<T>(call: () => T | Promise<T>, store: (outcome: { ok: true; val: T } | { ok: false; err: unknown }) => void): void | Promise<void> {
  let result: T | Promise<T>;
  try {
    result = call();
  } catch (e) {
    if (e instanceof Error) throw e;
    return store({ ok: false, err: e });
  }
  if (!(result instanceof Promise)) return store({ ok: true, val: result });
  return result.then(
    (val) => store({ ok: true, val }),
    (e: unknown) => {
      if (e instanceof Error) throw e;
      store({ ok: false, err: e });
    },
  );
}

export const ioBindings: Record<string, InterfaceBindings> = {
  'wasi:io/error': {
    '[method]error.to-debug-string': (c) => (self: number, retptr: number) => c.storeString(retptr, c.get(self, IoError).toDebugString()),
    '[resource-drop]error': (c) => (h: number) => c.drop(h, IoError),
  },
  'wasi:io/poll': {
    '[method]pollable.ready': (c) => (self: number) => (c.get(self, Pollable).ready() ? 1 : 0),
    '[method]pollable.block': (c) => suspending((self: number) => c.get(self, Pollable).block()),
    '[resource-drop]pollable': (c) => (h: number) => c.drop(h, Pollable),
    poll: (c) =>
      suspending((ptr: number, len: number, retptr: number) => {
        const dv = c.dv();
        const list: Pollable[] = [];
        for (let i = 0; i < len; i++) list.push(c.get(dv.getUint32(ptr + 4 * i, true), Pollable));
        const store = (ready: Uint32Array) => {
          const bytes = new Uint8Array(ready.buffer, ready.byteOffset, ready.byteLength);
          const at = c.alloc(bytes.length, 4);
          c.u8().set(bytes, at);
          c.dv().setUint32(retptr, at, true);
          c.dv().setUint32(retptr + 4, ready.length, true);
        };
        const r = poll(list);
        return r instanceof Promise ? r.then(store) : store(r);
      }),
  },
  'wasi:io/streams': {
    '[method]input-stream.read': (c) => (self: number, len: bigint, retptr: number) => storeReadResult(c, retptr, () => c.get(self, InputStream).read(len)),
    '[method]input-stream.blocking-read': (c) =>
      suspending((self: number, len: bigint, retptr: number) =>
        settle(
          () => c.get(self, InputStream).blockingRead(len),
          (o) => storeReadResult(c, retptr, () => {
            if (!o.ok) throw o.err;
            return o.val;
          }),
        ),
      ),
    '[method]input-stream.skip': (c) => (self: number, len: bigint, retptr: number) => storeU64Result(c, retptr, () => c.get(self, InputStream).skip(len)),
    '[method]input-stream.blocking-skip': (c) =>
      suspending((self: number, len: bigint, retptr: number) =>
        settle(
          () => c.get(self, InputStream).blockingSkip(len),
          (o) => storeU64Result(c, retptr, () => {
            if (!o.ok) throw o.err;
            return o.val;
          }),
        ),
      ),
    '[method]input-stream.subscribe': (c) => (self: number) => c.own(c.get(self, InputStream).subscribe()),
    '[resource-drop]input-stream': (c) => (h: number) => c.drop(h, InputStream),
    '[method]output-stream.check-write': (c) => (self: number, retptr: number) => storeU64Result(c, retptr, () => c.get(self, OutputStream).checkWrite()),
    '[method]output-stream.write': (c) => (self: number, ptr: number, len: number, retptr: number) =>
      storeUnitResult(c, retptr, attempt(() => c.get(self, OutputStream).write(c.copy(ptr, len)))),
    '[method]output-stream.blocking-write-and-flush': (c) =>
      suspending((self: number, ptr: number, len: number, retptr: number) =>
        settle(() => c.get(self, OutputStream).blockingWriteAndFlush(c.copy(ptr, len), true), (o) => storeUnitResult(c, retptr, o)),
      ),
    '[method]output-stream.flush': (c) => (self: number, retptr: number) => storeUnitResult(c, retptr, attempt(() => c.get(self, OutputStream).flush())),
    '[method]output-stream.blocking-flush': (c) =>
      suspending((self: number, retptr: number) => settle(() => c.get(self, OutputStream).blockingFlush(true), (o) => storeUnitResult(c, retptr, o))),
    '[method]output-stream.write-zeroes': (c) => (self: number, len: bigint, retptr: number) =>
      storeUnitResult(c, retptr, attempt(() => c.get(self, OutputStream).writeZeroes(len))),
    '[method]output-stream.blocking-write-zeroes-and-flush': (c) =>
      suspending((self: number, len: bigint, retptr: number) =>
        settle(() => c.get(self, OutputStream).blockingWriteZeroesAndFlush(len, true), (o) => storeUnitResult(c, retptr, o)),
      ),
    '[method]output-stream.subscribe': (c) => (self: number) => c.own(c.get(self, OutputStream).subscribe()),
    '[resource-drop]output-stream': (c) => (h: number) => c.drop(h, OutputStream),
  },
  'wasi:clocks/monotonic-clock': {
    now: () => () => monotonic.now(),
    resolution: () => () => monotonic.resolution(),
    'subscribe-instant': (c) => (when: bigint) => c.own(monotonic.subscribeInstant(when)),
    'subscribe-duration': (c) => (d: bigint) => c.own(monotonic.subscribeDuration(d)),
  },
  'wasi:clocks/wall-clock': {
    now: (c) => (retptr: number) => {
      const t = wall.now();
      c.dv().setBigUint64(retptr, t.seconds, true);
      c.dv().setUint32(retptr + 8, t.nanoseconds, true);
    },
    resolution: (c) => (retptr: number) => {
      const t = wall.resolution();
      c.dv().setBigUint64(retptr, t.seconds, true);
      c.dv().setUint32(retptr + 8, t.nanoseconds, true);
    },
  },
  'wasi:random/random': {
    'get-random-bytes': (c) => (len: bigint, retptr: number) => c.storeBytes(retptr, random.getRandomBytes(len)),
    'get-random-u64': () => () => random.getRandomU64(),
  },
  'wasi:random/insecure': {
    'get-insecure-random-bytes': (c) => (len: bigint, retptr: number) => c.storeBytes(retptr, insecure.getInsecureRandomBytes(len)),
    'get-insecure-random-u64': () => () => insecure.getInsecureRandomU64(),
  },
  'wasi:cli/stdout': { 'get-stdout': (c, host) => () => c.own(host.stdout) },
  'wasi:cli/stderr': { 'get-stderr': (c, host) => () => c.own(host.stderr) },
  'wasi:cli/stdin': { 'get-stdin': (c, host) => () => c.own(host.stdin) },
};
