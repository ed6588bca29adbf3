import fs from 'node:fs';
import { run } from './exec.js';
import { ContainerError } from './errors.js';

/** A mount as containerd sends it in Create.rootfs. */
export interface RootfsMount {
  type: string;
  source: string;
  options: string[];
}

/**
 * Mounts the snapshot containerd prepared (overlay, or a bind for the native snapshotter) onto
 * the bundle's rootfs directory. Node has no mount(2), so this runs mount(8).
 */
export async function mountRootfs(mounts: readonly RootfsMount[], target: string): Promise<void> {
  try {
    for (const m of mounts) await run('mount', mountArgs(m, target));
  } catch (err) {
    await unmountAll(target).catch(() => undefined);
    throw new ContainerError('internal', `mounting the container's rootfs failed: ${(err as Error).message}`, { cause: err });
  }
}

export function mountArgs(m: RootfsMount, target: string): string[] {
  const options = m.options.filter((o) => o.length > 0);
  if (m.type === 'bind' || m.type === 'rbind') {
    const bindOptions = options.some((o) => o === 'bind' || o === 'rbind') ? options : ['bind', ...options];
    return ['-o', bindOptions.join(','), m.source, target];
  }
  return ['-t', m.type, ...(options.length > 0 ? ['-o', options.join(',')] : []), m.source, target];
}

/** Unmounts everything stacked on `target` (and below it), deepest first. Absent mounts are fine. */
export async function unmountAll(target: string): Promise<void> {
  for (let mountPoints = mountsAtOrBelow(target); mountPoints.length > 0; mountPoints = mountsAtOrBelow(target)) {
    const deepest = mountPoints.sort((a, b) => b.length - a.length)[0]!;
    try {
      await run('umount', [deepest]);
    } catch (err) {
      // A busy mount is detached lazily so that nothing of it outlives the container.
      await run('umount', ['-l', deepest]).catch(() => {
        throw new ContainerError('internal', `unmounting ${deepest} failed: ${(err as Error).message}`, { cause: err });
      });
    }
  }
}

export function mountsAtOrBelow(target: string): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const prefix = target.endsWith('/') ? target : `${target}/`;
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    const decoded = decodeMountinfoPath(mountPoint);
    if (decoded === target || decoded.startsWith(prefix)) found.push(decoded);
  }
  return found;
}

function decodeMountinfoPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
