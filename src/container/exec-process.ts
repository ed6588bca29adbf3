import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';
import { LayoutFile } from './bundle.js';
import { ProcessStdio, type StdioPaths } from './stdio.js';
import { RuncRun, type ExitResult, type RuncContext } from './runc.js';
import type { OciProcess } from './spec.js';

export interface StartedProcess {
  pid: number;
  exited: Promise<ExitResult>;
}

/**
 * A second process in a running container (`ctr task exec`, the CRI's ExecSync), run by a
 * `runc exec --detach` of an OCI process file under the reaper, with stdio of its own.
 */
export class ExecProcess {
  private runc: RuncRun | undefined;
  private pid = 0;
  private destroyed = false;

  constructor(
    readonly execId: string,
    private readonly containerId: string,
    private readonly layout: string,
    private readonly runcContext: RuncContext,
    private readonly stdio: ProcessStdio,
    /** Files and folders written for this exec besides the process file (the runner's settings). */
    private readonly extraFiles: string[],
  ) {}

  /** Writes the process file; the caller has already opened the stdio. */
  static async prepare(options: {
    execId: string;
    containerId: string;
    namespace: string;
    layout: string;
    runcContext: RuncContext;
    process: OciProcess;
    stdio: StdioPaths;
    extraFiles: string[];
  }): Promise<ExecProcess> {
    const stdio = await ProcessStdio.open(options.stdio, { containerId: options.containerId, namespace: options.namespace });
    try {
      fs.writeFileSync(path.join(options.layout, LayoutFile.execProcess(options.execId)), JSON.stringify(options.process), { mode: 0o600 });
    } catch (err) {
      await stdio.close();
      throw new ContainerError('internal', `writing the exec's process file: ${(err as Error).message}`, { cause: err });
    }
    return new ExecProcess(options.execId, options.containerId, options.layout, options.runcContext, stdio, options.extraFiles);
  }

  async start(): Promise<StartedProcess> {
    if (this.runc) throw new ContainerError('precondition', `exec ${this.execId} was already started`);
    const runc = RuncRun.exec({
      ctx: this.runcContext,
      id: this.containerId,
      processFile: path.join(this.layout, LayoutFile.execProcess(this.execId)),
      pidFile: path.join(this.layout, LayoutFile.execPid(this.execId)),
      logFile: path.join(this.layout, LayoutFile.execLog(this.execId)),
      stdio: this.stdio.spawnStdio,
    });
    this.runc = runc;
    this.stdio.attach(runc.process);
    this.pid = await runc.waitForPid();
    return { pid: this.pid, exited: runc.exited };
  }

  async kill(signal: number): Promise<void> {
    if (this.pid === 0) throw new ContainerError('precondition', `exec ${this.execId} is not running`);
    signalPid(this.pid, signal, `exec ${this.execId}`);
  }

  closeStdin(): void {
    this.stdio.closeStdin();
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stdio.close();
    const files = [LayoutFile.execProcess(this.execId), LayoutFile.execPid(this.execId), LayoutFile.execLog(this.execId)];
    for (const file of [...files.map((f) => path.join(this.layout, f)), ...this.extraFiles]) fs.rmSync(file, { recursive: true, force: true });
  }
}

/** Sends a signal to one host pid; a process that is gone is NotFound, as containerd expects. */
export function signalPid(pid: number, signal: number, what: string): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') throw new ContainerError('not-found', `${what} (pid ${pid}) has already exited`);
    throw new ContainerError('internal', `signalling ${what}: ${(err as Error).message}`, { cause: err });
  }
}
