/**
 * The Task service containerd calls on the shim: `containerd.task.v2.Task`
 * (field numbers from shim-protocol.md §3; v3 differs only in its package name).
 */
import { Any, Empty, Timestamp } from './google.js';
import { message, rpc } from './message.js';
import type { MessageOf } from './message.js';

export const TASK_SERVICE = 'containerd.task.v2.Task';

export enum TaskStatus {
  UNKNOWN = 0,
  CREATED = 1,
  RUNNING = 2,
  STOPPED = 3,
  PAUSED = 4,
  PAUSING = 5,
}

export const Mount = message('containerd.types.Mount', {
  type: { no: 1, type: 'string' },
  source: { no: 2, type: 'string' },
  /** Never set for the rootfs. */
  target: { no: 3, type: 'string' },
  options: { no: 4, type: 'string', repeated: true },
});
export type Mount = MessageOf<typeof Mount>;

export const ProcessInfo = message('containerd.v1.types.ProcessInfo', {
  pid: { no: 1, type: 'uint32' },
  info: { no: 2, message: Any },
});
export type ProcessInfo = MessageOf<typeof ProcessInfo>;

export const CreateTaskRequest = message('containerd.task.v2.CreateTaskRequest', {
  id: { no: 1, type: 'string' },
  bundle: { no: 2, type: 'string' },
  rootfs: { no: 3, message: Mount, repeated: true },
  terminal: { no: 4, type: 'bool' },
  stdin: { no: 5, type: 'string' },
  stdout: { no: 6, type: 'string' },
  stderr: { no: 7, type: 'string' },
  checkpoint: { no: 8, type: 'string' },
  parentCheckpoint: { no: 9, type: 'string' },
  options: { no: 10, message: Any },
});
export type CreateTaskRequest = MessageOf<typeof CreateTaskRequest>;

export const CreateTaskResponse = message('containerd.task.v2.CreateTaskResponse', {
  pid: { no: 1, type: 'uint32' },
});
export type CreateTaskResponse = MessageOf<typeof CreateTaskResponse>;

export const StartRequest = message('containerd.task.v2.StartRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
});
export type StartRequest = MessageOf<typeof StartRequest>;

export const StartResponse = message('containerd.task.v2.StartResponse', {
  pid: { no: 1, type: 'uint32' },
});
export type StartResponse = MessageOf<typeof StartResponse>;

export const StateRequest = message('containerd.task.v2.StateRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
});
export type StateRequest = MessageOf<typeof StateRequest>;

export const StateResponse = message('containerd.task.v2.StateResponse', {
  id: { no: 1, type: 'string' },
  bundle: { no: 2, type: 'string' },
  pid: { no: 3, type: 'uint32' },
  status: { no: 4, enum: TaskStatus },
  stdin: { no: 5, type: 'string' },
  stdout: { no: 6, type: 'string' },
  stderr: { no: 7, type: 'string' },
  terminal: { no: 8, type: 'bool' },
  exitStatus: { no: 9, type: 'uint32' },
  exitedAt: { no: 10, message: Timestamp },
  execId: { no: 11, type: 'string' },
});
export type StateResponse = MessageOf<typeof StateResponse>;

export const DeleteRequest = message('containerd.task.v2.DeleteRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
});
export type DeleteRequest = MessageOf<typeof DeleteRequest>;

export const DeleteResponse = message('containerd.task.v2.DeleteResponse', {
  pid: { no: 1, type: 'uint32' },
  exitStatus: { no: 2, type: 'uint32' },
  exitedAt: { no: 3, message: Timestamp },
});
export type DeleteResponse = MessageOf<typeof DeleteResponse>;

export const PidsRequest = message('containerd.task.v2.PidsRequest', {
  id: { no: 1, type: 'string' },
});
export type PidsRequest = MessageOf<typeof PidsRequest>;

export const PidsResponse = message('containerd.task.v2.PidsResponse', {
  processes: { no: 1, message: ProcessInfo, repeated: true },
});
export type PidsResponse = MessageOf<typeof PidsResponse>;

export const PauseRequest = message('containerd.task.v2.PauseRequest', {
  id: { no: 1, type: 'string' },
});
export type PauseRequest = MessageOf<typeof PauseRequest>;

export const ResumeRequest = message('containerd.task.v2.ResumeRequest', {
  id: { no: 1, type: 'string' },
});
export type ResumeRequest = MessageOf<typeof ResumeRequest>;

export const CheckpointTaskRequest = message('containerd.task.v2.CheckpointTaskRequest', {
  id: { no: 1, type: 'string' },
  path: { no: 2, type: 'string' },
  options: { no: 3, message: Any },
});
export type CheckpointTaskRequest = MessageOf<typeof CheckpointTaskRequest>;

export const KillRequest = message('containerd.task.v2.KillRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
  /** A raw signal number (15, 9). */
  signal: { no: 3, type: 'uint32' },
  /** Every process in the container. */
  all: { no: 4, type: 'bool' },
});
export type KillRequest = MessageOf<typeof KillRequest>;

export const ExecProcessRequest = message('containerd.task.v2.ExecProcessRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
  terminal: { no: 3, type: 'bool' },
  stdin: { no: 4, type: 'string' },
  stdout: { no: 5, type: 'string' },
  stderr: { no: 6, type: 'string' },
  /** A JSON OCI Process, type URL `types.containerd.io/opencontainers/runtime-spec/1/Process`. */
  spec: { no: 7, message: Any },
});
export type ExecProcessRequest = MessageOf<typeof ExecProcessRequest>;

export const ResizePtyRequest = message('containerd.task.v2.ResizePtyRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
  width: { no: 3, type: 'uint32' },
  height: { no: 4, type: 'uint32' },
});
export type ResizePtyRequest = MessageOf<typeof ResizePtyRequest>;

export const CloseIORequest = message('containerd.task.v2.CloseIORequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
  stdin: { no: 3, type: 'bool' },
});
export type CloseIORequest = MessageOf<typeof CloseIORequest>;

export const UpdateTaskRequest = message('containerd.task.v2.UpdateTaskRequest', {
  id: { no: 1, type: 'string' },
  /** JSON LinuxResources, type URL `types.containerd.io/opencontainers/runtime-spec/1/LinuxResources`. */
  resources: { no: 2, message: Any },
  annotations: { no: 3, map: 'string' },
});
export type UpdateTaskRequest = MessageOf<typeof UpdateTaskRequest>;

export const WaitRequest = message('containerd.task.v2.WaitRequest', {
  id: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
});
export type WaitRequest = MessageOf<typeof WaitRequest>;

export const WaitResponse = message('containerd.task.v2.WaitResponse', {
  exitStatus: { no: 1, type: 'uint32' },
  exitedAt: { no: 2, message: Timestamp },
});
export type WaitResponse = MessageOf<typeof WaitResponse>;

export const StatsRequest = message('containerd.task.v2.StatsRequest', {
  id: { no: 1, type: 'string' },
});
export type StatsRequest = MessageOf<typeof StatsRequest>;

export const StatsResponse = message('containerd.task.v2.StatsResponse', {
  /** `io.containerd.cgroups.v1.Metrics` or `io.containerd.cgroups.v2.Metrics`. */
  stats: { no: 1, message: Any },
});
export type StatsResponse = MessageOf<typeof StatsResponse>;

export const ConnectRequest = message('containerd.task.v2.ConnectRequest', {
  id: { no: 1, type: 'string' },
});
export type ConnectRequest = MessageOf<typeof ConnectRequest>;

export const ConnectResponse = message('containerd.task.v2.ConnectResponse', {
  shimPid: { no: 1, type: 'uint32' },
  taskPid: { no: 2, type: 'uint32' },
  version: { no: 3, type: 'string' },
});
export type ConnectResponse = MessageOf<typeof ConnectResponse>;

export const ShutdownRequest = message('containerd.task.v2.ShutdownRequest', {
  id: { no: 1, type: 'string' },
  now: { no: 2, type: 'bool' },
});
export type ShutdownRequest = MessageOf<typeof ShutdownRequest>;

/** Every method of the Task service (ttrpc method name → request and response types). */
export const TaskMethods = {
  State: rpc(StateRequest, StateResponse),
  Create: rpc(CreateTaskRequest, CreateTaskResponse),
  Start: rpc(StartRequest, StartResponse),
  Delete: rpc(DeleteRequest, DeleteResponse),
  Pids: rpc(PidsRequest, PidsResponse),
  Pause: rpc(PauseRequest, Empty),
  Resume: rpc(ResumeRequest, Empty),
  Checkpoint: rpc(CheckpointTaskRequest, Empty),
  Kill: rpc(KillRequest, Empty),
  Exec: rpc(ExecProcessRequest, Empty),
  ResizePty: rpc(ResizePtyRequest, Empty),
  CloseIO: rpc(CloseIORequest, Empty),
  Update: rpc(UpdateTaskRequest, Empty),
  Wait: rpc(WaitRequest, WaitResponse),
  Stats: rpc(StatsRequest, StatsResponse),
  Connect: rpc(ConnectRequest, ConnectResponse),
  Shutdown: rpc(ShutdownRequest, Empty),
} as const;
export type TaskMethodName = keyof typeof TaskMethods;
