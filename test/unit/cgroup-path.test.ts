/** Locating a container's cgroup: /proc/<pid>/cgroup, mountinfo, cgroupsPath (cgroupfs and systemd). */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cgroupOfPid,
  cgroupOfSpec,
  cgroupVersion,
  expandSlice,
  parseCgroupMounts,
  parseProcCgroup,
  systemdCgroupPath,
} from '../../src/container/cgroup-path.js';
import { ContainerError } from '../../src/container/errors.js';
import { fakeHost, type FakeHost } from './cgroup-fake-tree.js';

const hosts: FakeHost[] = [];
function host(...args: Parameters<typeof fakeHost>): FakeHost {
  const h = fakeHost(...args);
  hosts.push(h);
  return h;
}
afterEach(() => {
  for (const h of hosts.splice(0)) h.remove();
});

const V1_PROC = [
  '12:pids:/default/c1',
  '11:memory:/default/c1',
  '10:cpu,cpuacct:/default/c1',
  '9:freezer:/default/c1',
  '1:name=systemd:/user.slice',
  '0::/',
  '',
].join('\n');

describe('parsing', () => {
  it('reads /proc/<pid>/cgroup, co-mounted controllers and the v2 entry included', () => {
    expect(parseProcCgroup('10:cpu,cpuacct:/a\n1:name=systemd:/s\n0::/x:y\n')).toEqual([
      { hierarchyId: 10, controllers: ['cpu', 'cpuacct'], path: '/a' },
      { hierarchyId: 1, controllers: ['name=systemd'], path: '/s' },
      { hierarchyId: 0, controllers: [], path: '/x:y' },
    ]);
  });

  it('reads cgroup mounts from mountinfo, with optional fields and escaped paths', () => {
    const text = [
      '23 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw',
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 master:1 - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 /kubepods/pod1 /my\\040cgroups/memory rw,relatime - cgroup cgroup rw,memory',
      '41 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual([
      { fsType: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] },
      { fsType: 'cgroup', root: '/kubepods/pod1', mountPoint: '/my cgroups/memory', controllers: ['memory'] },
      { fsType: 'cgroup2', root: '/', mountPoint: '/sys/fs/cgroup', controllers: [] },
    ]);
  });
});

describe('systemd cgroupsPath', () => {
  it('expands slices the way systemd nests them', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('kubepods-besteffort-pod12_34.slice')).toBe('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12_34.slice');
    expect(expandSlice('-.slice')).toBe('/');
  });

  it('turns slice:prefix:name into <slice>/<prefix>-<name>.scope', () => {
    expect(systemdCgroupPath('kubepods-burstable-podabc.slice:cri-containerd:0123abcd')).toBe(
      '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/cri-containerd-0123abcd.scope',
    );
    expect(systemdCgroupPath('system.slice:docker:c1')).toBe('/system.slice/docker-c1.scope');
    expect(systemdCgroupPath(':nodewasm:c1')).toBe('/system.slice/nodewasm-c1.scope');
    // A name that is itself a slice is the unit, joined as it is.
    expect(systemdCgroupPath('user.slice::my-app.slice')).toBe('/user.slice/my-app.slice');
  });

  it('rejects malformed slices with the reason', () => {
    for (const bad of ['system:runc:c1', 'a--b.slice:p:c', '-a.slice:p:c', 'a/b.slice:p:c', 'sys.slice:p:']) {
      expect(() => systemdCgroupPath(bad), bad).toThrow(ContainerError);
    }
    expect(() => expandSlice('foo')).toThrow(/must end in "\.slice"/);
    expect(() => expandSlice('a--b.slice')).toThrow(/empty component/);
  });
});

describe('cgroup v1', () => {
  it('is detected by the absence of cgroup.controllers at the root (hybrid included)', () => {
    expect(cgroupVersion(host({ version: 1 }))).toBe(1);
    expect(cgroupVersion(host({ version: 2 }))).toBe(2);
  });

  it('locates every mounted controller from the init pid, co-mounted cpu,cpuacct included', () => {
    const h = host({ version: 1, procCgroups: { '4242': V1_PROC } });
    const cg = cgroupOfPid(4242, h);
    expect(cg).toEqual({
      version: 1,
      path: '/default/c1',
      dirs: {
        memory: path.join(h.sysRoot, 'memory/default/c1'),
        cpu: path.join(h.sysRoot, 'cpu,cpuacct/default/c1'),
        cpuacct: path.join(h.sysRoot, 'cpu,cpuacct/default/c1'),
        pids: path.join(h.sysRoot, 'pids/default/c1'),
        freezer: path.join(h.sysRoot, 'freezer/default/c1'),
      },
    });
  });

  it('resolves a pid path under a mount of a sub-tree (a node inside a container)', () => {
    const h = host({
      version: 1,
      v1Mounts: { memory: ['memory'] },
      mountRoot: '/kubepods/node1',
      procCgroups: { '7': '4:memory:/kubepods/node1/default/c1\n' },
    });
    expect(cgroupOfPid(7, h)).toEqual({ version: 1, path: '/kubepods/node1/default/c1', dirs: { memory: path.join(h.sysRoot, 'memory/default/c1') } });
  });

  it('falls back to <sysRoot>/<controller> without mountinfo', () => {
    const h = host({ version: 1, v1Mounts: { memory: ['memory'], pids: ['pids'] }, noMountinfo: true, procCgroups: { '7': '4:memory:/a\n5:pids:/a\n' } });
    expect(cgroupOfPid(7, h)).toEqual({ version: 1, path: '/a', dirs: { memory: path.join(h.sysRoot, 'memory/a'), pids: path.join(h.sysRoot, 'pids/a') } });
  });

  it('names a process that is gone as not-found', () => {
    const h = host({ version: 1 });
    expect(() => cgroupOfPid(999999, h)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
  });

  it('maps an absolute cgroupfs cgroupsPath into each hierarchy', () => {
    const h = host({ version: 1 });
    const cg = cgroupOfSpec('/k8s.io/abc', 'abc', h);
    expect(cg.version).toBe(1);
    expect(cg.path).toBe('/k8s.io/abc');
    expect(cg.version === 1 && cg.dirs.memory).toBe(path.join(h.sysRoot, 'memory/k8s.io/abc'));
    expect(cg.version === 1 && cg.dirs.cpuacct).toBe(path.join(h.sysRoot, 'cpu,cpuacct/k8s.io/abc'));
  });

  it('maps a systemd cgroupsPath into each hierarchy', () => {
    const h = host({ version: 1 });
    const cg = cgroupOfSpec('kubepods-besteffort-pod1.slice:cri-containerd:c9', 'c9', h);
    expect(cg.path).toBe('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c9.scope');
    expect(cg.version === 1 && cg.dirs.pids).toBe(path.join(h.sysRoot, 'pids', cg.path));
  });

  it('puts a relative (or absent) cgroupsPath below the shim\'s own cgroup, per hierarchy', () => {
    const h = host({ version: 1, procCgroups: { self: '11:memory:/shim/mem\n10:cpu,cpuacct:/shim/cpu\n12:pids:/\n' } });
    const rel = cgroupOfSpec('sub/c1', 'c1', h);
    expect(rel.version === 1 && rel.dirs).toEqual({
      memory: path.join(h.sysRoot, 'memory/shim/mem/sub/c1'),
      cpu: path.join(h.sysRoot, 'cpu,cpuacct/shim/cpu/sub/c1'),
      cpuacct: path.join(h.sysRoot, 'cpu,cpuacct/shim/cpu/sub/c1'),
      pids: path.join(h.sysRoot, 'pids/sub/c1'),
    });
    const none = cgroupOfSpec(undefined, 'c2', h);
    expect(none.path).toBe('/shim/mem/c2');
    expect(() => cgroupOfSpec('../escape', 'c3', h)).toThrow(/must not contain "\.\."/);
  });
});

describe('cgroup v2', () => {
  it('locates the unified cgroup from the init pid', () => {
    const h = host({ version: 2, procCgroups: { '77': '0::/system.slice/cri-containerd-c1.scope\n' } });
    expect(cgroupOfPid(77, h)).toEqual({ version: 2, path: '/system.slice/cri-containerd-c1.scope', dir: path.join(h.sysRoot, 'system.slice/cri-containerd-c1.scope') });
  });

  it('resolves a pid path seen inside a cgroup namespace rooted at a sub-tree', () => {
    const h = host({ version: 2, mountRoot: '/outer', procCgroups: { '77': '0::/outer/ns/c1\n' } });
    expect(cgroupOfPid(77, h)).toEqual({ version: 2, path: '/outer/ns/c1', dir: path.join(h.sysRoot, 'ns/c1') });
  });

  it('maps cgroupfs, systemd and relative cgroupsPaths', () => {
    const h = host({ version: 2, procCgroups: { self: '0::/shim.scope\n' } });
    expect(cgroupOfSpec('/default/c1', 'c1', h)).toEqual({ version: 2, path: '/default/c1', dir: path.join(h.sysRoot, 'default/c1') });
    expect(cgroupOfSpec('system.slice:nodewasm:c1', 'c1', h)).toEqual({
      version: 2,
      path: '/system.slice/nodewasm-c1.scope',
      dir: path.join(h.sysRoot, 'system.slice/nodewasm-c1.scope'),
    });
    expect(cgroupOfSpec('', 'c1', h)).toEqual({ version: 2, path: '/shim.scope/c1', dir: path.join(h.sysRoot, 'shim.scope/c1') });
  });
});

describe('a process in the root cgroup', () => {
  it('is refused rather than read as the whole host', () => {
    const v1 = host({ version: 1, procCgroups: { '5': '11:memory:/\n12:pids:/\n0::/\n' } });
    expect(() => cgroupOfPid(5, v1)).toThrow(/no cgroup of its own/);
    const v2 = host({ version: 2, procCgroups: { '5': '0::/\n' } });
    expect(() => cgroupOfPid(5, v2)).toThrow(/no cgroup of its own/);
  });

  it('leaves out a v1 controller the container is not placed in', () => {
    const h = host({ version: 1, procCgroups: { '5': '11:memory:/c1\n12:pids:/\n' } });
    expect(cgroupOfPid(5, h)).toEqual({ version: 1, path: '/c1', dirs: { memory: path.join(h.sysRoot, 'memory/c1') } });
  });
});
