/**
 * The two images every figure runs, built fresh in each run from the same C sources:
 * the committed wasm fixtures (fixtures/wasm, built from fixtures/src by fixtures/build.sh) in a
 * wasi/wasm image made by `bin/nodewasm build`, and the same sources compiled natively and
 * statically with `cc -static -O2` in a linux/amd64 image made the same way.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PrivateContainerd } from '../src/cli/private-containerd.js';

const run = promisify(execFile);

/** The guests the benchmark uses; each exists as fixtures/wasm/<name>.wasm and fixtures/src/<name>.c. */
export const PROGRAMS = ['hello', 'fib', 'nbody', 'fannkuch', 'spectralnorm', 'mandelbrot', 'sleep'] as const;
export type Program = (typeof PROGRAMS)[number];
/**
 * The CPU-bound ones: recursion and calls (fib), and four programs of the Computer Language
 * Benchmarks Game, single-threaded: floating-point loops (nbody, mandelbrot), divisions and dot
 * products over arrays (spectralnorm), integer work on small arrays (fannkuch).
 */
export const COMPUTE_PROGRAMS = ['fib', 'nbody', 'fannkuch', 'spectralnorm', 'mandelbrot'] as const satisfies readonly Program[];
export type ComputeProgram = (typeof COMPUTE_PROGRAMS)[number];

export const WASM_IMAGE = 'docker.io/library/nodewasm-bench-wasm:1';
export const NATIVE_IMAGE = 'docker.io/library/nodewasm-bench-native:1';

export interface BuiltImages {
  /** Host paths of the native programs, for runs outside containers. */
  native: Record<Program, string>;
  /** Host paths of the wasm programs. */
  wasm: Record<Program, string>;
  /** The compute programs compiled natively by clang -O2, the wasm's own compiler. */
  clangNative: Partial<Record<Program, string>>;
}

export async function buildAndImportImages(pc: PrivateContainerd, repo: string, snapshot: string, work: string): Promise<BuiltImages> {
  const native = {} as Record<Program, string>;
  const wasm = {} as Record<Program, string>;
  for (const program of PROGRAMS) {
    native[program] = join(work, `${program}.native`);
    await run('cc', ['-static', '-O2', '-o', native[program], join(repo, 'fixtures', 'src', `${program}.c`), '-lm']);
    wasm[program] = join(repo, 'fixtures', 'wasm', `${program}.wasm`);
  }

  // gcc and clang optimise these programs very differently: the clang builds tell the two apart.
  // scripts/bench.sh installs clang, so a failure here is an error, never a silently empty row.
  const clangNative: Partial<Record<Program, string>> = {};
  for (const program of COMPUTE_PROGRAMS) {
    const output = join(work, `${program}.clang-native`);
    await run('clang', ['-static', '-O2', '-o', output, join(repo, 'fixtures', 'src', `${program}.c`), '-lm']);
    clangNative[program] = output;
  }

  const wasmTar = join(work, 'wasm-image.tar');
  await run(join(snapshot, 'bin', 'nodewasm'), ['build', '-o', wasmTar, '-t', WASM_IMAGE, ...PROGRAMS.map((p) => wasm[p])]);

  // `--file` keeps an executable host file executable in the image.
  const nativeTar = join(work, 'native-image.tar');
  const nativeFiles = PROGRAMS.flatMap((program) => ['--file', `${native[program]}:/${program}`]);
  await run(join(snapshot, 'bin', 'nodewasm'), ['build', '--platform', 'linux/amd64', '-o', nativeTar, '-t', NATIVE_IMAGE, ...nativeFiles]);

  for (const tar of [wasmTar, nativeTar]) {
    const imported = await pc.ctr(['images', 'import', '--all-platforms', tar], { timeoutMs: 60_000 });
    if (imported.code !== 0) throw new Error(`ctr images import ${tar} failed: ${imported.stderr.trim()}`);
  }
  return { native, wasm, clangNative };
}
