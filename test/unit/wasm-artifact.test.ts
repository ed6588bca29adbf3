import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseManifest, entrypointFile, materialiseWasmLayers, wasmLayerFiles, type BlobDescriptor, type ImageContentSource } from '../../src/container/wasm-artifact.js';

const digestOf = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const module = (tag: number): Buffer => Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x61, tag]);

function descriptor(mediaType: string, data: Uint8Array, extra: Partial<BlobDescriptor> = {}): BlobDescriptor {
  return { mediaType, digest: digestOf(data), size: data.length, ...extra };
}

describe('wasmLayerFiles', () => {
  it('takes the wasm layers in order, named by title or by digest, and skips the rest', () => {
    const a = module(1);
    const b = module(2);
    const tar = Buffer.from('a tar layer');
    const files = wasmLayerFiles({
      layers: [
        descriptor('application/vnd.oci.image.layer.v1.tar', tar),
        descriptor('application/wasm', a, { annotations: { 'org.opencontainers.image.title': 'app.wasm' } }),
        descriptor('application/vnd.bytecodealliance.wasm.component.layer.v0+wasm', b),
      ],
    });
    expect(files.map((file) => file.fileName)).toEqual(['app.wasm', `${digestOf(b).slice(7, 19)}.wasm`]);
  });

  it('never takes a title that is a path or a hidden name, and keeps names unique', () => {
    const a = module(1);
    const b = module(2);
    const files = wasmLayerFiles({
      layers: [
        descriptor('application/wasm', a, { annotations: { 'org.opencontainers.image.title': '../../etc/passwd' } }),
        descriptor('application/wasm', b, { annotations: { 'org.opencontainers.image.title': `${digestOf(a).slice(7, 19)}.wasm` } }),
      ],
    });
    expect(files[0]!.fileName).toBe(`${digestOf(a).slice(7, 19)}.wasm`);
    expect(files[1]!.fileName).toBe(`${digestOf(b).slice(7)}.wasm`);
  });

  it('refuses a manifest without layers and a malformed descriptor', () => {
    expect(() => wasmLayerFiles({})).toThrow(/no layers list/);
    expect(() => wasmLayerFiles({ layers: [{ mediaType: 'application/wasm', digest: 'md5:abc' }] })).toThrow(/malformed descriptor/);
  });
});

describe('chooseManifest and entrypointFile', () => {
  const linux = descriptor('application/vnd.oci.image.manifest.v1+json', Buffer.from('l'), { platform: { os: 'linux', architecture: 'amd64' } });
  const wasm = descriptor('application/vnd.oci.image.manifest.v1+json', Buffer.from('w'), { platform: { os: 'wasip2', architecture: 'wasm' } });

  it('prefers the wasm platform, takes a lone manifest, and refuses an index without either', () => {
    expect(chooseManifest({ manifests: [linux, wasm] })).toEqual(wasm);
    expect(chooseManifest({ manifests: [linux] })).toEqual(linux);
    expect(() => chooseManifest({ manifests: [linux, linux] })).toThrow(/no manifest for a wasm platform/);
    expect(() => chooseManifest({ manifests: [] })).toThrow(/lists no manifests/);
  });

  it('runs the layer the first argument names, with or without a slash, else the first', () => {
    const files = wasmLayerFiles({
      layers: ['a.wasm', 'b.wasm'].map((title, i) => descriptor('application/wasm', module(i), { annotations: { 'org.opencontainers.image.title': title } })),
    });
    expect(entrypointFile(files, 'b.wasm').fileName).toBe('b.wasm');
    expect(entrypointFile(files, '/b.wasm').fileName).toBe('b.wasm');
    expect(entrypointFile(files, 'server').fileName).toBe('a.wasm');
  });
});

/** Blobs in memory, as containerd's content store would serve them. */
class MemoryStore implements ImageContentSource {
  readonly blobs = new Map<string, Buffer>();
  constructor(
    private readonly image: string,
    private readonly target: BlobDescriptor,
  ) {}
  put(data: Buffer | object): BlobDescriptor & { data: Buffer } {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(JSON.stringify(data));
    this.blobs.set(digestOf(bytes), bytes);
    return { mediaType: '', digest: digestOf(bytes), size: bytes.length, data: bytes };
  }
  async imageOfContainer(): Promise<string> {
    return this.image;
  }
  async imageTarget(): Promise<BlobDescriptor> {
    return this.target;
  }
  async readBlob(digest: string, maxBytes: number): Promise<Buffer> {
    const blob = this.blobs.get(digest);
    if (blob === undefined) throw new Error(`not found: ${digest}`);
    if (blob.length > maxBytes) throw new Error('too big');
    return blob;
  }
  async copyBlobToFile(digest: string, file: string, maxBytes: number): Promise<number> {
    const blob = await this.readBlob(digest, maxBytes);
    fs.writeFileSync(file, blob, { flag: 'wx' });
    return blob.length;
  }
}

describe('materialiseWasmLayers', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-artifact-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function artifactStore(layers: Array<{ title: string; data: Buffer }>, throughIndex = false): MemoryStore {
    const holder = new MemoryStore('', { mediaType: '', digest: '', size: 0 });
    const layerDescriptors = layers.map((layer) => ({ ...holder.put(layer.data), data: undefined, mediaType: 'application/wasm', annotations: { 'org.opencontainers.image.title': layer.title } }));
    const manifest = holder.put({ schemaVersion: 2, config: { mediaType: 'application/vnd.wasm.config.v0+json', digest: digestOf(Buffer.from('{}')), size: 2 }, layers: layerDescriptors });
    let target: BlobDescriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size };
    if (throughIndex) {
      const index = holder.put({ schemaVersion: 2, manifests: [{ ...target, platform: { os: 'wasip1', architecture: 'wasm' } }] });
      target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: index.digest, size: index.size };
    }
    const store = new MemoryStore('example.com/app:1', target);
    for (const [digest, blob] of holder.blobs) store.blobs.set(digest, blob);
    return store;
  }

  it('writes every wasm layer into the root, executable, and returns the one to run (also through an index)', async () => {
    const store = artifactStore([{ title: 'a.wasm', data: module(1) }, { title: 'b.wasm', data: module(2) }], true);
    expect(await materialiseWasmLayers(store, 'c1', root, 'b.wasm')).toBe('/b.wasm');
    expect(fs.readFileSync(path.join(root, 'a.wasm')).equals(module(1))).toBe(true);
    expect(fs.statSync(path.join(root, 'b.wasm')).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(root).sort()).toEqual(['a.wasm', 'b.wasm']);
    // Again (a second container on the same root, or a retried Create): the files are kept.
    expect(await materialiseWasmLayers(store, 'c1', root, 'x')).toBe('/a.wasm');
  });

  it('refuses a layer that is not wasm, leaving no file, and a different file already in the way', async () => {
    const notWasm = artifactStore([{ title: 'run.wasm', data: Buffer.from('#!/bin/sh\necho native\n') }]);
    await expect(materialiseWasmLayers(notWasm, 'c1', root, 'run.wasm')).rejects.toThrow(/wasm layer \/run\.wasm \(sha256:[0-9a-f]{64}\) is not a WebAssembly binary/);
    expect(fs.readdirSync(root)).toEqual([]);
    fs.writeFileSync(path.join(root, 'a.wasm'), 'something else');
    await expect(materialiseWasmLayers(artifactStore([{ title: 'a.wasm', data: module(1) }]), 'c1', root, 'a.wasm')).rejects.toThrow(/already has a different \/a\.wasm/);
  });

  it('returns undefined for an image without wasm layers and for a container without an image', async () => {
    const holder = new MemoryStore('', { mediaType: '', digest: '', size: 0 });
    const manifest = holder.put({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(Buffer.from('t')), size: 1 }] });
    const store = new MemoryStore('example.com/plain:1', { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size });
    for (const [digest, blob] of holder.blobs) store.blobs.set(digest, blob);
    expect(await materialiseWasmLayers(store, 'c1', root, '/app')).toBeUndefined();
    expect(await materialiseWasmLayers(new MemoryStore('', manifest), 'c1', root, '/app')).toBeUndefined();
  });
});
