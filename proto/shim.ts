/**
 * What the shim binary's `delete` action prints on stdout: the very same DeleteResponse
 * the Task service returns (`{1 pid, 2 exit_status, 3 exited_at}`), unframed, no newline.
 */
export { DeleteResponse } from './task.js';
import { Any } from './google.js';
import { message } from './message.js';
import type { MessageOf } from './message.js';

export const RuntimeVersion = message('containerd.types.RuntimeVersion', {
  version: { no: 1, type: 'string' },
  revision: { no: 2, type: 'string' },
});

/**
 * What `-info` prints on stdout (containerd 2.x asks for it, e.g. before a pod with user
 * namespaces): `{1 name, 2 version{1 version, 2 revision}, 3 options, 4 features, 5 annotations}`.
 * Without `features`, containerd assumes none of the optional OCI runtime features.
 */
export const RuntimeInfo = message('containerd.types.RuntimeInfo', {
  name: { no: 1, type: 'string' },
  version: { no: 2, message: RuntimeVersion },
  options: { no: 3, message: Any },
  features: { no: 4, message: Any },
  annotations: { no: 5, map: 'string' },
});
export type RuntimeInfo = MessageOf<typeof RuntimeInfo>;
