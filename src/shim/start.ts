import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { daemonArgs, type ShimInvocation } from './flags.js';
import { daemonSocketPath, probeSocket } from './group.js';
import { LISTEN_FD_ENV, SOCKET_DIR, withUnixScheme } from './socket-address.js';


/**
 * `start`: join the pod's daemon when one answers, otherwise spawn one, then print its address.
 * containerd reads stdout and stderr together as the address, so nothing else may be written.
 */
export async function runStart(inv: ShimInvocation, scriptPath: string): Promise<void> {
  drainStdin();
  const bundle = inv.bundle ?? process.cwd();
  const socketPath = daemonSocketPath(inv, bundle);
  const state = await probeSocket(socketPath);
  if (state !== 'live') {
    // A daemon killed with SIGKILL leaves its socket file behind; nobody listens on it.
    if (state === 'stale') fs.rmSync(socketPath, { force: true });
    await spawnDaemon(inv, bundle, scriptPath, socketPath);
  }
  const address = withUnixScheme(socketPath);
  writeAtomically(path.join(bundle, 'address'), address);
  fs.writeSync(1, address);
}

/** containerd may send runtime options (or 2.3's bootstrap parameters) on stdin; none is needed. */
function drainStdin(): void {
  try {
    if (!process.stdin.isTTY) fs.readFileSync(0);
  } catch {
    // nothing to read, or not readable: either way there is nothing we need from it
  }
}

/**
 * Binds the daemon's socket here and hands it to the daemon as fd 3, so the address can be
 * printed at once: containerd's first connection waits in the socket's backlog while the daemon
 * boots, instead of `start` waiting for the daemon.
 */
async function spawnDaemon(inv: ShimInvocation, bundle: string, scriptPath: string, socketPath: string): Promise<void> {
  fs.mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
  // Bound under a temporary name and then linked into place: libuv unlinks the path it bound when
  // this process exits, and link() refuses to replace the socket of a concurrent `start`.
  const temporary = `${socketPath}.${process.pid}`;
  fs.rmSync(temporary, { force: true });
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(temporary, () => resolve());
  });
  fs.chmodSync(temporary, 0o600);
  try {
    fs.linkSync(temporary, socketPath);
  } catch (err) {
    // Another `start` of the same pod bound it first: join that daemon.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await probeSocket(socketPath)) === 'live') return;
    throw err;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  const child = spawn(process.execPath, [scriptPath, ...daemonArgs(inv)], {
    cwd: bundle,
    detached: true,
    // containerd waits for every holder of its pipes to close them: the daemon holds none.
    stdio: ['ignore', 'ignore', 'ignore', listeningFd(server)],
    env: { ...process.env, [LISTEN_FD_ENV]: '3' },
  });
  child.unref();
  // Not closed: this process exits now and the daemon owns the socket.
  server.unref();
}

function listeningFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the shim socket has no file descriptor to hand to the daemon');
  return fd;
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}
