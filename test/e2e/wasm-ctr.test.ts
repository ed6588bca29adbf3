/**
 * The foundation, end to end: WASI preview1 guests run as containers through a private
 * containerd 1.6 and ctr, the way a user runs them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { startTestContainerd } from '../harness/containerd.js';
import { buildFixtureImage, fixture, taskRow, uniqueId, waitFor } from './support.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];
const IMAGE = 'docker.io/library/nodewasm-fixtures:e2e';
/** The same guests in an image whose config says they run as uid 1000. */
const USER_IMAGE = 'docker.io/library/nodewasm-fixtures:user1000';

let pc: PrivateContainerd;
let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-e2e-'));
  pc = await startTestContainerd();
  const notes = path.join(scratch, 'notes.txt');
  fs.writeFileSync(notes, 'just some text\n');
  const tar = buildFixtureImage(
    scratch,
    IMAGE,
    ['hello', 'exit_code', 'echo_env', 'cat', 'read_file', 'write_file', 'spin', 'unreachable', 'truncated', 'ls', 'nbody'],
    ['--file', `${notes}:/notes.txt`],
  );
  const imported = await pc.ctr(['images', 'import', '--platform', 'wasi/wasm', tar]);
  expect(imported.code, imported.stderr).toBe(0);
  const userTar = buildFixtureImage(scratch, USER_IMAGE, ['write_file'], ['--user', '1000:1000']);
  const importedUser = await pc.ctr(['images', 'import', '--platform', 'wasi/wasm', userTar]);
  expect(importedUser.code, importedUser.stderr).toBe(0);
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

describe('ctr run of a WASI preview1 module', () => {
  it('shows the guest\'s stdout and passes its arguments', async () => {
    const r = await run([IMAGE, uniqueId('hello'), '/hello.wasm', 'one', 'two words']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=one\nargv[2]=two words\n');
    expect(r.code).toBe(0);
  });

  it('exits with the guest\'s exit code', async () => {
    for (const code of [3, 42, 255]) {
      const r = await run([IMAGE, uniqueId('exit'), '/exit_code.wasm', String(code)]);
      expect(r.code).toBe(code);
    }
  });

  it('gives the guest exactly the container\'s environment', async () => {
    const r = await run(['--env', 'GREETING=hi there', IMAGE, uniqueId('env'), '/echo_env.wasm']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').sort();
    expect(lines).toEqual(['GREETING=hi there', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'].sort());
  });

  it('hands NODEWASM_WASM_COMPILE=optimized to the runner\'s settings, and the guest does not see it', async () => {
    const id = uniqueId('optimized');
    const detached = await pc.ctr(['run', '-d', ...RUNTIME, '--platform', 'wasi/wasm', '--env', 'NODEWASM_WASM_COMPILE=optimized', IMAGE, id, '/spin.wasm']);
    expect(detached.code, detached.stderr).toBe(0);
    try {
      await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
      const settings = JSON.parse(fs.readFileSync(path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', id, 'nodewasm', 'settings', 'init.json'), 'utf8'));
      expect(settings.compile).toBe('optimized');
      expect(settings.env).not.toContainEqual(expect.stringMatching(/^NODEWASM_WASM_COMPILE=/));
    } finally {
      await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
      await pc.ctr(['task', 'rm', id]);
      await pc.ctr(['containers', 'rm', id]);
    }
    const r = await run(['--env', 'NODEWASM_WASM_COMPILE=optimized', '--env', 'GREETING=hi', IMAGE, uniqueId('optimized-env'), '/echo_env.wasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['GREETING=hi', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    await expectNothingLeft();
  });

  it('runs a looping program alike under each NODEWASM_WASM_COMPILE, the default included', async () => {
    const outputs = new Map<string, string>();
    for (const env of [[], ['--env', 'NODEWASM_WASM_COMPILE=auto'], ['--env', 'NODEWASM_WASM_COMPILE=baseline'], ['--env', 'NODEWASM_WASM_COMPILE=optimized']]) {
      const r = await run([...env, IMAGE, uniqueId('nbody'), '/nbody.wasm', '1000']);
      expect(r.code, r.stderr).toBe(0);
      outputs.set(env.join(' ') || 'default', r.stdout);
    }
    expect(new Set(outputs.values()).size, JSON.stringify([...outputs])).toBe(1);
    expect(outputs.get('default')).toMatch(/^-?\d+\.\d+ -?\d+\.\d+\n$/);
    await expectNothingLeft();
  });

  it('refuses an unknown NODEWASM_WASM_COMPILE at create, naming the choices, and leaves nothing behind', async () => {
    const r = await run(['--env', 'NODEWASM_WASM_COMPILE=fastest', IMAGE, uniqueId('badcompile'), '/hello.wasm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('NODEWASM_WASM_COMPILE="fastest": expected auto, baseline, optimized');
    await expectNothingLeft();
  });

  it('passes piped stdin to the guest and ends it when ctr\'s input ends', async () => {
    const id = uniqueId('cat');
    const child = pc.ctrSpawn(['run', '--rm', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/cat.wasm']);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    // ctr 1.6 loses the end of its input when it ends before the task exists (shim-protocol §5).
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    child.stdin!.write('first line\n');
    child.stdin!.end('second line\n');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stdout).toBe('first line\nsecond line\n');
    expect(code).toBe(0);
  });

  it('reports a trap on stderr with exit code 70', async () => {
    const r = await run([IMAGE, uniqueId('trap'), '/unreachable.wasm']);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/nodewasm: .*unreachable\.wasm: wasm trap: unreachable/);
    await expectNothingLeft();
  });

  it('reports a truncated module with exit code 126 and a clear message', async () => {
    const r = await run([IMAGE, uniqueId('trunc'), '/truncated.wasm']);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/nodewasm: .*truncated\.wasm/);
    await expectNothingLeft();
  });

  it('refuses an entrypoint that is not wasm, naming it, and leaves nothing behind', async () => {
    const r = await run([IMAGE, uniqueId('notwasm'), '/notes.txt']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/entrypoint "\/notes\.txt" is neither a WebAssembly module or component nor a native program/);
    await expectNothingLeft();
  });

  it('refuses a missing entrypoint, naming it, and leaves nothing behind', async () => {
    const r = await run([IMAGE, uniqueId('missing'), '/nowhere.wasm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\/nowhere\.wasm: no such file or directory/);
    await expectNothingLeft();
  });
});

describe('snapshotters', () => {
  it('mounts a native-snapshotter rootfs (a bind mount) as well as overlay', async () => {
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--snapshotter', 'native', '--platform', 'wasi/wasm', IMAGE, uniqueId('native-snap'), '/hello.wasm'], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('hello from wasm');
    expect(r.code).toBe(0);
    await expectNothingLeft();
  });
});

describe('the guest\'s user', () => {
  it('runs as the image\'s user: uid 1000 may not write into a root-owned /, root may', async () => {
    const denied = await run([USER_IMAGE, uniqueId('uid'), '/write_file.wasm', '/denied.txt', 'x']);
    expect(denied.stderr).toMatch(/\/denied\.txt: Permission denied/);
    expect(denied.code).toBe(1);
    const allowed = await run([IMAGE, uniqueId('root'), '/write_file.wasm', '/allowed.txt', 'x']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
  });
});

describe('detached tasks', () => {
  async function startDetached(id: string): Promise<void> {
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
  }

  async function stopsWith(id: string, signal: string, status: number): Promise<void> {
    await startDetached(id);
    const row = await taskRow(pc, id);
    expect(row?.pid).toBeGreaterThan(0);
    const killed = await pc.ctr(['task', 'kill', '-s', signal, id]);
    expect(killed.code, killed.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    const info = await pc.ctr(['task', 'ls']);
    expect(info.stdout).toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`));
    const removed = await pc.ctr(['task', 'rm', id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`exit code ${status}`);
    expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
    await expectNothingLeft();
  }

  it('SIGTERM ends a busy guest with 143', () => stopsWith(uniqueId('term'), 'SIGTERM', 143));
  it('SIGKILL ends a busy guest with 137', () => stopsWith(uniqueId('kill'), 'SIGKILL', 137));

  it('refuses to remove a running task', async () => {
    const id = uniqueId('busy');
    await startDetached(id);
    const removed = await pc.ctr(['task', 'rm', id]);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toMatch(/precondition|running/);
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    expect((await pc.ctr(['task', 'rm', id])).code).toBe(0);
    expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
  });
});

describe('ctr run --rootfs DIR and isolation', () => {
  let rootfs: string;
  let hostSecret: string;

  beforeAll(() => {
    rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-rootfs-'));
    for (const name of ['hello', 'read_file', 'write_file', 'ls']) fs.copyFileSync(fixture(name), path.join(rootfs, `${name}.wasm`));
    fs.writeFileSync(path.join(rootfs, 'inside.txt'), 'inside the guest root\n');
    fs.symlinkSync('/', path.join(rootfs, 'esc'));
    fs.symlinkSync('../../../../../../../..', path.join(rootfs, 'up'));
    hostSecret = path.join(path.dirname(rootfs), `nodewasm-host-secret-${process.pid}`);
    fs.writeFileSync(hostSecret, 'host only\n');
  });

  afterAll(() => {
    fs.rmSync(rootfs, { recursive: true, force: true });
    fs.rmSync(hostSecret, { force: true });
  });

  const runIn = (args: string[]) => pc.ctr(['run', '--rm', ...RUNTIME, '--rootfs', rootfs, ...args], { timeoutMs: 60_000 });

  it('runs a module from a plain directory and leaves the directory as it was', async () => {
    const before = fs.readdirSync(rootfs).sort();
    const r = await runIn([uniqueId('rootfs'), '/hello.wasm']);
    expect(r.stdout).toContain('hello from wasm');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(rootfs).sort()).toEqual(before);
    await expectNothingLeft();
  });

  it('resolves an absolute symlink inside the guest root, never on the host', async () => {
    const inside = await runIn([uniqueId('esc-in'), '/read_file.wasm', '/esc/inside.txt']);
    expect(inside.stdout).toBe('inside the guest root\n');
    for (const target of [`/esc${hostSecret}`, `/up${hostSecret}`, '/esc/proc/self/cmdline', '/esc/.nodewasm/runner.mjs', '/esc/etc/hostname']) {
      const r = await runIn([uniqueId('esc'), '/read_file.wasm', target]);
      expect(r.stdout, target).toBe('');
      expect(r.stderr, target).toMatch(/No such file or directory/);
      expect(r.code, target).toBe(1);
    }
  });

  it('shows the guest only its own root: no /proc, /dev, /sys or runner files', async () => {
    const r = await runIn([uniqueId('ls'), '/ls.wasm', '/']);
    expect(r.code).toBe(0);
    const names = r.stdout
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('total ') && line !== './' && line !== '../')
      .map((line) => line.replace(/[/@]$/, ''))
      .sort();
    expect(names).toEqual(fs.readdirSync(rootfs).sort());
  });

  it('writes as the spec\'s user only where that user may', async () => {
    const r = await runIn([uniqueId('write'), '/write_file.wasm', '/written.txt', 'by root']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(rootfs, 'written.txt'), 'utf8')).toBe('by root');
    fs.rmSync(path.join(rootfs, 'written.txt'));
  });
});

describe('what the container is made of', () => {
  it('mounts the runner read-only, /proc read-only, and never the host\'s / or /etc', async () => {
    const id = uniqueId('mounts');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const pid = (await taskRow(pc, id))!.pid;
    const mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((line) => {
      const fields = line.split(' ');
      return { root: fields[3]!, mountPoint: fields[4]!, options: fields[5]!.split(',') };
    });
    const runnerMounts = mounts.filter((m) => m.mountPoint.startsWith('/.nodewasm/'));
    expect(runnerMounts.length).toBeGreaterThanOrEqual(5);
    for (const m of runnerMounts) expect(m.options, m.mountPoint).toContain('ro');
    expect(mounts.find((m) => m.mountPoint === '/proc')?.options).toContain('ro');
    for (const m of mounts) {
      if (m.mountPoint.startsWith('/.nodewasm/')) continue;
      expect(m.root === '/etc' && m.mountPoint !== '/guest/etc', `host /etc mounted at ${m.mountPoint}`).toBe(false);
    }
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline[0]).toBe('/.nodewasm/tini');
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    await pc.ctr(['task', 'rm', id]);
    await pc.ctr(['containers', 'rm', id]);
    await expectNothingLeft();
  });
});
