/**
 * Where a container's cgroup is: from its init pid (`/proc/<pid>/cgroup`, what the kernel says)
 * or from the spec's `linux.cgroupsPath` (what runc was told), on cgroup v1 (one directory per
 * controller hierarchy) and v2 (one unified directory).
 *
 * The pid is the truth while the process lives; the spec path is for when it does not (or before
 * it exists). Locate the cgroup once, right after Start, and keep the result: runc removes the
 * cgroup when the container's init exits, and the pid then names nothing.
 *
 * Mount points come from /proc/self/mountinfo, so hosts that mount cpu and cpuacct together
 * (`/sys/fs/cgroup/cpu,cpuacct`) or apart, or that bind a sub-tree of the hierarchy (a node in a
 * container), resolve alike. Everything takes a CgroupHost so tests can point it at a fake tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';
import { usesSystemdCgroup } from './runc.js';

/** The v1 controllers nodewasm reads or that runc manages for a container. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'cpuset', 'blkio', 'devices', 'hugetlb'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupV1 {
  readonly version: 1;
  /** The cgroup's path in its hierarchy, e.g. `/default/c1` (the memory controller's when they differ). */
  readonly path: string;
  /** The cgroup's directory in each mounted controller's hierarchy; absent when not mounted. */
  readonly dirs: Readonly<Partial<Record<V1Controller, string>>>;
}

export interface CgroupV2 {
  readonly version: 2;
  /** The cgroup's path in the unified hierarchy, e.g. `/system.slice/cri-containerd-abc.scope`. */
  readonly path: string;
  /** Its directory, e.g. `/sys/fs/cgroup/system.slice/cri-containerd-abc.scope`. */
  readonly dir: string;
}

export type Cgroup = CgroupV1 | CgroupV2;

/** Where the host's cgroup and proc filesystems are; tests substitute a temporary tree. */
export interface CgroupHost {
  /** The cgroup mount root, `/sys/fs/cgroup`: v2 is detected by its `cgroup.controllers`. */
  readonly sysRoot: string;
  /** `/proc`: `<pid>/cgroup`, `self/cgroup` and `self/mountinfo` are read from it. */
  readonly procRoot: string;
}

export const HOST_CGROUPS: CgroupHost = { sysRoot: '/sys/fs/cgroup', procRoot: '/proc' };

/** v2 when the unified hierarchy is mounted at the root (not merely beside v1, as in hybrid mode). */
export function cgroupVersion(host: CgroupHost = HOST_CGROUPS): 1 | 2 {
  return fs.existsSync(path.join(host.sysRoot, 'cgroup.controllers')) ? 2 : 1;
}

// ---------------------------------------------------------------------------------------------
// /proc/<pid>/cgroup and mountinfo
// ---------------------------------------------------------------------------------------------

export interface ProcCgroupEntry {
  hierarchyId: number;
  /** `memory`, `cpu`+`cpuacct`, `name=systemd`; empty for the v2 entry `0::/…`. */
  controllers: string[];
  path: string;
}

/** Lines `hierarchy-id:controller,list:path`; the path may itself contain colons. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    out.push({
      hierarchyId: Number(line.slice(0, first)),
      controllers: line.slice(first + 1, second).split(',').filter((c) => c !== ''),
      path: line.slice(second + 1),
    });
  }
  return out;
}

export interface CgroupMount {
  /** `cgroup` (v1) or `cgroup2`. */
  fsType: 'cgroup' | 'cgroup2';
  /** Where it is mounted, e.g. `/sys/fs/cgroup/memory`. */
  mountPoint: string;
  /** Which directory of the hierarchy is mounted there (`/` unless a sub-tree was bound). */
  root: string;
  /** v1: the controllers of the hierarchy (from the super options); empty for cgroup2. */
  controllers: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The cgroup and cgroup2 mounts of a `/proc/<pid>/mountinfo` text. */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fsType = right[0];
    if ((fsType !== 'cgroup' && fsType !== 'cgroup2') || left.length < 5) continue;
    const superOptions = (right[2] ?? '').split(',');
    out.push({
      fsType,
      root: unescapeMountinfo(left[3]!),
      mountPoint: unescapeMountinfo(left[4]!),
      // Super options hold the controllers (`rw,cpu,cpuacct`, `rw,name=systemd`) among other flags.
      controllers: fsType === 'cgroup' ? superOptions.filter((o) => o !== 'rw' && o !== 'ro') : [],
    });
  }
  return out;
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw new ContainerError('not-found', `${what} does not exist (${file})`, { cause: err });
    throw new ContainerError('internal', `reading ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function hostMounts(host: CgroupHost): CgroupMount[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(host.procRoot, 'self', 'mountinfo'), 'utf8');
  } catch {
    return [];
  }
  return parseCgroupMounts(text);
}

/** The mount of a v1 controller; without mountinfo, the conventional `<sysRoot>/<controller>`. */
function v1Mount(mounts: readonly CgroupMount[], controller: string, host: CgroupHost): CgroupMount | undefined {
  const found = mounts.find((m) => m.fsType === 'cgroup' && m.controllers.includes(controller));
  if (found) return found;
  if (mounts.length > 0) return undefined;
  const conventional = path.join(host.sysRoot, controller);
  return fs.existsSync(conventional) ? { fsType: 'cgroup', mountPoint: conventional, root: '/', controllers: [controller] } : undefined;
}

function unifiedMount(mounts: readonly CgroupMount[], host: CgroupHost): CgroupMount {
  // Prefer the mount at sysRoot itself: a hybrid host also mounts cgroup2 at <sysRoot>/unified.
  const atRoot = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === host.sysRoot);
  return atRoot ?? mounts.find((m) => m.fsType === 'cgroup2') ?? { fsType: 'cgroup2', mountPoint: host.sysRoot, root: '/', controllers: [] };
}

/**
 * A hierarchy path as a directory under `mount`. A path seen in /proc/<pid>/cgroup is relative
 * to our cgroup namespace, which is the mount's root when a sub-tree is bound there.
 */
function dirUnder(mount: CgroupMount, cgroupPath: string): string | undefined {
  const rel = path.posix.relative(mount.root, cgroupPath);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return undefined;
  return path.join(mount.mountPoint, rel);
}

// ---------------------------------------------------------------------------------------------
// Locating
// ---------------------------------------------------------------------------------------------

/** The cgroup a live process is in, as /proc/<pid>/cgroup says. */
export function cgroupOfPid(pid: number, host: CgroupHost = HOST_CGROUPS): Cgroup {
  if (!Number.isInteger(pid) || pid <= 0) throw new ContainerError('invalid', `not a pid: ${pid}`);
  const entries = parseProcCgroup(readText(path.join(host.procRoot, String(pid), 'cgroup'), `process ${pid}`));
  return cgroupFromEntries(entries, host, `process ${pid}`);
}

function cgroupFromEntries(entries: readonly ProcCgroupEntry[], host: CgroupHost, what: string): Cgroup {
  const mounts = hostMounts(host);
  if (cgroupVersion(host) === 2) {
    const entry = entries.find((e) => e.hierarchyId === 0 && e.controllers.length === 0);
    if (!entry) throw new ContainerError('internal', `${what}: no cgroup v2 entry in its /proc cgroup file`);
    if (entry.path === '/') throw inRootCgroup(what);
    const dir = dirUnder(unifiedMount(mounts, host), entry.path);
    if (dir === undefined) throw new ContainerError('internal', `${what}: cgroup ${entry.path} is outside the mounted hierarchy`);
    return { version: 2, path: entry.path, dir };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  let mainPath: string | undefined;
  for (const controller of V1_CONTROLLERS) {
    const entry = entries.find((e) => e.hierarchyId !== 0 && e.controllers.includes(controller));
    // The root of a hierarchy is the whole host's: a controller runc did not place the container
    // in is one to leave out, not to read (or to list every process of the host from).
    if (!entry || entry.path === '/') continue;
    const mount = v1Mount(mounts, controller, host);
    if (!mount) continue;
    const dir = dirUnder(mount, entry.path);
    if (dir === undefined) continue;
    dirs[controller] = dir;
    if (controller === 'memory' || mainPath === undefined) mainPath = entry.path;
  }
  if (mainPath === undefined) throw inRootCgroup(what);
  return { version: 1, path: mainPath, dirs };
}

function inRootCgroup(what: string): ContainerError {
  return new ContainerError('internal', `${what} is in no cgroup of its own (only root cgroups, or none mounted): it is not a container's process`);
}

/**
 * The cgroup runc makes for `linux.cgroupsPath`:
 * - systemd form `slice:prefix:name` → `<slice, expanded>/<prefix>-<name>.scope`;
 * - an absolute cgroupfs path as it is;
 * - a relative one (or none: runc then uses the container id) below the cgroup runc itself runs
 *   in, which is the shim's own.
 */
export function cgroupOfSpec(cgroupsPath: string | undefined, containerId: string, host: CgroupHost = HOST_CGROUPS): Cgroup {
  let own: Map<string, string> | undefined;
  const hierarchyPath = specCgroupPath(cgroupsPath, containerId, () => (own ??= ownCgroupPaths(host)));
  const mounts = hostMounts(host);
  if (cgroupVersion(host) === 2) {
    const p = typeof hierarchyPath === 'string' ? hierarchyPath : hierarchyPath('');
    if (p === undefined) throw new ContainerError('internal', "the shim's own cgroup v2 path is unknown");
    return { version: 2, path: p, dir: path.join(unifiedMount(mounts, host).mountPoint, p) };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  let mainPath: string | undefined;
  for (const controller of V1_CONTROLLERS) {
    const mount = v1Mount(mounts, controller, host);
    if (!mount) continue;
    const p = typeof hierarchyPath === 'string' ? hierarchyPath : hierarchyPath(controller);
    if (p === undefined) continue;
    // runc joins an absolute cgroupsPath to the mount point, whatever sub-tree is mounted there.
    dirs[controller] = path.join(mount.mountPoint, p);
    if (controller === 'memory' || mainPath === undefined) mainPath = p;
  }
  if (mainPath === undefined) throw new ContainerError('internal', 'no cgroup v1 controller is mounted');
  return { version: 1, path: mainPath, dirs };
}

/**
 * The hierarchy path for a spec's cgroupsPath: a string when it is the same in every hierarchy,
 * or, for a relative path, a function of the v1 controller ('' for v2) since the shim's own
 * cgroup may differ per hierarchy (undefined where the shim is in no cgroup of that controller).
 */
export function specCgroupPath(
  cgroupsPath: string | undefined,
  containerId: string,
  ownPaths: () => ReadonlyMap<string, string>,
): string | ((controller: string) => string | undefined) {
  if (cgroupsPath !== undefined && usesSystemdCgroup(cgroupsPath)) return systemdCgroupPath(cgroupsPath);
  const inner = cgroupsPath === undefined || cgroupsPath === '' ? containerId : cgroupsPath;
  if (inner.startsWith('/')) return path.posix.normalize(inner);
  if (inner.split('/').includes('..')) throw new ContainerError('invalid', `cgroupsPath ${JSON.stringify(inner)} must not contain ".."`);
  return (controller: string) => {
    const own = ownPaths().get(controller);
    return own === undefined ? undefined : path.posix.join(own, inner);
  };
}

/** The shim's own cgroup paths, by v1 controller ('' for the v2 entry). */
function ownCgroupPaths(host: CgroupHost): Map<string, string> {
  const entries = parseProcCgroup(readText(path.join(host.procRoot, 'self', 'cgroup'), 'the shim process'));
  const out = new Map<string, string>();
  for (const e of entries) {
    if (e.hierarchyId === 0 && e.controllers.length === 0) out.set('', e.path);
    for (const c of e.controllers) out.set(c, e.path);
  }
  return out;
}

/**
 * runc's systemd cgroup driver: `slice:prefix:name` is the unit `<prefix>-<name>.scope` (or
 * `name` itself when it is a slice) inside `slice` (default `system.slice`), and a slice
 * `a-b-c.slice` lives at `/a.slice/a-b.slice/a-b-c.slice`.
 */
export function systemdCgroupPath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) throw new ContainerError('invalid', `systemd cgroupsPath ${JSON.stringify(cgroupsPath)} must have the form slice:prefix:name`);
  const [slice, prefix, name] = parts as [string, string, string];
  if (name === '') throw new ContainerError('invalid', `systemd cgroupsPath ${JSON.stringify(cgroupsPath)} has no name`);
  const unit = name.endsWith('.slice') ? name : `${prefix}-${name}.scope`;
  if (unit.includes('/')) throw new ContainerError('invalid', `systemd unit name ${JSON.stringify(unit)} must not contain "/"`);
  // runc joins the unit to the expanded parent slice as one component, a slice unit included.
  return path.posix.join(expandSlice(slice === '' ? 'system.slice' : slice), unit);
}

/** `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` (the root slice) → `/`. */
export function expandSlice(slice: string): string {
  const bad = (why: string) => new ContainerError('invalid', `invalid systemd slice ${JSON.stringify(slice)}: ${why}`);
  if (!slice.endsWith('.slice')) throw bad('it must end in ".slice"');
  if (slice.includes('/')) throw bad('it must not contain "/"');
  if (slice === '-.slice') return '/';
  const base = slice.slice(0, -'.slice'.length);
  if (base === '') throw bad('the name is empty');
  let out = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw bad('it has an empty component ("--", or a leading or trailing "-")');
    prefix = prefix === '' ? component : `${prefix}-${component}`;
    out += `/${prefix}.slice`;
  }
  return out;
}

/** Whether the cgroup's directory (any of them, on v1) still exists. */
export function cgroupExists(cg: Cgroup): boolean {
  if (cg.version === 2) return fs.existsSync(cg.dir);
  return Object.values(cg.dirs).some((dir) => dir !== undefined && fs.existsSync(dir));
}

/** The error every reader throws for a cgroup that is gone: the container has exited. */
export function cgroupGone(cg: Cgroup): ContainerError {
  return new ContainerError('not-found', `cgroup ${cg.path} no longer exists: the container has exited`);
}
