/**
 * Errors of the task layer, each with the one meaning that decides its wire status code. The
 * mapping to ttrpc codes lives in status-mapping.ts, in one place.
 */
export type TaskErrorKind = 'not-found' | 'already-exists' | 'precondition' | 'invalid' | 'unimplemented' | 'internal';

export class TaskError extends Error {
  constructor(
    readonly kind: TaskErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TaskError';
  }
}
