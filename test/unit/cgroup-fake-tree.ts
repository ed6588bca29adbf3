/**
 * Fake cgroup hosts for unit tests: a temporary directory laid out like /sys/fs/cgroup and
 * /proc (mountinfo, <pid>/cgroup), filled with the files a test names.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CgroupHost } from '../../src/container/cgroup-path.js';

/** Nested files: a string is a file's content, an object a directory. */
export interface Tree {
  [name: string]: string | Tree;
}

export function writeTree(dir: string, tree: Tree): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(tree)) {
    const p = path.join(dir, name);
    if (typeof v === 'string') {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, v);
    } else writeTree(p, v);
  }
}

export interface FakeHost extends CgroupHost {
  base: string;
  /** Writes more files under sysRoot. */
  write(tree: Tree): void;
  remove(): void;
}

export interface FakeHostOptions {
  version: 1 | 2;
  /** v1 hierarchies: mount directory name → controllers (`{ 'cpu,cpuacct': ['cpu', 'cpuacct'] }`). */
  v1Mounts?: Record<string, string[]>;
  /** The root field of each mount (a bound sub-tree), default "/". */
  mountRoot?: string;
  /** /proc/<pid>/cgroup contents by pid ("self" for the shim's own). */
  procCgroups?: Record<string, string>;
  /** Leave mountinfo out, to exercise the conventional-path fallback. */
  noMountinfo?: boolean;
}

export const DEFAULT_V1_MOUNTS: Record<string, string[]> = {
  memory: ['memory'],
  'cpu,cpuacct': ['cpu', 'cpuacct'],
  pids: ['pids'],
  freezer: ['freezer'],
  'name=systemd': ['name=systemd'],
};

export function fakeHost(options: FakeHostOptions): FakeHost {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-cgroup-test-'));
  const sysRoot = path.join(base, 'sys/fs/cgroup');
  const procRoot = path.join(base, 'proc');
  fs.mkdirSync(sysRoot, { recursive: true });
  const root = options.mountRoot ?? '/';
  const lines: string[] = [`23 1 0:21 / ${path.join(base, 'sys')} rw,nosuid - sysfs sysfs rw`];
  if (options.version === 2) {
    fs.writeFileSync(path.join(sysRoot, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    lines.push(`30 23 0:26 ${root} ${sysRoot} rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`);
  } else {
    lines.push(`31 23 0:28 / ${sysRoot} rw - tmpfs tmpfs rw,mode=755`);
    let id = 32;
    for (const [dirName, controllers] of Object.entries(options.v1Mounts ?? DEFAULT_V1_MOUNTS)) {
      const mountPoint = path.join(sysRoot, dirName.replace(/^name=/, ''));
      fs.mkdirSync(mountPoint, { recursive: true });
      lines.push(`${id++} 31 0:${id} ${root} ${mountPoint} rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,${controllers.join(',')}`);
    }
    // A hybrid host also mounts cgroup2 beside them; it must not make the host look like v2.
    fs.mkdirSync(path.join(sysRoot, 'unified'));
    lines.push(`${id} 31 0:${id + 1} / ${path.join(sysRoot, 'unified')} rw - cgroup2 cgroup2 rw`);
  }
  if (!options.noMountinfo) writeTree(procRoot, { self: { mountinfo: lines.join('\n') + '\n' } });
  for (const [pid, text] of Object.entries(options.procCgroups ?? {})) writeTree(procRoot, { [pid]: { cgroup: text } });
  return {
    base,
    sysRoot,
    procRoot,
    write: (tree) => writeTree(sysRoot, tree),
    remove: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}
