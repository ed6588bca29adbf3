import fs from 'node:fs';
import net from 'node:net';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { ContainerError } from './errors.js';
import { LoggingBinary } from './log-binary.js';

/** The stdio paths containerd hands to Create and Exec. */
export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/**
 * One process's stdio. stdout and stderr FIFOs are opened O_RDWR and handed to runc as they are:
 * the open never blocks, and a reader going away (ctr run -d) never breaks the writer. stdin's
 * FIFO never reports EOF by itself, so it is pumped into a pipe that CloseIO ends.
 */
export class ProcessStdio {
  /** The shim's copies of the output fds, closed once runc holds them. */
  private readonly fds: number[] = [];
  private stdinSource: net.Socket | undefined;
  /** The stdin FIFO's fd (owned by stdinSource), read directly to drain it at CloseIO. */
  private stdinFd: number | undefined;
  private stdinTarget: NodeJS.WritableStream | undefined;
  private stdinClosed = false;
  readonly spawnStdio: StdioOptions;

  /** Opens the stdio of one process; a binary:// log URI starts its program first. */
  static async open(paths: StdioPaths, ids: { containerId: string; namespace: string }): Promise<ProcessStdio> {
    let binary: LoggingBinary | undefined;
    if (paths.stdout.startsWith('binary://') || paths.stderr.startsWith('binary://')) {
      if (paths.stdout !== paths.stderr) {
        throw new ContainerError('invalid', 'a binary:// log URI must be given for both stdout and stderr, as containerd does');
      }
      binary = await LoggingBinary.start(paths.stdout, ids);
    }
    try {
      return new ProcessStdio(paths, binary);
    } catch (err) {
      await binary?.stop();
      throw err;
    }
  }

  private constructor(
    readonly paths: StdioPaths,
    private readonly loggingBinary: LoggingBinary | undefined,
  ) {
    if (paths.terminal) {
      throw new ContainerError('unsupported', 'a terminal (ctr run -t) is not supported by nodewasm yet: run without -t');
    }
    try {
      const stdout = loggingBinary ? loggingBinary.stdoutFd : this.openOutput(paths.stdout);
      const stderr = loggingBinary ? loggingBinary.stderrFd : this.openOutput(paths.stderr);
      const stdin = paths.stdin === '' ? 'ignore' : 'pipe';
      if (stdin === 'pipe') {
        const fd = fs.openSync(paths.stdin, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
        try {
          this.stdinSource = new net.Socket({ fd, readable: true, writable: false });
          this.stdinFd = fd;
        } catch (err) {
          fs.closeSync(fd);
          throw err;
        }
        this.stdinSource.pause();
      }
      this.spawnStdio = [stdin, stdout, stderr];
    } catch (err) {
      this.close();
      if (err instanceof ContainerError) throw err;
      throw new ContainerError('internal', `opening the process's stdio failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Connects stdin to the spawned runc; the shim's copies of the output fds are closed. */
  attach(child: ChildProcess): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
    if (this.stdinSource && child.stdin) {
      this.stdinTarget = child.stdin;
      child.stdin.on('error', () => undefined);
      this.stdinSource.on('error', () => undefined);
      if (this.stdinClosed) {
        this.endStdin(this.stdinSource, child.stdin);
      } else {
        this.stdinSource.pipe(child.stdin);
        this.stdinSource.resume();
      }
    }
  }

  /** CloseIO: the process sees EOF on stdin once what was already read is written. */
  closeStdin(): void {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    const source = this.stdinSource;
    const target = this.stdinTarget;
    if (source && target) {
      source.unpipe(target);
      this.endStdin(source, target);
    }
    // Not attached yet: attach() ends it.
  }

  /**
   * ctr closed its end after writing: what the socket already read, then what is still in the
   * FIFO, reaches the process before its EOF.
   */
  private endStdin(source: net.Socket, target: NodeJS.WritableStream): void {
    let chunk: Buffer | null;
    while ((chunk = source.read() as Buffer | null) !== null) target.write(chunk);
    for (const rest of this.drainStdinFifo()) target.write(rest);
    target.end();
    source.destroy();
  }

  /** Reads what is left in the stdin FIFO without blocking (it is O_NONBLOCK). */
  private drainStdinFifo(): Buffer[] {
    const chunks: Buffer[] = [];
    // The fd belongs to the socket: once the socket is destroyed (close(), an error) the number may
    // be another container's FIFO and must never be read. A CloseIO can arrive during Delete.
    if (this.stdinFd === undefined || this.stdinSource === undefined || this.stdinSource.destroyed) return chunks;
    for (;;) {
      const buffer = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = fs.readSync(this.stdinFd, buffer, 0, buffer.length, null);
      } catch {
        break; // EAGAIN: empty
      }
      if (n <= 0) break;
      chunks.push(buffer.subarray(0, n));
    }
    return chunks;
  }

  /** Closes everything; a logging binary is given the end of the output and waited for. */
  close(): Promise<void> {
    for (const fd of this.fds.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.stdinClosed = true;
    this.stdinSource?.destroy();
    this.stdinTarget?.end();
    return this.loggingBinary?.stop() ?? Promise.resolve();
  }

  private openOutput(uri: string): number | 'ignore' {
    if (uri === '') return 'ignore';
    if (uri.startsWith('file://')) {
      const file = new URL(uri).pathname;
      return this.track(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640));
    }
    if (uri.includes('://')) {
      throw new ContainerError('invalid', `log URI ${uri}: the scheme must be file:// or binary:// (or a FIFO path)`);
    }
    return this.track(fs.openSync(uri, fs.constants.O_RDWR));
  }

  private track(fd: number): number {
    this.fds.push(fd);
    return fd;
  }
}
