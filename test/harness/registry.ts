/**
 * A private OCI registry for the end-to-end tests: Debian's docker-registry (distribution 2.8)
 * on 127.0.0.1 with its storage in a temp folder, started and stopped by PID, and a minimal
 * push (blob uploads, then the manifest) so that images reach containerd the way a kubelet's
 * pulls get them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from './loopback.js';

export interface PrivateRegistry {
  /** `127.0.0.1:<port>`: the host part of image references. */
  host: string;
  push(repository: string, tag: string, manifest: { mediaType: string; digest: string }, blobs: ReadonlyMap<string, Buffer>): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRegistry(): Promise<PrivateRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-registry-'));
  const port = await freeLoopbackPort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(
    config,
    ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`, 'http:', `  addr: ${host}`, ''].join('\n'),
  );
  const logFd = fs.openSync(path.join(dir, 'registry.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', logFd, logFd] });
  } finally {
    fs.closeSync(logFd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://${host}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answered = await fetch(`${base}/v2/`).then((r) => r.ok, () => false);
    if (answered) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = fs.readFileSync(path.join(dir, 'registry.log'), 'utf8').slice(-2000);
      await stop();
      throw new Error(`docker-registry did not answer on ${host}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host,
    async push(repository, tag, manifest, blobs) {
      for (const [digest, data] of blobs) {
        if (digest === manifest.digest) continue;
        const started = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
        if (started.status !== 202) throw new Error(`upload of ${digest}: ${started.status} ${await started.text()}`);
        const location = new URL(started.headers.get('location')!, base);
        location.searchParams.set('digest', digest);
        const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
        if (put.status !== 201) throw new Error(`upload of ${digest}: ${put.status} ${await put.text()}`);
      }
      const body = blobs.get(manifest.digest);
      if (body === undefined) throw new Error(`the manifest ${manifest.digest} is not among the blobs`);
      const put = await fetch(`${base}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': manifest.mediaType } });
      if (put.status !== 201) throw new Error(`manifest ${repository}:${tag}: ${put.status} ${await put.text()}`);
    },
    stop,
  };
}
