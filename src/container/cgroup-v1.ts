/**
 * cgroup v1: metrics as `io.containerd.cgroups.v1.Metrics`, read the way containerd's cgroups
 * library reads them, from the memory, cpuacct, cpu and pids hierarchies.
 */
import path from 'node:path';
import { MemoryStatV1, MetricsV1 } from '../../proto/cgroups.js';
import type { CpuUsageV1, MemoryEntryV1, MemoryOomControlV1, ThrottleV1 } from '../../proto/cgroups.js';
import type { CgroupV1 } from './cgroup-path.js';
import { kv, readFlatKeyed, readUint64, readUint64List } from './cgroup-stats.js';

/** USER_HZ: the unit of cpuacct.stat. Linux fixes it at 100 on every architecture nodewasm runs on. */
const USER_HZ = 100n;
const NS_PER_SECOND = 1_000_000_000n;

export function readMetricsV1(cg: CgroupV1): MetricsV1 {
  const metrics = MetricsV1.create();
  const { memory, cpu, cpuacct, pids } = cg.dirs;
  if (pids !== undefined) {
    const current = readUint64(path.join(pids, 'pids.current'));
    if (current !== undefined) {
      // "max" (no limit) reads as 0, as containerd reports it.
      metrics.pids = { current, limit: readUint64(path.join(pids, 'pids.max'), 0n) ?? 0n };
    }
  }
  if (cpuacct !== undefined || cpu !== undefined) {
    metrics.cpu = {
      usage: cpuacct === undefined ? undefined : readCpuUsage(cpuacct),
      throttling: cpu === undefined ? undefined : readThrottling(cpu),
    };
  }
  if (memory !== undefined) {
    const stat = readFlatKeyed(path.join(memory, 'memory.stat'));
    if (stat !== undefined) {
      metrics.memory = memoryStat(stat, memory);
      const oom = readOomControl(memory);
      if (oom !== undefined) metrics.memoryOomControl = oom;
    }
  }
  return metrics;
}

function readCpuUsage(dir: string): CpuUsageV1 | undefined {
  const total = readUint64(path.join(dir, 'cpuacct.usage'));
  if (total === undefined) return undefined;
  let user = readUint64(path.join(dir, 'cpuacct.usage_user'));
  let kernel = readUint64(path.join(dir, 'cpuacct.usage_sys'));
  if (user === undefined || kernel === undefined) {
    // Kernels before 4.6 have only cpuacct.stat, in USER_HZ ticks.
    const stat = readFlatKeyed(path.join(dir, 'cpuacct.stat'));
    user = (kv(stat, 'user') * NS_PER_SECOND) / USER_HZ;
    kernel = (kv(stat, 'system') * NS_PER_SECOND) / USER_HZ;
  }
  return { total, user, kernel, perCpu: readUint64List(path.join(dir, 'cpuacct.usage_percpu')) ?? [] };
}

function readThrottling(dir: string): ThrottleV1 | undefined {
  const stat = readFlatKeyed(path.join(dir, 'cpu.stat'));
  if (stat === undefined) return undefined;
  return { periods: kv(stat, 'nr_periods'), throttledPeriods: kv(stat, 'nr_throttled'), throttledTime: kv(stat, 'throttled_time') };
}

/** memory.stat keys, by MemoryStatV1 field. */
const MEMORY_STAT_KEYS = {
  cache: 'cache',
  rss: 'rss',
  rssHuge: 'rss_huge',
  mappedFile: 'mapped_file',
  dirty: 'dirty',
  writeback: 'writeback',
  pgPgIn: 'pgpgin',
  pgPgOut: 'pgpgout',
  pgFault: 'pgfault',
  pgMajFault: 'pgmajfault',
  inactiveAnon: 'inactive_anon',
  activeAnon: 'active_anon',
  inactiveFile: 'inactive_file',
  activeFile: 'active_file',
  unevictable: 'unevictable',
  hierarchicalMemoryLimit: 'hierarchical_memory_limit',
  hierarchicalSwapLimit: 'hierarchical_memsw_limit',
  totalCache: 'total_cache',
  totalRss: 'total_rss',
  totalRssHuge: 'total_rss_huge',
  totalMappedFile: 'total_mapped_file',
  totalDirty: 'total_dirty',
  totalWriteback: 'total_writeback',
  totalPgPgIn: 'total_pgpgin',
  totalPgPgOut: 'total_pgpgout',
  totalPgFault: 'total_pgfault',
  totalPgMajFault: 'total_pgmajfault',
  totalInactiveAnon: 'total_inactive_anon',
  totalActiveAnon: 'total_active_anon',
  totalInactiveFile: 'total_inactive_file',
  totalActiveFile: 'total_active_file',
  totalUnevictable: 'total_unevictable',
} as const;

function memoryStat(stat: ReadonlyMap<string, bigint>, dir: string): MemoryStatV1 {
  const out = MemoryStatV1.create();
  for (const [field, key] of Object.entries(MEMORY_STAT_KEYS) as Array<[keyof typeof MEMORY_STAT_KEYS, string]>) {
    out[field] = kv(stat, key);
  }
  // An unlimited limit_in_bytes is the kernel's PAGE_COUNTER_MAX in bytes (9223372036854771712
  // with 4 KiB pages), reported as it is, like containerd does.
  out.usage = readMemoryEntry(dir, '') ?? { limit: 0n, usage: 0n, max: 0n, failcnt: 0n };
  // memsw exists only with swap accounting; kmem and kmem.tcp not on every kernel.
  out.swap = readMemoryEntry(dir, 'memsw.');
  out.kernel = readMemoryEntry(dir, 'kmem.');
  out.kernelTcp = readMemoryEntry(dir, 'kmem.tcp.');
  return out;
}

function readMemoryEntry(dir: string, module: '' | 'memsw.' | 'kmem.' | 'kmem.tcp.'): MemoryEntryV1 | undefined {
  const usage = readUint64(path.join(dir, `memory.${module}usage_in_bytes`));
  if (usage === undefined) return undefined;
  return {
    usage,
    limit: readUint64(path.join(dir, `memory.${module}limit_in_bytes`)) ?? 0n,
    max: readUint64(path.join(dir, `memory.${module}max_usage_in_bytes`)) ?? 0n,
    failcnt: readUint64(path.join(dir, `memory.${module}failcnt`)) ?? 0n,
  };
}

export function readOomControl(memoryDir: string): MemoryOomControlV1 | undefined {
  const control = readFlatKeyed(path.join(memoryDir, 'memory.oom_control'));
  if (control === undefined) return undefined;
  return { oomKillDisable: kv(control, 'oom_kill_disable'), underOom: kv(control, 'under_oom'), oomKill: kv(control, 'oom_kill') };
}

/**
 * OOM kills in the memory cgroup: `oom_kill` of memory.oom_control (kernel 4.13+). On v1 it counts
 * this cgroup's own kills only (the kernel propagates the event to ancestors on v2 alone; checked
 * on 6.18). undefined when the file is gone; 0 on older kernels, which have no such counter (see
 * cgroup.ts on why memory.failcnt is not used instead).
 */
export function readOomKillCountV1(memoryDir: string): number | undefined {
  const control = readOomControl(memoryDir);
  return control === undefined ? undefined : Number(control.oomKill);
}

/** The directory whose cgroup.procs lists the container's processes, in order of preference. */
export function procsDirV1(cg: CgroupV1): string | undefined {
  const { pids, memory, freezer, devices, cpu, cpuacct, cpuset, blkio } = cg.dirs;
  return pids ?? memory ?? freezer ?? devices ?? cpu ?? cpuacct ?? cpuset ?? blkio;
}
