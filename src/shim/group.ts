import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { shimSocketPath } from './socket-address.js';
import { withSocketLock } from './socket-lock.js';
import type { ShimInvocation } from './flags.js';

const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

/**
 * The containers of one pod share one daemon: the grouping key is the pod's sandbox id when the
 * CRI set one, else the task's own id.
 */
export function groupKey(bundle: string, id: string): string {
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as {
      annotations?: Record<string, string>;
    };
    return spec.annotations?.[SANDBOX_ID_ANNOTATION] || id;
  } catch {
    return id;
  }
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
 * Removes a dead daemon's socket file, under the lock that `start` replaces it under: the pod's
 * next daemon may be binding the same path at this moment.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  await withSocketLock(socketPath, async () => {
    if ((await probeSocket(socketPath)) === 'stale') fs.rmSync(socketPath, { force: true });
  });
}
