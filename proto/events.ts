/**
 * Task events the shim publishes to containerd (`containerd.events.*`, shim-protocol.md §4),
 * and the ttrpc Events service that carries them.
 */
import { Any, Empty, Timestamp } from './google.js';
import { message, rpc } from './message.js';
import type { MessageOf, MessageType } from './message.js';
import { Mount } from './task.js';

export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';

export const TaskIO = message('containerd.events.TaskIO', {
  stdin: { no: 1, type: 'string' },
  stdout: { no: 2, type: 'string' },
  stderr: { no: 3, type: 'string' },
  terminal: { no: 4, type: 'bool' },
});
export type TaskIO = MessageOf<typeof TaskIO>;

export const TaskCreate = message('containerd.events.TaskCreate', {
  containerId: { no: 1, type: 'string' },
  bundle: { no: 2, type: 'string' },
  rootfs: { no: 3, message: Mount, repeated: true },
  io: { no: 4, message: TaskIO },
  checkpoint: { no: 5, type: 'string' },
  pid: { no: 6, type: 'uint32' },
});
export type TaskCreate = MessageOf<typeof TaskCreate>;

export const TaskStart = message('containerd.events.TaskStart', {
  containerId: { no: 1, type: 'string' },
  pid: { no: 2, type: 'uint32' },
});
export type TaskStart = MessageOf<typeof TaskStart>;

export const TaskExit = message('containerd.events.TaskExit', {
  containerId: { no: 1, type: 'string' },
  /** The container id for the init process, the exec id for an exec: the CRI matches on it. */
  id: { no: 2, type: 'string' },
  pid: { no: 3, type: 'uint32' },
  /** The exit code, or 128 + signal. */
  exitStatus: { no: 4, type: 'uint32' },
  /** Always set it: a missing one decodes as year 1. */
  exitedAt: { no: 5, message: Timestamp },
});
export type TaskExit = MessageOf<typeof TaskExit>;

export const TaskDelete = message('containerd.events.TaskDelete', {
  containerId: { no: 1, type: 'string' },
  pid: { no: 2, type: 'uint32' },
  exitStatus: { no: 3, type: 'uint32' },
  exitedAt: { no: 4, message: Timestamp },
  id: { no: 5, type: 'string' },
});
export type TaskDelete = MessageOf<typeof TaskDelete>;

export const TaskExecAdded = message('containerd.events.TaskExecAdded', {
  containerId: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
});
export type TaskExecAdded = MessageOf<typeof TaskExecAdded>;

export const TaskExecStarted = message('containerd.events.TaskExecStarted', {
  containerId: { no: 1, type: 'string' },
  execId: { no: 2, type: 'string' },
  pid: { no: 3, type: 'uint32' },
});
export type TaskExecStarted = MessageOf<typeof TaskExecStarted>;

export const TaskOOM = message('containerd.events.TaskOOM', {
  containerId: { no: 1, type: 'string' },
});
export type TaskOOM = MessageOf<typeof TaskOOM>;

export const TaskPaused = message('containerd.events.TaskPaused', {
  containerId: { no: 1, type: 'string' },
});
export type TaskPaused = MessageOf<typeof TaskPaused>;

export const TaskResumed = message('containerd.events.TaskResumed', {
  containerId: { no: 1, type: 'string' },
});
export type TaskResumed = MessageOf<typeof TaskResumed>;

export const Envelope = message('containerd.services.events.ttrpc.v1.Envelope', {
  /** Required: containerd answers InvalidArgument without it. */
  timestamp: { no: 1, message: Timestamp },
  namespace: { no: 2, type: 'string' },
  topic: { no: 3, type: 'string' },
  event: { no: 4, message: Any },
});
export type Envelope = MessageOf<typeof Envelope>;

export const ForwardRequest = message('containerd.services.events.ttrpc.v1.ForwardRequest', {
  /** Never leave it out: a Forward without an envelope crashes containerd 1.6. */
  envelope: { no: 1, message: Envelope },
});
export type ForwardRequest = MessageOf<typeof ForwardRequest>;

/** ttrpc method name → request and response types. */
export const EventsMethods = {
  Forward: rpc(ForwardRequest, Empty),
} as const;

export interface TaskEventKind<T> {
  readonly topic: string;
  /** The bare proto name: 1.6 subscribers cannot decode a `type.googleapis.com/` URL. */
  readonly typeUrl: string;
  readonly type: MessageType<T>;
}

function event<T>(topic: string, type: MessageType<T>): TaskEventKind<T> {
  return { topic, typeUrl: type.typeName, type };
}

/** Each task event with its topic and type URL. */
export const TaskEvents = {
  create: event('/tasks/create', TaskCreate),
  start: event('/tasks/start', TaskStart),
  exit: event('/tasks/exit', TaskExit),
  delete: event('/tasks/delete', TaskDelete),
  execAdded: event('/tasks/exec-added', TaskExecAdded),
  execStarted: event('/tasks/exec-started', TaskExecStarted),
  oom: event('/tasks/oom', TaskOOM),
  paused: event('/tasks/paused', TaskPaused),
  resumed: event('/tasks/resumed', TaskResumed),
} as const;
export type TaskEventName = keyof typeof TaskEvents;
