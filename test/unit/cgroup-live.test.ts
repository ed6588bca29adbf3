/**
 * The cgroup module against the real kernel: as root on a cgroup v1 host, make temporary cgroups
 * under each mounted controller, move short-lived children of this test into them, and read them
 * back through cgroupOfPid, readMetrics, listPids, readOomKillCount and OomWatcher — an OOM kill
 * included. Then a real `runc run` container: located from its pid and its cgroupsPath, updated
 * with runcUpdate, read back. Every cgroup is removed and every child killed (by its own pid, or
 * through runc for the container) at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsV1 } from '../../proto/cgroups.js';
import {
  cgroupOfPid,
  cgroupOfSpec,
  cgroupVersion,
  listPids,
  OomWatcher,
  readMetrics,
  readOomKillCount,
  type CgroupV1,
  type OomKillEvent,
} from '../../src/container/cgroup.js';
import { LINUX_RESOURCES_TYPE_URL, parseLinuxResourcesAny } from '../../src/container/cgroup-resources.js';
import { RuncRun, runcForceDelete, runcKill, type RuncContext } from '../../src/container/runc.js';
import { runcUpdate } from '../../src/container/runc-update.js';

const SYS = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'];
const MiB = 1024 * 1024;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot create cgroups';
  if (!fs.existsSync(path.join(SYS, 'memory', 'cgroup.procs'))) return 'no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory';
  if (cgroupVersion() !== 1) return 'this host is cgroup v2; v2 is covered by the fake-tree tests';
  return undefined;
}
const skip = skipReason();

const parentName = `nodewasm-live-test-${process.pid}`;
/** Directories we made, deepest last; removed in reverse. */
const made: string[] = [];
const children: ChildProcess[] = [];

/** Makes /<parentName>/<name> in every mounted controller of CONTROLLERS that we use. */
/**
 * rmdir of a cgroup, retried while the kernel still counts a just-reaped process in it (EBUSY
 * for a moment after an OOM kill on cgroup v1); one that is already gone is fine.
 */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function makeCgroup(name: string): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const c of CONTROLLERS) {
    const mount = path.join(SYS, c);
    if (!fs.existsSync(path.join(mount, 'cgroup.procs'))) continue;
    const parent = path.join(mount, parentName);
    if (!fs.existsSync(parent)) {
      fs.mkdirSync(parent);
      made.push(parent);
    }
    const dir = path.join(parent, name);
    fs.mkdirSync(dir);
    made.push(dir);
    dirs[c] = dir;
  }
  return dirs;
}

function setMemoryLimit(memoryDir: string, bytes: number): void {
  // No swap: memsw (when swap accounting exists) equals the limit. Raise memsw last, lower it first... a new
  // cgroup starts unlimited, so limit then memsw.
  fs.writeFileSync(path.join(memoryDir, 'memory.limit_in_bytes'), String(bytes));
  const memsw = path.join(memoryDir, 'memory.memsw.limit_in_bytes');
  if (fs.existsSync(memsw)) fs.writeFileSync(memsw, String(bytes));
}

function enter(dirs: Record<string, string>, pid: number): void {
  for (const dir of Object.values(dirs)) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
}

function spawnChild(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * The status a container runtime would report for the hog: its code, or 128 + signal when the
 * OOM killer picked the shell itself rather than (or besides) tail.
 */
function exitStatus(result: { code: number | null; signal: NodeJS.Signals | null }): number {
  return result.code ?? 128 + os.constants.signals[result.signal!];
}

/** A shell that waits for a line on stdin, then fills memory until the OOM killer stops it. */
function spawnMemoryHog(): ChildProcess {
  // tail keeps the whole newline-free input in memory.
  return spawnChild('sh', ['-c', 'read line; head -c 400000000 /dev/zero | tail']);
}

describe.skipIf(skip !== undefined)(`cgroup v1, live${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sleeper: ChildProcess;
  let dirs: Record<string, string>;

  beforeAll(() => {
    dirs = makeCgroup('c1');
    setMemoryLimit(dirs['memory']!, 64 * MiB);
    if (dirs['pids']) fs.writeFileSync(path.join(dirs['pids'], 'pids.max'), '50');
    sleeper = spawnChild('sleep', ['5']);
    enter(dirs, sleeper.pid!);
  });

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited(child);
      }
    }
    for (const dir of made.reverse()) await removeCgroup(dir);
  });

  it('locates the child\'s cgroup from its pid, and the same directories from the cgroupsPath', () => {
    const cg = cgroupOfPid(sleeper.pid!) as CgroupV1;
    expect(cg.version).toBe(1);
    expect(cg.path).toBe(`/${parentName}/c1`);
    for (const [controller, dir] of Object.entries(dirs)) expect(cg.dirs[controller as 'memory']).toBe(dir);
    const fromSpec = cgroupOfSpec(`/${parentName}/c1`, 'c1') as CgroupV1;
    for (const [controller, dir] of Object.entries(dirs)) expect(fromSpec.dirs[controller as 'memory']).toBe(dir);
  });

  it('reads metrics that decode as io.containerd.cgroups.v1.Metrics with the limits we set', () => {
    const any = readMetrics(cgroupOfPid(sleeper.pid!));
    expect(any.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
    const m = MetricsV1.decode(any.value);
    if (dirs['pids']) expect(m.pids).toEqual({ current: 1n, limit: 50n });
    expect(m.memory?.usage?.limit).toBe(BigInt(64 * MiB));
    // The sleeper's pages stay charged where it started (v1 does not move charges by default).
    expect(m.memory?.usage?.usage).toBeLessThanOrEqual(BigInt(64 * MiB));
    expect(m.memory?.hierarchicalMemoryLimit).toBe(BigInt(64 * MiB));
    if (m.memory?.swap) expect(m.memory.swap.limit).toBe(BigInt(64 * MiB));
    expect(m.memoryOomControl?.oomKill).toBe(0n);
    if (dirs['cpuacct']) {
      expect(m.cpu?.usage?.total).toBeTypeOf('bigint');
      expect(m.cpu?.usage?.perCpu.length).toBeGreaterThan(0);
    }
    if (dirs['cpu']) expect(m.cpu?.throttling?.periods).toBe(0n);
  });

  it('lists exactly the child as the cgroup\'s processes', () => {
    expect(listPids(cgroupOfPid(sleeper.pid!))).toEqual([sleeper.pid]);
  });

  it('counts no OOM kill in a cgroup that had none', () => {
    expect(readOomKillCount(cgroupOfPid(sleeper.pid!))).toBe(0);
  });

  it('sees the kernel\'s OOM kill through readOomKillCount and the watcher', async () => {
    const oomDirs = makeCgroup('oom');
    setMemoryLimit(oomDirs['memory']!, 16 * MiB);
    const hog = spawnMemoryHog();
    enter(oomDirs, hog.pid!);
    const cg = cgroupOfPid(hog.pid!);
    const seen: OomKillEvent[] = [];
    const watcher = new OomWatcher(cg, (e) => seen.push(e), { intervalMs: 20 }).start();
    hog.stdin!.end('go\n');
    // The shell reports its pipeline's last command, tail, killed by SIGKILL (or is killed itself).
    const status = exitStatus(await exited(hog));
    expect(status).toBe(137);
    watcher.exit(status);
    // Usually one kill (tail); under memory pressure the kernel may pick a second process too.
    const kills = readOomKillCount(cg);
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((e) => e.source === 'cgroup')).toBe(true);
    expect(seen.reduce((sum, e) => sum + e.newKills, 0)).toBe(kills);
    expect(seen.at(-1)!.count).toBe(kills);
  });

  it('reports the kill at exit even when the cgroup was removed before the next poll', async () => {
    const gone = makeCgroup('gone');
    setMemoryLimit(gone['memory']!, 16 * MiB);
    const hog = spawnMemoryHog();
    enter(gone, hog.pid!);
    const seen: OomKillEvent[] = [];
    // A poll far in the future: only the start-up reading and exit() read anything.
    const watcher = new OomWatcher(cgroupOfPid(hog.pid!), (e) => seen.push(e), { intervalMs: 3_600_000 }).start();
    hog.stdin!.end('go\n');
    const status = exitStatus(await exited(hog));
    expect(status).toBe(137);
    // What runc does when the container's init exits: remove the cgroup.
    for (const dir of Object.values(gone)) await removeCgroup(dir);
    expect(watcher.exit(status)).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ source: 'exit' });
    expect(seen[0]!.newKills).toBeGreaterThanOrEqual(1);
  });
});

const runcMissing = spawnSync('runc', ['--version']).status !== 0 ? 'runc is not installed' : undefined;
const runcSkip = skip ?? runcMissing;

describe.skipIf(runcSkip !== undefined)(`runc update on a real container, live${runcSkip ? ` (skipped: ${runcSkip})` : ''}`, () => {
  const id = `nodewasm-live-${process.pid}`;
  const cgroupsPath = `/nodewasm-live-test-${process.pid}-runc`;
  let work: string;
  let ctx: RuncContext;
  let container: RuncRun | undefined;
  let pid = 0;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-cgroup-live-'));
    const rootfs = path.join(work, 'rootfs');
    for (const d of ['proc', 'dev', 'sys', 'usr']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    for (const l of ['bin', 'lib', 'lib64']) fs.symlinkSync(`usr/${l}`, path.join(rootfs, l));
    const spec = {
      ociVersion: '1.0.2-dev',
      process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sleep', '30'], env: ['PATH=/usr/bin:/bin'], cwd: '/', noNewPrivileges: true },
      root: { path: rootfs, readonly: true },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'rprivate'] },
      ],
      linux: {
        namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
        resources: { memory: { limit: 64 * MiB, swap: 64 * MiB } },
        cgroupsPath,
      },
    };
    fs.writeFileSync(path.join(work, 'config.json'), JSON.stringify(spec));
    ctx = { root: path.join(work, 'runc-root'), systemdCgroup: false };
    container = RuncRun.start({ ctx, id, bundle: work, pidFile: path.join(work, 'init.pid'), logFile: path.join(work, 'runc.log'), stdio: ['ignore', 'ignore', 'ignore'] });
    pid = await container.waitForPid();
  });

  afterAll(async () => {
    if (container) {
      await runcKill(ctx, id, 9, true).catch(() => undefined);
      await Promise.race([container.exited, new Promise((r) => setTimeout(r, 10_000))]);
      await runcForceDelete(ctx, id);
    }
    // runc removes the container's cgroups; make sure (they are empty once it has exited).
    for (const c of fs.readdirSync(SYS)) {
      try {
        fs.rmdirSync(path.join(SYS, c, cgroupsPath));
      } catch {
        // already removed, or not a hierarchy
      }
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('finds the container\'s cgroup from its pid as runc placed it from the cgroupsPath', () => {
    const byPid = cgroupOfPid(pid) as CgroupV1;
    const bySpec = cgroupOfSpec(cgroupsPath, id) as CgroupV1;
    expect(byPid.path).toBe(cgroupsPath);
    expect(byPid.dirs.memory).toBe(bySpec.dirs.memory);
    expect(byPid.dirs.pids).toBe(bySpec.dirs.pids);
    expect(listPids(byPid)).toEqual([pid]);
    expect(MetricsV1.decode(readMetrics(byPid).value).memory?.usage?.limit).toBe(BigInt(64 * MiB));
  });

  it('applies an UpdateTaskRequest\'s resources through runc update', async () => {
    const any = {
      typeUrl: LINUX_RESOURCES_TYPE_URL,
      value: new TextEncoder().encode(JSON.stringify({ memory: { limit: 48 * MiB, swap: 48 * MiB }, cpu: { shares: 512, quota: 50_000, period: 100_000 }, pids: { limit: 20 } })),
    };
    await runcUpdate(ctx, id, parseLinuxResourcesAny(any));
    const cg = cgroupOfPid(pid) as CgroupV1;
    const m = MetricsV1.decode(readMetrics(cg).value);
    expect(m.memory?.usage?.limit).toBe(BigInt(48 * MiB));
    if (m.memory?.swap) expect(m.memory.swap.limit).toBe(BigInt(48 * MiB));
    if (cg.dirs.pids) expect(m.pids?.limit).toBe(20n);
    if (cg.dirs.cpu) {
      expect(fs.readFileSync(path.join(cg.dirs.cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
      expect(fs.readFileSync(path.join(cg.dirs.cpu, 'cpu.shares'), 'utf8').trim()).toBe('512');
    }
  });

  it('reports runc\'s refusal and an unknown container with the right kinds', async () => {
    await expect(runcUpdate(ctx, 'no-such-container', {})).rejects.toMatchObject({ kind: 'not-found' });
    // Below what the container already uses: the kernel refuses (EBUSY) and runc says so.
    await expect(runcUpdate(ctx, id, { memory: { limit: 4096, swap: 4096 } })).rejects.toMatchObject({ kind: 'invalid' });
  });
});
