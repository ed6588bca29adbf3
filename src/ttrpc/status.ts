/** gRPC status codes, as ttrpc carries them in `google.rpc.Status.code`. */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** An error that travels over ttrpc as a status: thrown by handlers, rejected by the client. */
export class TtrpcError extends Error {
  override readonly name = 'TtrpcError';
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The text Go's context package uses, which containerd recognises in logs. */
export const DEADLINE_EXCEEDED_MESSAGE = 'context deadline exceeded';

export function oversizedMessage(length: number, max: number): string {
  return `message length ${length} exceed maximum message size of ${max}`;
}
