/**
 * cgroup v2: metrics as `io.containerd.cgroups.v2.Metrics`, read the way containerd's cgroup2
 * manager reads them, from the container's one unified directory.
 */
import path from 'node:path';
import { MemoryStatV2, MetricsV2 } from '../../proto/cgroups.js';
import type { CpuStatV2, IoEntryV2, MemoryEventsV2, PsiStatsV2 } from '../../proto/cgroups.js';
import type { CgroupV2 } from './cgroup-path.js';
import { kv, parseUint64, readFlatKeyed, readOptionalFile, readPsi, readUint64, UINT64_MAX } from './cgroup-stats.js';
import type { PsiStats } from './cgroup-stats.js';

export function readMetricsV2(cg: CgroupV2): MetricsV2 {
  const dir = cg.dir;
  const metrics = MetricsV2.create();
  const pidsCurrent = readUint64(path.join(dir, 'pids.current'));
  if (pidsCurrent !== undefined) {
    // "max" (no limit) reads as 0, as on v1. containerd's cgroup2 reports 2^64−1 there; no
    // client reads the pids limit for decisions, and 0 keeps one meaning on both versions.
    metrics.pids = { current: pidsCurrent, limit: readUint64(path.join(dir, 'pids.max'), 0n) ?? 0n };
  }
  const cpuStat = readFlatKeyed(path.join(dir, 'cpu.stat'));
  if (cpuStat !== undefined) metrics.cpu = cpuStatV2(cpuStat, readPsi(path.join(dir, 'cpu.pressure')));
  const memoryStat = readFlatKeyed(path.join(dir, 'memory.stat'));
  if (memoryStat !== undefined) metrics.memory = memoryStatV2(memoryStat, dir);
  const events = readMemoryEventsV2(dir);
  if (events !== undefined) metrics.memoryEvents = events;
  const io = readIoStat(path.join(dir, 'io.stat'));
  if (io !== undefined) metrics.io = { usage: io, psi: psiV2(readPsi(path.join(dir, 'io.pressure'))) };
  return metrics;
}

function psiV2(psi: PsiStats | undefined): PsiStatsV2 | undefined {
  if (psi === undefined) return undefined;
  return { some: psi.some, full: psi.full };
}

function cpuStatV2(stat: ReadonlyMap<string, bigint>, psi: PsiStats | undefined): CpuStatV2 {
  return {
    usageUsec: kv(stat, 'usage_usec'),
    userUsec: kv(stat, 'user_usec'),
    systemUsec: kv(stat, 'system_usec'),
    nrPeriods: kv(stat, 'nr_periods'),
    nrThrottled: kv(stat, 'nr_throttled'),
    throttledUsec: kv(stat, 'throttled_usec'),
    psi: psiV2(psi),
    nrBursts: kv(stat, 'nr_bursts'),
    burstUsec: kv(stat, 'burst_usec'),
  };
}

/** memory.stat keys, by MemoryStatV2 field. */
const MEMORY_STAT_KEYS = {
  anon: 'anon',
  file: 'file',
  kernelStack: 'kernel_stack',
  slab: 'slab',
  sock: 'sock',
  shmem: 'shmem',
  fileMapped: 'file_mapped',
  fileDirty: 'file_dirty',
  fileWriteback: 'file_writeback',
  anonThp: 'anon_thp',
  inactiveAnon: 'inactive_anon',
  activeAnon: 'active_anon',
  inactiveFile: 'inactive_file',
  activeFile: 'active_file',
  unevictable: 'unevictable',
  slabReclaimable: 'slab_reclaimable',
  slabUnreclaimable: 'slab_unreclaimable',
  pgfault: 'pgfault',
  pgmajfault: 'pgmajfault',
  workingsetRefault: 'workingset_refault',
  workingsetActivate: 'workingset_activate',
  workingsetNodereclaim: 'workingset_nodereclaim',
  pgrefill: 'pgrefill',
  pgscan: 'pgscan',
  pgsteal: 'pgsteal',
  pgactivate: 'pgactivate',
  pgdeactivate: 'pgdeactivate',
  pglazyfree: 'pglazyfree',
  pglazyfreed: 'pglazyfreed',
  thpFaultAlloc: 'thp_fault_alloc',
  thpCollapseAlloc: 'thp_collapse_alloc',
} as const;

function memoryStatV2(stat: ReadonlyMap<string, bigint>, dir: string): MemoryStatV2 {
  const out = MemoryStatV2.create();
  for (const [field, key] of Object.entries(MEMORY_STAT_KEYS) as Array<[keyof typeof MEMORY_STAT_KEYS, string]>) {
    out[field] = kv(stat, key);
  }
  // Kernels 5.9+ split these by anon and file.
  if (!stat.has('workingset_refault')) out.workingsetRefault = kv(stat, 'workingset_refault_anon') + kv(stat, 'workingset_refault_file');
  if (!stat.has('workingset_activate')) out.workingsetActivate = kv(stat, 'workingset_activate_anon') + kv(stat, 'workingset_activate_file');
  // "max" is reported as 2^64−1, as containerd does; the CRI treats it as "no limit".
  out.usage = readUint64(path.join(dir, 'memory.current')) ?? 0n;
  out.usageLimit = readUint64(path.join(dir, 'memory.max'), UINT64_MAX) ?? 0n;
  out.maxUsage = readUint64(path.join(dir, 'memory.peak')) ?? 0n;
  out.swapUsage = readUint64(path.join(dir, 'memory.swap.current')) ?? 0n;
  out.swapLimit = readUint64(path.join(dir, 'memory.swap.max'), UINT64_MAX) ?? 0n;
  out.swapMaxUsage = readUint64(path.join(dir, 'memory.swap.peak')) ?? 0n;
  out.psi = psiV2(readPsi(path.join(dir, 'memory.pressure')));
  return out;
}

/** memory.events; undefined when the file is not there (no memory controller, or the cgroup is gone). */
export function readMemoryEventsV2(dir: string): MemoryEventsV2 | undefined {
  const events = readFlatKeyed(path.join(dir, 'memory.events'));
  if (events === undefined) return undefined;
  return { low: kv(events, 'low'), high: kv(events, 'high'), max: kv(events, 'max'), oom: kv(events, 'oom'), oomKill: kv(events, 'oom_kill') };
}

/** `oom_kill` of memory.events (it counts kills in descendant cgroups too, unless the hierarchy is mounted with memory_localevents). */
export function readOomKillCountV2(dir: string): number | undefined {
  const events = readMemoryEventsV2(dir);
  return events === undefined ? undefined : Number(events.oomKill);
}

/** io.stat: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…` per device. */
export function parseIoStat(text: string, file: string): IoEntryV2[] {
  const out: IoEntryV2[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const device = /^(\d+):(\d+)$/.exec(parts[0] ?? '');
    if (!device) continue;
    const entry: IoEntryV2 = { major: BigInt(device[1]!), minor: BigInt(device[2]!), rbytes: 0n, wbytes: 0n, rios: 0n, wios: 0n };
    for (const field of parts.slice(1)) {
      const eq = field.indexOf('=');
      const key = field.slice(0, eq);
      if (key === 'rbytes' || key === 'wbytes' || key === 'rios' || key === 'wios') entry[key] = parseUint64(field.slice(eq + 1), file);
    }
    out.push(entry);
  }
  return out;
}

function readIoStat(file: string): IoEntryV2[] | undefined {
  const text = readOptionalFile(file);
  return text === undefined ? undefined : parseIoStat(text, file);
}
