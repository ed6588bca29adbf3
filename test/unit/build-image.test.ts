import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildCommand, buildImage, type BuildImageOptions } from '../../src/cli/build-image.js';
import { buildWasmArtifact, sourceDateEpoch } from '../../src/cli/build-artifact.js';
import { componentInterfaces } from '../../src/oci/component-interfaces.js';
import { normaliseReference } from '../../src/cli/oci-layout.js';
import { writeTar } from '../../src/cli/tar.js';

// A minimal valid module: the magic and version 1.
const wasm = (tag: number): Buffer => Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x61, tag]);

interface ParsedEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname: string;
  data: Buffer;
}

/** An independent tar reader (ustar + PAX path records) that also verifies every header checksum. */
function readTar(archive: Buffer): ParsedEntry[] {
  expect(archive.length % 512).toBe(0);
  const text = (offset: number, length: number): string => {
    const raw = archive.subarray(offset, offset + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  const octal = (offset: number, length: number): number => parseInt(text(offset, length).trim() || '0', 8);
  const entries: ParsedEntry[] = [];
  let paxPath: string | undefined;
  let offset = 0;
  for (;;) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) {
      expect(archive.subarray(offset).every((byte) => byte === 0)).toBe(true);
      expect(archive.length - offset).toBeGreaterThanOrEqual(1024);
      break;
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    expect(octal(offset + 148, 8)).toBe(sum);
    expect(text(offset + 257, 6)).toBe('ustar');
    const size = octal(offset + 124, 12);
    const type = text(offset + 156, 1);
    const data = archive.subarray(offset + 512, offset + 512 + size);
    const prefix = text(offset + 345, 155);
    const name = text(offset + 0, 100);
    const at = offset;
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const match = /\d+ path=(.*)\n/.exec(data.toString('utf8'));
      paxPath = match?.[1];
      continue;
    }
    entries.push({
      path: paxPath ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: octal(at + 100, 8),
      uid: octal(at + 108, 8),
      gid: octal(at + 116, 8),
      mtime: octal(at + 136, 12),
      uname: text(at + 265, 32),
      data: Buffer.from(data),
    });
    paxPath = undefined;
  }
  return entries;
}

const sha256 = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Layout {
  entries: ParsedEntry[];
  blobs: Map<string, Buffer>;
  index: { manifests: Array<{ digest: string; size: number; mediaType: string; platform: unknown; annotations?: Record<string, string> }> };
}

function readLayout(archive: Buffer): Layout {
  const entries = readTar(archive);
  const blobs = new Map<string, Buffer>();
  for (const entry of entries) {
    const match = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(entry.path);
    if (match) blobs.set(`sha256:${match[1]}`, entry.data);
  }
  const index = JSON.parse(entries.find((entry) => entry.path === 'index.json')!.data.toString()) as Layout['index'];
  return { entries, blobs, index };
}

const base: BuildImageOptions = {
  files: [
    { guestPath: '/hello.wasm', data: wasm(1) },
    { guestPath: '/etc/greeting.txt', data: Buffer.from('hi\n') },
    { guestPath: '/lib/extra/other.wasm', data: wasm(2) },
  ],
  reference: 'hello:latest',
  env: ['A=1', 'B=two words'],
  annotations: { 'module.wasm.image/variant': 'compat-smart' },
};

describe('buildImage', () => {
  it('is deterministic: same inputs, same bytes, whatever the input order', () => {
    const first = buildImage(base);
    const second = buildImage(base);
    const reordered = buildImage({ ...base, files: [base.files[2]!, base.files[1]!, base.files[0]!], entrypoint: ['/hello.wasm'] });
    expect(second.archive.equals(first.archive)).toBe(true);
    expect(reordered.archive.equals(first.archive)).toBe(true);
    expect(reordered.manifest.digest).toBe(first.manifest.digest);
    // gzip layers are reproducible too (with the same zlib)
    expect(buildImage({ ...base, compression: 'gzip' }).archive.equals(buildImage({ ...base, compression: 'gzip' }).archive)).toBe(true);
    // and any change of input changes the digest
    expect(buildImage({ ...base, env: ['A=2'] }).manifest.digest).not.toBe(first.manifest.digest);
  });

  it('writes an OCI layout whose every digest and size verifies', () => {
    const image = buildImage(base);
    const { entries, blobs, index } = readLayout(image.archive);
    expect(entries.map((entry) => entry.path)).toEqual([
      'blobs/',
      'blobs/sha256/',
      ...[...blobs.keys()].sort().map((digest) => `blobs/sha256/${digest.slice(7)}`),
      'index.json',
      'oci-layout',
    ]);
    expect(JSON.parse(entries.find((entry) => entry.path === 'oci-layout')!.data.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    for (const [digest, data] of blobs) expect(sha256(data)).toBe(digest);

    expect(index.manifests).toHaveLength(1);
    const descriptor = index.manifests[0]!;
    expect(descriptor.platform).toEqual({ os: 'wasi', architecture: 'wasm' });
    expect(descriptor.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(descriptor.annotations).toEqual({
      'io.containerd.image.name': 'docker.io/library/hello:latest',
      'org.opencontainers.image.ref.name': 'latest',
    });
    const manifestBytes = blobs.get(descriptor.digest)!;
    expect(manifestBytes.length).toBe(descriptor.size);
    const manifest = JSON.parse(manifestBytes.toString()) as {
      schemaVersion: number;
      config: { digest: string; size: number; mediaType: string };
      layers: Array<{ digest: string; size: number; mediaType: string }>;
      annotations: Record<string, string>;
    };
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.annotations).toEqual({ 'module.wasm.image/variant': 'compat-smart' });
    expect(blobs.get(manifest.config.digest)!.length).toBe(manifest.config.size);
    expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    const layer = blobs.get(manifest.layers[0]!.digest)!;
    expect(layer.length).toBe(manifest.layers[0]!.size);

    const config = JSON.parse(blobs.get(manifest.config.digest)!.toString()) as Record<string, unknown>;
    expect(config).toEqual({
      architecture: 'wasm',
      os: 'wasi',
      config: { Entrypoint: ['/hello.wasm'], Env: ['A=1', 'B=two words'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    });
    expect(image.diffId).toBe(sha256(layer));
  });

  it('puts the files in one layer at their guest paths, root-owned, mtime 0, with parents', () => {
    const image = buildImage(base);
    const { blobs } = readLayout(image.archive);
    const layer = readTar(blobs.get(image.layer.digest)!);
    expect(layer.map(({ path, type, mode }) => [path, type, mode.toString(8)])).toEqual([
      ['etc/', '5', '755'],
      ['etc/greeting.txt', '0', '644'],
      ['hello.wasm', '0', '755'],
      ['lib/', '5', '755'],
      ['lib/extra/', '5', '755'],
      ['lib/extra/other.wasm', '0', '755'],
    ]);
    for (const entry of layer) expect([entry.uid, entry.gid, entry.mtime, entry.uname]).toEqual([0, 0, 0, 'root']);
    expect(layer.find((entry) => entry.path === 'hello.wasm')!.data.equals(wasm(1))).toBe(true);
  });

  it('gzips the layer on request, keeping diff_ids the uncompressed digest', () => {
    const plain = buildImage(base);
    const gzipped = buildImage({ ...base, compression: 'gzip' });
    const { blobs } = readLayout(gzipped.archive);
    const layer = blobs.get(gzipped.layer.digest)!;
    expect(gzipped.layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(layer.subarray(4, 8).readUInt32LE(0)).toBe(0); // gzip header mtime
    expect(sha256(gunzipSync(layer))).toBe(plain.diffId);
    expect(gzipped.diffId).toBe(plain.diffId);
  });

  it('uses the given platform, entrypoint, cmd and working directory', () => {
    const image = buildImage({
      files: [{ guestPath: '/bin/app', data: Buffer.from('\x7fELF') }],
      platform: { os: 'linux', architecture: 'amd64' },
      entrypoint: ['/bin/app', '--flag'],
      cmd: ['x'],
      workingDir: '/tmp',
    });
    const { blobs, index } = readLayout(image.archive);
    expect(index.manifests[0]!.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(index.manifests[0]!.annotations).toBeUndefined();
    const config = JSON.parse(blobs.get(image.config.digest)!.toString()) as { os: string; config: unknown };
    expect(config.os).toBe('linux');
    expect(config.config).toEqual({ Entrypoint: ['/bin/app', '--flag'], Cmd: ['x'], Env: [], WorkingDir: '/tmp' });
  });

  it('refuses bad guest paths and clashes', () => {
    expect(() => buildImage({ files: [] })).toThrow(/at least one/);
    expect(() => buildImage({ files: [{ guestPath: 'rel.wasm', data: wasm(1) }] })).toThrow(/absolute/);
    expect(() => buildImage({ files: [{ guestPath: '/a/../b.wasm', data: wasm(1) }] })).toThrow(/normalised/);
    expect(() => buildImage({ files: [{ guestPath: '/a', data: wasm(1) }, { guestPath: '/a', data: wasm(2) }] })).toThrow(/same guest path/);
    expect(() => buildImage({ files: [{ guestPath: '/a', data: wasm(1) }, { guestPath: '/a/b', data: wasm(2) }] })).toThrow(/both a file/);
  });
});

describe('writeTar', () => {
  it('is read back by the system tar, long PAX paths included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewasm-tar-test-'));
    try {
      const longPath = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
      const veryLongName = `x/${'n'.repeat(130)}.bin`;
      const archive = writeTar([
        { path: 'a/', type: 'directory', mode: 0o755 },
        { path: 'a/b.wasm', type: 'file', mode: 0o755, data: Buffer.from('wasm!') },
        { path: longPath, type: 'file', mode: 0o644, data: Buffer.from('long') },
        { path: veryLongName, type: 'file', mode: 0o600, data: Buffer.alloc(1000, 7) },
      ]);
      const tarFile = join(dir, 't.tar');
      await writeFile(tarFile, archive);
      const listing = execFileSync('tar', ['--numeric-owner', '--utc', '-tvf', tarFile], { encoding: 'utf8' }).trim().split('\n');
      expect(listing).toEqual([
        'drwxr-xr-x 0/0               0 1970-01-01 00:00 a/',
        '-rwxr-xr-x 0/0               5 1970-01-01 00:00 a/b.wasm',
        `-rw-r--r-- 0/0               4 1970-01-01 00:00 ${longPath}`,
        `-rw------- 0/0            1000 1970-01-01 00:00 ${veryLongName}`,
      ]);
      execFileSync('tar', ['-xf', tarFile, '-C', dir]);
      expect(await readFile(join(dir, longPath), 'utf8')).toBe('long');
      expect((await readFile(join(dir, veryLongName))).equals(Buffer.alloc(1000, 7))).toBe(true);
      expect(readTar(archive).map((entry) => entry.path)).toEqual(['a/', 'a/b.wasm', longPath, veryLongName]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses paths that climb out', () => {
    expect(() => writeTar([{ path: '../x', type: 'file', mode: 0o644 }])).toThrow(/invalid entry path/);
  });
});

describe('normaliseReference', () => {
  it.each([
    ['hello', 'docker.io/library/hello:latest'],
    ['hello:latest', 'docker.io/library/hello:latest'],
    ['hello:1.2', 'docker.io/library/hello:1.2'],
    ['me/app', 'docker.io/me/app:latest'],
    ['docker.io/hello', 'docker.io/library/hello:latest'],
    ['index.docker.io/me/app:v1', 'docker.io/me/app:v1'],
    ['ghcr.io/org/app:2', 'ghcr.io/org/app:2'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b:c', 'localhost:5000/a/b:c'],
    [`app@sha256:${'a'.repeat(64)}`, `docker.io/library/app@sha256:${'a'.repeat(64)}`],
    [`app:1@sha256:${'b'.repeat(64)}`, `docker.io/library/app@sha256:${'b'.repeat(64)}`],
  ])('%s -> %s', (input, expected) => {
    expect(normaliseReference(input).full).toBe(expected);
  });

  it.each(['Hello', 'a//b', 'app:bad tag', 'app:', '', 'app@sha256:xyz'])('refuses %j', (input) => {
    expect(() => normaliseReference(input)).toThrow();
  });
});

describe('nodewasm build (command)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewasm-build-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds from files and flags, the same bytes twice', async () => {
    await writeFile(join(dir, 'hello.wasm'), wasm(9));
    await writeFile(join(dir, 'data.txt'), 'data');
    const args = [
      join(dir, 'hello.wasm'),
      '--file', `${join(dir, 'data.txt')}:/srv/data.txt`,
      '-t', 'hello',
      '--env', 'K=V',
      '--annotation', 'module.wasm.image/variant=compat-smart',
      '--entrypoint', '["/hello.wasm","arg"]',
    ];
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      expect(await buildCommand([...args, '-o', join(dir, 'one.tar')])).toBe(0);
      expect(await buildCommand([...args, '-o', join(dir, 'two.tar')])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const one = await readFile(join(dir, 'one.tar'));
    expect(one.equals(await readFile(join(dir, 'two.tar')))).toBe(true);
    const { blobs, index } = readLayout(one);
    expect(index.manifests[0]!.annotations?.['io.containerd.image.name']).toBe('docker.io/library/hello:latest');
    const manifest = JSON.parse(blobs.get(index.manifests[0]!.digest)!.toString()) as { config: { digest: string }; layers: Array<{ digest: string }>; annotations: unknown };
    expect(manifest.annotations).toEqual({ 'module.wasm.image/variant': 'compat-smart' });
    const config = JSON.parse(blobs.get(manifest.config.digest)!.toString()) as { config: unknown };
    expect(config.config).toEqual({ Entrypoint: ['/hello.wasm', 'arg'], Env: ['K=V'], WorkingDir: '/' });
    const layer = readTar(blobs.get(manifest.layers[0]!.digest)!);
    expect(layer.map((entry) => entry.path)).toEqual(['hello.wasm', 'srv/', 'srv/data.txt']);
  });

  it('warns about, but packs, a .wasm file that is not WebAssembly (tests need broken modules)', async () => {
    await writeFile(join(dir, 'fake.wasm'), 'not wasm');
    const stderr: string[] = [];
    const write = { out: process.stdout.write, err: process.stderr.write };
    process.stdout.write = (() => true) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => stderr.push(chunk) > 0) as typeof process.stderr.write;
    try {
      expect(await buildCommand([join(dir, 'fake.wasm'), '-o', join(dir, 'fake.tar')])).toBe(0);
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    expect(stderr.join('')).toMatch(/fake\.wasm is not a WebAssembly file/);
    const { blobs, index } = readLayout(await readFile(join(dir, 'fake.tar')));
    const manifest = JSON.parse(blobs.get(index.manifests[0]!.digest)!.toString()) as { layers: Array<{ digest: string }> };
    expect(readTar(blobs.get(manifest.layers[0]!.digest)!)[0]).toMatchObject({ path: 'fake.wasm', mode: 0o755 });
  });
});

const component = (name: string): Buffer => readFileSync(new URL(`../../fixtures/components/${name}.component.wasm`, import.meta.url));

describe('buildWasmArtifact (the CNCF wasm OCI artifact form)', () => {
  const files = [
    { name: 'hello.wasm', data: wasm(1) },
    { name: 'tool.wasm', data: wasm(2) },
  ];

  it('writes one application/wasm layer per file, titled, and a wasm config listing their digests', () => {
    const artifact = buildWasmArtifact({ files, reference: 'ghcr.io/example/hello:1', annotations: { 'org.opencontainers.image.source': 'here' } });
    const { blobs, index } = readLayout(artifact.archive);
    for (const [digest, data] of blobs) expect(sha256(data)).toBe(digest);
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.platform).toEqual({ os: 'wasip1', architecture: 'wasm' });
    expect(index.manifests[0]!.annotations?.['io.containerd.image.name']).toBe('ghcr.io/example/hello:1');
    const manifest = JSON.parse(blobs.get(index.manifests[0]!.digest)!.toString()) as {
      mediaType: string;
      config: { mediaType: string; digest: string };
      layers: Array<{ mediaType: string; digest: string; size: number; annotations: Record<string, string> }>;
      annotations: Record<string, string>;
    };
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.config.mediaType).toBe('application/vnd.wasm.config.v0+json');
    expect(manifest.annotations).toEqual({ 'org.opencontainers.image.source': 'here' });
    expect(manifest.layers.map((layer) => [layer.mediaType, layer.annotations['org.opencontainers.image.title'], layer.size])).toEqual([
      ['application/wasm', 'hello.wasm', 12],
      ['application/wasm', 'tool.wasm', 12],
    ]);
    // A layer is the file itself, not a tar of it.
    expect(blobs.get(manifest.layers[0]!.digest)!.equals(wasm(1))).toBe(true);
    const config = JSON.parse(blobs.get(manifest.config.digest)!.toString()) as Record<string, unknown>;
    expect(config).toEqual({ architecture: 'wasm', os: 'wasip1', layerDigests: manifest.layers.map((layer) => layer.digest) });
  });

  it('is deterministic, and dates the config only from SOURCE_DATE_EPOCH', () => {
    const one = buildWasmArtifact({ files, reference: 'hello' });
    expect(buildWasmArtifact({ files, reference: 'hello' }).archive.equals(one.archive)).toBe(true);
    expect(sourceDateEpoch({})).toBeUndefined();
    const created = sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' });
    expect(created?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    const dated = buildWasmArtifact({ files, reference: 'hello', ...(created ? { created } : {}) });
    const { blobs } = readLayout(dated.archive);
    expect(JSON.parse(blobs.get(dated.config.digest)!.toString())).toMatchObject({ created: '2023-11-14T22:13:20.000Z' });
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/whole number of seconds/);
  });

  it('marks a component wasip2 and lists the interfaces it imports and exports', () => {
    const artifact = buildWasmArtifact({ files: [{ name: 'handler.wasm', data: component('http_handler') }] });
    expect(artifact.platform).toEqual({ os: 'wasip2', architecture: 'wasm' });
    const { blobs } = readLayout(artifact.archive);
    const config = JSON.parse(blobs.get(artifact.config.digest)!.toString()) as { os: string; component: { imports: string[]; exports: string[] } };
    expect(config.os).toBe('wasip2');
    expect(config.component.exports).toEqual(['wasi:http/incoming-handler@0.2.12']);
    expect(config.component.imports).toContain('wasi:http/types@0.2.12');
  });

  it('refuses names that are not plain file names, and duplicates', () => {
    expect(() => buildWasmArtifact({ files: [{ name: 'dir/x.wasm', data: wasm(1) }] })).toThrow(/plain file name/);
    expect(() => buildWasmArtifact({ files: [{ name: '.hidden', data: wasm(1) }] })).toThrow(/plain file name/);
    expect(() => buildWasmArtifact({ files: [files[0]!, files[0]!] })).toThrow(/two files named hello\.wasm/);
    expect(() => buildWasmArtifact({ files: [] })).toThrow(/at least one/);
  });
});

describe('componentInterfaces', () => {
  it('reads the top-level imports and exports of a CLI component', () => {
    const names = componentInterfaces(component('hello'));
    expect(names.exports).toEqual(['wasi:cli/run@0.2.12']);
    expect(names.imports).toEqual(expect.arrayContaining(['wasi:cli/stdout@0.2.12', 'wasi:filesystem/preopens@0.2.12']));
  });

  it('refuses a core module and a corrupt component', () => {
    expect(() => componentInterfaces(wasm(1))).toThrow(/not a WebAssembly component/);
    expect(() => componentInterfaces(component('invalid'))).toThrow(/runs past the end/);
  });
});

describe('nodewasm build --artifact', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewasm-build-artifact-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the artifact form from .wasm files, the same bytes twice', async () => {
    await writeFile(join(dir, 'hello.wasm'), wasm(3));
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      for (const out of ['a.tar', 'b.tar']) expect(await buildCommand(['--artifact', join(dir, 'hello.wasm'), '-t', 'hello', '-o', join(dir, out)])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const a = await readFile(join(dir, 'a.tar'));
    expect(a.equals(await readFile(join(dir, 'b.tar')))).toBe(true);
    const { blobs, index } = readLayout(a);
    const manifest = JSON.parse(blobs.get(index.manifests[0]!.digest)!.toString()) as { config: { mediaType: string } };
    expect(manifest.config.mediaType).toBe('application/vnd.wasm.config.v0+json');
  });

  it('refuses the options that only images have, and files that are not wasm', async () => {
    await writeFile(join(dir, 'x.wasm'), wasm(4));
    await writeFile(join(dir, 'text.wasm'), 'not wasm');
    await expect(buildCommand(['--artifact', join(dir, 'x.wasm'), '--env', 'A=1', '--entrypoint', '/x.wasm'])).rejects.toThrow(
      /--artifact cannot take --entrypoint, --env: the wasm artifact form has only wasm layers/,
    );
    await expect(buildCommand(['--artifact', join(dir, 'text.wasm')])).rejects.toThrow(/text\.wasm is not a WebAssembly file/);
  });
});
