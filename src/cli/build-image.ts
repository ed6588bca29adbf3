/**
 * `nodewasm build`: packs .wasm files (and any extra files) into a single-layer OCI image whose
 * platform is wasi/wasm, written as an OCI image layout tar for `ctr images import`.
 *
 * The output is reproducible: entries are sorted, timestamps are 0, owners are root, JSON keys
 * are sorted. Layers are uncompressed by default, because a gzip stream's bytes depend on the zlib
 * build that produced it (Node bundles its own, with CPU-specific fast paths), so the same inputs
 * could give different digests on different machines or Node versions; a tar layer's bytes depend
 * only on the inputs. `--gzip` trades that for smaller blobs (reproducible with the same Node).
 */
import { readFile, writeFile, rename, stat } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import { layerEntries, writeTar } from './tar.js';
import { buildWasmArtifact, sourceDateEpoch, type ArtifactFile } from './build-artifact.js';
import {
  MediaType,
  jsonBlob,
  makeBlob,
  normaliseReference,
  sha256Digest,
  writeLayoutTar,
  type Descriptor,
  type ImageReference,
  type Platform,
} from './oci-layout.js';

export interface ImageFile {
  /** Absolute path inside the image, e.g. `/hello.wasm`. */
  guestPath: string;
  data: Uint8Array;
  /** Defaults to 0755 for `.wasm` files and 0644 for anything else. */
  mode?: number;
}

export interface BuildImageOptions {
  files: readonly ImageFile[];
  /** `name[:tag]`, normalised as containerd does; without it the image is anonymous. */
  reference?: string;
  /** Defaults to wasi/wasm. */
  platform?: Platform;
  /** Defaults to the first file's guest path. */
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  /** Defaults to `/`. */
  workingDir?: string;
  /** The image config's User (`uid[:gid]`); the container's process runs as it. */
  user?: string;
  /** Manifest annotations, e.g. `module.wasm.image/variant=compat-smart`. */
  annotations?: Record<string, string>;
  compression?: 'none' | 'gzip';
}

export interface BuiltImage {
  /** The OCI image layout tar. */
  archive: Buffer;
  reference?: ImageReference;
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** sha256 of the uncompressed layer (the config's rootfs.diff_ids entry). */
  diffId: string;
}

export const WasmPlatform: Platform = { os: 'wasi', architecture: 'wasm' };

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export function isWasm(data: Uint8Array): boolean {
  return WASM_MAGIC.every((byte, i) => data[i] === byte);
}

function checkGuestPath(path: string): string {
  if (!path.startsWith('/')) throw new Error(`guest path "${path}" must be absolute`);
  const normal = posix.normalize(path);
  if (normal !== path || path.endsWith('/') || path === '/') {
    throw new Error(`guest path "${path}" must be a normalised file path (like ${normal.replace(/\/$/, '') || '/file'})`);
  }
  return path;
}

function defaultMode(guestPath: string): number {
  return guestPath.endsWith('.wasm') ? 0o755 : 0o644;
}

/** Builds the image in memory. Pure: the same options give the same bytes. */
export function buildImage(options: BuildImageOptions): BuiltImage {
  if (options.files.length === 0) throw new Error('an image needs at least one file');
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  for (const file of options.files) {
    const guestPath = checkGuestPath(file.guestPath);
    if (files.has(guestPath)) throw new Error(`two files for the same guest path ${guestPath}`);
    files.set(guestPath, { data: file.data, mode: file.mode ?? defaultMode(guestPath) });
  }
  for (const path of files.keys()) {
    for (let parent = posix.dirname(path); parent !== '/'; parent = posix.dirname(parent)) {
      if (files.has(parent)) throw new Error(`${parent} is both a file and the directory of ${path}`);
    }
  }

  const layerTar = writeTar(layerEntries(files));
  const diffId = sha256Digest(layerTar);
  const layer =
    options.compression === 'gzip'
      ? makeBlob(MediaType.layerGzip, gzipSync(layerTar, { level: zlibConstants.Z_BEST_COMPRESSION }))
      : makeBlob(MediaType.layer, layerTar);

  const platform = options.platform ?? WasmPlatform;
  const imageConfig: Record<string, unknown> = {
    Entrypoint: options.entrypoint ?? [options.files[0]!.guestPath],
    Env: options.env ?? [],
    WorkingDir: options.workingDir ?? '/',
  };
  if (options.cmd !== undefined) imageConfig['Cmd'] = options.cmd;
  if (options.user !== undefined) imageConfig['User'] = options.user;
  const config = jsonBlob(MediaType.config, {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config: imageConfig,
    rootfs: { type: 'layers', diff_ids: [diffId] },
  });

  const manifestValue: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.manifest,
    config: config.descriptor,
    layers: [layer.descriptor],
  };
  if (options.annotations !== undefined && Object.keys(options.annotations).length > 0) {
    manifestValue['annotations'] = options.annotations;
  }
  const manifest = jsonBlob(MediaType.manifest, manifestValue);
  const reference = options.reference !== undefined ? normaliseReference(options.reference) : undefined;
  const archive = writeLayoutTar([
    { manifest, blobs: [config, layer], platform, ...(reference !== undefined ? { reference } : {}) },
  ]);
  return {
    archive,
    ...(reference !== undefined ? { reference } : {}),
    manifest: manifest.descriptor,
    config: config.descriptor,
    layer: layer.descriptor,
    diffId,
  };
}

/** `KEY=VALUE` pairs into a record; the first `=` separates. */
function parsePairs(values: readonly string[], what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} "${value}" must look like key=value`);
    result[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return result;
}

/** A JSON array of strings, or one plain string taken as a single element. */
function parseCommand(value: string, what: string): string[] {
  if (!value.trimStart().startsWith('[')) return [value];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(`${what} is not valid JSON: ${value}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new UsageError(`${what} must be a JSON array of strings`);
  }
  return parsed as string[];
}

function parsePlatform(value: string): Platform {
  const [os, architecture, variant, ...extra] = value.split('/');
  if (!os || !architecture || extra.length > 0) throw new UsageError(`platform "${value}" must be os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const buildUsage = `Usage: nodewasm build [options] FILE.wasm [FILE.wasm...]

Writes an OCI image layout tar (platform wasi/wasm) for \`ctr images import\`.
Each FILE.wasm goes to /<basename>; the entrypoint defaults to the first one.
With --artifact, writes the CNCF wasm OCI artifact form instead: one application/wasm layer per
file, config application/vnd.wasm.config.v0+json, platform wasip1/wasm (wasip2/wasm when the
first file is a component). It has no entrypoint, env or extra files: a container runs the layer
its first argument names, else the first one.

Options:
  -o, --output PATH         where to write the tar (default: <first wasm basename>.tar)
  -t, --tag NAME[:TAG]      image name, normalised like containerd (hello -> docker.io/library/hello:latest)
  --file HOST:GUEST         add a file at an absolute guest path (repeatable)
  --entrypoint CMD          a path, or a JSON array of strings
  --cmd CMD                 image Cmd: a string, or a JSON array of strings
  --env KEY=VALUE           image environment (repeatable)
  --workdir DIR             working directory (default /)
  --user UID[:GID]          user the container runs as (default: root)
  --annotation KEY=VALUE    manifest annotation, e.g. module.wasm.image/variant=compat-smart (repeatable)
  --platform OS/ARCH        image platform (default wasi/wasm)
  --gzip                    gzip the layer (smaller; digests then depend on Node's zlib)
  --artifact                the wasm OCI artifact form (takes only -o, -t, --annotation)

Import and run (containerd 1.6+):
  ctr images import --platform wasi/wasm OUT.tar
  ctr run --rm --runtime io.containerd.nodewasm.v1 --platform wasi/wasm NAME ID

The artifact form needs containerd 1.7 or later and a client that does not read an image config
(the CRI plugin does; ctr run refuses its config type):
  ctr -n k8s.io images import --platform wasip1/wasm OUT.tar
`;

/** The `nodewasm build` command. Returns the process exit code. */
export async function buildCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      tag: { type: 'string', short: 't' },
      file: { type: 'string', multiple: true, default: [] },
      entrypoint: { type: 'string' },
      cmd: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      workdir: { type: 'string' },
      user: { type: 'string' },
      annotation: { type: 'string', multiple: true, default: [] },
      platform: { type: 'string' },
      gzip: { type: 'boolean', default: false },
      artifact: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(buildUsage);
    return 0;
  }
  if (positionals.length === 0 && values.file.length === 0) throw new UsageError('no input files');
  if (values.artifact) {
    const imageOnly = (['file', 'entrypoint', 'cmd', 'env', 'workdir', 'user', 'platform', 'gzip'] as const).filter((name) => {
      const value = values[name];
      return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
    });
    if (imageOnly.length > 0) {
      throw new UsageError(`--artifact cannot take ${imageOnly.map((name) => `--${name}`).join(', ')}: the wasm artifact form has only wasm layers (build an image without --artifact)`);
    }
    if (positionals.length === 0) throw new UsageError('--artifact needs at least one .wasm file');
    return writeArtifact(positionals, values.tag, parsePairs(values.annotation, '--annotation'), values.output);
  }

  const files: ImageFile[] = [];
  for (const path of positionals) {
    const data = await readFile(path);
    // A warning, not an error: tests put deliberately broken modules into images.
    if (!isWasm(data)) process.stderr.write(`nodewasm build: warning: ${path} is not a WebAssembly file (no \\0asm header)\n`);
    files.push({ guestPath: `/${basename(path)}`, data });
  }
  for (const spec of values.file) {
    const colon = spec.lastIndexOf(':');
    if (colon <= 0 || colon === spec.length - 1) throw new UsageError(`--file "${spec}" must look like HOST:GUEST`);
    const hostPath = spec.slice(0, colon);
    // An executable file stays executable (a native sidecar's entrypoint, a #! script).
    const executable = ((await stat(hostPath)).mode & 0o111) !== 0;
    files.push({ guestPath: spec.slice(colon + 1), data: await readFile(hostPath), ...(executable ? { mode: 0o755 } : {}) });
  }
  const env = values.env;
  for (const item of env) if (item.indexOf('=') <= 0) throw new UsageError(`--env "${item}" must look like KEY=VALUE`);

  const image = buildImage({
    files,
    ...(values.tag !== undefined ? { reference: values.tag } : {}),
    ...(values.platform !== undefined ? { platform: parsePlatform(values.platform) } : {}),
    ...(values.entrypoint !== undefined ? { entrypoint: parseCommand(values.entrypoint, '--entrypoint') } : {}),
    ...(values.cmd !== undefined ? { cmd: parseCommand(values.cmd, '--cmd') } : {}),
    env,
    ...(values.workdir !== undefined ? { workingDir: values.workdir } : {}),
    ...(values.user !== undefined ? { user: values.user } : {}),
    annotations: parsePairs(values.annotation, '--annotation'),
    compression: values.gzip ? 'gzip' : 'none',
  });

  await writeOutput(values.output ?? defaultOutput(positionals[0] ?? files[0]!.guestPath), image);
  return 0;
}

async function writeArtifact(paths: readonly string[], tag: string | undefined, annotations: Record<string, string>, output: string | undefined): Promise<number> {
  const files: ArtifactFile[] = [];
  for (const path of paths) {
    const data = await readFile(path);
    if (!isWasm(data)) throw new UsageError(`${path} is not a WebAssembly file (no \\0asm header): the artifact form holds only wasm`);
    files.push({ name: basename(path), data });
  }
  const created = sourceDateEpoch();
  const artifact = buildWasmArtifact({ files, ...(tag !== undefined ? { reference: tag } : {}), annotations, ...(created !== undefined ? { created } : {}) });
  await writeOutput(output ?? defaultOutput(paths[0]!), artifact);
  return 0;
}

function defaultOutput(firstInput: string): string {
  return `${basename(firstInput).replace(/\.wasm$/, '')}.tar`;
}

/** Writes the tar atomically and prints where, the name and the manifest digest. */
async function writeOutput(output: string, built: { archive: Buffer; reference?: ImageReference; manifest: Descriptor }): Promise<void> {
  const temporary = `${output}.${process.pid}.tmp`;
  await writeFile(temporary, built.archive);
  await rename(temporary, output);
  process.stdout.write(`${output}: ${built.reference?.full ?? '(no name)'} ${built.manifest.digest} (${built.archive.length} bytes)\n`);
}
