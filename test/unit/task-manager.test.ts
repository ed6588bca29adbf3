import { describe, expect, it } from 'vitest';
import { TaskManager } from '../../src/shim/task-manager.js';
import { TaskError } from '../../src/shim/errors.js';
import { silentLogger } from '../../src/shim/log.js';
import type { ExecRequest, ProcessRuntime, RuntimeFactory, RuntimeHooks, TaskCreateRequest, TaskEvent, TaskRuntime } from '../../src/shim/runtime.js';
import type { ExitRecord } from '../../src/shim/process-state.js';

/** A process that runs until the test ends it, recording what the manager asked of it. */
class FakeProcess implements ProcessRuntime {
  signals: Array<[number, boolean]> = [];
  destroyed = 0;
  stdinClosed = false;
  private finish!: (exit: ExitRecord) => void;
  startError: Error | undefined;

  constructor(readonly pid = 4242) {}

  async start() {
    if (this.startError) throw this.startError;
    const exited = new Promise<ExitRecord>((resolve) => (this.finish = resolve));
    return { pid: this.pid, exited };
  }
  async kill(signal: number, all: boolean) {
    this.signals.push([signal, all]);
  }
  closeStdin() {
    this.stdinClosed = true;
  }
  async destroy() {
    this.destroyed++;
  }
  exit(status: number) {
    this.finish({ status, at: new Date(1_700_000_000_000) });
  }
}

/** A container: its init is a FakeProcess; execs and freezes are recorded. */
class FakeRuntime extends FakeProcess implements TaskRuntime {
  execs = new Map<string, FakeProcess>();
  execRequests: ExecRequest[] = [];
  frozen = false;
  execError: Error | undefined;

  async exec(execId: string, request: ExecRequest) {
    if (this.execError) throw this.execError;
    this.execRequests.push(request);
    const exec = new FakeProcess(5000 + this.execs.size);
    this.execs.set(execId, exec);
    return exec;
  }
  async pause() {
    this.frozen = true;
  }
  stats() {
    return { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: Uint8Array.of(1, 2, 3) };
  }
  pids() {
    return [this.pid, 7];
  }
  updates: unknown[] = [];
  async update(resources: unknown) {
    this.updates.push(resources);
  }
  async resume() {
    this.frozen = false;
  }
}

function setup() {
  const runtimes: FakeRuntime[] = [];
  const hooks: RuntimeHooks[] = [];
  const factory: RuntimeFactory = {
    create: async (_request, runtimeHooks) => {
      const r = new FakeRuntime();
      runtimes.push(r);
      hooks.push(runtimeHooks);
      return r;
    },
  };
  const events: TaskEvent[] = [];
  const manager = new TaskManager(factory, { publish: (e) => events.push(e) }, silentLogger());
  return { manager, runtimes, events, hooks };
}

const request = (id: string): TaskCreateRequest => ({
  id,
  namespace: 'default',
  bundle: `/run/b/${id}`,
  rootfs: [],
  stdin: '',
  stdout: '/fifo/out',
  stderr: '/fifo/err',
  terminal: false,
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('TaskManager', () => {
  it('runs the whole life of a task and publishes create, start, exit, delete in order', async () => {
    const { manager, runtimes, events } = setup();
    await manager.create(request('t1'));
    expect(manager.state('t1', '').status).toBe(1);
    const waited = manager.wait('t1', '');
    expect((await manager.start('t1', '')).pid).toBe(4242);
    expect(manager.state('t1', '')).toMatchObject({ status: 2, pid: 4242 });
    runtimes[0]!.exit(3);
    expect(await waited).toMatchObject({ status: 3 });
    expect(manager.state('t1', '')).toMatchObject({ status: 3, exitStatus: 3 });
    const deleted = await manager.delete('t1', '');
    expect(deleted).toMatchObject({ pid: 4242, exitStatus: 3 });
    expect(runtimes[0]!.destroyed).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['create', 'start', 'exit', 'delete']);
    expect(events[2]).toMatchObject({ containerId: 't1', id: 't1', pid: 4242, exitStatus: 3 });
    expect(manager.taskCount).toBe(0);
    expect(() => manager.state('t1', '')).toThrow(TaskError);
  });

  it('refuses a second task with the same id', async () => {
    const { manager } = setup();
    await manager.create(request('dup'));
    await expect(manager.create(request('dup'))).rejects.toMatchObject({ kind: 'already-exists' });
  });

  it('refuses to delete a running process and to start one twice', async () => {
    const { manager } = setup();
    await manager.create(request('r'));
    await manager.start('r', '');
    await expect(manager.delete('r', '')).rejects.toMatchObject({ kind: 'precondition' });
    await expect(manager.start('r', '')).rejects.toMatchObject({ kind: 'precondition' });
  });

  it('delivers signals while running and answers NotFound once the process has exited', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('k'));
    await manager.start('k', '');
    await manager.kill('k', '', 15, false);
    await manager.kill('k', '', 9, true);
    expect(runtimes[0]!.signals).toEqual([[15, false], [9, true]]);
    runtimes[0]!.exit(143);
    await settle();
    await expect(manager.kill('k', '', 9, true)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('ends a never-started process on kill with 128+signal and answers pending waits', async () => {
    const { manager, events, runtimes } = setup();
    await manager.create(request('c'));
    const waited = manager.wait('c', '');
    await manager.kill('c', '', 9, false);
    expect((await waited).status).toBe(137);
    expect(runtimes[0]!.signals).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'exit', exitStatus: 137 });
  });

  it('answers a pending Wait when a never-started task is deleted', async () => {
    const { manager } = setup();
    await manager.create(request('n'));
    const waited = manager.wait('n', '');
    await manager.delete('n', '');
    expect((await waited).status).toBe(255);
  });

  it('keeps a task created when Start fails, so it can still be deleted', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('f'));
    runtimes[0]!.startError = new Error('runc failed');
    await expect(manager.start('f', '')).rejects.toThrow('runc failed');
    expect(manager.state('f', '').status).toBe(1);
    await manager.delete('f', '');
    expect(runtimes[0]!.destroyed).toBe(1);
  });

  it('records an exit once and keeps exits of one task away from another', async () => {
    const { manager, runtimes, events } = setup();
    await manager.create(request('a'));
    await manager.create(request('b'));
    await manager.start('a', '');
    await manager.start('b', '');
    runtimes[1]!.exit(7);
    await settle();
    expect(manager.state('a', '').status).toBe(2);
    expect(manager.state('b', '')).toMatchObject({ status: 3, exitStatus: 7 });
    expect(events.filter((e) => e.type === 'exit')).toEqual([expect.objectContaining({ containerId: 'b', exitStatus: 7 })]);
  });

  it('reports unknown tasks and exec ids as not found', async () => {
    const { manager } = setup();
    expect(() => manager.state('nope', '')).toThrow(expect.objectContaining({ kind: 'not-found' }));
    await manager.create(request('x'));
    expect(() => manager.state('x', 'e1')).toThrow(expect.objectContaining({ kind: 'not-found' }));
  });

  it('passes CloseIO to the runtime', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('io'));
    manager.closeStdin('io', '');
    expect(runtimes[0]!.stdinClosed).toBe(true);
  });

  it('runs an exec beside the init process, with its own events, state, exit and delete', async () => {
    const { manager, runtimes, events } = setup();
    await manager.create(request('t'));
    await manager.start('t', '');
    const execRequest: ExecRequest = { processJson: new TextEncoder().encode('{"args":["/x.wasm"]}'), stdin: '', stdout: '/e/out', stderr: '/e/err', terminal: false };
    await manager.exec('t', 'e1', execRequest);
    await expect(manager.exec('t', 'e1', execRequest)).rejects.toMatchObject({ kind: 'already-exists' });
    expect(manager.state('t', 'e1')).toMatchObject({ status: 1, execId: 'e1', stdout: '/e/out' });
    const waited = manager.wait('t', 'e1');
    expect((await manager.start('t', 'e1')).pid).toBe(5000);
    await manager.kill('t', 'e1', 15, false);
    const exec = runtimes[0]!.execs.get('e1')!;
    expect(exec.signals).toEqual([[15, false]]);
    expect(runtimes[0]!.signals).toEqual([]);
    exec.exit(143);
    expect((await waited).status).toBe(143);
    expect(manager.state('t', '').status).toBe(2);
    expect(await manager.delete('t', 'e1')).toMatchObject({ pid: 5000, exitStatus: 143 });
    expect(exec.destroyed).toBe(1);
    expect(() => manager.state('t', 'e1')).toThrow(expect.objectContaining({ kind: 'not-found' }));
    expect(events.map((e) => e.type)).toEqual(['create', 'start', 'exec-added', 'exec-started', 'exit']);
    expect(events[4]).toMatchObject({ containerId: 't', id: 'e1', pid: 5000, exitStatus: 143 });
  });

  it('refuses an exec in a task that is not running', async () => {
    const { manager } = setup();
    await manager.create(request('c'));
    const execRequest: ExecRequest = { processJson: new Uint8Array(), stdin: '', stdout: '', stderr: '', terminal: false };
    await expect(manager.exec('c', 'e', execRequest)).rejects.toMatchObject({ kind: 'precondition' });
  });

  it('forgets an exec whose creation failed, so its id can be used again', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('f'));
    await manager.start('f', '');
    const execRequest: ExecRequest = { processJson: new Uint8Array(), stdin: '', stdout: '', stderr: '', terminal: false };
    runtimes[0]!.execError = new Error('bad exec');
    await expect(manager.exec('f', 'e', execRequest)).rejects.toThrow('bad exec');
    runtimes[0]!.execError = undefined;
    await manager.exec('f', 'e', execRequest);
  });

  it('pauses and resumes a running task, with events, and refuses to delete it while paused', async () => {
    const { manager, runtimes, events } = setup();
    await manager.create(request('p'));
    await expect(manager.pause('p')).rejects.toMatchObject({ kind: 'precondition' });
    await manager.start('p', '');
    await manager.pause('p');
    expect(runtimes[0]!.frozen).toBe(true);
    expect(manager.state('p', '').status).toBe(4);
    await expect(manager.delete('p', '')).rejects.toMatchObject({ kind: 'precondition' });
    await expect(manager.pause('p')).rejects.toMatchObject({ kind: 'precondition' });
    await manager.resume('p');
    expect(manager.state('p', '').status).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['create', 'start', 'paused', 'resumed']);
  });

  it('records the exit of a paused process', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('pk'));
    await manager.start('pk', '');
    await manager.pause('pk');
    await manager.kill('pk', '', 9, true);
    runtimes[0]!.exit(137);
    await settle();
    expect(manager.state('pk', '')).toMatchObject({ status: 3, exitStatus: 137 });
  });

  it('removes the execs of a task when the task is deleted', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('d'));
    await manager.start('d', '');
    await manager.exec('d', 'x', { processJson: new Uint8Array(), stdin: '', stdout: '', stderr: '', terminal: false });
    runtimes[0]!.exit(0);
    await settle();
    await manager.delete('d', '');
    expect(runtimes[0]!.execs.get('x')!.destroyed).toBe(1);
  });

  it('publishes TaskOOM for the container whose runtime reports an OOM kill, before its exit', async () => {
    const { manager, runtimes, events, hooks } = setup();
    await manager.create(request('o'));
    await manager.start('o', '');
    hooks[0]!.onOomKill();
    runtimes[0]!.exit(137);
    await settle();
    expect(events.map((e) => e.type)).toEqual(['create', 'start', 'oom', 'exit']);
    expect(events[2]).toEqual({ type: 'oom', containerId: 'o' });
  });

  it('passes stats, pids and updates to the container', async () => {
    const { manager, runtimes } = setup();
    await manager.create(request('s'));
    await manager.start('s', '');
    expect(manager.stats('s').typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
    expect(manager.pids('s')).toEqual([4242, 7]);
    const resources = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: new TextEncoder().encode('{}') };
    await manager.update('s', resources);
    expect(runtimes[0]!.updates).toEqual([resources]);
    expect(() => manager.stats('nope')).toThrow(expect.objectContaining({ kind: 'not-found' }));
  });
});
