import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../hash/sha256.js';
import { run } from './exec.js';
import { ContainerError } from './errors.js';

/**
 * The host files a wasm container needs to run the runner: the pinned Node binary with exactly
 * the shared libraries it links, the dynamic loader that starts it, the bundled runner and tini.
 * They are bind-mounted read-only into the container, so the image's own /lib stays untouched.
 */
export interface RunnerFiles {
  node: string;
  loader: string;
  /** Host path of each library, keyed by the name the loader looks for. */
  libraries: ReadonlyMap<string, string>;
  runner: string;
  /** The component host, which the runner imports from beside itself for components only. */
  runnerComponent: string;
  tini: string;
}

/**
 * Where tini may be: NODEWASM_TINI, the copy `nodewasm install` puts beside the shim (nodes of
 * kind or k3s have no tini package), then Debian's.
 */
function tiniCandidates(installRoot: string): string[] {
  const candidates = [path.join(installRoot, 'bin', 'tini-static'), '/usr/bin/tini-static', '/usr/bin/tini'];
  return process.env.NODEWASM_TINI ? [process.env.NODEWASM_TINI, ...candidates] : candidates;
}

let cached: Promise<RunnerFiles> | undefined;

/** Finds the runner's files once per shim daemon. */
export function findRunnerFiles(): Promise<RunnerFiles> {
  cached ??= discover().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function discover(): Promise<RunnerFiles> {
  const node = fs.realpathSync(process.execPath);
  const distDir = path.dirname(fileURLToPath(import.meta.url));
  const runner = path.join(distDir, 'runner.mjs');
  const runnerComponent = path.join(distDir, 'runner-component.mjs');
  for (const file of [runner, runnerComponent]) {
    if (!fs.existsSync(file)) throw new ContainerError('internal', `the wasm runner is missing at ${file}: run "npm run build"`);
  }
  const tini = tiniCandidates(path.dirname(distDir)).find((p) => fs.existsSync(p));
  if (tini === undefined) {
    throw new ContainerError('internal', 'tini is not installed (Debian package "tini"): it runs as PID 1 of every wasm container');
  }
  const { loader, libraries } = await linkedLibraries(node);
  return { node, loader, libraries, runner, runnerComponent, tini };
}

/**
 * Where the libraries of the Node binary are remembered between shim daemons: every `ctr run`
 * starts a daemon, and ldd costs an exec on the way to Create. /run is emptied at boot, and an
 * entry is used only while the binary is unchanged and every file it names still exists.
 */
const LIBRARY_CACHE_DIR = '/run/nodewasm';

interface CachedLibraries {
  node: string;
  size: number;
  mtimeMs: number;
  loader: string;
  libraries: Array<[string, string]>;
}

async function linkedLibraries(node: string): Promise<{ loader: string; libraries: Map<string, string> }> {
  const stat = fs.statSync(node);
  const cacheFile = path.join(LIBRARY_CACHE_DIR, `libraries-${sha256Hex(node).slice(0, 16)}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as CachedLibraries;
    const files = [cached.loader, ...cached.libraries.map(([, file]) => file)];
    if (cached.node === node && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs && files.every((f) => fs.existsSync(f))) {
      return { loader: cached.loader, libraries: new Map(cached.libraries) };
    }
  } catch {
    // no usable entry: ask ldd
  }
  const found = parseLdd(await run('ldd', [node]));
  try {
    fs.mkdirSync(LIBRARY_CACHE_DIR, { recursive: true, mode: 0o755 });
    const entry: CachedLibraries = { node, size: stat.size, mtimeMs: stat.mtimeMs, loader: found.loader, libraries: [...found.libraries] };
    const temporary = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(temporary, JSON.stringify(entry));
    fs.renameSync(temporary, cacheFile);
  } catch {
    // a cache we cannot write only costs the next daemon an ldd
  }
  return found;
}

/** Reads ldd's output: "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x…)" and the loader line. */
export function parseLdd(output: string): { loader: string; libraries: Map<string, string> } {
  const libraries = new Map<string, string>();
  let loader: string | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const arrow = /^(\S+) => (\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (arrow) {
      libraries.set(arrow[1]!, fs.realpathSync(arrow[2]!));
      continue;
    }
    const direct = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (direct && /ld-linux|ld\.so|ld-musl/.test(direct[1]!)) loader = fs.realpathSync(direct[1]!);
  }
  if (loader === undefined) {
    throw new ContainerError('internal', 'could not find the dynamic loader of the Node runtime in ldd output');
  }
  return { loader, libraries };
}
