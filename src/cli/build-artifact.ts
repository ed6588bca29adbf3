/**
 * `nodewasm build --artifact`: the CNCF TAG Runtime wasm OCI artifact form. One raw
 * `application/wasm` layer per module or component (named by its title annotation), and a config
 * of type `application/vnd.wasm.config.v0+json` that carries the platform (architecture "wasm",
 * os "wasip1" for core modules, "wasip2" for components), the layer digests, and for a
 * component the interfaces it imports and exports.
 *
 * The form has no entrypoint, environment or extra files: the layer to run is chosen by the
 * container's first argument (or is the first layer), and containerd does not unpack it into a
 * root filesystem; the shim reads the layers from containerd's content store.
 *
 * Reproducible like the image form: no timestamp unless SOURCE_DATE_EPOCH is set.
 */
import { AnnotationTitle, MediaType } from '../oci/media-types.js';
import { componentInterfaces, isComponentBinary } from '../oci/component-interfaces.js';
import { jsonBlob, makeBlob, normaliseReference, writeLayoutTar, type Blob, type Descriptor, type ImageReference, type Platform } from './oci-layout.js';

export interface ArtifactFile {
  /** The file's name, e.g. `hello.wasm`: the layer's title, and its file in the container's root. */
  name: string;
  data: Uint8Array;
}

export interface BuildArtifactOptions {
  files: readonly ArtifactFile[];
  reference?: string;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** The config's `created` time, e.g. from SOURCE_DATE_EPOCH; omitted when absent. */
  created?: Date;
}

export interface BuiltArtifact {
  archive: Buffer;
  reference?: ImageReference;
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  platform: Platform;
  /** Every blob by digest (manifest, config, layers): what a registry push uploads. */
  blobs: Map<string, Buffer>;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

export function buildWasmArtifact(options: BuildArtifactOptions): BuiltArtifact {
  if (options.files.length === 0) throw new Error('an artifact needs at least one .wasm file');
  const names = new Set<string>();
  const layers: Blob[] = [];
  for (const file of options.files) {
    if (!FILE_NAME.test(file.name)) throw new Error(`layer name "${file.name}" must be a plain file name (letters, digits, . _ + -)`);
    if (names.has(file.name)) throw new Error(`two files named ${file.name}`);
    names.add(file.name);
    const layer = makeBlob(MediaType.wasmLayer, Buffer.from(file.data));
    layer.descriptor.annotations = { [AnnotationTitle]: file.name };
    layers.push(layer);
  }
  const first = options.files[0]!.data;
  const isComponent = isComponentBinary(first);
  const platform: Platform = { os: isComponent ? 'wasip2' : 'wasip1', architecture: 'wasm' };
  const configValue: Record<string, unknown> = {
    architecture: platform.architecture,
    os: platform.os,
    layerDigests: layers.map((layer) => layer.descriptor.digest),
  };
  if (isComponent) configValue['component'] = componentInterfaces(first);
  if (options.created !== undefined) configValue['created'] = options.created.toISOString();
  const config = jsonBlob(MediaType.wasmConfig, configValue);

  const manifestValue: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.manifest,
    config: config.descriptor,
    layers: layers.map((layer) => layer.descriptor),
  };
  if (options.annotations !== undefined && Object.keys(options.annotations).length > 0) manifestValue['annotations'] = options.annotations;
  const manifest = jsonBlob(MediaType.manifest, manifestValue);
  const reference = options.reference !== undefined ? normaliseReference(options.reference) : undefined;
  const archive = writeLayoutTar([{ manifest, blobs: [config, ...layers], platform, ...(reference !== undefined ? { reference } : {}) }]);
  return {
    archive,
    ...(reference !== undefined ? { reference } : {}),
    manifest: manifest.descriptor,
    config: config.descriptor,
    layers: layers.map((layer) => layer.descriptor),
    platform,
    blobs: new Map([manifest, config, ...layers].map((blob) => [blob.descriptor.digest, blob.data])),
  };
}

/** SOURCE_DATE_EPOCH (seconds since the epoch), the reproducible-builds convention, if set. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): Date | undefined {
  const value = env['SOURCE_DATE_EPOCH'];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, not "${value}"`);
  return new Date(Number(value) * 1000);
}
