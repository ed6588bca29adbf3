/** The well-known types used on the containerd wire: Timestamp, Any, Empty and google.rpc.Status. */
import { message } from './message.js';
import type { MessageOf, MessageType } from './message.js';

export const Timestamp = message('google.protobuf.Timestamp', {
  seconds: { no: 1, type: 'int64' },
  nanos: { no: 2, type: 'int32' },
});
export type Timestamp = MessageOf<typeof Timestamp>;

export const Any = message('google.protobuf.Any', {
  typeUrl: { no: 1, type: 'string' },
  value: { no: 2, type: 'bytes' },
});
export type Any = MessageOf<typeof Any>;

export const Empty = message('google.protobuf.Empty', {});
export type Empty = MessageOf<typeof Empty>;

export const Status = message('google.rpc.Status', {
  code: { no: 1, type: 'int32' },
  message: { no: 2, type: 'string' },
  details: { no: 3, message: Any, repeated: true },
});
export type Status = MessageOf<typeof Status>;

export function timestampFromDate(d: Date): Timestamp {
  const ms = d.getTime();
  // floor, not trunc: nanos must stay in [0, 1e9) for dates before 1970 too.
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function timestampNow(): Timestamp {
  return timestampFromDate(new Date());
}

/** Millisecond precision, which is all a Date holds. */
export function dateFromTimestamp(t: Timestamp): Date {
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1_000_000));
}

/**
 * Wraps a message in an Any. containerd wants the **bare** proto name as the type URL
 * (1.6 event subscribers reject a `type.googleapis.com/` prefix), so that is the default.
 */
export function packAny<T>(type: MessageType<T>, value: Partial<T>, typeUrl: string = type.typeName): Any {
  return { typeUrl, value: type.encode(value) };
}

/** Whether `any` holds `type`, with or without a `…/` prefix on its type URL. */
export function anyIs(any: Any, type: MessageType<unknown>): boolean {
  const url = any.typeUrl;
  return url === type.typeName || url.endsWith(`/${type.typeName}`);
}

/** Decodes the message inside `any`; undefined when it holds another type. */
export function unpackAny<T>(any: Any, type: MessageType<T>): T | undefined {
  return anyIs(any, type) ? type.decode(any.value) : undefined;
}
