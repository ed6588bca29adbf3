import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A pino logger that writes to a bundle's `log` FIFO, which containerd holds open and copies into
 * its own log. Writes never block the shim: the FIFO is opened non-blocking and a line that does
 * not fit (containerd stalled or restarting) is dropped rather than waited for.
 */
export function bundleLogger(bundle: string, bindings: Record<string, string>, debug: boolean): Logger {
  const logs = new BundleLogs();
  logs.add(bundle);
  return logsLogger(logs, bindings, debug);
}

export function logsLogger(logs: BundleLogs, bindings: Record<string, string>, debug: boolean): Logger {
  return pino({ level: debug ? 'debug' : 'info', base: { pid: process.pid, ...bindings } }, logs);
}

/**
 * The `log` FIFOs of the bundles a daemon serves. containerd reads each one while its task
 * exists; a daemon outlives the task it was started for when others of its group remain, so each
 * line goes to the oldest bundle whose FIFO still has a reader.
 */
export class BundleLogs {
  private readonly fifos = new Map<string, number | undefined>();
  /** A removed bundle whose FIFO stays open while it is the only one: the daemon's last words. */
  private retired: string | undefined;

  add(bundle: string): void {
    if (this.fifos.has(bundle)) return;
    if (this.retired !== undefined) {
      const retired = this.retired;
      this.retired = undefined;
      this.remove(retired);
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(path.join(bundle, 'log'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK | fs.constants.O_APPEND);
    } catch {
      // ENXIO (nobody reads it) or ENOENT (no FIFO: run by hand): lines go elsewhere
      fd = undefined;
    }
    this.fifos.set(bundle, fd);
  }

  remove(bundle: string): void {
    if (this.fifos.size === 1 && this.fifos.has(bundle)) {
      this.retired = bundle;
      return;
    }
    const fd = this.fifos.get(bundle);
    this.fifos.delete(bundle);
    if (fd !== undefined) fs.closeSync(fd);
  }

  write(line: string): void {
    for (const fd of this.fifos.values()) {
      if (fd === undefined) continue;
      try {
        fs.writeSync(fd, line);
        return;
      } catch (err) {
        // EAGAIN: containerd is behind; a lost log line must never stop a task. EPIPE: that
        // FIFO's reader is gone (its task was deleted, or containerd is restarting): try the next.
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') return;
      }
    }
  }
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' }, { write: () => undefined });
}
