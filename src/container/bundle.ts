import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';
import type { OciSpec } from './spec.js';

/** Where nodewasm keeps its own files for one task: a folder of its own inside the bundle. */
export function layoutDir(bundle: string): string {
  return path.join(bundle, 'nodewasm');
}

export const LayoutFile = {
  /** The spec runc runs, for wasm containers. */
  config: 'config.json',
  /** runc's root directory for wasm containers (holds /proc, /dev, /sys, the guest and the runner). */
  root: 'root',
  /** The runner's settings files, one per process (bind-mounted read-only as a directory). */
  settings: 'settings',
  initPid: 'init.pid',
  runcLog: 'runc.log',
  /** Per exec: its OCI process for `runc exec`, its pid file and runc log. */
  execProcess: (execId: string) => `exec-${execId}.process.json`,
  execPid: (execId: string) => `exec-${execId}.pid`,
  execLog: (execId: string) => `exec-${execId}.runc.log`,
  execSettings: (execId: string) => `exec-${execId}.json`,
  /** An exec'd component's transpiled code, beside its settings (see Container.exec). */
  execComponent: (execId: string) => `exec-${execId}.component`,
} as const;

export function readBundleSpec(bundle: string): OciSpec {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ContainerError('invalid', `cannot read the bundle's config.json at ${file}: ${(err as Error).message}`, { cause: err });
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new ContainerError('invalid', `the bundle's config.json is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateSpec(spec);
}

function validateSpec(value: unknown): OciSpec {
  if (typeof value !== 'object' || value === null) throw new ContainerError('invalid', 'config.json: not an object');
  const spec = value as OciSpec;
  if (!spec.process) throw new ContainerError('invalid', 'config.json: no process: nothing to run');
  if (!Array.isArray(spec.process.args) || spec.process.args.length === 0 || !spec.process.args[0]) {
    throw new ContainerError('invalid', 'config.json: process.args is empty: give the .wasm (or program) to run');
  }
  if (!spec.root?.path) throw new ContainerError('invalid', 'config.json: no root.path');
  return spec;
}

/** The image root as the host sees it: root.path, relative to the bundle unless absolute. */
export function imageRootPath(bundle: string, spec: OciSpec): string {
  return path.resolve(bundle, spec.root!.path);
}
