import fs from 'node:fs';
import { TtrpcServer } from '../ttrpc/server.js';
import { EventPublisher } from './event-publisher.js';
import { GroupMembership, registerGroupService } from './group-membership.js';
import { releaseSocket } from './group.js';
import { withoutUnixScheme } from './socket-address.js';
import type { ClaimedSocket } from './start.js';
import { TaskManager } from './task-manager.js';
import { registerTaskService } from './task-service.js';
import type { ShimInvocation } from './flags.js';
import type { Logger } from './log.js';
import type { RuntimeFactory } from './runtime.js';

/** A daemon nobody connects to (its start failed half-way) goes away instead of lingering. */
const IDLE_EXIT_MS = 30_000;

export interface DaemonOptions {
  invocation: ShimInvocation;
  runtimes: RuntimeFactory;
  log: Logger;
  version: string;
  /** The group's socket, already bound, with the connections accepted meanwhile. */
  claimed: ClaimedSocket;
  /** The bundle of the task this daemon was started for. */
  bundle: string;
}

/**
 * The shim daemon: one per group of tasks (a pod; the standalone containers of a namespace; see
 * group.ts). It serves containerd's Task API on a unix socket, forwards task events, and exits
 * once Shutdown finds no task left and none promised by a `start` that joined it.
 */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { invocation: inv, log, bundle } = options;
  const { socketPath, listener } = options.claimed;
  const ttrpcAddress = process.env.TTRPC_ADDRESS ? withoutUnixScheme(process.env.TTRPC_ADDRESS) : `${inv.address}.ttrpc`;

  const events = new EventPublisher(ttrpcAddress, inv.namespace, log);
  const membership = new GroupMembership(() => exitIfEmpty('a joined task never arrived'));
  const runtimes: RuntimeFactory = {
    create(request, hooks) {
      membership.arrived(request.id);
      return options.runtimes.create(request, hooks);
    },
  };
  const tasks = new TaskManager(runtimes, events, log);
  const ttrpc = new TtrpcServer({
    onError: (err, info) => log.error({ err: (err as Error)?.message, ...info }, 'request failed'),
  });

  let exiting = false;
  const exit = async (reason: string, code = 0): Promise<void> => {
    if (exiting) return;
    exiting = true;
    membership.close();
    log.info({ reason }, 'shim daemon exiting');
    await releaseSocket(socketPath, listener, (err) => log.warn({ err: err.message }, 'socket removed without its lock'));
    await events.flushed();
    await ttrpc.close();
    events.close();
    process.exit(code);
  };

  function exitIfEmpty(reason: string): void {
    if (membership.closeIfEmpty(tasks.taskCount)) void exit(reason);
  }

  registerTaskService(ttrpc, tasks, {
    namespace: inv.namespace,
    version: options.version,
    // Answer Shutdown first, then go, unless a task was promised meanwhile.
    onLastTaskGone: () => setImmediate(() => exitIfEmpty('shutdown with no task left')),
  });
  registerGroupService(ttrpc, membership, (id) => log.info({ id }, 'exiting: a new daemon will serve this task'));
  ttrpc.attach(listener);
  options.claimed.stopHolding();
  for (const socket of options.claimed.early) ttrpc.handleConnection(socket);

  const idle = setTimeout(() => exitIfEmpty('nobody connected'), IDLE_EXIT_MS);
  if (options.claimed.early.length > 0) clearTimeout(idle);
  listener.once('connection', () => clearTimeout(idle));

  process.on('SIGTERM', () => void exit('SIGTERM'));
  process.on('SIGINT', () => void exit('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  process.on('unhandledRejection', (err) => log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: err.stack }, 'uncaught exception'));

  log.info({ socket: socketPath, bundle }, 'shim daemon listening');
}

