/**
 * Everything else containerd and Kubernetes do to a running task: exec, pause and resume,
 * metrics, process lists, resource updates, limits. Through ctr against a private containerd.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { startTestContainerd, tinyElfX64 } from '../harness/containerd.js';
import { fixture, shimSocketOf, taskRow, uniqueId, waitFor } from './support.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { TASK_SERVICE, UpdateTaskRequest } from '../../proto/task.js';
import { Empty } from '../../proto/google.js';
import { cgroupOfPid } from '../../src/container/cgroup.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];

let pc: PrivateContainerd;
let rootfs: string;

beforeAll(async () => {
  rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-lifecycle-'));
  for (const name of ['hello', 'exit_code', 'cat', 'spin', 'sleep', 'echo_env', 'grow_memory', 'grow_untouched']) {
    fs.copyFileSync(fixture(name), path.join(rootfs, `${name}.wasm`));
  }
  fs.writeFileSync(path.join(rootfs, 'native_hello'), tinyElfX64('native exec\n', { exitCode: 6 }), { mode: 0o755 });
  fs.writeFileSync(path.join(rootfs, 'native_pause'), tinyElfX64('', { pause: true }), { mode: 0o755 });
  pc = await startTestContainerd();
}, 120_000);

afterAll(async () => {
  await pc?.stop();
  if (rootfs) fs.rmSync(rootfs, { recursive: true, force: true });
});

async function runDetached(id: string, args: string[], extra: string[] = []): Promise<number> {
  const r = await pc.ctr(['run', '-d', ...RUNTIME, ...extra, '--rootfs', rootfs, id, ...args]);
  expect(r.code, r.stderr).toBe(0);
  await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
  return (await taskRow(pc, id))!.pid;
}

/** Where the shim keeps an exec's files: present once its runc exec has started it. */
function execPidFile(id: string, execId: string): string {
  return path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', id, 'nodewasm', `exec-${execId}.pid`);
}

async function removeTask(id: string): Promise<void> {
  if ((await taskRow(pc, id))?.status !== 'STOPPED') {
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
  }
  expect((await pc.ctr(['task', 'rm', id])).code).toBe(0);
  expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
}

describe('exec', () => {
  it('runs a second wasm module in a wasm container with its own output and exit code', async () => {
    const id = uniqueId('exec');
    await runDetached(id, ['/spin.wasm'], ['--env', 'IN_CONTAINER=yes']);
    const hello = await pc.ctr(['task', 'exec', '--exec-id', 'hello1', id, '/hello.wasm', 'from exec']);
    expect(hello.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=from exec\n');
    expect(hello.code).toBe(0);
    const code = await pc.ctr(['task', 'exec', '--exec-id', 'code1', id, '/exit_code.wasm', '23']);
    expect(code.code).toBe(23);
    // ctr gives an exec the container's own process environment: exactly what an init would see.
    const env = await pc.ctr(['task', 'exec', '--exec-id', 'env1', id, '/echo_env.wasm']);
    const initEnv = await pc.ctr(['run', '--rm', ...RUNTIME, '--env', 'IN_CONTAINER=yes', '--rootfs', rootfs, uniqueId('env'), '/echo_env.wasm']);
    expect(env.stdout).toContain('IN_CONTAINER=yes\n');
    expect(env.stdout).toBe(initEnv.stdout);
    expect((await taskRow(pc, id))?.status).toBe('RUNNING');
    await removeTask(id);
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('gives an exec its own stdin, ended when ctr\'s input ends', async () => {
    const id = uniqueId('exec-stdin');
    await runDetached(id, ['/spin.wasm']);
    const exec = pc.ctrSpawn(['task', 'exec', '--exec-id', 'cat1', id, '/cat.wasm']);
    let stdout = '';
    exec.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => exec.once('exit', resolve));
    // ctr 1.6 loses the end of its input when it ends before the process exists (shim-protocol §5).
    await waitFor(() => fs.existsSync(execPidFile(id, 'cat1')));
    exec.stdin!.end('through exec\n');
    expect(await exited).toBe(0);
    expect(stdout).toBe('through exec\n');
    await removeTask(id);
  });

  it('signals an exec on its own, leaving the init process running', async () => {
    const id = uniqueId('exec-kill');
    await runDetached(id, ['/spin.wasm']);
    const exec = pc.ctrSpawn(['task', 'exec', '--exec-id', 'spin2', id, '/spin.wasm']);
    const exited = new Promise<number | null>((resolve) => exec.once('exit', resolve));
    await waitFor(() => fs.existsSync(execPidFile(id, 'spin2')));
    const killed = await pc.ctr(['task', 'kill', '--exec-id', 'spin2', '-s', 'SIGTERM', id]);
    expect(killed.code, killed.stderr).toBe(0);
    expect(await exited).toBe(143);
    expect((await taskRow(pc, id))?.status).toBe('RUNNING');
    await removeTask(id);
  });

  it('refuses to exec a native program in a wasm container, clearly', async () => {
    const id = uniqueId('exec-native');
    await runDetached(id, ['/spin.wasm']);
    const r = await pc.ctr(['task', 'exec', '--exec-id', 'n1', id, '/native_hello']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('exec "/native_hello": a native program cannot run in a WebAssembly container');
    await removeTask(id);
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('runs a native exec in a native container', async () => {
    const id = uniqueId('exec-in-native');
    await runDetached(id, ['/native_pause']);
    const r = await pc.ctr(['task', 'exec', '--exec-id', 'n2', id, '/native_hello']);
    expect(r.stdout).toBe('native exec\n');
    expect(r.code).toBe(6);
    await removeTask(id);
  });
});

describe('pause and resume', () => {
  it('freezes a busy guest and thaws it', async () => {
    const id = uniqueId('pause');
    await runDetached(id, ['/spin.wasm']);
    const paused = await pc.ctr(['task', 'pause', id]);
    expect(paused.code, paused.stderr).toBe(0);
    expect((await taskRow(pc, id))?.status).toBe('PAUSED');
    const resumed = await pc.ctr(['task', 'resume', id]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await taskRow(pc, id))?.status).toBe('RUNNING');
    await removeTask(id);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('log URIs', () => {
  it('appends stdout and stderr to a file:// log', async () => {
    const log = path.join(rootfs, '..', `${path.basename(rootfs)}-file.log`);
    try {
      const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--log-uri', `file://${log}`, '--rootfs', rootfs, uniqueId('filelog'), '/hello.wasm', 'logged']);
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readFileSync(log, 'utf8')).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=logged\n');
    } finally {
      fs.rmSync(log, { force: true });
    }
  });

  it('hands stdout and stderr to a binary:// logger on fds 3 and 4, with its arguments and ids', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-binlog-'));
    const logger = path.join(dir, 'logger.sh');
    fs.writeFileSync(
      logger,
      [
        '#!/bin/sh',
        '# $1 $2 = "dir" <where>: containerd passes each query parameter as two arguments.',
        'exec 5>&-',
        'cat <&3 > "$2/$CONTAINER_NAMESPACE-$CONTAINER_ID.out" &',
        'cat <&4 > "$2/$CONTAINER_NAMESPACE-$CONTAINER_ID.err" &',
        'wait',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const id = uniqueId('binlog');
    try {
      const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--log-uri', `binary://${logger}?dir=${dir}`, '--rootfs', rootfs, id, '/exit_code.wasm', '3']);
      expect(r.code).toBe(3);
      await waitFor(() => fs.existsSync(path.join(dir, `default-${id}.out`)));
      const hello = uniqueId('binlog');
      const h = await pc.ctr(['run', '--rm', ...RUNTIME, '--log-uri', `binary://${logger}?dir=${dir}`, '--rootfs', rootfs, hello, '/hello.wasm']);
      expect(h.code).toBe(0);
      await waitFor(() => fs.readFileSync(path.join(dir, `default-${hello}.out`), 'utf8').includes('argv[0]'));
      expect(fs.readFileSync(path.join(dir, `default-${hello}.out`), 'utf8')).toBe('hello from wasm\nargv[0]=/hello.wasm\n');
      expect(await findLeftovers(pc)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics, processes and resources', () => {
  it('reports cgroup metrics and the container\'s processes', async () => {
    const id = uniqueId('metrics');
    const pid = await runDetached(id, ['/spin.wasm'], ['--memory-limit', String(256 << 20)]);
    const metrics = await pc.ctr(['task', 'metrics', id]);
    expect(metrics.code, metrics.stderr).toBe(0);
    const usage = Number(/memory\.usage_in_bytes\s+(\d+)/.exec(metrics.stdout)?.[1] ?? /memory\.usage\s+(\d+)/.exec(metrics.stdout)?.[1]);
    expect(usage).toBeGreaterThan(1 << 20);
    expect(metrics.stdout).toMatch(new RegExp(`memory\\.limit_in_bytes\\s+${256 << 20}|memory\\.usage_limit\\s+${256 << 20}`));
    const ps = await pc.ctr(['task', 'ps', id]);
    expect(ps.code, ps.stderr).toBe(0);
    const pids = ps.stdout.trim().split('\n').slice(1).map((line) => Number(line.trim().split(/\s+/)[0]));
    // tini (the task's pid) and the runner under it.
    expect(pids).toContain(pid);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await removeTask(id);
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('enforces the spec\'s memory, CPU quota and shares in the container\'s cgroup', async () => {
    const id = uniqueId('limits');
    const pid = await runDetached(id, ['/spin.wasm'], ['--memory-limit', String(96 << 20), '--cpu-quota', '25000', '--cpu-period', '100000', '--cpu-shares', '512']);
    const cg = cgroupOfPid(pid);
    const read = (dir: string | undefined, file: string) => fs.readFileSync(path.join(dir!, file), 'utf8').trim();
    if (cg.version === 1) {
      expect(read(cg.dirs.memory, 'memory.limit_in_bytes')).toBe(String(96 << 20));
      expect(read(cg.dirs.cpu, 'cpu.cfs_quota_us')).toBe('25000');
      expect(read(cg.dirs.cpu, 'cpu.cfs_period_us')).toBe('100000');
      expect(read(cg.dirs.cpu, 'cpu.shares')).toBe('512');
      // The busy guest is throttled to a quarter of a CPU: the kernel counts the throttled periods.
      await waitFor(() => Number(/nr_throttled (\d+)/.exec(read(cg.dirs.cpu, 'cpu.stat'))![1]) > 0);
    } else {
      expect(read(cg.dir, 'memory.max')).toBe(String(96 << 20));
      expect(read(cg.dir, 'cpu.max')).toBe('25000 100000');
      await waitFor(() => Number(/nr_throttled (\d+)/.exec(read(cg.dir, 'cpu.stat'))![1]) > 0);
    }
    await removeTask(id);
  });

  it('applies new limits to a running container through Update', async () => {
    const id = uniqueId('update');
    const pid = await runDetached(id, ['/spin.wasm'], ['--memory-limit', String(256 << 20)]);
    // ctr 1.6 has no "task update": call the shim's Task API over its socket, as containerd does.
    const client = await TtrpcClient.connect(shimSocketOf(pc, id));
    try {
      const resources = { memory: { limit: 200 << 20 }, cpu: { quota: 50_000, period: 100_000 }, pids: { limit: 64 } };
      const typeUrl = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
      await client.callTyped(TASK_SERVICE, 'Update', UpdateTaskRequest, { id, resources: { typeUrl, value: new TextEncoder().encode(JSON.stringify(resources)) } }, Empty);
      const cg = cgroupOfPid(pid);
      if (cg.version === 1) {
        expect(fs.readFileSync(path.join(cg.dirs.memory!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(200 << 20));
        expect(fs.readFileSync(path.join(cg.dirs.cpu!, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
        expect(fs.readFileSync(path.join(cg.dirs.pids!, 'pids.max'), 'utf8').trim()).toBe('64');
      } else {
        expect(fs.readFileSync(path.join(cg.dir, 'memory.max'), 'utf8').trim()).toBe(String(200 << 20));
        expect(fs.readFileSync(path.join(cg.dir, 'cpu.max'), 'utf8').trim()).toBe('50000 100000');
      }
      // Below the Node runtime's floor: refused, naming the floor, and nothing changes.
      const tooSmall = new TextEncoder().encode(JSON.stringify({ memory: { limit: 8 << 20 } }));
      await expect(client.callTyped(TASK_SERVICE, 'Update', UpdateTaskRequest, { id, resources: { typeUrl, value: tooSmall } }, Empty)).rejects.toThrow(
        /below the 32 MiB that the Node\.js runtime/,
      );
    } finally {
      client.close();
    }
    await removeTask(id);
  });

  it('caps the guest\'s linear memory at the container\'s memory limit', async () => {
    // 1500 more pages, never touched: the cgroup would not notice, the cap does.
    const capped = await pc.ctr(['run', '--rm', ...RUNTIME, '--memory-limit', String(64 << 20), '--rootfs', rootfs, uniqueId('cap'), '/grow_untouched.wasm']);
    expect(capped.stdout).toBe('grow refused\n');
    const uncapped = await pc.ctr(['run', '--rm', ...RUNTIME, '--memory-limit', String(256 << 20), '--rootfs', rootfs, uniqueId('nocap'), '/grow_untouched.wasm']);
    expect(uncapped.stdout).toBe('grow ok\n');
  });

  it('refuses at Create a memory limit below the Node runtime\'s floor, naming it and the RuntimeClass overhead', async () => {
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--memory-limit', String(16 << 20), '--rootfs', rootfs, uniqueId('floor'), '/hello.wasm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('memory limit 16 MiB is below the 32 MiB that the Node.js runtime of a nodewasm container needs');
    expect(r.stderr).toContain('overhead.podFixed.memory');
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('ends a guest that grows past its memory limit with an OOM event and 137, harming nothing else', async () => {
    const bystander = uniqueId('bystander');
    await runDetached(bystander, ['/spin.wasm'], ['--memory-limit', String(128 << 20)]);
    const id = uniqueId('oom');
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--memory-limit', String(64 << 20), '--rootfs', rootfs, id, '/grow_memory.wasm', '200']);
    expect(r.code).toBe(137);
    await waitFor(() => fs.readFileSync(pc.eventsLogPath, 'utf8').includes(`/tasks/oom {"container_id":"${id}"}`));
    const events = fs.readFileSync(pc.eventsLogPath, 'utf8').split('\n').filter((l) => l.includes(`"${id}"`));
    const topics = events.map((l) => /\/tasks\/[a-z-]+/.exec(l)?.[0]);
    expect(topics.indexOf('/tasks/oom')).toBeLessThan(topics.indexOf('/tasks/exit'));
    expect((await taskRow(pc, bystander))?.status).toBe('RUNNING');
    await removeTask(bystander);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

