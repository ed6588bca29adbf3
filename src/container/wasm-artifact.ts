/**
 * Images whose wasm is not in the root filesystem: the CNCF wasm OCI artifact form (config
 * application/vnd.wasm.config.v0+json, one raw application/wasm layer per module or component)
 * and images with raw wasm layers beside or instead of tar layers. containerd unpacks only tar
 * layers, so such a container's rootfs lacks its program; the shim reads the wasm layers from
 * containerd's content store and writes each one into the container's root as a file.
 *
 * Which layer runs: the one whose file name the process's first argument names (`/hello.wasm` or
 * `hello.wasm`), else the first wasm layer, with the arguments as given.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AnnotationTitle, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, WASM_LAYER_MEDIA_TYPES } from '../oci/media-types.js';
import { ContainerError } from './errors.js';
import { classifyFile } from './workload.js';

/** Manifests, indexes and configs are small; anything bigger is not one. */
const MAX_JSON_BLOB = 4 * 1024 * 1024;
const MAX_WASM_LAYER = 1024 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

export interface WasmLayerFile {
  layer: BlobDescriptor;
  /** The file's name in the container's root ("/" + this). */
  fileName: string;
}

/** What the shim needs of containerd: the container's image name, an image's target, blobs. */
export interface ImageContentSource {
  imageOfContainer(containerId: string): Promise<string>;
  imageTarget(imageName: string): Promise<BlobDescriptor>;
  readBlob(digest: string, maxBytes: number): Promise<Buffer>;
  copyBlobToFile(digest: string, file: string, maxBytes: number): Promise<number>;
}

const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/**
 * The wasm layers of a manifest, each with the file name it gets: its title annotation when that
 * is a plain file name, else `<first 12 hex digits of its digest>.wasm`.
 */
export function wasmLayerFiles(manifest: unknown): WasmLayerFile[] {
  const layers = (manifest as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) throw new ContainerError('invalid', 'the image manifest has no layers list');
  const files: WasmLayerFile[] = [];
  const names = new Set<string>();
  for (const item of layers) {
    const layer = descriptorOf(item);
    if (!WASM_LAYER_MEDIA_TYPES.has(layer.mediaType)) continue;
    const title = layer.annotations?.[AnnotationTitle];
    let fileName = title !== undefined && SAFE_FILE_NAME.test(title) ? title : `${layer.digest.slice('sha256:'.length, 'sha256:'.length + 12)}.wasm`;
    if (names.has(fileName)) fileName = `${layer.digest.slice('sha256:'.length)}.wasm`;
    names.add(fileName);
    files.push({ layer, fileName });
  }
  return files;
}

/** The manifest of an index to run: the one for a wasm platform, else the only one. */
export function chooseManifest(index: unknown): BlobDescriptor {
  const manifests = (index as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests) || manifests.length === 0) throw new ContainerError('invalid', 'the image index lists no manifests');
  const descriptors = manifests.map(descriptorOf);
  const wasm = descriptors.filter((d) => d.platform?.architecture === 'wasm');
  if (wasm.length > 0) return wasm[0]!;
  if (descriptors.length === 1) return descriptors[0]!;
  throw new ContainerError('invalid', 'the image index has no manifest for a wasm platform (architecture "wasm")');
}

/** Which of the files runs for a process whose first argument is `arg0`. */
export function entrypointFile(files: readonly WasmLayerFile[], arg0: string): WasmLayerFile {
  const named = arg0.replace(/^\/+/, '');
  return files.find((file) => file.fileName === named) ?? files[0]!;
}

/**
 * Finds the container's image in containerd and, when its manifest has wasm layers, writes each
 * into `imageRoot` (files already there with the right content are kept). Returns the guest path
 * of the layer to run, or undefined when the image has no wasm layers.
 */
export async function materialiseWasmLayers(source: ImageContentSource, containerId: string, imageRoot: string, arg0: string): Promise<string | undefined> {
  const imageName = await source.imageOfContainer(containerId);
  if (imageName === '') return undefined;
  let target = await source.imageTarget(imageName);
  for (let depth = 0; INDEX_MEDIA_TYPES.has(target.mediaType); depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new ContainerError('invalid', `image ${imageName}: indexes nested too deep`);
    target = chooseManifest(await readJson(source, target));
  }
  if (!MANIFEST_MEDIA_TYPES.has(target.mediaType)) {
    throw new ContainerError('invalid', `image ${imageName}: its target has media type ${target.mediaType}, not an image manifest`);
  }
  const files = wasmLayerFiles(await readJson(source, target));
  if (files.length === 0) return undefined;
  for (const file of files) await writeLayerFile(source, imageRoot, file);
  return `/${entrypointFile(files, arg0).fileName}`;
}

async function writeLayerFile(source: ImageContentSource, imageRoot: string, file: WasmLayerFile): Promise<void> {
  const hostPath = path.join(imageRoot, file.fileName);
  const existing = fs.lstatSync(hostPath, { throwIfNoEntry: false });
  if (existing !== undefined) {
    if (existing.isFile() && sha256File(hostPath) === file.layer.digest) return;
    throw new ContainerError('invalid', `cannot place wasm layer ${file.layer.digest} at /${file.fileName}: the container's root already has a different /${file.fileName}`);
  }
  // Written under a temporary name, then renamed: a half-written module is never found.
  const temporary = path.join(imageRoot, `.${file.fileName}.nodewasm-${process.pid}`);
  await source.copyBlobToFile(file.layer.digest, temporary, MAX_WASM_LAYER);
  // A layer typed as wasm is run as wasm or not at all: never as a native program or script.
  if (!isWasmBinary(temporary, file.fileName)) {
    fs.rmSync(temporary, { force: true });
    throw new ContainerError('invalid', `the image's wasm layer /${file.fileName} (${file.layer.digest}) is not a WebAssembly binary`);
  }
  fs.chmodSync(temporary, 0o755);
  fs.renameSync(temporary, hostPath);
}

async function readJson(source: ImageContentSource, descriptor: BlobDescriptor): Promise<unknown> {
  const bytes = await source.readBlob(descriptor.digest, MAX_JSON_BLOB);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ContainerError('invalid', `blob ${descriptor.digest} (${descriptor.mediaType}) is not valid JSON`, { cause: err });
  }
}

function descriptorOf(value: unknown): BlobDescriptor {
  const d = value as Partial<BlobDescriptor> | null;
  if (d === null || typeof d !== 'object' || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d.digest)) {
    throw new ContainerError('invalid', `the image has a malformed descriptor: ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  return d as BlobDescriptor;
}

function isWasmBinary(file: string, name: string): boolean {
  try {
    return classifyFile(file, name).kind !== 'native';
  } catch {
    return false;
  }
}

function sha256File(file: string): string {
  return `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}
