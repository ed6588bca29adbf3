/** cgroup v1 on a fake tree: metrics through the proto types, pids, "max", OOM counting and watching. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsV1 } from '../../proto/cgroups.js';
import { cgroupOfPid, listPids, OomWatcher, readMetrics, readOomKillCount, type CgroupV1 } from '../../src/container/cgroup.js';
import { fakeHost, type FakeHost, type Tree } from './cgroup-fake-tree.js';

const UNLIMITED = '9223372036854771712';

const MEMORY_STAT = `cache 13623296
rss 1699840
rss_huge 2097152
shmem 0
mapped_file 4096
dirty 20480
writeback 8192
swap 0
pgpgin 20418
pgpgout 16758
pgfault 40958
pgmajfault 17
inactive_anon 1589248
active_anon 12288
inactive_file 2502656
active_file 11120640
unevictable 0
hierarchical_memory_limit 67108864
hierarchical_memsw_limit 67108864
total_cache 13623296
total_rss 1699840
total_rss_huge 2097152
total_mapped_file 4096
total_dirty 20480
total_writeback 8192
total_pgpgin 20418
total_pgpgout 16758
total_pgfault 40958
total_pgmajfault 17
total_inactive_anon 1589248
total_active_anon 12288
total_inactive_file 2502656
total_active_file 11120640
total_unevictable 0
`;

let h: FakeHost | undefined;
afterEach(() => {
  h?.remove();
  h = undefined;
  vi.useRealTimers();
});

/** A container at /default/c1 with the files a 6.x kernel shows. */
function container(overrides: { pidsMax?: string; oomKill?: number; withSwap?: boolean; cpuacctStatOnly?: boolean } = {}): CgroupV1 {
  h = fakeHost({ version: 1, procCgroups: { '4242': '12:pids:/default/c1\n11:memory:/default/c1\n10:cpu,cpuacct:/default/c1\n9:freezer:/default/c1\n0::/\n' } });
  const entry = (prefix: string, limit: string, usage: string, max: string, failcnt: string) => ({
    [`memory.${prefix}limit_in_bytes`]: `${limit}\n`,
    [`memory.${prefix}usage_in_bytes`]: `${usage}\n`,
    [`memory.${prefix}max_usage_in_bytes`]: `${max}\n`,
    [`memory.${prefix}failcnt`]: `${failcnt}\n`,
  });
  const cpuacct: Tree = overrides.cpuacctStatOnly
    ? { 'cpuacct.usage': '453602237460\n', 'cpuacct.stat': 'user 30645\nsystem 14714\n', 'cpuacct.usage_percpu': '208770938760 244831298700 \n' }
    : {
        'cpuacct.usage': '453602237460\n',
        'cpuacct.usage_user': '306450000000\n',
        'cpuacct.usage_sys': '147140000000\n',
        'cpuacct.stat': 'user 30645\nsystem 14714\n',
        'cpuacct.usage_percpu': '208770938760 244831298700 \n',
      };
  h.write({
    memory: {
      default: {
        'memory.oom_control': `oom_kill_disable 0\nunder_oom 0\noom_kill ${overrides.oomKill ?? 0}\n`,
        c1: {
          'memory.stat': MEMORY_STAT,
          'memory.oom_control': `oom_kill_disable 0\nunder_oom 0\noom_kill ${overrides.oomKill ?? 0}\n`,
          'cgroup.procs': '4242\n4250\n',
          ...entry('', '67108864', '16437248', '17588224', '3'),
          ...(overrides.withSwap === false ? {} : entry('memsw.', '67108864', '16437248', '17588224', '0')),
          ...entry('kmem.', UNLIMITED, '1048576', '2097152', '0'),
          ...entry('kmem.tcp.', UNLIMITED, '0', '0', '0'),
        },
      },
    },
    'cpu,cpuacct': {
      default: {
        c1: {
          ...cpuacct,
          'cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 5000000\nnr_bursts 0\nburst_time 0\n',
          'cgroup.procs': '4242\n4250\n',
        },
      },
    },
    pids: { default: { c1: { 'pids.current': '2\n', 'pids.max': `${overrides.pidsMax ?? 'max'}\n`, 'cgroup.procs': '4242\n4250\n', sub: { 'cgroup.procs': '4300\n' } } } },
    freezer: { default: { c1: { 'cgroup.procs': '4242\n' } } },
  });
  return cgroupOfPid(4242, h) as CgroupV1;
}

describe('readMetrics on cgroup v1', () => {
  it('encodes io.containerd.cgroups.v1.Metrics that decode to the files\' values', () => {
    const cg = container();
    const any = readMetrics(cg);
    expect(any.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
    const m = MetricsV1.decode(any.value);
    expect(m.pids).toEqual({ current: 2n, limit: 0n });
    expect(m.cpu?.usage).toEqual({ total: 453602237460n, user: 306450000000n, kernel: 147140000000n, perCpu: [208770938760n, 244831298700n] });
    expect(m.cpu?.throttling).toEqual({ periods: 10n, throttledPeriods: 2n, throttledTime: 5000000n });
    const mem = m.memory!;
    expect(mem.cache).toBe(13623296n);
    expect(mem.rss).toBe(1699840n);
    expect(mem.rssHuge).toBe(2097152n);
    expect(mem.mappedFile).toBe(4096n);
    expect(mem.dirty).toBe(20480n);
    expect(mem.writeback).toBe(8192n);
    expect(mem.pgFault).toBe(40958n);
    expect(mem.pgMajFault).toBe(17n);
    expect(mem.inactiveAnon).toBe(1589248n);
    expect(mem.activeAnon).toBe(12288n);
    expect(mem.inactiveFile).toBe(2502656n);
    expect(mem.activeFile).toBe(11120640n);
    expect(mem.hierarchicalMemoryLimit).toBe(67108864n);
    expect(mem.hierarchicalSwapLimit).toBe(67108864n);
    expect(mem.totalInactiveFile).toBe(2502656n);
    expect(mem.totalPgPgIn).toBe(20418n);
    expect(mem.usage).toEqual({ limit: 67108864n, usage: 16437248n, max: 17588224n, failcnt: 3n });
    expect(mem.swap).toEqual({ limit: 67108864n, usage: 16437248n, max: 17588224n, failcnt: 0n });
    // The kernel's "unlimited" is passed through as containerd passes it.
    expect(mem.kernel).toEqual({ limit: 9223372036854771712n, usage: 1048576n, max: 2097152n, failcnt: 0n });
    expect(mem.kernelTcp?.limit).toBe(9223372036854771712n);
    expect(m.memoryOomControl).toEqual({ oomKillDisable: 0n, underOom: 0n, oomKill: 0n });
    // What the CRI computes: working set = usage − total_inactive_file.
    expect(mem.usage!.usage - mem.totalInactiveFile).toBe(13934592n);
  });

  it('reads a numeric pids.max as the limit', () => {
    const m = MetricsV1.decode(readMetrics(container({ pidsMax: '100' })).value);
    expect(m.pids).toEqual({ current: 2n, limit: 100n });
  });

  it('converts cpuacct.stat ticks to ns where usage_user/usage_sys are missing', () => {
    const m = MetricsV1.decode(readMetrics(container({ cpuacctStatOnly: true })).value);
    expect(m.cpu?.usage?.user).toBe(306450000000n);
    expect(m.cpu?.usage?.kernel).toBe(147140000000n);
  });

  it('leaves out the swap entry without swap accounting', () => {
    const m = MetricsV1.decode(readMetrics(container({ withSwap: false })).value);
    expect(m.memory?.swap).toBeUndefined();
    expect(m.memory?.usage?.usage).toBe(16437248n);
  });

  it('says not-found once the cgroup is gone', () => {
    const cg = container();
    for (const dir of Object.values(cg.dirs)) fs.rmSync(dir!, { recursive: true, force: true });
    expect(() => readMetrics(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
    expect(() => listPids(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
    expect(() => readOomKillCount(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
  });

  it('reports a malformed file as internal, naming it', () => {
    const cg = container();
    fs.writeFileSync(path.join(cg.dirs.memory!, 'memory.usage_in_bytes'), 'lots\n');
    expect(() => readMetrics(cg)).toThrow(/memory\.usage_in_bytes: expected an unsigned integer/);
  });
});

describe('listPids on cgroup v1', () => {
  it('lists cgroup.procs of the pids hierarchy and its sub-cgroups, sorted', () => {
    expect(listPids(container())).toEqual([4242, 4250, 4300]);
  });
});

describe('OOM kills on cgroup v1', () => {
  it('reads oom_kill from memory.oom_control', () => {
    expect(readOomKillCount(container({ oomKill: 3 }))).toBe(3);
  });

  it('reads 0 on a kernel without the oom_kill counter', () => {
    const cg = container();
    fs.writeFileSync(path.join(cg.dirs.memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\n');
    expect(readOomKillCount(cg)).toBe(0);
  });

  it('the watcher polls and reports each rise once', () => {
    vi.useFakeTimers();
    const cg = container();
    const control = path.join(cg.dirs.memory!, 'memory.oom_control');
    const events: unknown[] = [];
    const w = new OomWatcher(cg, (e) => events.push(e)).start();
    vi.advanceTimersByTime(1000);
    expect(events).toEqual([]);
    fs.writeFileSync(control, 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    vi.advanceTimersByTime(200);
    expect(events).toEqual([{ count: 1, newKills: 1, source: 'cgroup' }]);
    vi.advanceTimersByTime(1000);
    expect(events).toHaveLength(1);
    fs.writeFileSync(control, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    expect(w.check()).toBe(true);
    expect(events.at(-1)).toEqual({ count: 3, newKills: 2, source: 'cgroup' });
    w.stop();
    fs.writeFileSync(control, 'oom_kill_disable 0\nunder_oom 0\noom_kill 9\n');
    vi.advanceTimersByTime(1000);
    expect(events).toHaveLength(2);
  });

  it('reports kills counted before it started', () => {
    const events: unknown[] = [];
    const w = new OomWatcher(container({ oomKill: 1 }), (e) => events.push(e)).start();
    w.stop();
    expect(events).toEqual([{ count: 1, newKills: 1, source: 'cgroup' }]);
  });

  it('reports a kill at exit when the cgroup vanished first, the status is 137 and the host counter rose', () => {
    const cg = container();
    const vmstat = path.join(h!.procRoot, 'vmstat');
    fs.writeFileSync(vmstat, 'pgfault 100\noom_kill 7\n');
    const events: unknown[] = [];
    let gone = 0;
    const w = new OomWatcher(cg, (e) => events.push(e), { intervalMs: 60_000, onGone: () => gone++, procRoot: h!.procRoot }).start();
    // The OOM kill of the init and runc's removal of the cgroup both happen between two polls.
    fs.writeFileSync(vmstat, 'pgfault 100\noom_kill 8\n');
    for (const dir of Object.values(cg.dirs)) fs.rmSync(dir!, { recursive: true, force: true });
    expect(w.check()).toBe(false);
    expect(gone).toBe(1);
    expect(w.exit(137)).toBe(true);
    expect(events).toEqual([{ count: 1, newKills: 1, source: 'exit' }]);
    expect(w.exit(137)).toBe(false);
  });

  it('does not claim a kill at exit for another status, an unchanged counter, or a cgroup still there', () => {
    const cases: Array<{ status: number; rise: boolean; remove: boolean }> = [
      { status: 1, rise: true, remove: true },
      { status: 143, rise: true, remove: true },
      { status: 137, rise: false, remove: true },
      { status: 137, rise: true, remove: false },
    ];
    for (const { status, rise, remove } of cases) {
      const cg = container();
      const vmstat = path.join(h!.procRoot, 'vmstat');
      fs.writeFileSync(vmstat, 'oom_kill 7\n');
      const events: unknown[] = [];
      const w = new OomWatcher(cg, (e) => events.push(e), { intervalMs: 60_000, procRoot: h!.procRoot }).start();
      if (rise) fs.writeFileSync(vmstat, 'oom_kill 9\n');
      if (remove) for (const dir of Object.values(cg.dirs)) fs.rmSync(dir!, { recursive: true, force: true });
      expect(w.exit(status), JSON.stringify({ status, rise, remove })).toBe(false);
      expect(events).toEqual([]);
      h!.remove();
    }
  });

  it('reports a kill its own counter shows at exit as certain', () => {
    const cg = container();
    const events: unknown[] = [];
    const w = new OomWatcher(cg, (e) => events.push(e), { intervalMs: 60_000, procRoot: h!.procRoot }).start();
    fs.writeFileSync(path.join(cg.dirs.memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    expect(w.exit(137)).toBe(true);
    expect(events).toEqual([{ count: 1, newKills: 1, source: 'cgroup' }]);
  });
});
