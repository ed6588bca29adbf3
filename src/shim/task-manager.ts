import { TaskError } from './errors.js';
import { CreatedState, ProcessStatus, RunningState, type ExitRecord, type ProcessState } from './process-state.js';
import type { EncodedAny, ExecRequest, ProcessRuntime, RuntimeFactory, TaskCreateRequest, TaskEventSink, TaskRuntime } from './runtime.js';
import type { Logger } from './log.js';

/** A process's view for State. */
export interface ProcessView {
  id: string;
  execId: string;
  bundle: string;
  pid: number;
  status: number;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt: Date | undefined;
}

interface ProcessStdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** One process of a task (its init, or an exec) with its state machine. */
class TaskProcess {
  state: ProcessState = new CreatedState();
  pid = 0;
  private starting = false;
  private readonly exitWaiters: Array<(exit: ExitRecord) => void> = [];

  constructor(
    /** '' for the init process. */
    readonly execId: string,
    readonly runtime: ProcessRuntime,
    readonly stdio: ProcessStdioPaths,
  ) {}

  /** Moves to the next state; on the first exit, wakes every Wait. */
  transition(next: ProcessState): void {
    this.state = next;
    const exit = next.exit;
    if (exit) for (const wake of this.exitWaiters.splice(0)) wake(exit);
  }

  waitForExit(): Promise<ExitRecord> {
    const exit = this.state.exit;
    if (exit) return Promise.resolve(exit);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  beginStart(): void {
    this.state.start();
    if (this.starting) throw new TaskError('precondition', 'the process is already starting');
    this.starting = true;
  }

  endStart(): void {
    this.starting = false;
  }
}

interface Task {
  request: TaskCreateRequest;
  runtime: TaskRuntime;
  init: TaskProcess;
  execs: Map<string, TaskProcess>;
}

/**
 * The task layer without a wire: creates, starts, signals, waits for and deletes the tasks of one
 * shim daemon and their exec processes, keeps one state machine per process, and publishes
 * containerd's task events in order. The Task service is a thin adapter over it.
 */
export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  /** Ids whose Create is in progress, so a second Create of the same id is refused at once. */
  private readonly creating = new Set<string>();

  constructor(
    private readonly runtimes: RuntimeFactory,
    private readonly events: TaskEventSink,
    private readonly log: Logger,
  ) {}

  get taskCount(): number {
    return this.tasks.size + this.creating.size;
  }

  async create(request: TaskCreateRequest): Promise<{ pid: number }> {
    if (request.id === '') throw new TaskError('invalid', 'task id is empty');
    if (this.tasks.has(request.id) || this.creating.has(request.id)) {
      throw new TaskError('already-exists', `task ${request.id} already exists`);
    }
    this.creating.add(request.id);
    try {
      const runtime = await this.runtimes.create(request, {
        onOomKill: () => {
          this.events.publish({ type: 'oom', containerId: request.id });
          this.log.warn({ id: request.id }, 'OOM kill in the container');
        },
      });
      this.tasks.set(request.id, { request, runtime, init: new TaskProcess('', runtime, request), execs: new Map() });
    } finally {
      this.creating.delete(request.id);
    }
    this.events.publish({
      type: 'create',
      containerId: request.id,
      bundle: request.bundle,
      rootfs: request.rootfs,
      io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
      pid: 0,
    });
    this.log.info({ id: request.id }, 'task created');
    return { pid: 0 };
  }

  async exec(id: string, execId: string, request: ExecRequest): Promise<void> {
    const task = this.task(id);
    if (execId === '') throw new TaskError('invalid', 'exec id is empty');
    if (task.execs.has(execId)) throw new TaskError('already-exists', `exec ${execId} already exists in task ${id}`);
    if (task.init.state.name !== 'running') {
      throw new TaskError('precondition', `cannot exec in task ${id}: its process is ${task.init.state.name}`);
    }
    // Reserved before the await, so a concurrent Exec of the same id is refused.
    const reserved = new TaskProcess(execId, { start: notReady, kill: notReady, closeStdin: () => undefined, destroy: async () => undefined }, request);
    task.execs.set(execId, reserved);
    let runtime: ProcessRuntime;
    try {
      runtime = await task.runtime.exec(execId, request);
    } catch (err) {
      task.execs.delete(execId);
      throw err;
    }
    task.execs.set(execId, new TaskProcess(execId, runtime, request));
    this.events.publish({ type: 'exec-added', containerId: id, execId });
    this.log.info({ id, exec_id: execId }, 'exec added');
  }

  async start(id: string, execId: string): Promise<{ pid: number }> {
    const task = this.task(id);
    const proc = this.process(task, execId);
    proc.beginStart();
    let started;
    try {
      started = await proc.runtime.start();
    } finally {
      proc.endStart();
    }
    proc.pid = started.pid;
    proc.transition(new RunningState());
    if (execId === '') this.events.publish({ type: 'start', containerId: id, pid: started.pid });
    else this.events.publish({ type: 'exec-started', containerId: id, execId, pid: started.pid });
    this.log.info({ id, exec_id: execId || undefined, pid: started.pid }, 'process started');
    // Attached after the start event is queued, so TaskExit always follows it.
    void started.exited.then((exit) => this.onExit(task, proc, exit));
    return { pid: started.pid };
  }

  private onExit(task: Task, proc: TaskProcess, exit: ExitRecord): void {
    if (proc.state.exit) return;
    proc.transition(proc.state.exited(exit));
    const id = task.request.id;
    // The CRI matches TaskExit.id: the container id for init, the exec id for an exec.
    this.events.publish({ type: 'exit', containerId: id, id: proc.execId || id, pid: proc.pid, exitStatus: exit.status, exitedAt: exit.at });
    this.log.info({ id, exec_id: proc.execId || undefined, pid: proc.pid, exit_status: exit.status }, 'process exited');
  }

  state(id: string, execId: string): ProcessView {
    const task = this.task(id);
    const proc = this.process(task, execId);
    const name = proc.state.name;
    return {
      id,
      execId,
      bundle: task.request.bundle,
      pid: proc.pid,
      status: name === 'deleted' ? ProcessStatus.stopped : ProcessStatus[name],
      stdin: proc.stdio.stdin,
      stdout: proc.stdio.stdout,
      stderr: proc.stdio.stderr,
      terminal: proc.stdio.terminal,
      exitStatus: proc.state.exit?.status ?? 0,
      exitedAt: proc.state.exit?.at,
    };
  }

  async wait(id: string, execId: string): Promise<ExitRecord> {
    const task = this.task(id);
    return this.process(task, execId).waitForExit();
  }

  async kill(id: string, execId: string, signal: number, all: boolean): Promise<void> {
    const task = this.task(id);
    const proc = this.process(task, execId);
    const outcome = proc.state.kill(signal);
    if (outcome !== 'signal') {
      // Never started: it ends here, and says so as any exit would.
      proc.transition(outcome);
      const exit = outcome.exit!;
      this.events.publish({ type: 'exit', containerId: id, id: execId || id, pid: 0, exitStatus: exit.status, exitedAt: exit.at });
      return;
    }
    await proc.runtime.kill(signal, all);
    this.log.debug({ id, exec_id: execId || undefined, signal, all }, 'signal delivered');
  }

  async delete(id: string, execId: string): Promise<{ pid: number; exitStatus: number; exitedAt: Date | undefined }> {
    const task = this.task(id);
    const proc = this.process(task, execId);
    const deleted = proc.state.delete();
    if (execId === '') {
      for (const exec of task.execs.values()) await exec.runtime.destroy();
    }
    await proc.runtime.destroy();
    proc.transition(deleted);
    const exit = deleted.exit;
    if (execId !== '') {
      task.execs.delete(execId);
      this.log.info({ id, exec_id: execId }, 'exec deleted');
      return { pid: proc.pid, exitStatus: exit.status, exitedAt: exit.at };
    }
    this.tasks.delete(id);
    this.events.publish({ type: 'delete', containerId: id, pid: proc.pid, exitStatus: exit.status, exitedAt: exit.at });
    this.log.info({ id }, 'task deleted');
    return { pid: proc.pid, exitStatus: exit.status, exitedAt: exit.at };
  }

  async pause(id: string): Promise<void> {
    const task = this.task(id);
    const next = task.init.state.pause();
    await task.runtime.pause();
    task.init.transition(next);
    this.events.publish({ type: 'paused', containerId: id });
  }

  async resume(id: string): Promise<void> {
    const task = this.task(id);
    const next = task.init.state.resume();
    await task.runtime.resume();
    task.init.transition(next);
    this.events.publish({ type: 'resumed', containerId: id });
  }

  stats(id: string): EncodedAny {
    return this.task(id).runtime.stats();
  }

  pids(id: string): number[] {
    return this.task(id).runtime.pids();
  }

  async update(id: string, resources: EncodedAny | undefined): Promise<void> {
    await this.task(id).runtime.update(resources);
    this.log.info({ id }, 'resources updated');
  }

  closeStdin(id: string, execId: string): void {
    this.process(this.task(id), execId).runtime.closeStdin();
  }

  initPid(id: string): number {
    return this.tasks.get(id)?.init.pid ?? 0;
  }

  private task(id: string): Task {
    const task = this.tasks.get(id);
    if (!task) throw new TaskError('not-found', `task ${id} not found`);
    return task;
  }

  private process(task: Task, execId: string): TaskProcess {
    if (execId === '') return task.init;
    const exec = task.execs.get(execId);
    if (!exec) throw new TaskError('not-found', `exec ${execId} not found in task ${task.request.id}`);
    return exec;
  }
}

async function notReady(): Promise<never> {
  throw new TaskError('precondition', 'the exec is still being created');
}
