import type { ExitRecord } from './process-state.js';

/**
 * What the task layer needs from whatever runs a container. The shim knows nothing of how a
 * process is run; the daemon wires in the container layer, and unit tests wire in fakes.
 */
export interface TaskCreateRequest {
  id: string;
  namespace: string;
  bundle: string;
  rootfs: Array<{ type: string; source: string; options: string[] }>;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface StartedProcess {
  pid: number;
  /** Resolves exactly once with the process's exit; it must resolve whatever happens. */
  exited: Promise<ExitRecord>;
}

export interface TaskRuntime {
  start(): Promise<StartedProcess>;
  kill(signal: number, all: boolean): Promise<void>;
  closeStdin(): void;
  /** Removes everything the container left: processes, mounts, files. */
  destroy(): Promise<void>;
}

export interface RuntimeFactory {
  create(request: TaskCreateRequest): Promise<TaskRuntime>;
}

/** The events the task layer publishes, in the order it publishes them. */
export type TaskEvent =
  | {
      type: 'create';
      containerId: string;
      bundle: string;
      rootfs: TaskCreateRequest['rootfs'];
      io: { stdin: string; stdout: string; stderr: string; terminal: boolean };
      pid: number;
    }
  | { type: 'start'; containerId: string; pid: number }
  | { type: 'exit'; containerId: string; id: string; pid: number; exitStatus: number; exitedAt: Date }
  | { type: 'delete'; containerId: string; pid: number; exitStatus: number; exitedAt: Date | undefined };

export interface TaskEventSink {
  publish(event: TaskEvent): void;
}
