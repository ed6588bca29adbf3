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
  const destination = fifoDestination(path.join(bundle, 'log'));
  return pino({ level: debug ? 'debug' : 'info', base: { pid: process.pid, ...bindings } }, destination);
}

function fifoDestination(file: string): { write(line: string): void } {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK | fs.constants.O_APPEND);
  } catch {
    fd = undefined;
  }
  return {
    write(line: string): void {
      if (fd === undefined) return;
      try {
        fs.writeSync(fd, line);
      } catch {
        // EAGAIN (full) or EPIPE (containerd restarting): a lost log line must never stop a task.
      }
    },
  };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
