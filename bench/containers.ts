/**
 * The two sides of every comparison and the ctr calls the figures are made of: a timed
 * `ctr run --rm`, and a container kept running in the background (attached `ctr run --rm`,
 * ended with SIGKILL) for the figures that look at a live task.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CtrResult, PrivateContainerd } from '../src/cli/private-containerd.js';
import { NATIVE_IMAGE, WASM_IMAGE, type Program } from './images.js';

export const NAMESPACE = 'default';
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

/** What `ctr run` gets: the runtime, the image (and its platform) and the process's argv. */
export interface RunTarget {
  runtime: string;
  platform: string[];
  image: string;
  argv: string[];
}

export interface Side {
  name: 'nodewasm' | 'runc';
  runtime: string;
  /** The program built from fixtures/src/<program>.c, in this side's image. */
  target(program: Program, args?: string[]): RunTarget;
  /** A native `sleep` in a pod of this runtime: what a pod's sandbox ("pause") container is. */
  sandbox(): RunTarget;
}

function side(name: Side['name'], runtime: string, platform: string[], image: string, suffix: string): Side {
  return {
    name,
    runtime,
    target: (program, args = []) => ({ runtime, platform, image, argv: [`/${program}${suffix}`, ...args] }),
    sandbox: () => ({ runtime, platform: [], image: NATIVE_IMAGE, argv: ['/sleep', '3600'] }),
  };
}

/** containerd's name for a runtime's shim binary: io.containerd.runc.v2 -> containerd-shim-runc-v2. */
export function shimBinaryName(runtime: string): string {
  const [, name, version] = /^io\.containerd\.([^.]+)\.(v\d+)$/.exec(runtime) ?? [];
  if (name === undefined) throw new Error(`not a containerd runtime name: ${runtime}`);
  return `containerd-shim-${name}-${version}`;
}

export const NODEWASM = side('nodewasm', 'io.containerd.nodewasm.v1', ['--platform', 'wasi/wasm'], WASM_IMAGE, '.wasm');
export const RUNC = side('runc', 'io.containerd.runc.v2', [], NATIVE_IMAGE, '');

/**
 * The two sides in the order run `round` takes them: alternating who goes first, so that drift
 * (caches warming, a noisy neighbour) hits both sides alike.
 */
export function inTurn<T>(round: number, first: T, second: T): [T, T] {
  return round % 2 === 0 ? [first, second] : [second, first];
}

export function uniqueId(prefix: string): string {
  return `bench-${prefix}-${randomBytes(4).toString('hex')}`;
}

export function runArgs(target: RunTarget, id: string, flags: string[] = []): string[] {
  return ['run', '--rm', '--runtime', target.runtime, ...target.platform, ...flags, target.image, id, ...target.argv];
}

export interface TimedRun {
  ms: number;
  result: CtrResult;
}

/** One `ctr run --rm`, timed from ctr's spawn to its exit. */
export async function timedRun(pc: PrivateContainerd, target: RunTarget, id: string, flags: string[] = [], timeoutMs = 120_000): Promise<TimedRun> {
  const started = performance.now();
  const result = await pc.ctr(runArgs(target, id, flags), { timeoutMs, namespace: NAMESPACE });
  return { ms: performance.now() - started, result };
}

/** Throws unless ctr exited 0 with the guest's expected output: a figure of a failed run is no figure. */
export function expectOutput(run: TimedRun | CtrResult, expected: string | RegExp, what: string): void {
  const result = 'result' in run ? run.result : run;
  const ok = result.code === 0 && (typeof expected === 'string' ? result.stdout.startsWith(expected) : expected.test(result.stdout));
  if (!ok) {
    throw new Error(
      `${what}: ctr exited ${result.code ?? result.signal}; stdout ${JSON.stringify(result.stdout.slice(0, 300))}; ` +
        `stderr ${JSON.stringify(result.stderr.slice(0, 600))}`,
    );
  }
}

/** The bundle containerd made for a task: its `address` file names the shim's socket. */
export function bundlePath(pc: PrivateContainerd, id: string): string {
  return join(pc.state, 'io.containerd.runtime.v2.task', NAMESPACE, id);
}

export async function shimAddressOf(pc: PrivateContainerd, id: string): Promise<string> {
  return (await readFile(join(bundlePath(pc, id), 'address'), 'utf8')).trim();
}

/** A bound for a wait, which must not keep the process alive once the wait is over. */
function timeLimit(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms).unref());
}

/**
 * A container that runs until stopped: an attached `ctr run --rm`, ready once `readyText` showed
 * on its stdout or stderr; stop() sends SIGKILL through ctr, and ctr's --rm deletes task and
 * container.
 */
export class BackgroundContainer {
  private readonly exitCode: Promise<number | null>;

  private constructor(
    private readonly pc: PrivateContainerd,
    readonly id: string,
    private readonly child: ChildProcess,
  ) {
    this.exitCode = new Promise((resolvePromise) => {
      if (child.exitCode !== null || child.signalCode !== null) resolvePromise(child.exitCode);
      else child.once('close', (code) => resolvePromise(code));
    });
  }

  static async start(pc: PrivateContainerd, target: RunTarget, id: string, readyText: string, flags: string[] = [], timeoutMs = 30_000): Promise<BackgroundContainer> {
    const child = pc.ctrSpawn(runArgs(target, id, flags), { namespace: NAMESPACE });
    const container = new BackgroundContainer(pc, id, child);
    let stdout = '';
    let stderr = '';
    let ready = (): void => undefined;
    const onStdout = (chunk: Buffer): void => {
      stdout += chunk.toString('utf8');
      ready();
    };
    const onStderr = (chunk: Buffer): void => {
      stderr += chunk.toString('utf8');
      ready();
    };
    child.stdout!.on('data', onStdout);
    child.stderr!.on('data', onStderr);
    child.stdin!.on('error', () => undefined);
    try {
      await new Promise<void>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`${id} did not print ${JSON.stringify(readyText)} within ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs);
        ready = () => {
          if (stdout.includes(readyText) || stderr.includes(readyText)) {
            clearTimeout(timer);
            resolvePromise();
          }
        };
        ready();
        child.once('close', (code) => {
          clearTimeout(timer);
          reject(new Error(`ctr run ${id} exited (${code}) before it was ready: ${stderr.trim() || stdout.trim()}`));
        });
      });
    } catch (error) {
      await container.stop();
      throw error;
    }
    // From here on the output is drained, not kept: a server may log for as long as it runs.
    child.stdout!.off('data', onStdout).resume();
    child.stderr!.off('data', onStderr).resume();
    return container;
  }

  shimAddress(): Promise<string> {
    return shimAddressOf(this.pc, this.id);
  }

  /** Kills the task and waits for ctr to remove it; bounded, and forceful if ctr hangs. */
  async stop(): Promise<void> {
    await this.pc.ctr(['task', 'kill', '-s', 'SIGKILL', this.id], { namespace: NAMESPACE, timeoutMs: 15_000 });
    const exited = await Promise.race([this.exitCode.then(() => true), timeLimit(20_000).then(() => false)]);
    this.child.stdin?.destroy();
    if (!exited) {
      this.child.kill('SIGKILL');
      await this.pc.ctr(['task', 'rm', '-f', this.id], { namespace: NAMESPACE, timeoutMs: 30_000 });
      await this.pc.ctr(['containers', 'rm', this.id], { namespace: NAMESPACE, timeoutMs: 30_000 });
    }
  }
}
