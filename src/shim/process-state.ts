import { TaskError } from './errors.js';

/** The states a task's process moves through; the numbers are containerd's Status enum. */
export const ProcessStatus = {
  created: 1,
  running: 2,
  stopped: 3,
  paused: 4,
} as const;
export type ProcessStatusName = keyof typeof ProcessStatus | 'deleted';

/** The exit status of a process deleted before it ever ran (containerd's own fallback code). */
export const NEVER_RAN_STATUS = 255;

export interface ExitRecord {
  status: number;
  at: Date;
}

/**
 * One state of a process's life. Each state allows the operations that make sense in it and
 * refuses the others with an error that names the state: created → running → stopped → deleted,
 * with created → stopped when a never-started process is killed, and created → deleted.
 */
export abstract class ProcessState {
  abstract readonly name: ProcessStatusName;

  /** May Start run in this state? */
  start(): void {
    throw this.refuse('start');
  }

  /** The process's exit has been observed. Returns the next state. */
  exited(_exit: ExitRecord): ProcessState {
    return this;
  }

  /** May a signal be delivered? Returns 'signal' to deliver it, or the state to move to instead. */
  kill(_signal: number): 'signal' | ProcessState {
    throw this.refuse('kill');
  }

  /** May the process be deleted? */
  delete(): DeletedState {
    throw this.refuse('delete');
  }

  /** The state after the container is frozen. */
  pause(): ProcessState {
    throw this.refuse('pause');
  }

  /** The state after the container is thawed. */
  resume(): ProcessState {
    throw this.refuse('resume');
  }

  get exit(): ExitRecord | undefined {
    return undefined;
  }

  protected refuse(operation: string): TaskError {
    const kind = this.name === 'deleted' ? 'not-found' : 'precondition';
    return new TaskError(kind, `cannot ${operation} a process that is ${this.name}`);
  }
}

export class CreatedState extends ProcessState {
  readonly name = 'created';

  override start(): void {}

  /** A process that never ran just ends: it reports the signal as its exit status. */
  override kill(signal: number): ProcessState {
    return new StoppedState({ status: 128 + signal, at: new Date() });
  }

  /** A process deleted before it ran reports NEVER_RAN_STATUS, so a pending Wait is answered. */
  override delete(): DeletedState {
    return new DeletedState({ status: NEVER_RAN_STATUS, at: new Date() });
  }
}

export class RunningState extends ProcessState {
  readonly name = 'running';

  override exited(exit: ExitRecord): ProcessState {
    return new StoppedState(exit);
  }

  override kill(): 'signal' {
    return 'signal';
  }

  override pause(): ProcessState {
    return new PausedState();
  }
}

/** Frozen by the cgroup freezer: it can still be killed (SIGKILL lands once thawed) or resumed. */
export class PausedState extends ProcessState {
  readonly name = 'paused';

  override exited(exit: ExitRecord): ProcessState {
    return new StoppedState(exit);
  }

  override kill(): 'signal' {
    return 'signal';
  }

  override resume(): ProcessState {
    return new RunningState();
  }
}

export class StoppedState extends ProcessState {
  readonly name = 'stopped';

  constructor(private readonly record: ExitRecord) {
    super();
  }

  override get exit(): ExitRecord {
    return this.record;
  }

  override kill(): never {
    throw new TaskError('not-found', 'process already finished');
  }

  override delete(): DeletedState {
    return new DeletedState(this.record);
  }
}

export class DeletedState extends ProcessState {
  readonly name = 'deleted';

  constructor(private readonly record: ExitRecord) {
    super();
  }

  override get exit(): ExitRecord {
    return this.record;
  }
}
