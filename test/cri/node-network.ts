/**
 * The "node's" network for the CRI end-to-end tests: a network namespace the test makes with
 * `ip netns add`, in which the private containerd runs (through `nsenter --net`, so only its
 * network namespace differs: mounts stay shared with the test). Host-network pods then use this
 * namespace as their host network, and the CNI bridge plugin makes its bridge and veths here, not
 * on the machine's real network. Probes run in it too, the way a kubelet's HTTP probe runs in the
 * node's network: traffic goes only to addresses inside namespaces this test made.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's containernetworking-plugins. */
export const CNI_PLUGIN_DIR = '/usr/lib/cni';

export interface NodeNetwork {
  name: string;
  /** /run/netns/<name>, for nsenter --net. */
  path: string;
  /** A `containerd` wrapper that execs the real one inside this namespace (same PID). */
  containerdWrapper: string;
  /** Runs a program inside the namespace and collects its output. */
  exec(command: string, args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Deletes the namespace (what is left in it, the bridge and veths, goes with it). */
  remove(): Promise<void>;
}

/** Why a network namespace cannot be made here, or undefined when it can. */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  const probe = `nodewasm-probe-${randomBytes(4).toString('hex')}`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (error) {
    return `"ip netns add" failed: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`;
  }
  try {
    await run('ip', ['-n', probe, 'link', 'add', `${probe.slice(-8)}b`, 'type', 'bridge']);
  } catch (error) {
    return `creating a bridge inside a new network namespace failed: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`;
  } finally {
    await run('ip', ['netns', 'delete', probe]).catch(() => undefined);
  }
  return undefined;
}

export async function createNodeNetwork(scratch: string, containerdBinary = 'containerd'): Promise<NodeNetwork> {
  const name = `nodewasm-cri-${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  const path = `/run/netns/${name}`;
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  const containerdWrapper = join(scratch, 'containerd-in-netns');
  await writeFile(containerdWrapper, `#!/bin/sh\nexec nsenter --net=${path} -- ${containerdBinary} "$@"\n`);
  await chmod(containerdWrapper, 0o755);
  return {
    name,
    path,
    containerdWrapper,
    async exec(command, args, timeoutMs = 30_000) {
      const result = await run('nsenter', [`--net=${path}`, '--', command, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
      return { stdout: result.stdout, stderr: result.stderr };
    },
    async remove() {
      await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    },
  };
}

/**
 * A CNI network like a small cluster's: a bridge with a gateway address and host-local IPAM,
 * whose allocations are kept under `stateDir` (not the machine's /var/lib/cni). No masquerading
 * and no port mappings: nothing here needs iptables.
 */
export async function writeBridgeNetwork(confDir: string, stateDir: string, subnet: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  const config = {
    cniVersion: '1.0.0',
    name: 'nodewasm-e2e',
    plugins: [
      {
        type: 'bridge',
        bridge: 'nwcri0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: stateDir },
      },
    ],
  };
  const file = join(confDir, '10-nodewasm-e2e.conflist');
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export interface ProbeResult {
  /** The HTTP status, or 0 when the connection failed or timed out. */
  status: number;
  body: string;
  error?: string;
}

/**
 * An HTTP GET as a kubelet's httpGet probe makes it (its User-Agent and Accept, a 1 s timeout by
 * default), from inside `network` (or from here when it is undefined). Success is 200–399.
 */
export async function httpProbe(node: string, network: NodeNetwork | undefined, url: string, timeoutMs = 1_000): Promise<ProbeResult> {
  const script = `
const http = require('node:http');
const req = http.get(process.argv[1], { headers: { 'User-Agent': 'kube-probe/1.33', Accept: '*/*' }, timeout: Number(process.argv[2]), agent: false }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => { body += d; });
  res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body })); });
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, body: '', error: e.message })); });
`;
  const args = ['-e', script, url, String(timeoutMs)];
  const output = await new Promise<string>((resolve, reject) => {
    const child = network === undefined ? spawn(node, args) : spawn('nsenter', [`--net=${network.path}`, '--', node, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`probe exited ${code}: ${stderr}`))));
  });
  return JSON.parse(output) as ProbeResult;
}
