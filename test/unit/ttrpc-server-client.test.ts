import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateRequest, StateResponse, TaskStatus } from '../../proto/task.js';
import { TtrpcRequest, TtrpcResponse } from '../../proto/ttrpc.js';
import {
  Code,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  FrameType,
  MAX_MESSAGE_SIZE,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
  encodeFrame,
  unary,
} from '../../src/ttrpc/index.js';
import type { CallContext, Frame, TtrpcServerOptions } from '../../src/ttrpc/index.js';

const SERVICE = 'test.v1.Echo';
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

let dir: string;
let socketCount = 0;
const cleanups: Array<() => unknown> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ttrpc-test-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function socketPath(): string {
  return join(dir, `s${++socketCount}.sock`);
}

async function listen(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** What the test service saw, for assertions about contexts and signals. */
interface Seen {
  contexts: CallContext[];
  lateAnswers: number;
  counted: number;
}

async function startServer(options: TtrpcServerOptions = {}): Promise<{ server: TtrpcServer; path: string; seen: Seen }> {
  const seen: Seen = { contexts: [], lateAnswers: 0, counted: 0 };
  const server = new TtrpcServer(options);
  server.register(SERVICE, {
    Echo: (payload) => payload,
    Count: (payload) => {
      seen.counted++;
      return payload;
    },
    /** Answers after payload[0] × 10 ms. */
    Delay: async (payload) => {
      await sleep((payload[0] ?? 0) * 10);
      return payload;
    },
    Throw: () => {
      throw new Error('boom');
    },
    Reject: async () => {
      throw new TtrpcError(Code.NOT_FOUND, 'task t1 not found');
    },
    /** Never answers by itself; records its context. */
    Hang: (_payload, ctx) => {
      seen.contexts.push(ctx);
      return new Promise<Uint8Array>(() => {});
    },
    /** Answers after 150 ms, whatever happened meanwhile. */
    Late: async (_payload, ctx) => {
      seen.contexts.push(ctx);
      await sleep(150);
      seen.lateAnswers++;
      return bytes('late');
    },
    Big: () => new Uint8Array(MAX_MESSAGE_SIZE),
    /** A handler bug: not bytes. */
    Wrong: async () => 42 as unknown as Uint8Array,
    Context: (_payload, ctx) => {
      seen.contexts.push(ctx);
      return bytes(JSON.stringify({ metadata: ctx.metadata, deadline: ctx.deadline ?? null }));
    },
  });
  server.register('containerd.task.v2.Task', {
    State: unary(StateRequest, StateResponse, (req) => ({ id: req.id, execId: req.execId, pid: 42, status: TaskStatus.RUNNING })),
  });
  const path = socketPath();
  const netServer = createServer();
  server.attach(netServer);
  await listen(netServer, path);
  cleanups.push(() => server.close());
  return { server, path, seen };
}

/** A hand-driven peer: writes raw bytes and collects raw frames, independent of TtrpcClient. */
class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const d of this.decoder.push(chunk)) {
        if (d.kind === 'frame') this.frames.push({ ...d.frame, data: Uint8Array.from(d.frame.data) });
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(path: string): Promise<RawPeer> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new RawPeer(socket);
    cleanups.push(() => socket.destroy());
    return peer;
  }

  write(data: Uint8Array): void {
    this.socket.write(data);
  }

  request(id: number, method: string, payload: Uint8Array = new Uint8Array(0), timeoutNano = 0n, service = SERVICE): void {
    this.write(encodeFrame(id, FrameType.Request, TtrpcRequest.encode({ service, method, payload, timeoutNano })));
  }

  async response(id: number): Promise<TtrpcResponse> {
    await until(() => this.frames.some((f) => f.streamId === id), `a response on stream ${id}`);
    const frame = this.frames.find((f) => f.streamId === id)!;
    expect(frame.type).toBe(FrameType.Response);
    return TtrpcResponse.decode(frame.data);
  }

  async waitClosed(): Promise<void> {
    await until(() => this.closed, 'the server to close the connection');
  }
}

function header(length: number, streamId: number, type: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_LENGTH);
  h.writeUInt32BE(length, 0);
  h.writeUInt32BE(streamId, 4);
  h[8] = type;
  return h;
}

async function expectServing(path: string): Promise<void> {
  const peer = await RawPeer.connect(path);
  peer.request(1, 'Echo', bytes('still here'));
  const resp = await peer.response(1);
  expect(resp.status).toBeUndefined();
  expect(str(resp.payload)).toBe('still here');
}

async function rejection(promise: Promise<unknown>): Promise<TtrpcError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TtrpcError);
    return err as TtrpcError;
  }
  throw new Error('expected the call to fail');
}

describe('TtrpcServer over a unix socket (raw frames)', () => {
  it('answers success with no status, and an empty payload with a zero-length Response', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Echo', bytes('hi'));
    peer.request(3, 'Echo');
    expect(await peer.response(1)).toEqual({ status: undefined, payload: bytes('hi') });
    await peer.response(3);
    expect(peer.frames.find((f) => f.streamId === 3)!.data.length).toBe(0);
  });

  it('serves requests concurrently and answers in completion order', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    // One write holding three requests: the slowest first.
    peer.write(
      Buffer.concat([
        encodeFrame(1, FrameType.Request, TtrpcRequest.encode({ service: SERVICE, method: 'Delay', payload: Uint8Array.of(8) })),
        encodeFrame(3, FrameType.Request, TtrpcRequest.encode({ service: SERVICE, method: 'Delay', payload: Uint8Array.of(4) })),
        encodeFrame(5, FrameType.Request, TtrpcRequest.encode({ service: SERVICE, method: 'Delay', payload: Uint8Array.of(0) })),
      ]),
    );
    await until(() => peer.frames.length === 3, 'three answers');
    expect(peer.frames.map((f) => f.streamId)).toEqual([5, 3, 1]);
    expect(peer.frames.map((f) => TtrpcResponse.decode(f.data).payload[0])).toEqual([0, 4, 8]);
  });

  it('answers an unknown service or method with UNIMPLEMENTED', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Echo', undefined, 0n, 'no.such.Service');
    peer.request(3, 'Nope');
    expect((await peer.response(1)).status).toEqual({ code: 12, message: 'service no.such.Service', details: [] });
    expect((await peer.response(3)).status).toEqual({ code: 12, message: 'method Nope', details: [] });
  });

  it('answers an even stream id with INVALID_ARGUMENT on that id', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(2, 'Echo');
    const resp = await peer.response(2);
    expect(resp.status?.code).toBe(Code.INVALID_ARGUMENT);
    expect(resp.status?.message).toBe('StreamID must be odd for client initiated streams');
    peer.request(1, 'Echo', bytes('ok'));
    expect(str((await peer.response(1)).payload)).toBe('ok');
  });

  it('refuses a stream id that does not increase', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(5, 'Echo');
    await peer.response(5);
    peer.request(3, 'Echo');
    expect((await peer.response(3)).status?.code).toBe(Code.INVALID_ARGUMENT);
  });

  it('answers an oversized frame with RESOURCE_EXHAUSTED and keeps the connection', async () => {
    const { path, server } = await startServer();
    const peer = await RawPeer.connect(path);
    const length = MAX_MESSAGE_SIZE + 1;
    peer.write(header(length, 1, FrameType.Request));
    for (let sent = 0; sent < length; sent += 256 * 1024) {
      peer.write(new Uint8Array(Math.min(256 * 1024, length - sent)));
    }
    const resp = await peer.response(1);
    expect(resp.status).toEqual({
      code: Code.RESOURCE_EXHAUSTED,
      message: 'message length 4194305 exceed maximum message size of 4194304',
      details: [],
    });
    peer.request(3, 'Echo', bytes('after'));
    expect(str((await peer.response(3)).payload)).toBe('after');
    expect(peer.closed).toBe(false);
    expect(server.connectionCount).toBe(1);
  });

  it('never sends a frame over 4 MiB: an oversized answer becomes RESOURCE_EXHAUSTED', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Big');
    const resp = await peer.response(1);
    expect(resp.status?.code).toBe(Code.RESOURCE_EXHAUSTED);
    // 1 tag byte + 4 length bytes + 4 MiB of payload
    expect(resp.status?.message).toBe('message length 4194309 exceed maximum message size of 4194304');
    peer.request(3, 'Echo', bytes('ok'));
    expect(str((await peer.response(3)).payload)).toBe('ok');
  });

  it('ignores frames that are not requests', async () => {
    const { path } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.write(encodeFrame(1, FrameType.Response, TtrpcResponse.encode({ payload: bytes('x') })));
    peer.write(encodeFrame(1, FrameType.Data, bytes('streaming data'), 0x1));
    peer.write(encodeFrame(1, 9 as FrameType, bytes('from the future')));
    peer.request(1, 'Echo', bytes('answered'));
    expect(str((await peer.response(1)).payload)).toBe('answered');
    await sleep(30);
    expect(peer.frames).toHaveLength(1);
  });

  it.each([
    ['a field with wire type 7', '0f 00 00 00 00'],
    ['a truncated varint', 'ff ff ff ff ff'],
    ['a string longer than the frame', '0a 7f 61 62'],
  ])('closes the connection on a Request that does not decode (%s), and keeps serving others', async (_name, garbage) => {
    const { path, server } = await startServer();
    const peer = await RawPeer.connect(path);
    const data = Buffer.from(garbage.replace(/ /g, ''), 'hex');
    peer.write(Buffer.concat([header(data.length, 1, FrameType.Request), data]));
    await peer.waitClosed();
    expect(peer.frames).toHaveLength(0);
    await until(() => server.connectionCount === 0, 'the server to drop the connection');
    await expectServing(path);
  });

  it('survives random garbage on many connections', async () => {
    const { path, server } = await startServer();
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 50; i++) {
      const peer = await RawPeer.connect(path);
      const noise = Uint8Array.from({ length: random() % 200 }, () => random() & 0xff);
      // Half of them look like a small frame header, so their data reaches the Request decoder.
      const stream = i % 2 ? Buffer.concat([header(noise.length, 2 * i + 1, FrameType.Request), noise]) : noise;
      peer.write(stream);
      peer.socket.end();
    }
    await until(() => server.connectionCount === 0, 'every garbage connection to end');
    await expectServing(path);
  });

  it('handles a truncated frame followed by close', async () => {
    const { path, server } = await startServer();
    let closes = 0;
    server.onConnectionClosed(() => closes++);
    const peer = await RawPeer.connect(path);
    await until(() => server.connectionCount === 1, 'the connection to register');
    const full = encodeFrame(1, FrameType.Request, TtrpcRequest.encode({ service: SERVICE, method: 'Echo', payload: bytes('x'.repeat(100)) }));
    peer.write(full.subarray(0, 40));
    peer.socket.end();
    await until(() => closes === 1, 'onConnectionClosed');
    expect(server.connectionCount).toBe(0);
    expect(peer.frames).toHaveLength(0);
    await expectServing(path);
  });

  it('answers DEADLINE_EXCEEDED when timeout_nano passes, aborting the handler', async () => {
    const { path, seen } = await startServer();
    const peer = await RawPeer.connect(path);
    const sentAt = Date.now();
    peer.request(1, 'Hang', undefined, 50_000_000n);
    const resp = await peer.response(1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(45);
    expect(resp.status).toEqual({ code: Code.DEADLINE_EXCEEDED, message: 'context deadline exceeded', details: [] });
    const ctx = seen.contexts[0]!;
    expect(ctx.deadline).toBeGreaterThanOrEqual(sentAt + 45);
    expect(ctx.deadline).toBeLessThan(sentAt + 1000);
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBeInstanceOf(TtrpcError);
    expect((ctx.signal.reason as TtrpcError).code).toBe(Code.DEADLINE_EXCEEDED);
  });

  it('drops an answer that arrives after the deadline', async () => {
    const { path, seen } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Late', undefined, 20_000_000n);
    expect((await peer.response(1)).status?.code).toBe(Code.DEADLINE_EXCEEDED);
    await until(() => seen.lateAnswers === 1, 'the late handler to finish');
    await sleep(20);
    expect(peer.frames).toHaveLength(1);
  });

  it('leaves calls without timeout_nano without a deadline', async () => {
    const { path, seen } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Hang');
    await until(() => seen.contexts.length === 1, 'the handler to run');
    expect(seen.contexts[0]!.deadline).toBeUndefined();
    expect(seen.contexts[0]!.signal.aborted).toBe(false);
  });

  it('answers a handler error: TtrpcError keeps its code, anything else is UNKNOWN and reported', async () => {
    const reported: unknown[] = [];
    const { path } = await startServer({ onError: (err, info) => reported.push([(err as Error).message, info]) });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Throw');
    peer.request(3, 'Reject');
    expect((await peer.response(1)).status).toEqual({ code: Code.UNKNOWN, message: 'boom', details: [] });
    expect((await peer.response(3)).status).toEqual({ code: Code.NOT_FOUND, message: 'task t1 not found', details: [] });
    expect(reported).toEqual([['boom', { service: SERVICE, method: 'Throw' }]]);
  });

  it('stops reading requests while the peer does not read its answers', async () => {
    const { path, seen } = await startServer();
    const peer = await RawPeer.connect(path);
    peer.socket.pause();
    const total = 48;
    const payload = new Uint8Array(1024 * 1024);
    for (let i = 0; i < total; i++) peer.request(2 * i + 1, 'Count', payload);
    await until(() => seen.counted > 0, 'the first requests to be served');
    await sleep(300);
    // Answers pile up in the socket, the server pauses, and the rest wait in the peer's buffers
    // (without backpressure all 48 MiB would be read and answered into the server's memory).
    expect(seen.counted).toBeLessThanOrEqual(total / 4);
    peer.socket.resume();
    await until(() => peer.frames.length === total, 'every answer once the peer reads', 10_000);
    expect(seen.counted).toBe(total);
  });

  it('answers a handler that returns something other than bytes with UNKNOWN', async () => {
    const reported: unknown[] = [];
    const { path } = await startServer({ onError: (err) => reported.push(err) });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Wrong');
    expect((await peer.response(1)).status?.code).toBe(Code.UNKNOWN);
    expect(reported).toHaveLength(1);
    await expectServing(path);
  });

  it('a peer that disconnects mid-call aborts the handler and causes no error', async () => {
    const reported: unknown[] = [];
    const { path, server, seen } = await startServer({ onError: (err) => reported.push(err) });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'Late');
    await until(() => seen.contexts.length === 1, 'the handler to run');
    peer.socket.destroy();
    await until(() => server.connectionCount === 0, 'the server to notice');
    const ctx = seen.contexts[0]!;
    expect(ctx.signal.aborted).toBe(true);
    expect((ctx.signal.reason as TtrpcError).code).toBe(Code.CANCELLED);
    await until(() => seen.lateAnswers === 1, 'the handler to answer into the void');
    await sleep(10);
    expect(reported).toEqual([]);
  });
});

describe('TtrpcClient against TtrpcServer', () => {
  async function client(path: string): Promise<TtrpcClient> {
    const c = await TtrpcClient.connect(path);
    cleanups.push(() => c.close());
    return c;
  }

  it('calls, with or without a unix:// prefix', async () => {
    const { path } = await startServer();
    const a = await client(path);
    const b = await client(`unix://${path}`);
    expect(str(await a.call(SERVICE, 'Echo', bytes('one')))).toBe('one');
    expect(str(await b.call(SERVICE, 'Echo', bytes('two')))).toBe('two');
  });

  it('matches concurrent answers to their calls', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const delays = [9, 1, 5, 0, 7, 3];
    const results = await Promise.all(delays.map((d) => c.call(SERVICE, 'Delay', Uint8Array.of(d, d + 100))));
    expect(results.map((r) => Array.from(r))).toEqual(delays.map((d) => [d, d + 100]));
  });

  it('types calls with callTyped and unary()', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const state = await c.callTyped('containerd.task.v2.Task', 'State', StateRequest, { id: 't1', execId: 'e1' }, StateResponse);
    expect(state).toEqual(StateResponse.create({ id: 't1', execId: 'e1', pid: 42, status: TaskStatus.RUNNING }));
  });

  it('unary() answers an undecodable payload with INVALID_ARGUMENT', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const err = await rejection(c.call('containerd.task.v2.Task', 'State', Uint8Array.of(0x0a, 0x05, 0x61)));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/containerd\.task\.v2\.StateRequest/);
  });

  it('rejects with the status code and message of an error answer', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const notFound = await rejection(c.call(SERVICE, 'Reject', new Uint8Array(0)));
    expect([notFound.code, notFound.message]).toEqual([Code.NOT_FOUND, 'task t1 not found']);
    const unknown = await rejection(c.call(SERVICE, 'Throw', new Uint8Array(0)));
    expect([unknown.code, unknown.message]).toEqual([Code.UNKNOWN, 'boom']);
    const unimplemented = await rejection(c.call('x.Y', 'Z', new Uint8Array(0)));
    expect([unimplemented.code, unimplemented.message]).toEqual([Code.UNIMPLEMENTED, 'service x.Y']);
  });

  it('sends metadata and the timeout to the server', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const before = Date.now();
    const out = JSON.parse(
      str(await c.call(SERVICE, 'Context', new Uint8Array(0), { timeoutMs: 5000, metadata: [{ key: 'k', value: 'v' }] })),
    ) as { metadata: unknown; deadline: number };
    expect(out.metadata).toEqual([{ key: 'k', value: 'v' }]);
    expect(out.deadline).toBeGreaterThanOrEqual(before + 4900);
    expect(out.deadline).toBeLessThanOrEqual(Date.now() + 5000);
  });

  it('refuses locally to send a request over 4 MiB', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const err = await rejection(c.call(SERVICE, 'Echo', new Uint8Array(MAX_MESSAGE_SIZE)));
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(str(await c.call(SERVICE, 'Echo', bytes('fine')))).toBe('fine');
  });

  it('a server deadline reaches the client as DEADLINE_EXCEEDED', async () => {
    const { path } = await startServer();
    const c = await client(path);
    const err = await rejection(c.call(SERVICE, 'Hang', new Uint8Array(0), { timeoutMs: 30 }));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
  });

  it('reports the connection closing when the server closes', async () => {
    const { path, server, seen } = await startServer();
    const c = await client(path);
    const closes: Array<Error | undefined> = [];
    c.onClose((err) => closes.push(err));
    const pending = c.call(SERVICE, 'Hang', new Uint8Array(0));
    await until(() => seen.contexts.length === 1, 'the call to arrive');
    await server.close();
    expect((await rejection(pending)).code).toBe(Code.UNAVAILABLE);
    expect(c.closed).toBe(true);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toBeInstanceOf(Error);
    await expect(TtrpcClient.connect(path)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });
});

describe('TtrpcClient against a raw server', () => {
  /** A listener that hands each accepted socket and the frames it sent to the test. */
  async function rawServer(onFrame: (socket: Socket, frame: Frame) => void): Promise<string> {
    const path = socketPath();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const d of decoder.push(chunk)) if (d.kind === 'frame') onFrame(socket, { ...d.frame, data: Uint8Array.from(d.frame.data) });
      });
    });
    await listen(server, path);
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return path;
  }

  const ok = (socket: Socket, id: number, payload: Uint8Array): void => {
    socket.write(encodeFrame(id, FrameType.Response, TtrpcResponse.encode({ payload })));
  };

  it('uses odd, increasing stream ids from 1 and sends well-formed requests', async () => {
    const seen: Array<{ id: number; type: number; flags: number; request: TtrpcRequest }> = [];
    const path = await rawServer((socket, frame) => {
      seen.push({ id: frame.streamId, type: frame.type, flags: frame.flags, request: TtrpcRequest.decode(frame.data) });
      ok(socket, frame.streamId, frame.data.subarray(0, 0));
    });
    const c = await TtrpcClient.connect(path);
    cleanups.push(() => c.close());
    await Promise.all([c.call('s.A', 'M1', bytes('a')), c.call('s.A', 'M2', bytes('b'))]);
    await c.call('s.A', 'M3', new Uint8Array(0), { timeoutMs: 2000 });
    expect(seen.map((s) => [s.id, s.type, s.flags])).toEqual([
      [1, 1, 0],
      [3, 1, 0],
      [5, 1, 0],
    ]);
    expect(seen[0]!.request).toEqual({ service: 's.A', method: 'M1', payload: bytes('a'), timeoutNano: 0n, metadata: [] });
    expect(seen[2]!.request.timeoutNano).toBe(2_000_000_000n);
  });

  it('rejects with DEADLINE_EXCEEDED when timeoutMs passes, and drops the late answer', async () => {
    const requests: TtrpcRequest[] = [];
    const path = await rawServer((socket, frame) => {
      const request = TtrpcRequest.decode(frame.data);
      requests.push(request);
      // Answer the first call only after its client-side timeout, the others at once.
      if (request.method === 'Slow') setTimeout(() => ok(socket, frame.streamId, bytes('late')), 100);
      else ok(socket, frame.streamId, bytes('quick'));
    });
    const c = await TtrpcClient.connect(path);
    cleanups.push(() => c.close());
    const started = Date.now();
    const err = await rejection(c.call('s', 'Slow', new Uint8Array(0), { timeoutMs: 40 }));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(requests[0]!.timeoutNano).toBe(40_000_000n);
    await sleep(120); // the late answer arrives for a call that no longer exists
    expect(str(await c.call('s', 'Fast', new Uint8Array(0)))).toBe('quick');
    expect(c.closed).toBe(false);
  });

  it('rejects every pending call with UNAVAILABLE when the connection drops', async () => {
    let received = 0;
    const path = await rawServer((socket) => {
      if (++received === 2) socket.destroy();
    });
    const c = await TtrpcClient.connect(path);
    const closes: Array<Error | undefined> = [];
    c.onClose((err) => closes.push(err));
    const calls = [c.call('s', 'A', new Uint8Array(0)), c.call('s', 'B', new Uint8Array(0), { timeoutMs: 10_000 })];
    const errors = await Promise.all(calls.map(rejection));
    expect(errors.map((e) => e.code)).toEqual([Code.UNAVAILABLE, Code.UNAVAILABLE]);
    expect(c.closed).toBe(true);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toBeInstanceOf(Error);
    expect((await rejection(c.call('s', 'C', new Uint8Array(0)))).code).toBe(Code.UNAVAILABLE);
  });

  it('close() rejects pending calls and reports a clean close', async () => {
    const path = await rawServer(() => {});
    const c = await TtrpcClient.connect(path);
    const closes: Array<Error | undefined> = [];
    c.onClose((err) => closes.push(err));
    const pending = c.call('s', 'A', new Uint8Array(0));
    c.close();
    expect((await rejection(pending)).code).toBe(Code.UNAVAILABLE);
    expect(closes).toEqual([undefined]);
    const late: Array<Error | undefined> = [];
    c.onClose((err) => late.push(err));
    await sleep(0);
    expect(late).toEqual([undefined]);
  });

  it('closes on a Response that does not decode', async () => {
    const path = await rawServer((socket, frame) => {
      socket.write(encodeFrame(frame.streamId, FrameType.Response, Uint8Array.of(0x0f)));
    });
    const c = await TtrpcClient.connect(path);
    const err = await rejection(c.call('s', 'A', new Uint8Array(0)));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(c.closed).toBe(true);
  });

  it('fails to connect to a missing socket with UNAVAILABLE', async () => {
    const err = await rejection(TtrpcClient.connect(join(dir, 'missing.sock'), { connectTimeoutMs: 1000 }));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toMatch(/missing\.sock/);
  });
});
