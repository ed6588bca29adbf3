/**
 * Wasm images whose program is in raw wasm layers rather than in the root filesystem, which
 * containerd imports without unpacking from 1.7 on (1.6 refuses them). vitest runs this file in
 * its containerd 1.7 and containerd 2 passes (NODEWASM_TEST_CONTAINERD_BIN; binaries unpacked by
 * scripts/fetch-containerd.sh):
 *
 * - the CNCF wasm OCI artifact form (`nodewasm build --artifact`), through the CRI plugin (ctr
 *   refuses its config type before any shim runs, 1.7 and 2.1 alike);
 * - an image with an OCI config and raw wasm layers (the form runwasi's builder writes), through
 *   `ctr run`.
 *
 * The shim reads those layers from containerd's content store over containerd's gRPC API.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/cli/build-image.js';
import { buildWasmArtifact } from '../../src/cli/build-artifact.js';
import { jsonBlob, makeBlob, normaliseReference, writeLayoutTar } from '../../src/cli/oci-layout.js';
import { AnnotationTitle, MediaType } from '../../src/oci/media-types.js';
import { type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { containerdUnderTest, importImage, repoRoot, serverVersion, startTestContainerd, uniqueId } from '../harness/containerd.js';
import { CriClient } from '../cri/client.js';
import { containerConfig, criFailure, podConfig, readCriLog, RUNTIME_HANDLER, tearDownCriNode, waitForExit, type PodConfig } from '../cri/kubelet.js';
import { pauseElfX64 } from '../cri/pause.js';
import { startPrivateRegistry, type PrivateRegistry } from '../harness/registry.js';

const SANDBOX_IMAGE = 'docker.io/library/nodewasm-layers-pause:e2e';
const IMAGE = 'docker.io/library/nodewasm-layers-hello:e2e';
const ARTIFACT = 'ghcr.io/nodewasm/hello-artifact:e2e';
const BROKEN_ARTIFACT = 'ghcr.io/nodewasm/broken-artifact:e2e';
const LAYERED_IMAGE = 'ghcr.io/nodewasm/wasm-layers:e2e';
const RUNTIME = ['--runtime', 'io.containerd.nodewasm.v1'];

let pc: PrivateContainerd;
let cri: CriClient;
let registry: PrivateRegistry | undefined;
let scratch: string;
const cgroupRoot = `/nodewasm-layers-e2e-${randomBytes(4).toString('hex')}`;

function fixture(...parts: string[]): Buffer {
  return fs.readFileSync(path.join(repoRoot, 'fixtures', ...parts));
}

function writeTar(name: string, archive: Buffer): string {
  const tar = path.join(scratch, `${name}.tar`);
  fs.writeFileSync(tar, archive);
  return tar;
}

/** runwasi's image form: an ordinary OCI config (with an entrypoint) and one raw wasm layer, no tar layer. */
function wasmLayerImage(): Buffer {
  const layer = makeBlob(MediaType.wasmLayer, fixture('wasm', 'hello.wasm'));
  layer.descriptor.annotations = { [AnnotationTitle]: 'hello.wasm' };
  const config = jsonBlob(MediaType.config, {
    architecture: 'wasm',
    os: 'wasip1',
    config: { Entrypoint: ['/hello.wasm'], Env: ['GREETING=layers'] },
    rootfs: { type: 'layers', diff_ids: [] },
  });
  const manifest = jsonBlob(MediaType.manifest, { schemaVersion: 2, mediaType: MediaType.manifest, config: config.descriptor, layers: [layer.descriptor] });
  return writeLayoutTar([{ manifest, blobs: [config, layer], platform: { os: 'wasip1', architecture: 'wasm' }, reference: normaliseReference(LAYERED_IMAGE) }]);
}

beforeAll(async () => {
  const underTest = containerdUnderTest();
  if (underTest.containerdBinary === undefined) throw new Error('wasm layers need containerd 1.7 or later: run this file through the containerd 1.7 or 2 project of vitest.config.ts');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-layers-e2e-'));
  pc = await startTestContainerd({
    cri: true,
    sandboxImage: SANDBOX_IMAGE,
    env: { NODEWASM_CACHE_DIR: path.join(scratch, 'component-cache') },
  });
  const pause = buildImage({
    reference: SANDBOX_IMAGE,
    platform: { os: 'linux', architecture: 'amd64' },
    files: [{ guestPath: '/pause', data: pauseElfX64(), mode: 0o755 }],
    entrypoint: ['/pause'],
  });
  await importImage(pc, writeTar('pause', pause.archive), 'k8s.io');
  const artifact = buildWasmArtifact({
    reference: ARTIFACT,
    files: [
      { name: 'hello.wasm', data: fixture('wasm', 'hello.wasm') },
      { name: 'exit_code.wasm', data: fixture('wasm', 'exit_code.wasm') },
      { name: 'hello.component.wasm', data: fixture('components', 'hello.component.wasm') },
      { name: 'sleep.wasm', data: fixture('wasm', 'sleep.wasm') },
    ],
  });
  await importImage(pc, writeTar('artifact', artifact.archive), 'k8s.io');
  const broken = buildWasmArtifact({ reference: BROKEN_ARTIFACT, files: [{ name: 'broken.wasm', data: fixture('wasm', 'not_wasm.wasm') }] });
  await importImage(pc, writeTar('broken', broken.archive), 'k8s.io');
  const image = buildImage({ reference: IMAGE, files: [{ guestPath: '/hello.wasm', data: fixture('wasm', 'hello.wasm') }] });
  await importImage(pc, writeTar('image', image.archive));
  await importImage(pc, writeTar('layers', wasmLayerImage()));
  await importImage(pc, writeTar('artifact', artifact.archive));
  cri = new CriClient(pc.address);
}, 180_000);

afterAll(() => tearDownCriNode({ cri, pc, cgroupRoot, scratch, beforeScratch: async () => registry?.stop() }), 90_000);

async function runPod(name: string): Promise<PodConfig & { id: string }> {
  const pod = podConfig({ name, network: 'host', logRoot: path.join(scratch, 'pods'), cgroupRoot });
  fs.mkdirSync(pod.logDirectory, { recursive: true });
  const { podSandboxId } = await cri.runtime('RunPodSandbox', { config: pod.config, runtimeHandler: RUNTIME_HANDLER });
  return { ...pod, id: podSandboxId };
}

async function removePod(podSandboxId: string): Promise<void> {
  await cri.runtime('StopPodSandbox', { podSandboxId });
  await cri.runtime('RemovePodSandbox', { podSandboxId });
}

/** Creates, starts and waits for one container; returns its exit code and stdout lines. */
async function runToExit(pod: PodConfig & { id: string }, name: string, image: string, command: string[]): Promise<{ exitCode: number; stdout: string[] }> {
  const { containerId } = await cri.runtime('CreateContainer', {
    podSandboxId: pod.id,
    config: containerConfig({ name, image, command, network: 'host' }),
    sandboxConfig: pod.config,
  });
  await cri.runtime('StartContainer', { containerId });
  const status = await waitForExit(cri, containerId);
  const lines = await readCriLog(path.join(pod.logDirectory, name, '0.log'));
  return { exitCode: status.exitCode, stdout: lines.filter((line) => line.stream === 'stdout').map((line) => line.text) };
}

describe('containerd 1.7 and later', () => {
  it('is 1.7 or later, and runs an ordinary wasm image with ctr run', async () => {
    expect(await serverVersion(pc)).toBeGreaterThanOrEqual(107);
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--platform', 'wasi/wasm', IMAGE, uniqueId('h17'), '/hello.wasm', 'one']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=one\n');
    expect(r.code).toBe(0);
  });

  it('runs an image whose wasm is a raw layer, not in its root filesystem, with ctr run', async () => {
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--platform', 'wasip1/wasm', LAYERED_IMAGE, uniqueId('layers'), '/hello.wasm', 'from', 'a layer']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=from\nargv[2]=a layer\n');
    expect(r.code).toBe(0);
  });

  it('ctr run refuses the wasm artifact form itself, before any shim runs (a ctr limitation)', async () => {
    const r = await pc.ctr(['run', '--rm', ...RUNTIME, '--platform', 'wasip1/wasm', ARTIFACT, uniqueId('art-ctr'), 'hello.wasm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown image config media type application/vnd.wasm.config.v0+json');
  });
});

describe('the wasm OCI artifact form through the CRI plugin', () => {
  it('runs the layer the command names, module or component, and the first layer otherwise', async () => {
    const pod = await runPod('artifact');
    try {
      const hello = await runToExit(pod, 'hello', ARTIFACT, ['hello.wasm', 'a1']);
      expect(hello).toEqual({ exitCode: 0, stdout: ['hello from wasm', 'argv[0]=hello.wasm', 'argv[1]=a1'] });

      const exitCode = await runToExit(pod, 'exit-code', ARTIFACT, ['/exit_code.wasm', '42']);
      expect(exitCode.exitCode).toBe(42);

      const component = await runToExit(pod, 'component', ARTIFACT, ['hello.component.wasm', 'c']);
      expect(component).toEqual({ exitCode: 0, stdout: ['hello from wasm', 'argv[0]=hello.component.wasm', 'argv[1]=c'] });

      const first = await runToExit(pod, 'first', ARTIFACT, ['any-name', 'x']);
      expect(first).toEqual({ exitCode: 0, stdout: ['hello from wasm', 'argv[0]=any-name', 'argv[1]=x'] });
    } finally {
      await removePod(pod.id);
    }
  });

  it('pulls an artifact from a registry through the CRI, as a kubelet does, and runs it', async () => {
    registry = await startPrivateRegistry();
    const artifact = buildWasmArtifact({
      files: [
        { name: 'http_handler.wasm', data: fixture('components', 'http_handler.component.wasm') },
        { name: 'hello.wasm', data: fixture('wasm', 'hello.wasm') },
      ],
    });
    await registry.push('nodewasm/pulled', 'v1', artifact.manifest, artifact.blobs);
    const image = `${registry.host}/nodewasm/pulled:v1`;
    const pulled = await cri.image('PullImage', { image: { image } });
    // The CRI names an image by its config digest.
    expect(pulled.imageRef).toBe(artifact.config.digest);
    const pod = await runPod('pulled-artifact');
    try {
      expect(await runToExit(pod, 'pulled', image, ['hello.wasm', 'pulled'])).toEqual({ exitCode: 0, stdout: ['hello from wasm', 'argv[0]=hello.wasm', 'argv[1]=pulled'] });
    } finally {
      await removePod(pod.id);
    }
  });

  it('execs the other layers in a running artifact container (ExecSync), and stops it with its grace period', async () => {
    const pod = await runPod('artifact-exec');
    try {
      const { containerId } = await cri.runtime('CreateContainer', {
        podSandboxId: pod.id,
        config: containerConfig({ name: 'sleeper', image: ARTIFACT, command: ['sleep.wasm', '600'], network: 'host' }),
        sandboxConfig: pod.config,
      });
      await cri.runtime('StartContainer', { containerId });
      const hello = await cri.runtime('ExecSync', { containerId, cmd: ['/hello.wasm', 'exec'], timeout: 30 });
      expect(hello.exitCode).toBe(0);
      expect(hello.stdout.toString()).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=exec\n');
      const code = await cri.runtime('ExecSync', { containerId, cmd: ['/exit_code.wasm', '9'], timeout: 30 });
      expect(code.exitCode).toBe(9);
      await cri.runtime('StopContainer', { containerId, timeout: 10 });
      expect((await waitForExit(cri, containerId)).exitCode).toBe(143);
    } finally {
      await removePod(pod.id);
    }
  });

  it('refuses a wasm layer that is not WebAssembly at StartContainer (never runs it as a program), with the layer named', async () => {
    const pod = await runPod('broken-artifact');
    try {
      const { containerId } = await cri.runtime('CreateContainer', {
        podSandboxId: pod.id,
        config: containerConfig({ name: 'broken', image: BROKEN_ARTIFACT, command: ['broken.wasm'], network: 'host' }),
        sandboxConfig: pod.config,
      });
      const failure = await criFailure(() => cri.runtime('StartContainer', { containerId }));
      expect(failure?.message).toMatch(/the image's wasm layer \/broken\.wasm \(sha256:[0-9a-f]{64}\) is not a WebAssembly binary/);
    } finally {
      await removePod(pod.id);
    }
  });
});
