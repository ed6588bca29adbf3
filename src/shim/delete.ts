import fs from 'node:fs';
import { DeleteResponse } from '../../proto/task.js';
import { timestampNow } from '../../proto/google.js';
import { daemonSocketPath, removeStaleSocket } from './group.js';
import { clearJoinMarker } from './join-markers.js';
import type { ShimInvocation } from './flags.js';
import type { Logger } from './log.js';

/** Conventional status of a task whose shim could not report one: as if SIGKILLed. */
const LOST_TASK_STATUS = 137;

export type BundleCleanup = (bundle: string, namespace: string, id: string) => Promise<{ pid: number }>;

/**
 * `delete`: containerd runs it after every task removal and whenever a shim is unreachable. It
 * cleans up this task only (never another task of the pod's daemon) and prints the binary
 * DeleteResponse on stdout.
 */
export async function runDelete(inv: ShimInvocation, cleanup: BundleCleanup, log: Logger): Promise<void> {
  const bundle = inv.bundle ?? process.cwd();
  const { pid } = await cleanup(bundle, inv.namespace, inv.id);
  const socketPath = daemonSocketPath(inv, bundle);
  // A task whose Create never reached the daemon leaves its `start`'s promise behind.
  clearJoinMarker(socketPath, inv.id);
  await removeStaleSocket(socketPath);
  log.info({ id: inv.id, pid }, 'delete: cleaned up');
  const response = DeleteResponse.encode({ pid, exitStatus: LOST_TASK_STATUS, exitedAt: timestampNow() });
  fs.writeSync(1, response);
}
