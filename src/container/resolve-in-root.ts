import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';

const MAX_SYMLINKS = 40;

/**
 * Resolves a guest path to its real guest path, following symlinks the way the container would
 * see them: every link is read inside `root`, an absolute target starts again at `root`, and ".."
 * never climbs above it. The host's own filesystem is never consulted outside `root`.
 *
 * Returns the resolved absolute guest path; throws ContainerError('not-found') when a component
 * does not exist.
 */
export function resolveInRoot(root: string, guestPath: string): string {
  const resolved: string[] = [];
  const pending = splitPath(guestPath).reverse();
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const guestSoFar = '/' + [...resolved, part].join('/');
    const hostPath = path.join(root, guestSoFar);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(hostPath);
    } catch (err) {
      throw new ContainerError('not-found', `${guestPath}: no such file or directory in the container's root`, { cause: err });
    }
    if (!stat.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw new ContainerError('invalid', `${guestPath}: too many levels of symbolic links`);
    }
    const target = fs.readlinkSync(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending.push(...splitPath(target).reverse());
  }
  return '/' + resolved.join('/');
}

function splitPath(p: string): string[] {
  return p.split('/').filter((part) => part.length > 0);
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Finds the file the container's arg0 names: as given when it has a slash (relative to cwd),
 * otherwise the first regular file of that name on the spec's PATH. Symlinks are resolved inside
 * the root.
 */
export function lookupEntrypoint(root: string, arg0: string, searchPath: string, cwd: string): string {
  if (arg0.includes('/')) {
    const guestPath = arg0.startsWith('/') ? arg0 : path.posix.join(cwd || '/', arg0);
    return requireRegularFile(root, arg0, resolveInRoot(root, guestPath));
  }
  for (const dir of searchPath.split(':')) {
    if (!dir.startsWith('/')) continue;
    let candidate: string;
    try {
      candidate = resolveInRoot(root, path.posix.join(dir, arg0));
    } catch {
      continue;
    }
    if (isRegularFile(path.join(root, candidate))) return candidate;
  }
  throw new ContainerError('not-found', `entrypoint "${arg0}": not found on PATH (${searchPath}) in the container's root`);
}

function requireRegularFile(root: string, arg0: string, guestPath: string): string {
  if (!isRegularFile(path.join(root, guestPath))) {
    throw new ContainerError('invalid', `entrypoint "${arg0}": not a regular file`);
  }
  return guestPath;
}

function isRegularFile(hostPath: string): boolean {
  try {
    return fs.statSync(hostPath).isFile();
  } catch {
    return false;
  }
}
