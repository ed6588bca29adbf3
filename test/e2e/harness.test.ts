/**
 * Proves the private-containerd harness on its own, without our shim: a native image built with
 * our OCI writer runs under containerd's runc shim, and stopping leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/cli/build-image.js';
import { findLeftovers, SHIM_SOCKET_DIR, shimSocketName, startPrivateContainerd, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { DEFAULT_GROUP } from '../../src/shim/group.js';
import { binDir, ctrOk, importImage, tinyElfX64, uniqueId, withPrivateContainerd } from '../harness/containerd.js';

const run = promisify(execFile);
const native = process.arch === 'x64' ? describe : describe.skip;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'nodewasm-harness-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeNativeImage(name: string, program: Buffer): Promise<string> {
  const image = buildImage({
    files: [{ guestPath: '/bin/hello', data: program, mode: 0o755 }],
    platform: { os: 'linux', architecture: 'amd64' },
    reference: name,
  });
  const path = join(work, `${name.replace(/[^a-z0-9]/g, '_')}.tar`);
  await writeFile(path, image.archive);
  return path;
}

native('a private containerd, driven by ctr, with runc', () => {
  it('starts, runs a native image from our OCI writer, stops by PID and leaves nothing behind', async () => {
    const pc: PrivateContainerd = await startPrivateContainerd({ shimDir: binDir });
    let stopped = false;
    try {
      expect(pc.address.length).toBeLessThan(106);
      expect(existsSync(pc.configPath)).toBe(true);
      expect(await readFile(`/proc/${pc.pid}/cmdline`, 'utf8')).toContain(pc.configPath);
      const version = await ctrOk(pc, ['version']);
      expect(version.stdout).toMatch(/Server:/);

      const tar = await writeNativeImage('harness-hello:1', tinyElfX64('hello from a tiny static ELF\n', { exitCode: 7 }));
      expect(await importImage(pc, tar)).toEqual(['docker.io/library/harness-hello:1']);

      const id = uniqueId('harness');
      const result = await pc.ctr(['run', '--rm', '--runtime', 'io.containerd.runc.v2', 'docker.io/library/harness-hello:1', id]);
      expect(result.stdout).toBe('hello from a tiny static ELF\n');
      expect(result.code).toBe(7);
      // --rm removed it; its FIFOs went to our own folder and are gone again.
      expect((await ctrOk(pc, ['containers', 'ls', '-q'])).stdout.trim()).toBe('');
      expect(await findLeftovers(pc)).toEqual([]);

      // Something still running at stop: stop() must kill and delete it so its shim exits.
      const pausing = await writeNativeImage('harness-pause:1', tinyElfX64('waiting\n', { pause: true }));
      await importImage(pc, pausing, 'other');
      const running = uniqueId('harness-running');
      await ctrOk(pc, ['run', '-d', '--runtime', 'io.containerd.runc.v2', 'docker.io/library/harness-pause:1', running], 'other');
      expect((await ctrOk(pc, ['tasks', 'ls'], 'other')).stdout).toMatch(new RegExp(`${running}\\s+\\d+\\s+RUNNING`));
      // ctr put the task's FIFOs in our folder, not in /run/containerd/fifo
      const [fifoSet] = await readdir(pc.fifoDir);
      expect((await readdir(join(pc.fifoDir, fifoSet!))).sort()).toEqual([`${running}-stderr`, `${running}-stdin`, `${running}-stdout`]);
      const before = await findLeftovers(pc, { settleMs: 0 });
      expect(before).toContainEqual(expect.stringMatching(new RegExp(`^fifo still open: .*/${running}-stdout \\(pids \\d+`)));
      expect(before.some((line) => line.startsWith('process ') && line.includes('containerd-shim-runc-v2'))).toBe(true);
      expect(before.some((line) => line.startsWith('cgroup: ') && line.includes(running))).toBe(true);

      await pc.stop();
      stopped = true;
      expect(existsSync(pc.dir)).toBe(false);
      expect(existsSync(`/proc/${pc.pid}`)).toBe(false);
      expect(await findLeftovers(pc)).toEqual([]);
    } finally {
      if (!stopped) await pc.stop();
    }
  }, 120_000);

  it('reports what a leaky shim would leave: processes naming its socket, mounts under its folders', async () => {
    const pc = await startPrivateContainerd({ shimDir: binDir });
    const leak = execFile('sh', ['-c', 'sleep 600', `${pc.dir}/leaky-shim`]);
    const mountPoint = join(pc.state, 'leaked-mount');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'tmpfs', 'nodewasm-test', mountPoint]);
    await pc.stop();
    const leftovers = await findLeftovers(pc);
    expect(leftovers).toContainEqual(`mount: ${mountPoint} (tmpfs)`);
    expect(leftovers.some((line) => line.startsWith(`process ${leak.pid}:`))).toBe(true);
    // and stop() still cleaned them up, by PID and by umount
    expect(existsSync(`/proc/${leak.pid}/cmdline`) && (await readFile(`/proc/${leak.pid}/cmdline`, 'utf8')) !== '').toBe(false);
    expect(existsSync(pc.dir)).toBe(false);
  }, 120_000);

  it("reports and removes what a killed nodewasm daemon would leave in /run/containerd/s: its group's socket, lock and promises", async () => {
    const pc = await startPrivateContainerd({ shimDir: binDir });
    const tar = await writeNativeImage('harness-group:1', tinyElfX64('seen\n', { exitCode: 0 }));
    await importImage(pc, tar);
    // A container of the namespace makes it known, as every task's events do.
    await ctrOk(pc, ['run', '--rm', '--runtime', 'io.containerd.runc.v2', 'docker.io/library/harness-group:1', uniqueId('harness-seen')]);
    const socket = join(SHIM_SOCKET_DIR, shimSocketName(pc.address, 'default', DEFAULT_GROUP));
    const files = [socket, `${socket}.lock`, `${socket}.join.promised-task`];
    for (const file of files) await writeFile(file, '');
    await pc.stop();
    const leftovers = await findLeftovers(pc);
    for (const file of files) expect(leftovers).toContainEqual(`shim socket: ${file} (default, standalone containers' daemon)`);
    for (const file of files) expect(existsSync(file)).toBe(false);
  }, 120_000);

  it('reuses a folder it made before, after a crash, and refuses a foreign one', async () => {
    const dir = join(work, 'reused');
    const first = await startPrivateContainerd({ shimDir: binDir, dir });
    // Simulate a crashed demo: nobody calls first.stop(); the next start must stop it by its recorded PID.
    const second = await startPrivateContainerd({ shimDir: binDir, dir });
    try {
      expect(second.pid).not.toBe(first.pid);
      expect(existsSync(`/proc/${first.pid}/cmdline`) && (await readFile(`/proc/${first.pid}/cmdline`, 'utf8')) !== '').toBe(false);
      await ctrOk(second, ['version']);
    } finally {
      await second.stop();
      await first.stop();
    }
    const foreign = join(work, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'precious'), 'x');
    await expect(startPrivateContainerd({ shimDir: binDir, dir: foreign })).rejects.toThrow(/not made by nodewasm/);
    expect((await stat(join(foreign, 'precious'))).isFile()).toBe(true);
  }, 120_000);
});

native('withPrivateContainerd()', () => {
  const env = withPrivateContainerd();

  it('gives each test file a running containerd with ctr bound to it', async () => {
    const tar = await writeNativeImage('harness-wrapper:latest', tinyElfX64('wrapped\n'));
    const [name] = await importImage(env.pc, tar);
    expect(name).toBe('docker.io/library/harness-wrapper:latest');
    const result = await env.pc.ctr(['run', '--rm', name!, uniqueId()]);
    expect(result).toMatchObject({ code: 0, stdout: 'wrapped\n' });
  }, 60_000);
});
