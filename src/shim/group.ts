import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { GROUP_SERVICE, JoinRequest, JoinResponse } from '../../proto/group.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { Code, TtrpcError } from '../ttrpc/status.js';
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
  let annotations: Record<string, string> | undefined;
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    annotations = spec.annotations ?? {};
  } catch {
    return id;
  }
  const pod = annotations[SANDBOX_ID_ANNOTATION];
  if (pod) return pod;
  const named = annotations[GROUP_ANNOTATION];
  // Prefixed, so a group name can never land on the default group's socket or on a pod's.
  if (named) return `group:${named}`;
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

const JOIN_TIMEOUT_MS = 10_000;

/**
 * Asks the live daemon on the socket to take task `id`: 'joined' when it promised to wait for the
 * task's Create, 'refused' when it is exiting (or went away meanwhile). A daemon that accepts
 * connections but does not answer is an error: replacing its socket would cut its tasks off.
 */
export async function joinDaemon(socketPath: string, id: string): Promise<'joined' | 'refused'> {
  let client: TtrpcClient;
  try {
    client = await TtrpcClient.connect(socketPath, { connectTimeoutMs: JOIN_TIMEOUT_MS });
  } catch {
    return 'refused';
  }
  try {
    const answer = await client.callTyped(GROUP_SERVICE, 'Join', JoinRequest, { id }, JoinResponse, { timeoutMs: JOIN_TIMEOUT_MS });
    return answer.accepted ? 'joined' : 'refused';
  } catch (err) {
    // A daemon of an older version has no Group service: it serves any task it is given.
    if (err instanceof TtrpcError && err.code === Code.UNIMPLEMENTED) return 'joined';
    if ((await probeSocket(socketPath)) !== 'live') return 'refused';
    throw new Error(`the shim daemon on ${socketPath} did not answer: ${(err as Error).message}`);
  } finally {
    client.close();
  }
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
 * Stops listening on the daemon's socket, which also unlinks the file (libuv does so by name),
 * under the lock `start` claims sockets under: a `start` that the exiting daemon refused waits
 * for the file to go before it binds a new one, so the unlink can never hit a successor's socket.
 */
export async function releaseSocket(socketPath: string, listener: net.Server, onLockError: (err: Error) => void): Promise<void> {
  const release = async (): Promise<void> => {
    listener.close();
    fs.rmSync(socketPath, { force: true });
  };
  try {
    await withSocketLock(socketPath, release);
  } catch (err) {
    onLockError(err as Error);
    await release();
  }
}
