/**
 * End-to-end test harness: one private containerd per test file, with this checkout's bin/ on its
 * PATH (so `--runtime io.containerd.nodewasm.v1` finds our shim), stopped and leak-checked after.
 *
 *   const env = withPrivateContainerd();
 *   it('runs', async () => { const r = await env.pc.ctr(['run', '--rm', ...]); ... });
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import {
  containerdBinaryVersion,
  findLeftovers,
  startPrivateContainerd,
  type CtrResult,
  type PrivateContainerd,
  type PrivateContainerdOptions,
} from '../../src/cli/private-containerd.js';
import { ELF_BASE, ELF_HEADERS, elfX64 } from './elf.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binDir = join(repoRoot, 'bin');

/**
 * A folder with another containerd's `containerd` and `ctr` to run the end-to-end tests against
 * (vitest.config.ts sets it for the containerd 1.7 project); unset, the system's are used.
 */
export const CONTAINERD_BIN_ENV = 'NODEWASM_TEST_CONTAINERD_BIN';

/** The binaries options for the containerd under test. */
export function containerdUnderTest(env: NodeJS.ProcessEnv = process.env): Pick<PrivateContainerdOptions, 'containerdBinary' | 'ctrBinary' | 'extraPath'> {
  const dir = env[CONTAINERD_BIN_ENV];
  if (dir === undefined || dir === '') return {};
  if (!existsSync(join(dir, 'containerd'))) {
    throw new Error(`${CONTAINERD_BIN_ENV}=${dir} has no containerd (scripts/fetch-containerd.sh 1.7|2 unpacks one; npm test runs it)`);
  }
  // Its own runc shim too, as its package installs it beside it.
  return { containerdBinary: join(dir, 'containerd'), ctrBinary: join(dir, 'ctr'), extraPath: [dir] };
}

export interface HarnessOptions extends Partial<PrivateContainerdOptions> {
  /** Fail afterAll when the stopped containerd left anything behind. Default true. */
  checkLeftovers?: boolean;
}

export interface PrivateContainerdHandle {
  /** The running instance; only valid inside tests (after beforeAll). */
  readonly pc: PrivateContainerd;
  /** Set after afterAll's stop, for tests that want to look. */
  readonly leftovers: string[] | undefined;
}

/**
 * Starts a private containerd for an end-to-end test: this checkout's bin/ on its PATH, and the
 * containerd under test (NODEWASM_TEST_CONTAINERD_BIN) unless the options name one.
 */
export async function startTestContainerd(options: Partial<PrivateContainerdOptions> = {}): Promise<PrivateContainerd> {
  const underTest = containerdUnderTest();
  const pc = await startPrivateContainerd({ shimDir: binDir, ...underTest, ...options });
  if (underTest.containerdBinary !== undefined) {
    // The containerd answering is the one under test, whatever wrapper started it.
    const expected = await containerdBinaryVersion(underTest.containerdBinary);
    const server = /Server:\s+Version:\s+(\S+)/.exec((await pc.ctr(['version'])).stdout)?.[1];
    if (expected === undefined || server !== expected) {
      await pc.stop();
      throw new Error(`the private containerd reports version ${server ?? '?'}, not ${expected ?? '?'} of ${underTest.containerdBinary}`);
    }
  }
  return pc;
}

/** The running containerd's version as major * 100 + minor (1.7 is 107), from `ctr version`. */
export async function serverVersion(pc: PrivateContainerd): Promise<number> {
  const stdout = (await pc.ctr(['version'])).stdout;
  const match = /Server:\s+Version:\s+v?(\d+)\.(\d+)\./.exec(stdout);
  if (match === null) throw new Error(`no server version in ctr version: ${stdout}`);
  return Number(match[1]) * 100 + Number(match[2]);
}

/** Registers beforeAll/afterAll hooks that start and stop one private containerd for this file. */
export function withPrivateContainerd(options: HarnessOptions = {}): PrivateContainerdHandle {
  const { checkLeftovers = true, ...containerdOptions } = options;
  let instance: PrivateContainerd | undefined;
  let leftovers: string[] | undefined;
  beforeAll(async () => {
    instance = await startTestContainerd(containerdOptions);
  }, 60_000);
  afterAll(async () => {
    if (instance === undefined) return;
    await instance.stop();
    leftovers = await findLeftovers(instance);
    if (checkLeftovers && leftovers.length > 0) {
      throw new Error(`the private containerd left things behind:\n  ${leftovers.join('\n  ')}`);
    }
  }, 90_000);
  return {
    get pc(): PrivateContainerd {
      if (instance === undefined) throw new Error('the private containerd is not running (used outside a test?)');
      return instance;
    },
    get leftovers(): string[] | undefined {
      return leftovers;
    },
  };
}

export class CtrError extends Error {
  constructor(
    readonly args: string[],
    readonly result: CtrResult,
  ) {
    super(`ctr ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

/** Runs ctr and throws unless it exits 0. */
export async function ctrOk(pc: PrivateContainerd, args: string[], namespace?: string): Promise<CtrResult> {
  const result = await pc.ctr(args, namespace !== undefined ? { namespace } : {});
  if (result.code !== 0) throw new CtrError(args, result);
  return result;
}

/**
 * Imports an image tar (OCI layout or docker save) for every platform in it and unpacks it.
 * `--all-platforms` is what lets containerd 1.6 import a wasi/wasm image without naming the
 * platform: without it, the default linux/amd64 filter drops it ("image might be filtered out").
 * Returns the names the archive gave its images.
 */
export async function importImage(pc: PrivateContainerd, tarPath: string, namespace = 'default'): Promise<string[]> {
  const result = await ctrOk(pc, ['images', 'import', '--all-platforms', tarPath], namespace);
  const names: string[] = [];
  for (const match of result.stdout.matchAll(/^unpacking (\S+) \(sha256:[0-9a-f]+\)/gm)) names.push(match[1]!);
  return names;
}

/** A container id no other test (or other private containerd on this machine) will use. */
export function uniqueId(prefix = 'nw'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/**
 * A tiny static x86-64 Linux program, written byte by byte: it writes `message` to stdout, then
 * either exits with `exitCode` or, with `pause`, waits in pause(2) until a signal ends it. No
 * compiler and no libc needed, so the harness can be tested on a machine without a toolchain and
 * without our shim (images of it run under plain runc).
 */
export function tinyElfX64(message: string, options: { exitCode?: number; pause?: boolean } = {}): Buffer {
  const base = ELF_BASE;
  const headersSize = ELF_HEADERS;
  const text = Buffer.from(message, 'utf8');
  const u32 = (value: number): number[] => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
  const codeLength = 22 + (options.pause ? 9 : 12);
  const messageAddress = base + headersSize + codeLength;
  const code = [
    0xb8, ...u32(1), // mov eax, 1 (write)
    0xbf, ...u32(1), // mov edi, 1 (stdout)
    0xbe, ...u32(messageAddress), // mov esi, message
    0xba, ...u32(text.length), // mov edx, length
    0x0f, 0x05, // syscall
    ...(options.pause
      ? [0xb8, ...u32(34), 0x0f, 0x05, 0xeb, 0xf7] // again: mov eax, 34 (pause); syscall; jmp again
      : [0xb8, ...u32(60), 0xbf, ...u32(options.exitCode ?? 0), 0x0f, 0x05]), // exit(code)
  ];
  if (code.length !== codeLength) throw new Error('tinyElfX64: code length mismatch');
  const fileSize = headersSize + code.length + text.length;
  const elf = elfX64(fileSize);
  Buffer.from(code).copy(elf, headersSize);
  text.copy(elf, headersSize + code.length);
  return elf;
}
