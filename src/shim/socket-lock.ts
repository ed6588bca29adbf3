/**
 * A lock around everything that replaces or removes a pod daemon's socket file. Without it, a
 * `delete` that found the dead daemon's socket stale could remove the socket a new daemon of the
 * same pod had just bound in its place (containerd then fails to connect: ENOENT), and two
 * `start`s could each unlink the other's socket.
 *
 * The lock is a file created with O_EXCL beside the socket, holding the owner's pid; a lock whose
 * owner is gone (killed inside the section) is taken over. The section is a probe, an unlink and
 * a bind: a few milliseconds.
 */
import fs from 'node:fs';

const WAIT_LIMIT_MS = 5_000;

export async function withSocketLock<T>(socketPath: string, section: () => Promise<T>, options: { waitLimitMs?: number } = {}): Promise<T> {
  const lock = `${socketPath}.lock`;
  await acquire(lock, options.waitLimitMs ?? WAIT_LIMIT_MS);
  try {
    return await section();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

async function acquire(lock: string, waitLimitMs: number): Promise<void> {
  const deadline = Date.now() + waitLimitMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!ownerAlive(lock)) {
      // Take the dead owner's lock away under a name of our own, so that only one waiter does;
      // if what we moved turns out to be a live owner's (taken in between), put it back.
      const moved = `${lock}.${process.pid}.dead`;
      try {
        fs.renameSync(lock, moved);
        if (ownerAlive(moved)) fs.renameSync(moved, lock);
        else fs.rmSync(moved, { force: true });
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} is held by pid ${readOwner(lock) ?? '?'} for more than ${waitLimitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function readOwner(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ownerAlive(lock: string): boolean {
  const pid = readOwner(lock);
  // Unreadable or empty: written a moment ago by a live owner, or gone already. Wait and see.
  if (pid === undefined) return fs.existsSync(lock);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
