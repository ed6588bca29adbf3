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

/** One process the task layer starts, signals and removes: a container's init or an exec. */
export interface ProcessRuntime {
  start(): Promise<StartedProcess>;
  kill(signal: number, all: boolean): Promise<void>;
  closeStdin(): void;
  /** Removes everything the process left behind. */
  destroy(): Promise<void>;
}

export interface ExecRequest {
  /** The OCI process, as the JSON containerd sends in ExecProcessRequest.spec. */
  processJson: Uint8Array;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** Resource figures of a container: an Any as containerd's Stats expects it. */
export interface EncodedAny {
  typeUrl: string;
  value: Uint8Array;
}

/** A container: its init process plus what applies to the whole container. */
export interface TaskRuntime extends ProcessRuntime {
  exec(execId: string, request: ExecRequest): Promise<ProcessRuntime>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** The container's cgroup metrics. */
  stats(): EncodedAny;
  /** Host pids of every process in the container. */
  pids(): number[];
  /** New resource limits: the OCI LinuxResources JSON in an Any, as Update sends it. */
  update(resources: EncodedAny | undefined): Promise<void>;
}

/** What a container tells the task layer on its own initiative. */
export interface RuntimeHooks {
  /** The OOM killer killed a process of the container; called before its exit is resolved. */
  onOomKill(): void;
}

export interface RuntimeFactory {
  create(request: TaskCreateRequest, hooks: RuntimeHooks): Promise<TaskRuntime>;
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
  | { type: 'delete'; containerId: string; pid: number; exitStatus: number; exitedAt: Date | undefined }
  | { type: 'exec-added'; containerId: string; execId: string }
  | { type: 'exec-started'; containerId: string; execId: string; pid: number }
  | { type: 'paused'; containerId: string }
  | { type: 'resumed'; containerId: string }
  | { type: 'oom'; containerId: string };

export interface TaskEventSink {
  publish(event: TaskEvent): void;
}
