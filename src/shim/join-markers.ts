/**
 * How a `start` promises a task to a live daemon of its group: a file `<socket>.join.<task id>`
 * beside the group's socket, written under the socket's lock while the daemon listens. A daemon
 * decides to exit only under the same lock and only when it has no task and finds no marker, so
 * it can never go away between a `start` handing containerd its address and containerd's Create.
 * Files, not a call to the daemon, so that the launcher (bin/containerd-shim-nodewasm-v1) can
 * join without starting Node; it writes the same names.
 */
import fs from 'node:fs';
import path from 'node:path';

/** containerd sends Create right after `start` answers; a minute covers a machine under load. */
export const JOIN_MARKER_TTL_MS = 60_000;

export function joinMarkerPath(socketPath: string, id: string): string {
  return `${socketPath}.join.${id}`;
}

export function markJoined(socketPath: string, id: string): void {
  fs.writeFileSync(joinMarkerPath(socketPath, id), '');
}

/** Create for `id` arrived (or its task is being deleted): the promise is kept. */
export function clearJoinMarker(socketPath: string, id: string): void {
  fs.rmSync(joinMarkerPath(socketPath, id), { force: true });
}

/** A new daemon is binding the socket: promises made to a dead one will never be kept by anyone. */
export function clearAllJoinMarkers(socketPath: string): void {
  for (const id of pendingJoins(socketPath)) clearJoinMarker(socketPath, id);
}

/**
 * The tasks still promised to the daemon on `socketPath`. A marker older than the TTL is a
 * promise containerd did not keep (its Create never came): it is removed and not counted.
 */
export function pendingJoins(socketPath: string, now = Date.now(), ttlMs = JOIN_MARKER_TTL_MS): string[] {
  const prefix = `${path.basename(socketPath)}.join.`;
  const pending: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(socketPath));
  } catch {
    return pending;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const file = path.join(path.dirname(socketPath), name);
    try {
      if (now - fs.statSync(file).mtimeMs > ttlMs) fs.rmSync(file, { force: true });
      else pending.push(name.slice(prefix.length));
    } catch {
      // removed meanwhile: its Create arrived
    }
  }
  return pending;
}
