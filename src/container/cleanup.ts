import fs from 'node:fs';
import path from 'node:path';
import { layoutDir, LayoutFile } from './bundle.js';
import { unmountAll } from './rootfs.js';
import { runcForceDelete, runcKill, runcRootForBundle, usesSystemdCgroup, type RuncContext } from './runc.js';
import type { OciSpec } from './spec.js';

/**
 * The `delete` action's cleanup when the shim daemon is gone: kill what is left of the container,
 * forget it in runc, unmount the rootfs the shim mounted, and remove the shim's files.
 * Returns the pid the container had, when known.
 */
export async function cleanupAfterShim(bundle: string, namespace: string, id: string): Promise<{ pid: number }> {
  const layout = layoutDir(bundle);
  let pid = 0;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(layout, LayoutFile.initPid), 'utf8'), 10) || 0;
  } catch {
    // never started
  }
  let cgroupsPath: string | undefined;
  let rootPath = 'rootfs';
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
    cgroupsPath = spec.linux?.cgroupsPath;
    rootPath = spec.root?.path ?? rootPath;
  } catch {
    // the bundle's spec is gone: clean up what can be found without it
  }
  const ctx: RuncContext = { root: runcRootForBundle(bundle, namespace), systemdCgroup: usesSystemdCgroup(cgroupsPath) };
  await runcKill(ctx, id, 9, true).catch(() => undefined);
  await runcForceDelete(ctx, id);
  // Only the bundle's own rootfs directory is ever a mount of ours; a --rootfs DIR is the user's.
  const bundleRootfs = path.join(bundle, 'rootfs');
  if (path.resolve(bundle, rootPath) === bundleRootfs) await unmountAll(bundleRootfs).catch(() => undefined);
  fs.rmSync(layout, { recursive: true, force: true });
  return { pid };
}
