/**
 * The guests outside any container: the runner on the pinned Node exactly as a container runs it
 * (`node dist/runner.mjs <settings>`, see test/unit/wasm-runner.test.ts), and the native programs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RunnerSettings } from '../src/wasm/settings.js';
import type { BenchContext } from './figure.js';
import type { Program } from './images.js';

/** The PATH a container gets from ctr's default spec; the guest sees the same in both cases. */
const CONTAINER_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let settingsCount = 0;

/** The command line that runs `program` through the runner, with a guest root of its own. */
export async function runnerCommand(ctx: BenchContext, program: Program, args: string[]): Promise<string[]> {
  const root = join(ctx.work, `guest-root-${settingsCount}`);
  await mkdir(root, { recursive: true });
  const wasm = ctx.images.wasm[program];
  await copyFile(wasm, join(root, basename(wasm)));
  const settings: RunnerSettings = {
    version: 1,
    kind: 'module',
    guestRoot: root,
    entrypoint: `/${basename(wasm)}`,
    args: [`/${basename(wasm)}`, ...args],
    env: [CONTAINER_PATH],
    cwd: '/',
  };
  const file = join(ctx.work, `settings-${settingsCount++}.json`);
  await writeFile(file, JSON.stringify(settings));
  return [ctx.node, join(ctx.snapshot, 'dist', 'runner.mjs'), file];
}

export interface BareRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return { stdout: () => stdout, stderr: () => stderr };
}

/** Runs a command to its end, timed from spawn to exit; killed after `timeoutMs`. */
export function timedBare(command: string[], timeoutMs = 120_000): Promise<BareRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    const output = collect(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ ms: performance.now() - started, code, stdout: output.stdout(), stderr: output.stderr() });
    });
  });
}

export interface BareProcess {
  pid: number;
  stop(): Promise<void>;
}

/** Starts a long-running command and resolves once it printed `readyText`. */
export async function startBare(command: string[], readyText: string, timeoutMs = 30_000): Promise<BareProcess> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  const output = collect(child);
  const closed = new Promise<void>((resolvePromise) => child.once('close', () => resolvePromise()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  };
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (output.stdout().includes(readyText)) {
          clearInterval(poll);
          resolvePromise();
        } else if (child.exitCode !== null || child.signalCode !== null || Date.now() - started > timeoutMs) {
          clearInterval(poll);
          reject(new Error(`${command.join(' ')} did not print ${JSON.stringify(readyText)}: ${output.stderr().trim()}`));
        }
      }, 5);
      child.once('error', (error) => {
        clearInterval(poll);
        reject(error);
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, stop };
}
