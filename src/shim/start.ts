import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { daemonArgs, type ShimInvocation } from './flags.js';
import { daemonSocketPath, probeSocket } from './group.js';
import { withUnixScheme } from './socket-address.js';

const DAEMON_READY_TIMEOUT_MS = 10_000;

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

async function spawnDaemon(inv: ShimInvocation, bundle: string, scriptPath: string, socketPath: string): Promise<void> {
  const child = spawn(process.execPath, [scriptPath, ...daemonArgs(inv)], {
    cwd: bundle,
    detached: true,
    // containerd waits for every holder of its pipes to close them: the daemon holds none.
    stdio: 'ignore',
    env: process.env,
  });
  let exitedEarly: string | undefined;
  child.once('exit', (code, signal) => {
    exitedEarly = `the shim daemon exited at start (${signal ?? `code ${code}`}); see containerd's log`;
  });
  child.unref();
  const deadline = Date.now() + DAEMON_READY_TIMEOUT_MS;
  for (let wait = 2; ; wait = Math.min(wait * 2, 25)) {
    if ((await probeSocket(socketPath)) === 'live') return;
    if (exitedEarly !== undefined) throw new Error(exitedEarly);
    if (Date.now() > deadline) throw new Error(`the shim daemon did not listen on ${socketPath} within ${DAEMON_READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}
