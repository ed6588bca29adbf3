/**
 * Errors of the container layer. Each names what the user got wrong or what failed, in words that
 * make sense in ctr's output; the shim maps the kind to a wire status code in one place.
 */
export type ContainerErrorKind =
  /** The user's input is wrong: bad entrypoint, bad spec, unsupported option. */
  | 'invalid'
  /** Something the request names does not exist (a file, a process). */
  | 'not-found'
  /** The operation is not valid in the current state. */
  | 'precondition'
  /** Not supported by nodewasm (yet). */
  | 'unsupported'
  /** The host failed: mount, runc, I/O. */
  | 'internal';

export class ContainerError extends Error {
  constructor(
    readonly kind: ContainerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ContainerError';
  }
}
