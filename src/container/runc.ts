import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { run } from './exec.js';
import { ContainerError } from './errors.js';

export const RUNC = process.env.NODEWASM_RUNC ?? 'runc';

/** Where runc keeps the state of one containerd namespace's containers. */
export interface RuncContext {
  /** runc --root: under containerd's state directory, so a private containerd stays private. */
  root: string;
  /** cgroupsPath in systemd's "slice:prefix:name" form needs runc's systemd driver. */
  systemdCgroup: boolean;
}

/**
 * The runc root for a bundle. A bundle lives at <state>/io.containerd.runtime.v2.task/<ns>/<id>,
 * and the runc root at <state>/nodewasm-runc/<ns>.
 */
export function runcRootForBundle(bundle: string, namespace: string): string {
  const state = path.resolve(bundle, '..', '..', '..');
  return path.join(state, 'nodewasm-runc', namespace);
}

export function usesSystemdCgroup(cgroupsPath: string | undefined): boolean {
  return cgroupsPath !== undefined && !cgroupsPath.startsWith('/') && cgroupsPath.split(':').length === 3;
}

function globalArgs(ctx: RuncContext, logFile?: string): string[] {
  const args = ['--root', ctx.root];
  if (logFile !== undefined) args.push('--log', logFile, '--log-format', 'json');
  if (ctx.systemdCgroup) args.push('--systemd-cgroup');
  return args;
}

/** How a process ended: its exit code, or 128 + the signal that ended it. */
export interface ExitResult {
  status: number;
  at: Date;
}

/**
 * The supervisor of one process: src/reaper/reaper.c, built into dist/ by `npm run build`.
 * NODEWASM_REAPER overrides where it is looked for.
 */
export function reaperPath(): string {
  const override = process.env['NODEWASM_REAPER'];
  if (override) return override;
  if (foundReaper !== undefined) return foundReaper;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Beside the shim's chunks in dist/, or from src/container/ (tests run the sources) in ../../dist.
  const candidates = [path.join(here, REAPER), path.join(here, '..', '..', 'dist', REAPER)];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) throw new ContainerError('internal', `${REAPER} is missing (looked in ${candidates.join(', ')}): run "npm run build"`);
  foundReaper = found;
  return found;
}

const REAPER = 'nodewasm-reaper';
/** Looked up once per daemon: every start and exec runs it. */
let foundReaper: string | undefined;

/**
 * One `runc run --detach` (a container's init) or `runc exec --detach` (another process in it),
 * under the reaper: a child subreaper that becomes the process's parent when runc exits, and
 * exits with the process's status, which Node (not a subreaper) could not learn otherwise. It
 * replaces a foreground runc, which did the same for ~10 MiB per process.
 */
export class RuncRun {
  private readonly child: ChildProcess;
  /** Resolves exactly once with runc's exit status, whatever happens to runc. */
  readonly exited: Promise<ExitResult>;

  private constructor(
    private readonly ctx: RuncContext,
    readonly id: string,
    private readonly pidFile: string,
    private readonly logFile: string,
    subcommand: string[],
    stdio: StdioOptions,
  ) {
    fs.mkdirSync(ctx.root, { recursive: true, mode: 0o711 });
    this.child = spawn(reaperPath(), [pidFile, RUNC, ...globalArgs(ctx, logFile), ...subcommand], { stdio, detached: false });
    this.exited = new Promise<ExitResult>((resolve) => {
      let settled = false;
      const settle = (status: number) => {
        if (settled) return;
        settled = true;
        resolve({ status, at: new Date() });
      };
      this.child.once('exit', (code, signal) => {
        settle(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
      });
      this.child.once('error', () => settle(255));
    });
  }

  static start(options: { ctx: RuncContext; id: string; bundle: string; pidFile: string; logFile: string; stdio: StdioOptions }): RuncRun {
    const { ctx, id, bundle, pidFile, logFile, stdio } = options;
    return new RuncRun(ctx, id, pidFile, logFile, ['run', '--detach', '--bundle', bundle, '--pid-file', pidFile, '--no-new-keyring', id], stdio);
  }

  /** `runc exec` of the OCI process in `processFile` into the running container `id`. */
  static exec(options: { ctx: RuncContext; id: string; processFile: string; pidFile: string; logFile: string; stdio: StdioOptions }): RuncRun {
    const { ctx, id, processFile, pidFile, logFile, stdio } = options;
    return new RuncRun(ctx, id, pidFile, logFile, ['exec', '--detach', '--process', processFile, '--pid-file', pidFile, id], stdio);
  }

  get process(): ChildProcess {
    return this.child;
  }

  /**
   * Resolves with the container's PID 1 (host pid) once runc has started it, or rejects with
   * runc's own error when runc gives up first.
   */
  async waitForPid(): Promise<number> {
    let runcExited = false;
    void this.exited.then(() => {
      runcExited = true;
    });
    // runc writes the pid file once the process runs, usually within tens of milliseconds:
    // a short poll costs little and adds at most a few milliseconds to every start.
    for (let delay = 1; ; delay = Math.min(delay * 2, 4)) {
      const pid = readPidFile(this.pidFile);
      if (pid !== undefined) return pid;
      if (runcExited) {
        const pidAfterExit = readPidFile(this.pidFile);
        if (pidAfterExit !== undefined) return pidAfterExit;
        throw new ContainerError('internal', `runc could not start the process: ${lastRuncError(this.logFile) ?? `runc exited with ${(await this.exited).status}`}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Signals the container's processes through runc (every process of it when `all`). */
  async kill(signal: number, all: boolean): Promise<void> {
    await runcKill(this.ctx, this.id, signal, all);
  }
}

function readPidFile(file: string): number | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    const pid = Number.parseInt(text, 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** runc's log is JSON lines; the last error is what the user needs to read. */
export function lastRuncError(logFile: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) last = entry.msg;
    } catch {
      last = line;
    }
  }
  return last;
}

export async function runcKill(ctx: RuncContext, id: string, signal: number, all: boolean): Promise<void> {
  const args = [...globalArgs(ctx), 'kill'];
  if (all) args.push('--all');
  args.push(id, String(signal));
  await run(RUNC, args);
}

export async function runcPause(ctx: RuncContext, id: string): Promise<void> {
  await run(RUNC, [...globalArgs(ctx), 'pause', id]);
}

export async function runcResume(ctx: RuncContext, id: string): Promise<void> {
  await run(RUNC, [...globalArgs(ctx), 'resume', id]);
}

/** Removes what runc knows of a container, killing what is left of it. Absent is fine. */
export async function runcForceDelete(ctx: RuncContext, id: string): Promise<void> {
  if (!fs.existsSync(path.join(ctx.root, id))) return;
  await run(RUNC, [...globalArgs(ctx), 'delete', '--force', id]).catch(() => undefined);
}
