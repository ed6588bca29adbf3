/**
 * WASI 0.2 components (wasi:cli/run) through a private containerd and ctr: transpiled by the
 * shim at Create into a node-wide cache (a temp dir here, through NODEWASM_CACHE_DIR), mounted
 * read-only into the container, run by the runner with our own WASI 0.2 host.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { startTestContainerd } from '../harness/containerd.js';
import { repoRoot, taskRow, uniqueId, waitFor } from './support.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];
const IMAGE = 'docker.io/library/nodewasm-components:e2e';
const COMPONENTS = ['hello', 'echo_env', 'cat', 'exit_code', 'unreachable', 'stdout_5mb', 'spin', 'read_file', 'invalid'];

let pc: PrivateContainerd;
let scratch: string;
let cacheDir: string;

/** Builds an image holding the named component fixtures at /<name>.wasm. */
function buildComponentImage(dir: string): string {
  const out = path.join(dir, 'components.tar');
  const files = COMPONENTS.map((name) => `${path.join(repoRoot, 'fixtures', 'components', `${name}.component.wasm`)}:/${name}.wasm`);
  const notes = path.join(dir, 'notes.txt');
  fs.writeFileSync(notes, 'a file in the image\n');
  execFileSync(path.join(repoRoot, 'bin', 'nodewasm'), ['build', '-o', out, '-t', IMAGE, ...files.flatMap((f) => ['--file', f]), '--file', `${notes}:/notes.txt`], { stdio: 'pipe' });
  return out;
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-component-e2e-'));
  cacheDir = path.join(scratch, 'component-cache');
  pc = await startTestContainerd({ env: { NODEWASM_CACHE_DIR: cacheDir } });
  const imported = await pc.ctr(['images', 'import', '--platform', 'wasi/wasm', buildComponentImage(scratch)]);
  expect(imported.code, imported.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await pc?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const run = (args: string[], opts: { input?: string } = {}) =>
  pc.ctr(['run', '--rm', ...RUNTIME, '--platform', 'wasi/wasm', ...args], { ...opts, timeoutMs: 60_000 });

async function expectNothingLeft(): Promise<void> {
  expect(await findLeftovers(pc)).toEqual([]);
}

describe('ctr run of a wasi:cli/run component', () => {
  it('shows the guest\'s stdout and passes its arguments', async () => {
    const r = await run([IMAGE, uniqueId('c-hello'), '/hello.wasm', 'one', 'two words']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=one\nargv[2]=two words\n');
    expect(r.code).toBe(0);
    await expectNothingLeft();
  });

  it('transpiles a component once: a second container of it reuses the cache', async () => {
    const entries = () => fs.readdirSync(cacheDir).filter((n) => !n.startsWith('.'));
    const before = entries();
    const r = await run([IMAGE, uniqueId('c-env-1'), '/echo_env.wasm']);
    expect(r.code).toBe(0);
    const after = entries();
    expect(after.length).toBe(before.length + 1);
    const added = after.find((n) => !before.includes(n))!;
    const stamp = fs.statSync(path.join(cacheDir, added, 'component.js')).mtimeMs;
    const again = await run([IMAGE, uniqueId('c-env-2'), '/echo_env.wasm']);
    expect(again.code).toBe(0);
    expect(entries()).toEqual(after);
    expect(fs.statSync(path.join(cacheDir, added, 'component.js')).mtimeMs).toBe(stamp);
  });

  it('gives the guest exactly the container\'s environment, without the runner\'s variables', async () => {
    const r = await run(['--env', 'GREETING=hi there', '--env', 'NODEWASM_HTTP_ADDRESS=127.0.0.1:9', IMAGE, uniqueId('c-env'), '/echo_env.wasm']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['GREETING=hi there', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'].sort());
  });

  it('passes piped stdin to the guest', async () => {
    const id = uniqueId('c-cat');
    const child = pc.ctrSpawn(['run', '--rm', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/cat.wasm']);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    child.stdin!.write('first line\n');
    child.stdin!.write('second line\n');
    // End stdin only once the guest has echoed everything: the shim's CloseIO handling can drop
    // bytes still in the FIFO when the close overtakes them (a race outside the component path).
    await waitFor(() => stdout === 'first line\nsecond line\n');
    child.stdin!.end();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stdout).toBe('first line\nsecond line\n');
    expect(code).toBe(0);
  });

  it('exits with the guest\'s status: exit(ok) 0, exit(err) 1, a trap 70', async () => {
    expect((await run([IMAGE, uniqueId('c-exit0'), '/exit_code.wasm', '0'])).code).toBe(0);
    expect((await run([IMAGE, uniqueId('c-exit3'), '/exit_code.wasm', '3'])).code).toBe(1);
    const trap = await run([IMAGE, uniqueId('c-trap'), '/unreachable.wasm']);
    expect(trap.code).toBe(70);
    expect(trap.stderr).toMatch(/nodewasm: \/unreachable\.wasm: wasm trap: .*unreachable/);
    await expectNothingLeft();
  });

  it('writes 5 MiB to stdout intact', async () => {
    const r = await run([IMAGE, uniqueId('c-5mb'), '/stdout_5mb.wasm']);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(5 * 1024 * 1024);
    expect(r.stdout.slice(0, 64)).toBe('abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk\n');
  });

  it('reads the image\'s files through "/"', async () => {
    const r = await run([IMAGE, uniqueId('c-read'), '/read_file.wasm', '/notes.txt']);
    expect(r.stdout).toBe('a file in the image\n');
    expect(r.code).toBe(0);
  });

  it('refuses an invalid component at Create with a clear message, leaving nothing behind', async () => {
    const r = await run([IMAGE, uniqueId('c-invalid'), '/invalid.wasm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/entrypoint "\/invalid\.wasm" is not a valid WebAssembly component/);
    await expectNothingLeft();
  });

});

describe('a detached component', () => {
  it('mounts its transpiled code read-only, and SIGTERM ends a busy guest with 143', async () => {
    const id = uniqueId('c-spin');
    const started = await pc.ctr(['run', '-d', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/spin.wasm']);
    expect(started.code, started.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const pid = (await taskRow(pc, id))!.pid;
    const mount = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === '/.nodewasm/component');
    expect(mount, 'the component cache entry is mounted').toBeDefined();
    expect(mount![5]!.split(',')).toContain('ro');
    expect((await pc.ctr(['task', 'kill', '-s', 'SIGTERM', id])).code).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    const removed = await pc.ctr(['task', 'rm', id]);
    expect(removed.stderr).toContain('exit code 143');
    expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
    await expectNothingLeft();
  });
  it('runs components exec\'d into it, each with its own transpiled code, removed with the exec', async () => {
    const id = uniqueId('c-exec');
    const started = await pc.ctr(['run', '-d', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/spin.wasm']);
    expect(started.code, started.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const settingsDir = path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', id, 'nodewasm', 'settings');

    const hello = await pc.ctr(['task', 'exec', '--exec-id', 'hello1', id, '/hello.wasm', 'from exec']);
    expect(hello.stderr).toBe('');
    expect(hello.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=from exec\n');
    expect(hello.code).toBe(0);
    const read = await pc.ctr(['task', 'exec', '--exec-id', 'read1', id, '/read_file.wasm', '/notes.txt']);
    expect(read.stdout).toBe('a file in the image\n');
    expect((await pc.ctr(['task', 'exec', '--exec-id', 'exit1', id, '/exit_code.wasm', '3'])).code).toBe(1);
    const invalid = await pc.ctr(['task', 'exec', '--exec-id', 'bad1', id, '/invalid.wasm']);
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/entrypoint "\/invalid\.wasm" is not a valid WebAssembly component/);
    // ctr deletes each exec when it ends: its settings and its copy of the code go with it.
    await waitFor(() => fs.readdirSync(settingsDir).every((name) => !name.startsWith('exec-')));
    expect((await taskRow(pc, id))?.status).toBe('RUNNING');

    expect((await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id])).code).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    expect((await pc.ctr(['task', 'rm', id])).code).toBe(0);
    expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
    await expectNothingLeft();
  });
});
