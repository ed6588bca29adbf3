/**
 * The shim's own ttrpc service beside containerd's Task API, on the same socket: a `start` that
 * finds a live daemon for its group asks to join it before it hands containerd that address, so
 * the daemon does not exit (its last task just gone) between the answer and containerd's Create.
 */
import { message } from './message.js';
import type { MessageOf } from './message.js';

export const GROUP_SERVICE = 'nodewasm.shim.v1.Group';

export const JoinRequest = message('nodewasm.shim.v1.JoinRequest', {
  /** The task containerd is about to create through this daemon. */
  id: { no: 1, type: 'string' },
});
export type JoinRequest = MessageOf<typeof JoinRequest>;

export const JoinResponse = message('nodewasm.shim.v1.JoinResponse', {
  /** False once the daemon is on its way out: the caller starts a daemon of its own. */
  accepted: { no: 1, type: 'bool' },
});
export type JoinResponse = MessageOf<typeof JoinResponse>;
