/**
 * OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) as one
 * tar archive, the form `ctr images import` reads: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
 */
import { createHash } from 'node:crypto';
import { MediaType } from '../oci/media-types.js';
import { writeTar, type TarEntry } from './tar.js';

export { MediaType } from '../oci/media-types.js';

/** The annotation containerd's importer reads first for the full image name. */
export const AnnotationContainerdImageName = 'io.containerd.image.name';
/** The OCI annotation for the reference (the tag part, as docker buildx writes it). */
export const AnnotationRefName = 'org.opencontainers.image.ref.name';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Blob {
  descriptor: Descriptor;
  data: Buffer;
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * JSON with object keys sorted at every level, so the bytes (and so the digest) do not depend on
 * the order in which code happened to build the object.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}

export function makeBlob(mediaType: string, data: Buffer): Blob {
  return { descriptor: { mediaType, digest: sha256Digest(data), size: data.length }, data };
}

export function jsonBlob(mediaType: string, value: unknown): Blob {
  return makeBlob(mediaType, Buffer.from(canonicalJson(value), 'utf8'));
}

/** Image references, normalised the way containerd's `reference/docker.ParseDockerRef` does. */
export interface ImageReference {
  /** e.g. `docker.io/library/hello:latest` */
  full: string;
  /** e.g. `docker.io/library/hello` */
  repository: string;
  tag?: string;
  digest?: string;
}

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const domainPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

/**
 * `hello` → `docker.io/library/hello:latest`; `ghcr.io/a/b:1` unchanged; a reference with a digest
 * keeps only the digest, as containerd does.
 */
export function normaliseReference(input: string): ImageReference {
  let rest = input.trim();
  if (rest === '') throw new Error('image reference is empty');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw new Error(`invalid digest in image reference "${input}"`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagPattern.test(tag)) throw new Error(`invalid tag in image reference "${input}"`);
  }
  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!domainPattern.test(domain)) throw new Error(`invalid registry "${domain}" in image reference "${input}"`);
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (!pathComponent.test(component)) {
      throw new Error(`invalid image reference "${input}": repository names must be lower-case ("${component}")`);
    }
  }
  const repository = `${domain}/${path}`;
  if (repository.length > 255) throw new Error(`image reference "${input}" is too long`);
  if (digest !== undefined) return { full: `${repository}@${digest}`, repository, digest };
  tag ??= 'latest';
  return { full: `${repository}:${tag}`, repository, tag };
}

export interface LayoutImage {
  manifest: Blob;
  /** The config, layers and any other blobs the manifest refers to. */
  blobs: Blob[];
  platform: Platform;
  reference?: ImageReference;
}

/**
 * Writes an OCI image layout tar holding the given images. Blobs are deduplicated by digest and
 * written in digest order; the index lists the manifests in the order given.
 */
export function writeLayoutTar(images: readonly LayoutImage[]): Buffer {
  const blobs = new Map<string, Buffer>();
  const manifests: Descriptor[] = [];
  for (const image of images) {
    for (const blob of [image.manifest, ...image.blobs]) blobs.set(blob.descriptor.digest, blob.data);
    const descriptor: Descriptor = { ...image.manifest.descriptor, platform: image.platform };
    if (image.reference !== undefined) {
      descriptor.annotations = {
        [AnnotationContainerdImageName]: image.reference.full,
        [AnnotationRefName]: image.reference.tag ?? image.reference.full,
      };
    }
    manifests.push(descriptor);
  }
  const index = { schemaVersion: 2, mediaType: MediaType.index, manifests };
  const entries: TarEntry[] = [
    { path: 'blobs', type: 'directory', mode: 0o755 },
    { path: 'blobs/sha256', type: 'directory', mode: 0o755 },
  ];
  for (const digest of [...blobs.keys()].sort()) {
    const data = blobs.get(digest)!;
    entries.push({ path: `blobs/sha256/${digest.slice('sha256:'.length)}`, type: 'file', mode: 0o644, data });
  }
  entries.push({ path: 'index.json', type: 'file', mode: 0o644, data: Buffer.from(canonicalJson(index)) });
  entries.push({
    path: 'oci-layout',
    type: 'file',
    mode: 0o644,
    data: Buffer.from(canonicalJson({ imageLayoutVersion: '1.0.0' })),
  });
  return writeTar(entries);
}
