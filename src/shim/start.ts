import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import type { ShimInvocation } from './flags.js';
import { daemonSocketPath, probeSocket } from './group.js';
import { clearAllJoinMarkers, markJoined } from './join-markers.js';
import { withSocketLock } from './socket-lock.js';
import { withUnixScheme } from './socket-address.js';

/** A socket this process bound to serve as its group's daemon, with connections already accepted. */
export interface ClaimedSocket {
  socketPath: string;
  listener: net.Server;
  /** Connections that arrived before the Task service was ready; served as soon as it is. */
  early: net.Socket[];
  stopHolding(): void;
}

/**
 * `start`, as the launcher runs it when it could not join a live daemon itself: detached, with a
 * reply fd instead of containerd's pipes. It joins its group's daemon when one listens; otherwise
 * it binds the group's socket and goes on to be that daemon itself. Either way the address goes
 * back at once, so containerd never waits for a second Node process to boot. The launcher prints
 * it, as containerd expects.
 */
export async function startOrJoin(inv: ShimInvocation, replyFd: number): Promise<ClaimedSocket | 'joined'> {
  try {
    const bundle = inv.bundle ?? process.cwd();
    const socketPath = daemonSocketPath(inv, bundle);
    const claimed = await claimSocket(socketPath, inv.id);
    const address = withUnixScheme(socketPath);
    writeAtomically(path.join(bundle, 'address'), address);
    reply(replyFd, address);
    return claimed;
  } catch (err) {
    reply(replyFd, `error: ${(err as Error).message}`);
    throw err;
  }
}

/** One line; then the fd is closed, or runc and containers would inherit and hold it. */
function reply(fd: number, text: string): void {
  try {
    fs.writeSync(fd, `${text}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Binds the group's socket for a daemon, or promises task `id` to the live daemon there (see
 * join-markers.ts). Under the socket's lock: a stale socket is replaced only by one claimer, and
 * never removed by a concurrent `delete` after the new one is bound; a daemon closes its socket
 * only under it too, so a daemon seen live here has not begun to exit.
 */
export async function claimSocket(socketPath: string, id: string): Promise<ClaimedSocket | 'joined'> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  return withSocketLock(socketPath, async () => {
    const state = await probeSocket(socketPath);
    if (state === 'live') return join(socketPath, id);
    // A daemon killed with SIGKILL leaves its socket file behind, nobody listening on it, and
    // maybe promises of starts that joined it just before it died.
    if (state === 'stale') fs.rmSync(socketPath, { force: true });
    clearAllJoinMarkers(socketPath);
    const listener = net.createServer();
    const early: net.Socket[] = [];
    const hold = (socket: net.Socket) => early.push(socket);
    listener.on('connection', hold);
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(socketPath, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      // A daemon that bound it without the lock (an older version): join it when it answers.
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && (await probeSocket(socketPath)) === 'live') return join(socketPath, id);
      throw err;
    }
    fs.chmodSync(socketPath, 0o600);
    return { socketPath, listener, early, stopHolding: () => listener.off('connection', hold) };
  });
}

function join(socketPath: string, id: string): 'joined' {
  markJoined(socketPath, id);
  return 'joined';
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}
