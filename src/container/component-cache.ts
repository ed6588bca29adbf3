/**
 * The node's cache of transpiled components: jco turns a component into JS plus core modules
 * once per component digest, into <cache>/<sha256>/, shared by every container and shim on the
 * node and bind-mounted read-only into the containers that run it. Written atomically (a temp
 * directory renamed into place), so a container never sees half a transpile and two shims racing
 * on the same component both end up with one complete copy.
 *
 * jco is loaded only here, only when a component is created: the shim's start and delete paths,
 * and containers of core modules, never pay for it.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import v8 from 'node:v8';
import path from 'node:path';
import { checkWorld, transpileOptions, type ComponentWorld } from '../wasm/component/transpile-options.js';
import { ContainerError } from './errors.js';

export const CACHE_DIR_ENV = 'NODEWASM_CACHE_DIR';
export const DEFAULT_CACHE_DIR = '/var/lib/nodewasm/components';
/** Written last into each entry: its presence means the entry is complete. */
const META_FILE = 'nodewasm.json';
/** Bumped when the transpile options or the host contract change, so old entries are not reused. */
const CACHE_FORMAT = 3;

export interface PreparedComponent {
  digest: string;
  /** Host directory with component.js and its core modules. */
  dir: string;
  world: ComponentWorld;
  /** Whether this call transpiled it (false: it was in the cache). */
  transpiled: boolean;
}

interface Meta {
  format: number;
  world: ComponentWorld;
}

/** @bytecodealliance/jco-transpile: jco's transpiler alone, without the component builders jco brings. */
interface JcoApi {
  transpileBytes(bytes: Uint8Array, options: object): Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: Array<[string, string]> }>;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env[CACHE_DIR_ENV] || DEFAULT_CACHE_DIR;
}

let jco: Promise<JcoApi> | undefined;

/**
 * V8 flags for the process that transpiles: jco's transpiler is the only wasm the shim runs, once
 * per component, so baseline code is enough. With V8's optimising tier the transpile of hello's
 * component took 210-230 ms instead of 170-180, and the optimiser, still busy in the background,
 * held the daemon's exit up by 150 ms (over a second under load). Set here, before jco's wasm is
 * compiled, not on the command line: any V8 flag there makes Node reject its code cache, and the
 * shim's every start 9 ms slower (all measured 2026-11-22 on this project's machine).
 */
const TRANSPILER_V8_FLAGS = ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering'];

function loadJco(): Promise<JcoApi> {
  // A computed specifier: the bundler leaves jco (with its own wasm files) in node_modules.
  const specifier = ['@bytecodealliance', 'jco-transpile'].join('/');
  if (jco === undefined) for (const flag of TRANSPILER_V8_FLAGS) v8.setFlagsFromString(flag);
  jco ??= (import(specifier) as Promise<JcoApi>).catch((err: unknown) => {
    jco = undefined;
    throw new ContainerError('internal', `cannot load ${specifier} to transpile components: ${(err as Error).message}`, { cause: err });
  });
  return jco;
}

function readMeta(dir: string): Meta | undefined {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), 'utf8')) as Meta;
    return meta.format === CACHE_FORMAT ? meta : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cached transpile of the component in `hostPath` (the entrypoint inside the image root),
 * made now if missing. `arg0` names it in errors, which ctr shows at Create.
 */
export async function prepareComponent(hostPath: string, arg0: string, root = cacheRoot()): Promise<PreparedComponent> {
  const bytes = fs.readFileSync(hostPath);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(root, `${digest}-v${CACHE_FORMAT}`);
  const cached = readMeta(dir);
  if (cached) return { digest, dir, world: cached.world, transpiled: false };

  const api = await loadJco();
  let result: Awaited<ReturnType<JcoApi['transpileBytes']>>;
  try {
    result = await api.transpileBytes(bytes, transpileOptions());
  } catch (err) {
    throw new ContainerError('invalid', `entrypoint "${arg0}" is not a valid WebAssembly component: ${errorText(err)}`, { cause: err });
  }
  const check = checkWorld(result.imports, result.exports);
  if (check.world === undefined) throw new ContainerError('invalid', `entrypoint "${arg0}" cannot run: it ${check.problem}`);

  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const temp = path.join(root, `.tmp-${digest.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  try {
    fs.mkdirSync(temp, { mode: 0o755 });
    for (const [name, content] of Object.entries(result.files)) {
      // Only what the runner loads: the module and its core wasm (no typings).
      if (name.includes('/') || name.endsWith('.d.ts')) continue;
      fs.writeFileSync(path.join(temp, name), name.endsWith('.js') ? patchBindings(content) : content, { mode: 0o644 });
    }
    fs.writeFileSync(path.join(temp, META_FILE), JSON.stringify({ format: CACHE_FORMAT, world: check.world } satisfies Meta), { mode: 0o644 });
    try {
      fs.renameSync(temp, dir);
    } catch (err) {
      // Another shim finished the same component first: its copy is as good as ours.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !readMeta(dir)) throw err;
    }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
  return { digest, dir, world: check.world, transpiled: true };
}

/**
 * jco 1.35 lowers an empty string to (ptr 1, len 0) without calling the guest's cabi_realloc; the
 * canonical ABI calls realloc for every string, and the preview1 adapter relies on it: it writes
 * each string's NUL terminator from its realloc, so an empty environment value ran into the next
 * variable ("EMPTY=PATH=/bin"). Removing jco's shortcut makes empty strings go through realloc.
 */
const EMPTY_STRING_SHORTCUT = 'if (s.length === 0) { return { ptr: 1, len: 0 }; }';

export function patchBindings(js: Uint8Array): Uint8Array {
  const text = Buffer.from(js).toString('utf8');
  if (!text.includes(EMPTY_STRING_SHORTCUT)) return js;
  return Buffer.from(text.split(EMPTY_STRING_SHORTCUT).join(''), 'utf8');
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // wasm-tools' messages span lines; ctr shows one.
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join('; ').slice(0, 500);
}
