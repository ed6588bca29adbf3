import fs from 'node:fs';
import { TtrpcServer } from '../ttrpc/server.js';
import { EventPublisher } from './event-publisher.js';
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
  /** The pod's socket, already bound, with the connections accepted meanwhile. */
  claimed: ClaimedSocket;
}

/**
 * The shim daemon: one per pod (or per task outside Kubernetes). It serves containerd's Task API
 * on a unix socket, forwards task events, and exits once Shutdown finds no task left.
 */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { invocation: inv, log } = options;
  const bundle = process.cwd();
  const { socketPath, listener } = options.claimed;
  const ttrpcAddress = process.env.TTRPC_ADDRESS ? withoutUnixScheme(process.env.TTRPC_ADDRESS) : `${inv.address}.ttrpc`;

  const events = new EventPublisher(ttrpcAddress, inv.namespace, log);
  const tasks = new TaskManager(options.runtimes, events, log);
  const ttrpc = new TtrpcServer({
    onError: (err, info) => log.error({ err: (err as Error)?.message, ...info }, 'request failed'),
  });

  let exiting = false;
  const exit = async (reason: string, code = 0): Promise<void> => {
    if (exiting) return;
    exiting = true;
    log.info({ reason }, 'shim daemon exiting');
    fs.rmSync(socketPath, { force: true });
    listener.close();
    await events.flushed();
    await ttrpc.close();
    events.close();
    process.exit(code);
  };

  registerTaskService(ttrpc, tasks, {
    namespace: inv.namespace,
    version: options.version,
    // Answer Shutdown first, then go.
    onLastTaskGone: () => setImmediate(() => void exit('shutdown with no task left')),
  });
  ttrpc.attach(listener);
  options.claimed.stopHolding();
  for (const socket of options.claimed.early) ttrpc.handleConnection(socket);

  const idle = setTimeout(() => {
    if (tasks.taskCount === 0) void exit('nobody connected');
  }, IDLE_EXIT_MS);
  if (options.claimed.early.length > 0) clearTimeout(idle);
  listener.once('connection', () => clearTimeout(idle));

  process.on('SIGTERM', () => void exit('SIGTERM'));
  process.on('SIGINT', () => void exit('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  process.on('unhandledRejection', (err) => log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: err.stack }, 'uncaught exception'));

  log.info({ socket: socketPath, bundle }, 'shim daemon listening');
}
