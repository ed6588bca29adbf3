/** The envelope messages of the ttrpc protocol itself (proto package `ttrpc`). */
import { Status } from './google.js';
import { message } from './message.js';
import type { MessageOf } from './message.js';

export const KeyValue = message('ttrpc.KeyValue', {
  key: { no: 1, type: 'string' },
  value: { no: 2, type: 'string' },
});
export type KeyValue = MessageOf<typeof KeyValue>;

export const TtrpcRequest = message('ttrpc.Request', {
  service: { no: 1, type: 'string' },
  method: { no: 2, type: 'string' },
  payload: { no: 3, type: 'bytes' },
  /** 0 = no deadline; otherwise relative to when the request was sent. */
  timeoutNano: { no: 4, type: 'int64' },
  metadata: { no: 5, message: KeyValue, repeated: true },
});
export type TtrpcRequest = MessageOf<typeof TtrpcRequest>;

export const TtrpcResponse = message('ttrpc.Response', {
  /** Absent (or code 0) means success. */
  status: { no: 1, message: Status },
  payload: { no: 2, type: 'bytes' },
});
export type TtrpcResponse = MessageOf<typeof TtrpcResponse>;
