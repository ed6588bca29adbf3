import { Code, TtrpcError } from '../ttrpc/status.js';

/**
 * The one place where an error becomes a wire status. Errors of the task and container layers
 * carry a `kind`; containerd turns the code back into its own error types (NotFound,
 * FailedPrecondition, ...) and the CRI decides on them, so the mapping matters.
 */
const CODE_BY_KIND: Record<string, Code> = {
  'not-found': Code.NOT_FOUND,
  'already-exists': Code.ALREADY_EXISTS,
  precondition: Code.FAILED_PRECONDITION,
  invalid: Code.INVALID_ARGUMENT,
  unimplemented: Code.UNIMPLEMENTED,
  unsupported: Code.UNIMPLEMENTED,
  internal: Code.INTERNAL,
};

export function toTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  const kind = typeof err === 'object' && err !== null && 'kind' in err ? String((err as { kind: unknown }).kind) : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const code = kind !== undefined ? (CODE_BY_KIND[kind] ?? Code.UNKNOWN) : Code.UNKNOWN;
  return new TtrpcError(code, message);
}
