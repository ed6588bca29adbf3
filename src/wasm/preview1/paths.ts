/**
 * Guest path resolution beneath the guest root, done here, component by component, never by the
 * host kernel: Node has no openat(), so every host call takes a full host path, and a symlink the
 * kernel followed could lead out of the guest root (an image shipping `/esc -> /` would expose the
 * runner's own files and /proc/self). So:
 * - each component is lstat'ed; a symlink is read and its target spliced into the walk, an
 *   absolute target restarting from the guest root (never from the host's "/");
 * - ".." pops one resolved component and stops at the guest root, like "/.." on Linux;
 * - the final component is followed only when asked (lookupflags.SYMLINK_FOLLOW), and callers
 *   then act on the final host path with calls that do not follow it (O_NOFOLLOW, lstat, lutimes).
 * What stays open: a component swapped for a symlink by another process of the container between
 * this walk and the host call (the guest itself is single-threaded and cannot race it).
 */
import { lstatSync, readlinkSync, type BigIntStats } from 'node:fs';
import { Errno } from './constants.js';
import { fail } from './errors.js';

/** Linux's limit on symlinks followed in one lookup. */
export const MAX_SYMLINKS = 40;

export interface Resolved {
  /** Components from the guest root to the target ([] is the guest root itself). */
  parts: string[];
  /** The host path of `parts`. */
  host: string;
  /**
   * lstat of the target: a value when it was looked at and exists, null when it does not exist,
   * undefined when it was not looked at (a final component that is not followed).
   */
  stat: BigIntStats | null | undefined;
  /** The path ends in a name, not ".", ".." or nothing: only then can it be created or removed. */
  named: boolean;
}

export class PathResolver {
  /** The guest root's host path without a trailing slash ('' when it is the host's "/"). */
  private readonly root: string;

  constructor(root: string) {
    this.root = root.replace(/\/+$/, '');
  }

  hostPath(parts: readonly string[]): string {
    return parts.length === 0 ? this.root || '/' : this.root + '/' + parts.join('/');
  }

  /**
   * Resolves `path`, relative to the directory `start` (components from the guest root), to the
   * host path it names inside the guest root.
   */
  resolve(start: readonly string[], path: string, followFinal: boolean): Resolved {
    if (path.length === 0) fail(Errno.NOENT);
    if (path.includes('\0')) fail(Errno.INVAL);
    // WASI paths are relative to a directory descriptor; wasi-libc strips leading slashes itself.
    if (path.charCodeAt(0) === 47 /* / */) fail(Errno.NOTCAPABLE);
    const trailingSlash = path.charCodeAt(path.length - 1) === 47;

    // Components still to walk, last first, so the next one is pop()ed and targets push()ed.
    const pending: string[] = [];
    pushComponents(pending, path);
    let parts = start.slice();
    let stat: BigIntStats | null | undefined;
    let named = false;
    let links = 0;

    while (pending.length > 0) {
      const name = pending.pop()!;
      stat = undefined;
      if (name === '.' || name === '..') {
        if (name === '..') parts.pop();
        named = false;
        continue;
      }
      named = true;
      parts.push(name);
      const last = pending.length === 0;
      if (last && !followFinal) {
        if (trailingSlash) {
          // "name/" must be a directory; a symlink is not one when it is not followed.
          stat = lstatSync(this.hostPath(parts), { bigint: true, throwIfNoEntry: false }) ?? null;
          if (stat !== null && !stat.isDirectory()) fail(Errno.NOTDIR);
        }
        break;
      }
      const host = this.hostPath(parts);
      const st = lstatSync(host, { bigint: true, throwIfNoEntry: false });
      if (st === undefined) {
        if (last) {
          stat = null;
          break;
        }
        fail(Errno.NOENT);
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) fail(Errno.LOOP);
        const target = readlinkSync(host, 'utf8');
        if (target.length === 0) fail(Errno.NOENT);
        parts.pop();
        if (target.charCodeAt(0) === 47) parts = [];
        pushComponents(pending, target);
        continue;
      }
      if (!last && !st.isDirectory()) fail(Errno.NOTDIR);
      stat = st;
    }

    if (trailingSlash && stat && !stat.isDirectory()) fail(Errno.NOTDIR);
    return { parts, host: this.hostPath(parts), stat, named };
  }
}

/** Pushes the components of `path` onto `pending` so that the first one is popped first. */
function pushComponents(pending: string[], path: string): void {
  const comps = path.split('/');
  for (let i = comps.length - 1; i >= 0; i--) {
    const c = comps[i]!;
    if (c.length > 0) pending.push(c);
  }
}
