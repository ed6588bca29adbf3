/**
 * What a kubelet does around the CRI calls, for the end-to-end tests: pod and container configs
 * the way the kubelet fills them in, waiting for a container state, reading the CRI log file,
 * finding a containerd's shim daemons, and removing the pod cgroups the kubelet owns.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findLeftovers, type PrivateContainerd } from '../../src/cli/private-containerd.js';
import { ContainerState, CriError, NamespaceMode, type ContainerConfig, type ContainerStatus, type CriClient, type Partial2, type PodSandboxConfig } from './client.js';

export const RUNTIME_HANDLER = 'nodewasm';

export interface PodOptions {
  name: string;
  /** NODE (the kubelet's hostNetwork: true) or POD. */
  network: 'host' | 'pod';
  /** Where the pod's container logs go (the kubelet's /var/log/pods/<ns>_<name>_<uid>). */
  logRoot: string;
  /** The kubelet's pod cgroup (cgroupfs driver), e.g. /<test>/pod<uid>. */
  cgroupRoot: string;
}

export interface PodConfig {
  config: Partial2<PodSandboxConfig>;
  logDirectory: string;
  cgroupParent: string;
}

/**
 * A PodSandboxConfig as the kubelet sends it: for a host-network pod the hostname is empty (runc
 * refuses a hostname without a UTS namespace), PID is per container as for every v1 pod.
 */
export function podConfig(options: PodOptions): PodConfig {
  const uid = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-4000-8000-${randomBytes(6).toString('hex')}`;
  const namespace = 'default';
  const logDirectory = join(options.logRoot, `${namespace}_${options.name}_${uid}`);
  const cgroupParent = `${options.cgroupRoot}/pod${uid}`;
  const config: Partial2<PodSandboxConfig> = {
    metadata: { name: options.name, uid, namespace, attempt: 0 },
    hostname: options.network === 'host' ? '' : options.name,
    logDirectory,
    labels: { 'io.kubernetes.pod.name': options.name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid },
    annotations: { 'kubernetes.io/config.source': 'api' },
    linux: {
      cgroupParent,
      securityContext: {
        namespaceOptions: {
          network: options.network === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
  return { config, logDirectory, cgroupParent };
}

export interface ContainerOptions {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  memoryLimitBytes?: number;
  /** The pod's network mode again: the kubelet repeats it in each container's security context. */
  network: 'host' | 'pod';
}

/** A ContainerConfig as the kubelet sends it; the log goes to `<name>/0.log` in the pod's log directory. */
export function containerConfig(options: ContainerOptions): Partial2<ContainerConfig> {
  return {
    metadata: { name: options.name, attempt: 0 },
    image: { image: options.image },
    command: options.command ?? [],
    args: options.args ?? [],
    envs: Object.entries(options.env ?? {}).map(([key, value]) => ({ key, value })),
    labels: { 'io.kubernetes.container.name': options.name },
    annotations: { 'io.kubernetes.container.restartCount': '0' },
    logPath: `${options.name}/0.log`,
    linux: {
      resources: {
        cpuPeriod: 100_000,
        cpuShares: 2,
        ...(options.memoryLimitBytes !== undefined ? { memoryLimitInBytes: options.memoryLimitBytes } : {}),
        oomScoreAdj: 1000,
      },
      securityContext: {
        namespaceOptions: {
          network: options.network === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function containerStatus(cri: CriClient, containerId: string): Promise<ContainerStatus> {
  const response = await cri.runtime('ContainerStatus', { containerId });
  if (response.status === null) throw new Error(`no status for container ${containerId}`);
  return response.status;
}

/** Polls ContainerStatus until the container has exited; returns that status. */
export async function waitForExit(cri: CriClient, containerId: string, timeoutMs = 30_000): Promise<ContainerStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await containerStatus(cri, containerId);
    if (status.state === ContainerState.EXITED) return status;
    if (Date.now() > deadline) throw new Error(`container ${containerId} did not exit within ${timeoutMs} ms (state ${status.state})`);
    await sleep(100);
  }
}

/** The lines of a CRI log file (`<RFC3339Nano> <stream> <P|F> <text>`), parsed. */
export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: string;
  text: string;
}

export async function readCriLog(path: string): Promise<LogLine[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) (stdout|stderr) (\S+) (.*)$/.exec(line);
    if (match !== null) lines.push({ time: match[1]!, stream: match[2] as 'stdout' | 'stderr', tag: match[3]!, text: match[4]! });
  }
  return lines;
}

/** Waits until the CRI log holds a line matching `pattern` on `stream`. */
export async function waitForLogLine(path: string, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 30_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await readCriLog(path)).find((line) => line.stream === stream && pattern.test(line.text));
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${stream} line matching ${pattern} in ${path} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface ShimProcess {
  pid: number;
  cmdline: string;
}

/**
 * The nodewasm shim daemons of one containerd: processes titled `containerd-shim-nodewasm-v1`
 * with its address and no action word (`start` and `delete` are short-lived siblings).
 */
export async function shimDaemons(containerdAddress: string): Promise<ShimProcess[]> {
  const found: ShimProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const raw = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const cmdline = raw.replace(/\0+$/, '').split('\0').join(' ');
    if (!cmdline.startsWith('containerd-shim-nodewasm-v1 ')) continue;
    if (!cmdline.includes(` ${containerdAddress} `) && !cmdline.includes(` ${containerdAddress}`)) continue;
    if (/ (start|delete)$/.test(cmdline)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
    found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

/** The cgroup v1 controller mounts (or the single v2 mount). */
async function cgroupMounts(): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const fsType = fields[separator + 1];
    const mountPoint = fields[4];
    if ((fsType === 'cgroup' || fsType === 'cgroup2') && mountPoint?.startsWith('/sys/fs/cgroup')) mounts.push(mountPoint);
  }
  return mounts;
}

/** The directories of a cgroupfs-style path in every hierarchy where it exists. */
export async function cgroupDirectories(cgroupPath: string): Promise<string[]> {
  const found: string[] = [];
  for (const mount of await cgroupMounts()) {
    const dir = join(mount, cgroupPath);
    if (await readdir(dir).then(() => true, () => false)) found.push(dir);
  }
  return found;
}

/** Reads one cgroup file of a container (cgroup v1 `memory` or v2), or undefined. */
export async function readCgroupFile(cgroupPath: string, file: string): Promise<string | undefined> {
  for (const dir of await cgroupDirectories(cgroupPath)) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => undefined);
    if (text !== undefined) return text.trim();
  }
  return undefined;
}

/** What the kubelet does after a pod is gone: removes its pod cgroup and the test's root cgroup. */
export async function removeCgroupTree(root: string): Promise<string[]> {
  const failures: string[] = [];
  for (const mount of await cgroupMounts()) {
    const top = join(mount, root);
    const dirs = await listTree(top);
    for (const dir of dirs.sort((a, b) => b.length - a.length)) {
      await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') failures.push(`${dir}: ${error.code}`);
      });
    }
  }
  return failures;
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return [];
  const found = [dir];
  for (const entry of entries) if (entry.isDirectory()) found.push(...(await listTree(join(dir, entry.name))));
  return found;
}

/** Runs `fn`; if it throws a CriError, returns it instead (to assert on failures). */
export async function criFailure(fn: () => Promise<unknown>): Promise<CriError | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    if (error instanceof CriError) return error;
    throw error;
  }
}

/**
 * The end of a CRI test file: closes the client, stops the private containerd and checks that it
 * left nothing behind, removes the pod cgroups and the scratch folder (after `beforeScratch`).
 * Throws with every problem found.
 */
export async function tearDownCriNode(node: { cri?: CriClient; pc?: PrivateContainerd; cgroupRoot: string; scratch?: string; beforeScratch?: () => Promise<void> }): Promise<void> {
  node.cri?.close();
  const problems: string[] = [];
  if (node.pc !== undefined) {
    await node.pc.stop();
    problems.push(...(await findLeftovers(node.pc)).map((leftover) => `left behind: ${leftover}`));
  }
  problems.push(...(await removeCgroupTree(node.cgroupRoot)).map((failure) => `pod cgroup not removable: ${failure}`));
  await node.beforeScratch?.();
  if (node.scratch !== undefined) await rm(node.scratch, { recursive: true, force: true });
  if (problems.length > 0) throw new Error(problems.join('\n'));
}
