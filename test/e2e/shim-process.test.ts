/**
 * The shim binary as containerd and operators see it: its version, its processes, its events,
 * native entrypoints, and cleanup after the daemon dies.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { fixture, isGone, repoRoot, shimSocketOf, taskRow, uniqueId, waitFor } from './support.js';
import { serverVersion, startTestContainerd, tinyElfX64 } from '../harness/containerd.js';
import { shimSocketPath } from '../../src/shim/socket-address.js';
import net from 'node:net';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { CreateTaskRequest, CreateTaskResponse, DeleteRequest, DeleteResponse, StartRequest, StartResponse, TASK_SERVICE, WaitRequest, WaitResponse } from '../../proto/task.js';

const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];
const SHIM = path.join(repoRoot, 'bin', 'containerd-shim-nodewasm-v1');

let pc: PrivateContainerd;
let rootfs: string;

/** Static native programs written byte by byte, so no compiler, image or registry is needed. */
function writeNative(dir: string, name: string, program: Buffer): void {
  fs.writeFileSync(path.join(dir, name), program, { mode: 0o755 });
}

beforeAll(async () => {
  rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-native-'));
  writeNative(rootfs, 'native_exit', tinyElfX64('native says hello\n', { exitCode: 4 }));
  writeNative(rootfs, 'native_exit9', tinyElfX64('exiting with 9\n', { exitCode: 9 }));
  writeNative(rootfs, 'pause', tinyElfX64('', { pause: true }));
  fs.writeFileSync(path.join(rootfs, 'script.sh'), '#!/native_exit\n');
  fs.chmodSync(path.join(rootfs, 'script.sh'), 0o755);
  fs.copyFileSync(fixture('spin'), path.join(rootfs, 'spin.wasm'));
  fs.copyFileSync(fixture('hello'), path.join(rootfs, 'hello.wasm'));
  // Debug level: containerd passes -debug to the shim, whose event retries then show in the log.
  pc = await startTestContainerd({ debug: true });
}, 120_000);

afterAll(async () => {
  await pc?.stop();
  if (rootfs) fs.rmSync(rootfs, { recursive: true, force: true });
});

const ctrRunRootfs = (args: string[]) => pc.ctr(['run', '--rm', ...RUNTIME, '--rootfs', rootfs, ...args], { timeoutMs: 60_000 });

/** The command lines of the live processes whose command line mentions `text`. */
function processesMentioning(text: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmdline.includes(text)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The shim daemons containerd's `start` of task `id` became (the first task of their group). */
function daemonsStartedFor(id: string): Array<{ pid: number; cmdline: string }> {
  return processesMentioning(`containerd-shim-nodewasm-v1 -namespace default -address ${pc.address}`).filter((p) => p.cmdline.endsWith(`-id ${id}`) || p.cmdline.includes(`-id ${id} `));
}

async function removeTask(id: string, signal: string): Promise<void> {
  await pc.ctr(['task', 'kill', '-s', signal, id]);
  await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
  expect((await pc.ctr(['task', 'rm', id])).code).toBe(0);
  await pc.ctr(['containers', 'rm', id]);
}

describe('the shim binary', () => {
  it('prints its version with -v', () => {
    const r = spawnSync(SHIM, ['-v'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/containerd-shim-nodewasm-v1:\n\s+Version: \S+/);
  });

  it('runs as a daemon named and flagged as containerd started it, gone after its last task', async () => {
    const id = uniqueId('ps');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const daemons = daemonsStartedFor(id);
    expect(daemons).toHaveLength(1);
    expect(daemons[0]!.cmdline).not.toMatch(/ start$| delete$/);
    await removeTask(id, 'SIGKILL');
    await waitFor(() => isGone(daemons[0]!.pid));
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('publishes create, start, exit and delete events in order, with the exit status', async () => {
    const id = uniqueId('events');
    const events = pc.ctrSpawn(['events']);
    let text = '';
    events.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const r = await ctrRunRootfs([id, '/native_exit9']);
    expect(r.code).toBe(9);
    await waitFor(() => text.includes('/tasks/delete') && text.includes(id));
    events.kill('SIGTERM');
    const topics = text
      .split('\n')
      .filter((l) => l.includes(id) && l.includes('/tasks/'))
      .map((l) => /\/tasks\/[a-z-]+/.exec(l)![0]);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(text).toMatch(new RegExp(`/tasks/exit.*"container_id":"${id}".*"exit_status":9`));
  });

  it('survives garbage, truncated and oversized frames on its socket, and logs to containerd', async () => {
    const id = uniqueId('garbage');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const socketPath = shimSocketOf(pc, id);
    const header = (length: number, streamId: number) => {
      const b = Buffer.alloc(10);
      b.writeUInt32BE(length, 0);
      b.writeUInt32BE(streamId, 4);
      b.writeUInt8(1, 8);
      return b;
    };
    const payloads = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.concat([header(100, 1), Buffer.from('short')]),
      Buffer.concat([header(5 << 20, 1), Buffer.alloc(5 << 20, 0xaa)]),
      Buffer.concat([header(4, 1), Buffer.from([0xff, 0xff, 0xff, 0xff])]),
    ];
    for (const payload of payloads) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(socketPath, () => socket.end(payload));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    // The daemon still answers containerd.
    expect((await taskRow(pc, id))?.status).toBe('RUNNING');
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    expect((await pc.ctr(['task', 'rm', id])).code).toBe(0);
    await pc.ctr(['containers', 'rm', id]);
    const log = fs.readFileSync(pc.logPath, 'utf8');
    expect(log).toMatch(new RegExp(`\\{"level":30,[^\\n]*"id":"${id}"[^\\n]*"msg":"process started"`));
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('cleans up after a daemon killed with SIGKILL: the container dies and nothing lingers', async () => {
    const id = uniqueId('crash');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const containerPid = (await taskRow(pc, id))!.pid;
    const [daemon] = daemonsStartedFor(id);
    expect(daemon).toBeDefined();
    process.kill(daemon!.pid, 'SIGKILL');
    await waitFor(async () => (await taskRow(pc, id))?.status !== 'RUNNING');
    await waitFor(() => isGone(containerPid));
    await pc.ctr(['task', 'rm', id]);
    await pc.ctr(['containers', 'rm', id]);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('one daemon per pod', () => {
  const daemonsOf = daemonsStartedFor;

  it('groups tasks by sandbox id; signals and exits stay with their own task; the daemon leaves with the last', async () => {
    const pod = uniqueId('pod');
    const first = `${pod}-a`;
    const second = `${pod}-b`;
    for (const id of [first, second]) {
      const r = await pc.ctr(['run', '-d', ...RUNTIME, '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`, '--rootfs', rootfs, id, '/spin.wasm']);
      expect(r.code, r.stderr).toBe(0);
      await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    }
    // The daemon was spawned for the first task and serves both.
    const daemons = daemonsOf(first);
    expect(daemons).toHaveLength(1);
    expect(daemonsOf(second)).toHaveLength(0);
    expect(fs.readFileSync(path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', second, 'address'), 'utf8')).toBe(
      fs.readFileSync(path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', first, 'address'), 'utf8'),
    );

    await pc.ctr(['task', 'kill', '-s', 'SIGTERM', first]);
    await waitFor(async () => (await taskRow(pc, first))?.status === 'STOPPED');
    expect((await taskRow(pc, second))?.status).toBe('RUNNING');
    const removed = await pc.ctr(['task', 'rm', first]);
    expect(removed.stderr).toContain('exit code 143');
    await pc.ctr(['containers', 'rm', first]);
    // Still serving the other task.
    expect(() => process.kill(daemons[0]!.pid, 0)).not.toThrow();
    expect((await taskRow(pc, second))?.status).toBe('RUNNING');

    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', second]);
    await waitFor(async () => (await taskRow(pc, second))?.status === 'STOPPED');
    expect((await pc.ctr(['task', 'rm', second])).stderr).toContain('exit code 137');
    await pc.ctr(['containers', 'rm', second]);
    await waitFor(() => isGone(daemons[0]!.pid));
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('standalone containers of a namespace', () => {
  it('share one daemon, which keeps serving and logging after the task it was started for is gone', async () => {
    const [first, second, third] = ['a', 'b', 'c'].map((x) => uniqueId(`solo-${x}`)) as [string, string, string];
    for (const id of [first, second]) {
      const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
      expect(r.code, r.stderr).toBe(0);
      await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    }
    const [daemon] = daemonsStartedFor(first);
    expect(daemon).toBeDefined();
    expect(daemonsStartedFor(second)).toHaveLength(0);
    expect(shimSocketOf(pc, second)).toBe(shimSocketOf(pc, first));

    await removeTask(first, 'SIGTERM');
    expect(() => process.kill(daemon!.pid, 0)).not.toThrow();
    expect((await taskRow(pc, second))?.status).toBe('RUNNING');
    // A container started now joins the same daemon, whose log lines still reach containerd
    // although the bundle it was started in (and its log FIFO) is gone.
    const run = await ctrRunRootfs([third, '/hello.wasm', 'joined']);
    expect(run.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=joined\n');
    expect(daemonsStartedFor(third)).toHaveLength(0);
    const log = fs.readFileSync(pc.logPath, 'utf8');
    expect(log).toMatch(new RegExp(`"pid":${daemon!.pid},[^\\n]*"id":"${third}"[^\\n]*"msg":"process started"`));

    await removeTask(second, 'SIGKILL');
    await waitFor(() => isGone(daemon!.pid));
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('gives a container naming a group of its own in io.containerd.nodewasm.v1.group a daemon of its own', async () => {
    const shared = uniqueId('solo-shared');
    const own = uniqueId('solo-own');
    let r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, shared, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    r = await pc.ctr(['run', '-d', ...RUNTIME, '--annotation', `io.containerd.nodewasm.v1.group=${own}`, '--rootfs', rootfs, own, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, own))?.status === 'RUNNING');
    expect(shimSocketOf(pc, own)).not.toBe(shimSocketOf(pc, shared));
    expect(daemonsStartedFor(own)).toHaveLength(1);
    await removeTask(own, 'SIGKILL');
    await removeTask(shared, 'SIGKILL');
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('keeps its daemon, when its last task goes, for a task a start has promised it, until that task has come and gone', async () => {
    const first = uniqueId('solo-first');
    const promised = uniqueId('solo-promised');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, first, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, first))?.status === 'RUNNING');
    const [daemon] = daemonsStartedFor(first);
    // What a `start` that joined leaves under the socket's lock, before containerd's Create.
    const marker = `${shimSocketOf(pc, first)}.join.${promised}`;
    fs.writeFileSync(marker, '');
    try {
      await removeTask(first, 'SIGKILL');
      // Its last task is gone (containerd sent Shutdown), yet it stays for the promised one.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(isGone(daemon!.pid)).toBe(false);
      const run = await ctrRunRootfs([promised, '/hello.wasm', 'kept']);
      expect(run.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=kept\n');
      expect(fs.readFileSync(pc.logPath, 'utf8')).toMatch(new RegExp(`"pid":${daemon!.pid},[^\\n]*"id":"${promised}"[^\\n]*"msg":"process started"`));
      expect(fs.existsSync(marker)).toBe(false);
    } finally {
      // Whatever failed above, the daemon must not wait a minute for this test's promise.
      fs.rmSync(marker, { force: true });
    }
    await waitFor(() => isGone(daemon!.pid));
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('start and end back to back in two loops, their daemon coming and going: no run fails, nothing stays', async () => {
    // Each run's start may find the daemon that the other loop's last run is just shutting down
    // (measured: about one daemon per two runs): the start either joins it before it decides to
    // exit, and the daemon stays for the task, or finds its socket gone and starts a new one.
    const loop = async (name: string) => {
      for (let i = 0; i < 8; i++) {
        const r = await ctrRunRootfs([uniqueId(`${name}${i}`), '/hello.wasm', name]);
        expect(r.stdout, r.stderr).toBe(`hello from wasm\nargv[0]=/hello.wasm\nargv[1]=${name}\n`);
        expect(r.code).toBe(0);
      }
    };
    await Promise.all([loop('x'), loop('y')]);
    await waitFor(() => processesMentioning(`-address ${pc.address} -publish-binary`).length === 0);
    expect(await findLeftovers(pc)).toEqual([]);
  }, 180_000);
});

describe('containerd 2.x: a pod\'s container created without `start`', () => {
  it('is created, run and deleted by the pod\'s daemon from a bundle it never saw', async () => {
    // containerd 2.x connects app containers straight to the sandbox's daemon: no `start`, and a
    // bundle of their own. Here the test plays containerd's part over the daemon's socket.
    const pod = uniqueId('pod2x');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`, '--rootfs', rootfs, pod, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, pod))?.status === 'RUNNING');
    const id = `${pod}-app`;
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-2x-bundle-'));
    const out = path.join(bundle, 'out.log');
    const sandboxSpec = JSON.parse(fs.readFileSync(path.join(pc.state, 'io.containerd.runtime.v2.task', 'default', pod, 'config.json'), 'utf8'));
    const spec = { ...sandboxSpec, process: { ...sandboxSpec.process, args: ['/hello.wasm', 'from 2.x'] }, linux: { ...sandboxSpec.linux, cgroupsPath: `/default/${id}` } };
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const client = await TtrpcClient.connect(shimSocketPath(pc.address, 'default', pod));
    try {
      await client.callTyped(TASK_SERVICE, 'Create', CreateTaskRequest, { id, bundle, stdout: `file://${out}`, stderr: `file://${out}` }, CreateTaskResponse);
      const waited = client.callTyped(TASK_SERVICE, 'Wait', WaitRequest, { id }, WaitResponse);
      await client.callTyped(TASK_SERVICE, 'Start', StartRequest, { id }, StartResponse);
      expect((await waited).exitStatus).toBe(0);
      const deleted = await client.callTyped(TASK_SERVICE, 'Delete', DeleteRequest, { id }, DeleteResponse);
      expect(deleted.exitStatus).toBe(0);
    } finally {
      client.close();
    }
    expect(fs.readFileSync(out, 'utf8')).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=from 2.x\n');
    expect(fs.existsSync(path.join(bundle, 'nodewasm'))).toBe(false);
    fs.rmSync(bundle, { recursive: true, force: true });
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', pod]);
    await waitFor(async () => (await taskRow(pc, pod))?.status === 'STOPPED');
    await pc.ctr(['task', 'rm', pod]);
    await pc.ctr(['containers', 'rm', pod]);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('a pod whose daemon was killed', () => {
  it('gets a new daemon for its next container instead of the dead one\'s socket', async () => {
    const pod = uniqueId('phoenix');
    const first = `${pod}-a`;
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`, '--rootfs', rootfs, first, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, first))?.status === 'RUNNING');
    const daemon = processesMentioning(`-address ${pc.address}`).find((p) => p.cmdline.startsWith('containerd-shim-nodewasm-v1') && p.cmdline.includes(`-id ${first}`));
    expect(daemon).toBeDefined();
    process.kill(daemon!.pid, 'SIGKILL');
    await waitFor(async () => (await taskRow(pc, first))?.status !== 'RUNNING');
    // Dead, not dying: until the kernel has closed its listening socket, a start would still
    // find it listening (see README, "Shim daemons").
    await waitFor(() => isGone(daemon!.pid));
    // The socket file may still be there; nobody listens on it.
    const again = await pc.ctr(['run', '--rm', ...RUNTIME, '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`, '--rootfs', rootfs, `${pod}-b`, '/native_exit']);
    expect(again.stdout, `code ${again.code}: ${again.stderr}`).toBe('native says hello\n');
    expect(again.code).toBe(4);
    await pc.ctr(['task', 'rm', first]);
    await pc.ctr(['containers', 'rm', first]);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('containerd restarts', () => {
  it('keeps tasks running and controllable, and loses no exit event', async () => {
    const id = uniqueId('restart');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const pid = (await taskRow(pc, id))!.pid;
    await pc.restart();
    expect(await taskRow(pc, id)).toMatchObject({ status: 'RUNNING', pid });
    // The exit is published over a new events connection.
    const killed = await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    expect(killed.code, killed.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    await waitFor(() => fs.readFileSync(pc.eventsLogPath, 'utf8').includes(`"container_id":"${id}","id":"${id}"`));
    const removed = await pc.ctr(['task', 'rm', id]);
    expect(removed.stderr).toContain('exit code 137');
    await pc.ctr(['containers', 'rm', id]);
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('after an exit while containerd was down: 1.6 gets the exit once it is back; 1.7 and later drop the task, as they do runc\'s', async () => {
    const id = uniqueId('down');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const pid = (await taskRow(pc, id))!.pid;
    await pc.restart(async () => {
      process.kill(pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    });
    if ((await serverVersion(pc)) >= 107) {
      // containerd 1.7 and 2.x reload a shim whose task has no processes as "leaked" and delete
      // that task (measured: containerd-shim-runc-v2 gets the same); the shim is cleaned up.
      await waitFor(async () => (await taskRow(pc, id)) === undefined);
      expect(fs.readFileSync(pc.logPath, 'utf8')).toMatch(new RegExp(`cleaning leaked shim process"? id=${id}`));
      await pc.ctr(['containers', 'rm', id]);
      expect(await findLeftovers(pc)).toEqual([]);
      return;
    }
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    const exitForwarded = () =>
      fs.readFileSync(pc.logPath, 'utf8').split('\n').some((line) => line.includes('"topic":"/tasks/exit"') && line.includes('event forwarded'));
    await waitFor(exitForwarded);
    const log = fs.readFileSync(pc.logPath, 'utf8');
    expect(log).toMatch(/"topic":"\/tasks\/exit"[^\n]*forwarding an event failed; retrying/);
    expect((await pc.ctr(['task', 'rm', id])).stderr).toContain('exit code 137');
    await pc.ctr(['containers', 'rm', id]);
    expect(await findLeftovers(pc)).toEqual([]);
  });

  it('reports a runner killed from outside as the signal it died of', async () => {
    const id = uniqueId('outside');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/spin.wasm']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    const tini = (await taskRow(pc, id))!.pid;
    const runner = processesMentioning('/.nodewasm/runner.mjs').find((p) => fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(' ')[3] === String(tini));
    expect(runner).toBeDefined();
    process.kill(runner!.pid, 'SIGKILL');
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    expect((await pc.ctr(['task', 'rm', id])).stderr).toContain('exit code 137');
    await pc.ctr(['containers', 'rm', id]);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});

describe('native entrypoints', () => {
  it('runs an ELF entrypoint as an ordinary runc container with its exit code', async () => {
    const r = await ctrRunRootfs([uniqueId('elf'), '/native_exit']);
    expect(r.stdout).toBe('native says hello\n');
    expect(r.code).toBe(4);
  });

  it('runs a #! script entrypoint through its interpreter', async () => {
    const r = await ctrRunRootfs([uniqueId('script'), '/script.sh']);
    expect(r.stdout).toBe('native says hello\n');
    expect(r.code).toBe(4);
  });

  it('stops a native pause-like process with SIGKILL', async () => {
    const id = uniqueId('pause');
    const r = await pc.ctr(['run', '-d', ...RUNTIME, '--rootfs', rootfs, id, '/pause']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'RUNNING');
    await pc.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskRow(pc, id))?.status === 'STOPPED');
    const removed = await pc.ctr(['task', 'rm', id]);
    expect(removed.code).toBe(0);
    expect(removed.stderr).toContain('exit code 137');
    expect((await pc.ctr(['containers', 'rm', id])).code).toBe(0);
    expect(await findLeftovers(pc)).toEqual([]);
  });
});
