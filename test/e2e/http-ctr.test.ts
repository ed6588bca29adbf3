/**
 * wasi:http components (the proxy world) through a private containerd and ctr: `ctr run
 * --net-host` serves on the host's loopback, at the address given by NODEWASM_HTTP_ADDRESS.
 * Requests go to 127.0.0.1 only.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { startTestContainerd } from '../harness/containerd.js';
import { repoRoot, taskRow, uniqueId, waitFor } from './support.js';
import { freeLoopbackPort } from '../harness/loopback.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];
const IMAGE = 'docker.io/library/nodewasm-http:e2e';

let pc: PrivateContainerd;
let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-http-e2e-'));
  pc = await startTestContainerd({ env: { NODEWASM_CACHE_DIR: path.join(scratch, 'cache') } });
  const tar = path.join(scratch, 'http.tar');
  const files = ['http_handler', 'http_outgoing'].flatMap((name) => ['--file', `${path.join(repoRoot, 'fixtures', 'components', `${name}.component.wasm`)}:/${name}.wasm`]);
  execFileSync(path.join(repoRoot, 'bin', 'nodewasm'), ['build', '-o', tar, '-t', IMAGE, ...files], { stdio: 'pipe' });
  const imported = await pc.ctr(['images', 'import', '--platform', 'wasi/wasm', tar]);
  expect(imported.code, imported.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await pc?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, urlPath: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `ctr run --rm --net-host` of the handler, attached: ctr's exit status is the container's. */
async function startService(id: string, port: number, extraEnv: string[] = [], entrypoint = '/http_handler.wasm'): Promise<{ ctr: ChildProcess; stderr: () => string; exited: Promise<number | null> }> {
  const env = [`NODEWASM_HTTP_ADDRESS=127.0.0.1:${port}`, ...extraEnv].flatMap((e) => ['--env', e]);
  const ctr = pc.ctrSpawn(['run', '--rm', '--net-host', ...RUNTIME, '--platform', 'wasi/wasm', ...env, IMAGE, id, entrypoint]);
  let stderr = '';
  ctr.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  ctr.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => ctr.once('exit', resolve));
  await waitFor(() => /serving wasi:http on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 30_000);
  return { ctr, stderr: () => stderr, exited };
}

describe('ctr run --net-host of a wasi:http component', () => {
  it('serves on the address of NODEWASM_HTTP_ADDRESS, and SIGTERM drains and exits 0', async () => {
    const id = uniqueId('http');
    const port = await freeLoopbackPort();
    const service = await startService(id, port, ['NODEWASM_HTTP_REQUEST_TIMEOUT_MS=1000', 'NODEWASM_HTTP_MAX_BODY_BYTES=4096']);
    try {
      expect(service.stderr()).toContain('(instances reset between requests)');
      const hello = await request(port, '/');
      expect(hello.status).toBe(200);
      expect(hello.headers['content-type']).toBe('text/plain');
      expect(hello.body).toBe('hello from wasi:http\n');

      const echo = await request(port, '/echo/a?b=c', { method: 'POST', headers: { 'x-request-id': '42' }, body: 'payload' });
      expect(echo.headers['x-echo-method']).toBe('POST');
      expect(echo.headers['x-echo-path']).toBe('/echo/a?b=c');
      expect(echo.headers['x-echo-request-id']).toBe('42');
      expect(echo.body).toBe('payload');

      const streamed = await request(port, '/stream/4');
      expect(streamed.body).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
      expect(streamed.headers['transfer-encoding']).toBe('chunked');
      // Each request starts from the instance's initial state.
      expect((await request(port, '/counter')).body).toBe('requests seen by this instance: 1\n');
      expect((await request(port, '/counter')).body).toBe('requests seen by this instance: 1\n');
      expect((await request(port, '/echo', { method: 'POST', body: 'x'.repeat(5000) })).status).toBe(413);
      expect((await request(port, '/sleep/5000')).status).toBe(504);

      const trap = await request(port, '/trap');
      expect(trap.status).toBe(500);
      await waitFor(() => /http: GET \/trap: wasm trap: .*unreachable/.test(service.stderr()));
      expect((await request(port, '/')).status).toBe(200);

      // A request in flight when SIGTERM comes is still answered; then the container exits 0.
      const inFlight = request(port, '/sleep/500');
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await pc.ctr(['task', 'kill', '-s', 'SIGTERM', id])).code).toBe(0);
      const late = await inFlight;
      expect(late.status).toBe(200);
      expect(late.body).toBe('slept\n');
      expect(await service.exited).toBe(0);
    } finally {
      if ((await taskRow(pc, id)) !== undefined) await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await service.exited;
    }
    expect(await findLeftovers(pc)).toEqual([]);
  }, 90_000);

  it('reaches a loopback server through wasi:http/outgoing-handler', async () => {
    const upstream = http.createServer((_req, res) => res.end('upstream says hi'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const id = uniqueId('http-out');
    const port = await freeLoopbackPort();
    const service = await startService(id, port, [], '/http_outgoing.wasm');
    try {
      const upstreamPort = (upstream.address() as net.AddressInfo).port;
      const r = await request(port, `/127.0.0.1:${upstreamPort}`);
      expect(r.body).toBe('outgoing: 200 upstream says hi');
    } finally {
      upstream.close();
      await pc.ctr(['task', 'kill', '-s', 'SIGTERM', id]);
      expect(await service.exited).toBe(0);
    }
    await waitFor(async () => (await taskRow(pc, id)) === undefined);
    expect(await findLeftovers(pc)).toEqual([]);
  }, 90_000);
});
