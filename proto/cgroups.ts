/**
 * The cgroup metrics containerd expects in `StatsResponse.stats`: `io.containerd.cgroups.v1.Metrics`
 * on cgroup v1 hosts, `io.containerd.cgroups.v2.Metrics` on cgroup v2 hosts. ctr and the CRI accept
 * nothing else. Field numbers are those of containerd/cgroups' `stats/v1/metrics.proto` (later
 * `cgroup1/stats/metrics.proto`) and `cgroup2/stats/metrics.proto`, including the later additions
 * (v2 PSI, bursts, network), so a message decodes completely whoever wrote it.
 *
 * The `Any` type URL is the bare proto name (`typeName` of `MetricsV1` / `MetricsV2`), as containerd's
 * own shims send it.
 */
import { message } from './message.js';
import type { MessageOf } from './message.js';

// ---------------------------------------------------------------------------------------------
// io.containerd.cgroups.v1
// ---------------------------------------------------------------------------------------------

export const HugetlbStatV1 = message('io.containerd.cgroups.v1.HugetlbStat', {
  usage: { no: 1, type: 'uint64' },
  max: { no: 2, type: 'uint64' },
  failcnt: { no: 3, type: 'uint64' },
  pagesize: { no: 4, type: 'string' },
});
export type HugetlbStatV1 = MessageOf<typeof HugetlbStatV1>;

export const PidsStatV1 = message('io.containerd.cgroups.v1.PidsStat', {
  current: { no: 1, type: 'uint64' },
  /** 0 when pids.max is "max". */
  limit: { no: 2, type: 'uint64' },
});
export type PidsStatV1 = MessageOf<typeof PidsStatV1>;

/** Nanoseconds. */
export const CpuUsageV1 = message('io.containerd.cgroups.v1.CPUUsage', {
  total: { no: 1, type: 'uint64' },
  kernel: { no: 2, type: 'uint64' },
  user: { no: 3, type: 'uint64' },
  perCpu: { no: 4, type: 'uint64', repeated: true },
});
export type CpuUsageV1 = MessageOf<typeof CpuUsageV1>;

export const ThrottleV1 = message('io.containerd.cgroups.v1.Throttle', {
  periods: { no: 1, type: 'uint64' },
  throttledPeriods: { no: 2, type: 'uint64' },
  /** Nanoseconds. */
  throttledTime: { no: 3, type: 'uint64' },
});
export type ThrottleV1 = MessageOf<typeof ThrottleV1>;

export const CpuStatV1 = message('io.containerd.cgroups.v1.CPUStat', {
  usage: { no: 1, message: CpuUsageV1 },
  throttling: { no: 2, message: ThrottleV1 },
});
export type CpuStatV1 = MessageOf<typeof CpuStatV1>;

/** One `memory[.<module>].{limit_in_bytes,usage_in_bytes,max_usage_in_bytes,failcnt}` quadruple. */
export const MemoryEntryV1 = message('io.containerd.cgroups.v1.MemoryEntry', {
  limit: { no: 1, type: 'uint64' },
  usage: { no: 2, type: 'uint64' },
  max: { no: 3, type: 'uint64' },
  failcnt: { no: 4, type: 'uint64' },
});
export type MemoryEntryV1 = MessageOf<typeof MemoryEntryV1>;

/** `memory.stat` (bytes and event counts) plus the usage entries; the CRI's working set is usage.usage − totalInactiveFile. */
export const MemoryStatV1 = message('io.containerd.cgroups.v1.MemoryStat', {
  cache: { no: 1, type: 'uint64' },
  rss: { no: 2, type: 'uint64' },
  rssHuge: { no: 3, type: 'uint64' },
  mappedFile: { no: 4, type: 'uint64' },
  dirty: { no: 5, type: 'uint64' },
  writeback: { no: 6, type: 'uint64' },
  pgPgIn: { no: 7, type: 'uint64' },
  pgPgOut: { no: 8, type: 'uint64' },
  pgFault: { no: 9, type: 'uint64' },
  pgMajFault: { no: 10, type: 'uint64' },
  inactiveAnon: { no: 11, type: 'uint64' },
  activeAnon: { no: 12, type: 'uint64' },
  inactiveFile: { no: 13, type: 'uint64' },
  activeFile: { no: 14, type: 'uint64' },
  unevictable: { no: 15, type: 'uint64' },
  hierarchicalMemoryLimit: { no: 16, type: 'uint64' },
  hierarchicalSwapLimit: { no: 17, type: 'uint64' },
  totalCache: { no: 18, type: 'uint64' },
  totalRss: { no: 19, type: 'uint64' },
  totalRssHuge: { no: 20, type: 'uint64' },
  totalMappedFile: { no: 21, type: 'uint64' },
  totalDirty: { no: 22, type: 'uint64' },
  totalWriteback: { no: 23, type: 'uint64' },
  totalPgPgIn: { no: 24, type: 'uint64' },
  totalPgPgOut: { no: 25, type: 'uint64' },
  totalPgFault: { no: 26, type: 'uint64' },
  totalPgMajFault: { no: 27, type: 'uint64' },
  totalInactiveAnon: { no: 28, type: 'uint64' },
  totalActiveAnon: { no: 29, type: 'uint64' },
  totalInactiveFile: { no: 30, type: 'uint64' },
  totalActiveFile: { no: 31, type: 'uint64' },
  totalUnevictable: { no: 32, type: 'uint64' },
  usage: { no: 33, message: MemoryEntryV1 },
  /** memory.memsw.*: memory + swap. */
  swap: { no: 34, message: MemoryEntryV1 },
  kernel: { no: 35, message: MemoryEntryV1 },
  kernelTcp: { no: 36, message: MemoryEntryV1 },
});
export type MemoryStatV1 = MessageOf<typeof MemoryStatV1>;

export const MemoryOomControlV1 = message('io.containerd.cgroups.v1.MemoryOomControl', {
  oomKillDisable: { no: 1, type: 'uint64' },
  underOom: { no: 2, type: 'uint64' },
  oomKill: { no: 3, type: 'uint64' },
});
export type MemoryOomControlV1 = MessageOf<typeof MemoryOomControlV1>;

export const BlkIOEntryV1 = message('io.containerd.cgroups.v1.BlkIOEntry', {
  op: { no: 1, type: 'string' },
  device: { no: 2, type: 'string' },
  major: { no: 3, type: 'uint64' },
  minor: { no: 4, type: 'uint64' },
  value: { no: 5, type: 'uint64' },
});
export type BlkIOEntryV1 = MessageOf<typeof BlkIOEntryV1>;

export const BlkIOStatV1 = message('io.containerd.cgroups.v1.BlkIOStat', {
  ioServiceBytesRecursive: { no: 1, message: BlkIOEntryV1, repeated: true },
  ioServicedRecursive: { no: 2, message: BlkIOEntryV1, repeated: true },
  ioQueuedRecursive: { no: 3, message: BlkIOEntryV1, repeated: true },
  ioServiceTimeRecursive: { no: 4, message: BlkIOEntryV1, repeated: true },
  ioWaitTimeRecursive: { no: 5, message: BlkIOEntryV1, repeated: true },
  ioMergedRecursive: { no: 6, message: BlkIOEntryV1, repeated: true },
  ioTimeRecursive: { no: 7, message: BlkIOEntryV1, repeated: true },
  sectorsRecursive: { no: 8, message: BlkIOEntryV1, repeated: true },
});
export type BlkIOStatV1 = MessageOf<typeof BlkIOStatV1>;

export const RdmaEntryV1 = message('io.containerd.cgroups.v1.RdmaEntry', {
  device: { no: 1, type: 'string' },
  hcaHandles: { no: 2, type: 'uint32' },
  hcaObjects: { no: 3, type: 'uint32' },
});
export type RdmaEntryV1 = MessageOf<typeof RdmaEntryV1>;

export const RdmaStatV1 = message('io.containerd.cgroups.v1.RdmaStat', {
  current: { no: 1, message: RdmaEntryV1, repeated: true },
  limit: { no: 2, message: RdmaEntryV1, repeated: true },
});
export type RdmaStatV1 = MessageOf<typeof RdmaStatV1>;

export const NetworkStatV1 = message('io.containerd.cgroups.v1.NetworkStat', {
  name: { no: 1, type: 'string' },
  rxBytes: { no: 2, type: 'uint64' },
  rxPackets: { no: 3, type: 'uint64' },
  rxErrors: { no: 4, type: 'uint64' },
  rxDropped: { no: 5, type: 'uint64' },
  txBytes: { no: 6, type: 'uint64' },
  txPackets: { no: 7, type: 'uint64' },
  txErrors: { no: 8, type: 'uint64' },
  txDropped: { no: 9, type: 'uint64' },
});
export type NetworkStatV1 = MessageOf<typeof NetworkStatV1>;

export const CgroupStatsV1 = message('io.containerd.cgroups.v1.CgroupStats', {
  nrSleeping: { no: 1, type: 'uint64' },
  nrRunning: { no: 2, type: 'uint64' },
  nrStopped: { no: 3, type: 'uint64' },
  nrUninterruptible: { no: 4, type: 'uint64' },
  nrIoWait: { no: 5, type: 'uint64' },
});
export type CgroupStatsV1 = MessageOf<typeof CgroupStatsV1>;

export const MetricsV1 = message('io.containerd.cgroups.v1.Metrics', {
  hugetlb: { no: 1, message: HugetlbStatV1, repeated: true },
  pids: { no: 2, message: PidsStatV1 },
  cpu: { no: 3, message: CpuStatV1 },
  memory: { no: 4, message: MemoryStatV1 },
  blkio: { no: 5, message: BlkIOStatV1 },
  rdma: { no: 6, message: RdmaStatV1 },
  network: { no: 7, message: NetworkStatV1, repeated: true },
  cgroupStats: { no: 8, message: CgroupStatsV1 },
  memoryOomControl: { no: 9, message: MemoryOomControlV1 },
});
export type MetricsV1 = MessageOf<typeof MetricsV1>;

// ---------------------------------------------------------------------------------------------
// io.containerd.cgroups.v2
// ---------------------------------------------------------------------------------------------

export const PsiDataV2 = message('io.containerd.cgroups.v2.PSIData', {
  avg10: { no: 1, type: 'double' },
  avg60: { no: 2, type: 'double' },
  avg300: { no: 3, type: 'double' },
  total: { no: 4, type: 'uint64' },
});
export type PsiDataV2 = MessageOf<typeof PsiDataV2>;

export const PsiStatsV2 = message('io.containerd.cgroups.v2.PSIStats', {
  some: { no: 1, message: PsiDataV2 },
  full: { no: 2, message: PsiDataV2 },
});
export type PsiStatsV2 = MessageOf<typeof PsiStatsV2>;

export const PidsStatV2 = message('io.containerd.cgroups.v2.PidsStat', {
  current: { no: 1, type: 'uint64' },
  limit: { no: 2, type: 'uint64' },
});
export type PidsStatV2 = MessageOf<typeof PidsStatV2>;

/** cpu.stat, in microseconds. */
export const CpuStatV2 = message('io.containerd.cgroups.v2.CPUStat', {
  usageUsec: { no: 1, type: 'uint64' },
  userUsec: { no: 2, type: 'uint64' },
  systemUsec: { no: 3, type: 'uint64' },
  nrPeriods: { no: 4, type: 'uint64' },
  nrThrottled: { no: 5, type: 'uint64' },
  throttledUsec: { no: 6, type: 'uint64' },
  psi: { no: 7, message: PsiStatsV2 },
  nrBursts: { no: 8, type: 'uint64' },
  burstUsec: { no: 9, type: 'uint64' },
});
export type CpuStatV2 = MessageOf<typeof CpuStatV2>;

/** memory.stat plus memory.current/max/peak and memory.swap.*; the CRI's working set is usage − inactiveFile. */
export const MemoryStatV2 = message('io.containerd.cgroups.v2.MemoryStat', {
  anon: { no: 1, type: 'uint64' },
  file: { no: 2, type: 'uint64' },
  kernelStack: { no: 3, type: 'uint64' },
  slab: { no: 4, type: 'uint64' },
  sock: { no: 5, type: 'uint64' },
  shmem: { no: 6, type: 'uint64' },
  fileMapped: { no: 7, type: 'uint64' },
  fileDirty: { no: 8, type: 'uint64' },
  fileWriteback: { no: 9, type: 'uint64' },
  anonThp: { no: 10, type: 'uint64' },
  inactiveAnon: { no: 11, type: 'uint64' },
  activeAnon: { no: 12, type: 'uint64' },
  inactiveFile: { no: 13, type: 'uint64' },
  activeFile: { no: 14, type: 'uint64' },
  unevictable: { no: 15, type: 'uint64' },
  slabReclaimable: { no: 16, type: 'uint64' },
  slabUnreclaimable: { no: 17, type: 'uint64' },
  pgfault: { no: 18, type: 'uint64' },
  pgmajfault: { no: 19, type: 'uint64' },
  workingsetRefault: { no: 20, type: 'uint64' },
  workingsetActivate: { no: 21, type: 'uint64' },
  workingsetNodereclaim: { no: 22, type: 'uint64' },
  pgrefill: { no: 23, type: 'uint64' },
  pgscan: { no: 24, type: 'uint64' },
  pgsteal: { no: 25, type: 'uint64' },
  pgactivate: { no: 26, type: 'uint64' },
  pgdeactivate: { no: 27, type: 'uint64' },
  pglazyfree: { no: 28, type: 'uint64' },
  pglazyfreed: { no: 29, type: 'uint64' },
  thpFaultAlloc: { no: 30, type: 'uint64' },
  thpCollapseAlloc: { no: 31, type: 'uint64' },
  /** memory.current */
  usage: { no: 32, type: 'uint64' },
  /** memory.max; 2^64−1 for "max", as containerd reports it. */
  usageLimit: { no: 33, type: 'uint64' },
  swapUsage: { no: 34, type: 'uint64' },
  swapLimit: { no: 35, type: 'uint64' },
  /** memory.peak (kernel 5.19+). */
  maxUsage: { no: 36, type: 'uint64' },
  swapMaxUsage: { no: 37, type: 'uint64' },
  psi: { no: 38, message: PsiStatsV2 },
});
export type MemoryStatV2 = MessageOf<typeof MemoryStatV2>;

/** memory.events */
export const MemoryEventsV2 = message('io.containerd.cgroups.v2.MemoryEvents', {
  low: { no: 1, type: 'uint64' },
  high: { no: 2, type: 'uint64' },
  max: { no: 3, type: 'uint64' },
  oom: { no: 4, type: 'uint64' },
  oomKill: { no: 5, type: 'uint64' },
});
export type MemoryEventsV2 = MessageOf<typeof MemoryEventsV2>;

export const RdmaEntryV2 = message('io.containerd.cgroups.v2.RdmaEntry', {
  device: { no: 1, type: 'string' },
  hcaHandles: { no: 2, type: 'uint32' },
  hcaObjects: { no: 3, type: 'uint32' },
});
export type RdmaEntryV2 = MessageOf<typeof RdmaEntryV2>;

export const RdmaStatV2 = message('io.containerd.cgroups.v2.RdmaStat', {
  current: { no: 1, message: RdmaEntryV2, repeated: true },
  limit: { no: 2, message: RdmaEntryV2, repeated: true },
});
export type RdmaStatV2 = MessageOf<typeof RdmaStatV2>;

export const IoEntryV2 = message('io.containerd.cgroups.v2.IOEntry', {
  major: { no: 1, type: 'uint64' },
  minor: { no: 2, type: 'uint64' },
  rbytes: { no: 3, type: 'uint64' },
  wbytes: { no: 4, type: 'uint64' },
  rios: { no: 5, type: 'uint64' },
  wios: { no: 6, type: 'uint64' },
});
export type IoEntryV2 = MessageOf<typeof IoEntryV2>;

export const IoStatV2 = message('io.containerd.cgroups.v2.IOStat', {
  usage: { no: 1, message: IoEntryV2, repeated: true },
  psi: { no: 2, message: PsiStatsV2 },
});
export type IoStatV2 = MessageOf<typeof IoStatV2>;

export const HugeTlbStatV2 = message('io.containerd.cgroups.v2.HugeTlbStat', {
  current: { no: 1, type: 'uint64' },
  max: { no: 2, type: 'uint64' },
  pagesize: { no: 3, type: 'string' },
});
export type HugeTlbStatV2 = MessageOf<typeof HugeTlbStatV2>;

export const NetworkStatV2 = message('io.containerd.cgroups.v2.NetworkStat', {
  name: { no: 1, type: 'string' },
  rxBytes: { no: 2, type: 'uint64' },
  rxPackets: { no: 3, type: 'uint64' },
  rxErrors: { no: 4, type: 'uint64' },
  rxDropped: { no: 5, type: 'uint64' },
  txBytes: { no: 6, type: 'uint64' },
  txPackets: { no: 7, type: 'uint64' },
  txErrors: { no: 8, type: 'uint64' },
  txDropped: { no: 9, type: 'uint64' },
});
export type NetworkStatV2 = MessageOf<typeof NetworkStatV2>;

export const MetricsV2 = message('io.containerd.cgroups.v2.Metrics', {
  pids: { no: 1, message: PidsStatV2 },
  cpu: { no: 2, message: CpuStatV2 },
  memory: { no: 4, message: MemoryStatV2 },
  rdma: { no: 5, message: RdmaStatV2 },
  io: { no: 6, message: IoStatV2 },
  hugetlb: { no: 7, message: HugeTlbStatV2, repeated: true },
  memoryEvents: { no: 8, message: MemoryEventsV2 },
  network: { no: 9, message: NetworkStatV2, repeated: true },
});
export type MetricsV2 = MessageOf<typeof MetricsV2>;
