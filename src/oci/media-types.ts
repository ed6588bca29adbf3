/**
 * Media types of OCI images and of the CNCF wasm artifact form, shared by `nodewasm build` (which
 * writes them) and the shim (which reads them from containerd's content store).
 */
export const MediaType = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** The config of the CNCF TAG Runtime wasm OCI artifact (architecture, os, layerDigests, component). */
  wasmConfig: 'application/vnd.wasm.config.v0+json',
  /** A wasm module or component as one raw layer, as the wasm artifact form has it. */
  wasmLayer: 'application/wasm',
} as const;

/**
 * Layer types whose bytes are one wasm binary: the artifact form's, and the older ones that
 * runwasi's image builder and others wrote before it.
 */
export const WASM_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.wasmLayer,
  'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
  'application/vnd.w3c.wasm.module.v1+wasm',
  'application/vnd.wasm.content.layer.v1+wasm',
]);

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.index, MediaType.dockerManifestList]);
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.manifest, MediaType.dockerManifest]);

/** The OCI annotation that names a layer's file (as `oras push` and our builder set it). */
export const AnnotationTitle = 'org.opencontainers.image.title';
