/**
 * wasi:http: requests per second and p95 latency of a hello handler under a bounded load from a
 * second process on 127.0.0.1. Ours: the committed hello handler component
 * (fixtures/components/http_handler.component.wasm) in a container (`ctr run --net-host`, listening
 * on 127.0.0.1 through NODEWASM_HTTP_ADDRESS). Peer: a plain Node http server on the same pinned
 * Node, answering GET / with the same body.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BackgroundContainer, NODEWASM, inTurn, uniqueId, type RunTarget } from './containers.js';
import type { BenchContext, Figure } from './figure.js';
import { checkLoopback, type LoadResult, type LoadSettings } from './load-worker.js';
import { freeLoopbackPort } from '../test/harness/loopback.js';

const run = promisify(execFile);

export interface HttpLoad {
  connections: number;
  durationSeconds: number;
  maxRequests: number;
}

export const DEFAULT_HTTP_LOAD: HttpLoad = { connections: 32, durationSeconds: 4, maxRequests: 1_000_000 };

const HANDLER_FIXTURE = join('fixtures', 'components', 'http_handler.component.wasm');
const HTTP_IMAGE = 'docker.io/library/nodewasm-bench-http:1';
/** What the hello handler answers on GET /; the plain server answers the same. */
const HELLO_BODY = 'hello from wasi:http\n';
/** The container variable the shim reads the listen address from (src/container/http-settings.ts). */
const LISTEN_ADDRESS_ENV = 'NODEWASM_HTTP_ADDRESS';

const PLAIN_SERVER = `
const http = require('node:http');
const server = http.createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end(${JSON.stringify(HELLO_BODY)});
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

interface Server {
  port: number;
  stop(): Promise<void>;
}

function startPlainServer(node: string): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node, ['-e', PLAIN_SERVER], { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    const closed = new Promise<void>((done) => child.once('close', () => done()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    };
    let stdout = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error('the plain Node server did not listen within 10 s'));
    }, 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /^(\d+)\n/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolvePromise({ port: Number(match[1]), stop });
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The hello handler in our container, serving on 127.0.0.1 of the host's network namespace. */
async function startComponentServer(ctx: BenchContext): Promise<Server> {
  const tar = join(ctx.work, 'http-image.tar');
  await run(join(ctx.snapshot, 'bin', 'nodewasm'), ['build', '-o', tar, '-t', HTTP_IMAGE, '--file', `${join(ctx.repo, HANDLER_FIXTURE)}:/http_handler.wasm`]);
  const imported = await ctx.pc.ctr(['images', 'import', '--all-platforms', tar], { timeoutMs: 60_000 });
  if (imported.code !== 0) throw new Error(`ctr images import ${tar}: ${imported.stderr.trim()}`);
  const port = await freeLoopbackPort();
  const target: RunTarget = { runtime: NODEWASM.runtime, platform: ['--platform', 'wasi/wasm'], image: HTTP_IMAGE, argv: ['/http_handler.wasm'] };
  const flags = ['--net-host', '--env', `${LISTEN_ADDRESS_ENV}=127.0.0.1:${port}`];
  const container = await BackgroundContainer.start(ctx.pc, target, uniqueId('nodewasm-http'), `serving wasi:http on http://127.0.0.1:${port}`, flags, 120_000);
  return { port, stop: () => container.stop() };
}

/** One GET / with its body checked, before any load: a figure of wrong answers is no figure. */
function checkHello(port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () =>
        response.statusCode === 200 && body === HELLO_BODY
          ? resolvePromise()
          : reject(new Error(`GET http://127.0.0.1:${port}/ answered ${response.statusCode} ${JSON.stringify(body)}`)),
      );
    });
    request.on('timeout', () => request.destroy(new Error(`GET http://127.0.0.1:${port}/ timed out`)));
    request.on('error', reject);
  });
}

/** One bounded load run from a second process; killed if it outlives its own bound by 15 s. */
function load(ctx: BenchContext, url: string, settings: HttpLoad): Promise<LoadResult> {
  checkLoopback(url);
  const argument: LoadSettings = { url, ...settings };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(ctx.node, [join(ctx.snapshot, 'dist', 'bench.mjs'), '--load-worker', JSON.stringify(argument)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ctx.snapshot,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), (settings.durationSeconds + 15) * 1000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`load worker exited ${code}: ${stderr.trim()}`));
        return;
      }
      const result = JSON.parse(stdout.trim()) as LoadResult;
      if (result.errors > 0 || result.non2xx > 0 || result.requests === 0) {
        reject(new Error(`load on ${url}: ${result.requests} answered, ${result.errors} errors, ${result.non2xx} not 2xx`));
        return;
      }
      resolvePromise(result);
    });
  });
}

export async function wasiHttp(ctx: BenchContext, settings: HttpLoad = DEFAULT_HTTP_LOAD): Promise<Figure[]> {
  const results = { nodewasm: { perSecond: [] as number[], p95: [] as number[] }, plain: { perSecond: [] as number[], p95: [] as number[] } };
  let unavailable: string | undefined;
  const servers: Partial<Record<'nodewasm' | 'plain', Server>> = {};
  try {
    servers.plain = await startPlainServer(ctx.node);
    await checkHello(servers.plain.port);
    if (!existsSync(join(ctx.repo, HANDLER_FIXTURE))) {
      unavailable = `not available yet: no hello wasi:http component at ${HANDLER_FIXTURE}`;
    } else {
      try {
        servers.nodewasm = await startComponentServer(ctx);
        await checkHello(servers.nodewasm.port);
      } catch (error) {
        unavailable = `not measured: the hello handler did not serve: ${(error as Error).message.split('\n')[0]}`;
        await servers.nodewasm?.stop();
        delete servers.nodewasm;
      }
    }
    for (let round = 0; round < ctx.heavyRuns; round++) {
      for (const name of inTurn(round, 'nodewasm' as const, 'plain' as const)) {
        const server = servers[name];
        if (server === undefined) continue;
        const result = await load(ctx, `http://127.0.0.1:${server.port}/`, settings);
        results[name].perSecond.push(result.perSecond);
        results[name].p95.push(result.p95Ms);
      }
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
  const show = (values: number[], digits: number): string => values.map((value) => value.toFixed(digits)).join(' ');
  ctx.progress(
    `http: ours ${show(results.nodewasm.perSecond, 0)} req/s, p95 ${show(results.nodewasm.p95, 2)} ms | ` +
      `plain node ${show(results.plain.perSecond, 0)} req/s, p95 ${show(results.plain.p95, 2)} ms${unavailable ? ` (${unavailable})` : ''}`,
  );
  const ours = unavailable === undefined;
  const loadText = `${settings.connections} connections, ≤ ${settings.durationSeconds} s and ≤ ${settings.maxRequests.toLocaleString('en-US')} requests a run`;
  return [
    {
      title: `wasi:http: hello handler, requests per second (${loadText})`,
      unit: 'req/s',
      ours: ours ? results.nodewasm.perSecond : undefined,
      peerName: 'plain Node http server',
      peer: results.plain.perSecond,
      goal: { text: '≥ 16,000 req/s', on: 'ours', atLeast: 16_000 },
      ...(unavailable !== undefined ? { note: `${unavailable}; the plain Node baseline is measured so the row is ready` } : {}),
    },
    {
      title: 'wasi:http: hello handler, p95 latency (ms)',
      unit: 'ms',
      ours: ours ? results.nodewasm.p95 : undefined,
      peerName: 'plain Node http server',
      peer: results.plain.p95,
    },
  ];
}
