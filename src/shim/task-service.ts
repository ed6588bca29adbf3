import { timestampFromDate } from '../../proto/google.js';
import { ProcessInfo, TASK_SERVICE, TaskMethods } from '../../proto/task.js';
import { unary, type TtrpcServer, type UnaryHandler } from '../ttrpc/server.js';
import type { MessageType } from '../../proto/message.js';
import type { TaskManager } from './task-manager.js';
import { toTtrpcError } from './status-mapping.js';
import { TaskError } from './errors.js';


export interface TaskServiceHooks {
  namespace: string;
  /** Shutdown when no task is left: the daemon stops serving and exits. */
  onLastTaskGone(): void;
  version: string;
}

/**
 * containerd.task.v2.Task over ttrpc: translates each request into a call on the task manager
 * and the result back into the wire message. No logic of its own lives here. Methods not
 * registered (Checkpoint; ResizePty, since a terminal is refused at Create) answer Unimplemented
 * from the server itself.
 */
export function registerTaskService(server: TtrpcServer, tasks: TaskManager, hooks: TaskServiceHooks): void {
  const m = TaskMethods;
  server.register(TASK_SERVICE, {
    Create: handler(m.Create, async (req) =>
      tasks.create({
        id: req.id,
        namespace: hooks.namespace,
        bundle: req.bundle,
        rootfs: req.rootfs.map((r) => ({ type: r.type, source: r.source, options: r.options })),
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
      }),
    ),
    Start: handler(m.Start, (req) => tasks.start(req.id, req.execId)),
    State: handler(m.State, (req) => {
      const view = tasks.state(req.id, req.execId);
      return { ...view, exitedAt: view.exitedAt ? timestampFromDate(view.exitedAt) : undefined };
    }),
    Wait: handler(m.Wait, async (req) => {
      const exit = await tasks.wait(req.id, req.execId);
      return { exitStatus: exit.status, exitedAt: timestampFromDate(exit.at) };
    }),
    Kill: handler(m.Kill, async (req) => {
      await tasks.kill(req.id, req.execId, req.signal, req.all);
      return {};
    }),
    Delete: handler(m.Delete, async (req) => {
      const result = await tasks.delete(req.id, req.execId);
      return { pid: result.pid, exitStatus: result.exitStatus, exitedAt: result.exitedAt ? timestampFromDate(result.exitedAt) : undefined };
    }),
    Exec: handler(m.Exec, async (req) => {
      if (!req.spec) throw new TaskError('invalid', 'Exec without a process spec');
      await tasks.exec(req.id, req.execId, {
        processJson: req.spec.value,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
      });
      return {};
    }),
    Pause: handler(m.Pause, async (req) => {
      await tasks.pause(req.id);
      return {};
    }),
    Resume: handler(m.Resume, async (req) => {
      await tasks.resume(req.id);
      return {};
    }),
    Stats: handler(m.Stats, (req) => ({ stats: tasks.stats(req.id) })),
    Pids: handler(m.Pids, (req) => ({ processes: tasks.pids(req.id).map((pid) => ProcessInfo.create({ pid })) })),
    Update: handler(m.Update, async (req) => {
      await tasks.update(req.id, req.resources);
      return {};
    }),
    CloseIO: handler(m.CloseIO, (req) => {
      if (req.stdin) tasks.closeStdin(req.id, req.execId);
      return {};
    }),
    Connect: handler(m.Connect, (req) => ({ shimPid: process.pid, taskPid: tasks.initPid(req.id), version: hooks.version })),
    Shutdown: handler(m.Shutdown, () => {
      if (tasks.taskCount === 0) hooks.onLastTaskGone();
      return {};
    }),
  });
}

function handler<Req, Resp>(
  types: { request: MessageType<Req>; response: MessageType<Resp> },
  fn: (req: Req) => Promise<Partial<Resp>> | Partial<Resp>,
): UnaryHandler {
  return unary(types.request, types.response, async (req) => {
    try {
      return await fn(req);
    } catch (err) {
      throw toTtrpcError(err);
    }
  });
}
