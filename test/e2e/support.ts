import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { PrivateContainerd } from '../../src/cli/private-containerd.js';

export { repoRoot, uniqueId } from '../harness/containerd.js';
import { repoRoot } from '../harness/containerd.js';

export function fixture(name: string): string {
  return path.join(repoRoot, 'fixtures', 'wasm', `${name}.wasm`);
}

/** Builds an image holding the named fixtures at /<name>.wasm with our own `nodewasm build`. */
export function buildFixtureImage(dir: string, name: string, fixtures: string[], extra: string[] = []): string {
  const out = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.tar`);
  const files = fixtures.map((f) => fixture(f));
  execFileSync(path.join(repoRoot, 'bin', 'nodewasm'), ['build', '-o', out, '-t', name, ...extra, ...files], { stdio: 'pipe' });
  return out;
}

export interface TaskRow {
  id: string;
  pid: number;
  status: string;
}

export async function taskRow(pc: PrivateContainerd, id: string, namespace?: string): Promise<TaskRow | undefined> {
  const r = await pc.ctr(['task', 'ls'], namespace ? { namespace } : {});
  for (const line of r.stdout.split('\n').slice(1)) {
    const [task, pid, status] = line.trim().split(/\s+/);
    if (task === id) return { id: task, pid: Number(pid), status: status ?? '' };
  }
  return undefined;
}

/** Polls until the condition holds; fails the test after the timeout. */
export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether no process has this pid any more. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The socket of the shim daemon serving task `id`, from the address its bundle records. */
export function shimSocketOf(pc: PrivateContainerd, id: string, namespace = 'default'): string {
  const address = fs.readFileSync(path.join(pc.state, 'io.containerd.runtime.v2.task', namespace, id, 'address'), 'utf8');
  return address.replace(/^unix:\/\//, '');
}
