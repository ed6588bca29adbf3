import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { ContainerError } from './errors.js';

const READY_TIMEOUT_MS = 10_000;
const EXIT_GRACE_MS = 10_000;

/**
 * A `binary://` log URI, as containerd's own shims run it: the program gets the process's stdout
 * on fd 3 and stderr on fd 4, says it is ready by closing fd 5, and takes each query parameter as
 * two arguments (`key value`) with CONTAINER_ID and CONTAINER_NAMESPACE in its environment.
 */
export class LoggingBinary {
  private stopped = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly stdoutEnd: net.Socket,
    private readonly stderrEnd: net.Socket,
  ) {}

  static async start(uri: string, ids: { containerId: string; namespace: string }): Promise<LoggingBinary> {
    const parsed = new URL(uri);
    const program = decodeURIComponent(parsed.pathname);
    const args: string[] = [];
    for (const [key, value] of parsed.searchParams) args.push(key, value);
    const child = spawn(program, args, {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, CONTAINER_ID: ids.containerId, CONTAINER_NAMESPACE: ids.namespace },
    });
    const [, , , stdoutEnd, stderrEnd, ready] = child.stdio as unknown as Array<net.Socket | null>;
    const binary = new LoggingBinary(child, stdoutEnd!, stderrEnd!);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`it did not close fd 5 within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
        child.once('error', (err) => reject(err));
        ready!.on('data', () => undefined);
        ready!.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode}) before logging anything`);
    } catch (err) {
      await binary.stop();
      throw new ContainerError('invalid', `log URI ${uri}: ${(err as Error).message}`, { cause: err });
    }
    return binary;
  }

  /** The write ends the container's stdout and stderr become. */
  get stdoutFd(): number {
    return socketFd(this.stdoutEnd);
  }

  get stderrFd(): number {
    return socketFd(this.stderrEnd);
  }

  /** Closes the shim's ends, so the program sees EOF once the process is gone; then waits for it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stdoutEnd.destroy();
    this.stderrEnd.destroy();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** The fd under a socket Node made for a child's extra stdio entry. */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new ContainerError('internal', 'the logging binary\'s pipe has no fd');
  return fd;
}
