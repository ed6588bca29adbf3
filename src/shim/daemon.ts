import { TtrpcServer } from '../ttrpc/server.js';
import { EventPublisher } from './event-publisher.js';
import { closeSocket, releaseSocket } from './group.js';
import { clearJoinMarker, JOIN_MARKER_TTL_MS, pendingJoins } from './join-markers.js';
import { withSocketLock } from './socket-lock.js';
import { withoutUnixScheme } from './socket-address.js';
import type { ClaimedSocket } from './start.js';
import { QuietCompaction } from './quiet-compaction.js';
import { TaskManager } from './task-manager.js';
import { registerTaskService } from './task-service.js';
import type { ShimInvocation } from './flags.js';
import type { Logger } from './log.js';
import type { RuntimeFactory } from './runtime.js';

/** A daemon nobody connects to (its start failed half-way) goes away instead of lingering. */
const IDLE_EXIT_MS = 30_000;
/**
 * How long an exiting daemon, with no task left, keeps offering its last events to a containerd
 * that does not take them (stopped or restarting): the tasks they are about are gone already.
 */
const EXIT_FLUSH_LIMIT_MS = 5_000;

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
  const runtimes: RuntimeFactory = {
    create(request, hooks) {
      // From here on the task manager counts the task: the promise of its `start` is kept.
      clearJoinMarker(socketPath, request.id);
      return options.runtimes.create(request, hooks);
    },
  };
  const tasks = new TaskManager(runtimes, events, log);
  const compaction = new QuietCompaction();
  const ttrpc = new TtrpcServer({
    onError: (err, info) => log.error({ err: (err as Error)?.message, ...info }, 'request failed'),
    onRequest: () => compaction.activity(),
  });

  let exiting = false;
  let socketClosed = false;
  let recheck: NodeJS.Timeout | undefined;
  const exit = async (reason: string, code = 0): Promise<void> => {
    if (exiting) return;
    exiting = true;
    clearTimeout(recheck);
    compaction.stop();
    log.info({ reason }, 'shim daemon exiting');
    if (!socketClosed) {
      socketClosed = true;
      await releaseSocket(socketPath, listener, (err) => log.warn({ err: err.message }, 'socket removed without its lock'));
    }
    if (!(await events.flushed(EXIT_FLUSH_LIMIT_MS))) log.warn({ events: events.pending }, 'exiting with events containerd did not take');
    await ttrpc.close();
    events.close();
    process.exit(code);
  };

  const exitLater = (ms: number, reason: string): void => {
    clearTimeout(recheck);
    recheck = setTimeout(() => void exitIfEmpty(reason), ms);
  };

  /**
   * Exits when no task is left and no `start` has promised one: decided under the socket's lock,
   * where every `start` that joins writes its promise (join-markers.ts).
   */
  async function exitIfEmpty(reason: string): Promise<void> {
    const empty = () => !exiting && !socketClosed && tasks.taskCount === 0;
    if (!empty()) return;
    let closed: boolean;
    try {
      closed = await withSocketLock(socketPath, async () => {
        if (!empty()) return false;
        const promised = pendingJoins(socketPath);
        if (promised.length > 0) {
          log.info({ ids: promised }, 'staying for tasks a start promised');
          exitLater(JOIN_MARKER_TTL_MS + 100, 'a promised task never arrived');
          return false;
        }
        socketClosed = true;
        closeSocket(socketPath, listener);
        return true;
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot take the socket lock to exit; trying again in a second');
      exitLater(1_000, reason);
      return;
    }
    if (closed) await exit(reason);
  }

  registerTaskService(ttrpc, tasks, {
    namespace: inv.namespace,
    version: options.version,
    // Answer Shutdown first, then go, unless a task was promised meanwhile.
    onLastTaskGone: () => setImmediate(() => void exitIfEmpty('shutdown with no task left')),
  });
  ttrpc.attach(listener);
  options.claimed.stopHolding();
  for (const socket of options.claimed.early) ttrpc.handleConnection(socket);

  const idle = setTimeout(() => void exitIfEmpty('nobody connected'), IDLE_EXIT_MS);
  if (options.claimed.early.length > 0) clearTimeout(idle);
  listener.once('connection', () => clearTimeout(idle));

  process.on('SIGTERM', () => void exit('SIGTERM'));
  process.on('SIGINT', () => void exit('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  process.on('unhandledRejection', (err) => log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: err.stack }, 'uncaught exception'));

  log.info({ socket: socketPath, bundle }, 'shim daemon listening');
}
