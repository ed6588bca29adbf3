/**
 * Everything else containerd and Kubernetes do to a running task: exec, pause and resume,
 * metrics, process lists, resource updates, limits. Through ctr against a private containerd.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateContainerd, findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { tinyElfX64 } from '../harness/containerd.js';
import { fixture, repoRoot, taskRow, uniqueId, waitFor } from './support.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];

let pc: PrivateContainerd;
let rootfs: string;

beforeAll(async () => {
  rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-lifecycle-'));
  for (const name of ['hello', 'exit_code', 'cat', 'spin', 'sleep', 'echo_env', 'grow_memory']) {
    fs.copyFileSync(fixture(name), path.join(rootfs, `${name}.wasm`));
  }
  fs.writeFileSync(path.join(rootfs, 'native_hello'), tinyElfX64('native exec\n', { exitCode: 6 }), { mode: 0o755 });
  fs.writeFileSync(path.join(rootfs, 'native_pause'), tinyElfX64('', { pause: true }), { mode: 0o755 });
  pc = await startPrivateContainerd({ shimDir: path.join(repoRoot, 'bin') });
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

