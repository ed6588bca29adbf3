import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { shimSocketPath } from './socket-address.js';
import { withSocketLock } from './socket-lock.js';
import type { ShimInvocation } from './flags.js';

const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';
/** Puts a container in the named group of its namespace; a name of its own gives it a daemon of its own. */
export const GROUP_ANNOTATION = 'io.containerd.nodewasm.v1.group';
/** The group of the containers that name none and belong to no pod. */
export const DEFAULT_GROUP = 'io.containerd.nodewasm.v1.default-group';

/**
 * Which tasks share a daemon: those of one pod (the CRI's sandbox id), else those naming the same
 * group in the annotation, else all the other standalone containers of the namespace. A spec that
 * cannot be read keeps the task to itself.
 */
export function groupKey(bundle: string, id: string): string {
  let annotations: Record<string, string>;
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    annotations = spec.annotations ?? {};
  } catch {
    return id;
  }
  // A named group is prefixed, so that it can never land on the default group's socket or a pod's.
  if (annotations[SANDBOX_ID_ANNOTATION]) return annotations[SANDBOX_ID_ANNOTATION];
  if (annotations[GROUP_ANNOTATION]) return `group:${annotations[GROUP_ANNOTATION]}`;
  return DEFAULT_GROUP;
}

export function daemonSocketPath(inv: ShimInvocation, bundle: string): string {
  return shimSocketPath(inv.address, inv.namespace, groupKey(bundle, inv.id));
}

/** Whether a daemon answers on the socket: 'live', 'stale' (a file nobody listens on) or 'absent'. */
export function probeSocket(socketPath: string): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}

/**
 * Removes a dead daemon's socket file, under the lock that `start` replaces it under: the group's
 * next daemon may be binding the same path at this moment.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  await withSocketLock(socketPath, async () => {
    if ((await probeSocket(socketPath)) === 'stale') fs.rmSync(socketPath, { force: true });
  });
}

/**
 * Stops listening on the daemon's socket, which also unlinks the file (libuv does so by name).
 * Only under the lock `start` claims sockets under (see releaseSocket): no `start` can join the
 * daemon from then on, and the unlink can never hit a successor's socket, bound only once this
 * one is gone.
 */
export function closeSocket(socketPath: string, listener: net.Server): void {
  listener.close();
  fs.rmSync(socketPath, { force: true });
}

/** closeSocket under the socket's lock; without it if the lock cannot be had. */
export async function releaseSocket(socketPath: string, listener: net.Server, onLockError: (err: Error) => void): Promise<void> {
  try {
    await withSocketLock(socketPath, async () => closeSocket(socketPath, listener));
  } catch (err) {
    onLockError(err as Error);
    closeSocket(socketPath, listener);
  }
}
