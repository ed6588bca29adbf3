/** cgroup v2 on a fake unified tree: metrics through the proto types, "max", pids, OOM events via inotify. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsV2 } from '../../proto/cgroups.js';
import { cgroupOfPid, cgroupOfSpec, listPids, OomWatcher, readMetrics, readOomKillCount, type CgroupV2, type OomKillEvent } from '../../src/container/cgroup.js';
import { fakeHost, type FakeHost } from './cgroup-fake-tree.js';

const MEMORY_STAT = `anon 1699840
file 13623296
kernel 2000000
kernel_stack 49152
pagetables 90112
sec_pagetables 0
percpu 0
sock 4096
vmalloc 0
shmem 8192
zswap 0
zswapped 0
file_mapped 1048576
file_dirty 20480
file_writeback 4096
swapcached 0
anon_thp 2097152
file_thp 0
shmem_thp 0
inactive_anon 1589248
active_anon 12288
inactive_file 2502656
active_file 11120640
unevictable 0
slab_reclaimable 300000
slab_unreclaimable 200000
slab 500000
workingset_refault_anon 3
workingset_refault_file 5
workingset_activate_anon 1
workingset_activate_file 2
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 10
pgsteal 9
pgscan_kswapd 0
pgscan_direct 10
pgsteal_kswapd 0
pgsteal_direct 9
pgfault 40958
pgmajfault 17
pgrefill 4
pgactivate 6
pgdeactivate 7
pglazyfree 0
pglazyfreed 0
thp_fault_alloc 1
thp_collapse_alloc 0
`;

const PSI = 'some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=678\n';

let h: FakeHost | undefined;
afterEach(() => {
  h?.remove();
  h = undefined;
});

function container(overrides: { memoryMax?: string; pidsMax?: string; swap?: boolean; events?: string } = {}): CgroupV2 {
  h = fakeHost({ version: 2, procCgroups: { '900': '0::/kubepods.slice/pod1.slice/cri-containerd-c1.scope\n' } });
  h.write({
    'kubepods.slice': {
      'pod1.slice': {
        'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
        'cri-containerd-c1.scope': {
          'cgroup.controllers': 'cpu io memory pids\n',
          'cgroup.procs': '900\n955\n',
          'pids.current': '2\n',
          'pids.max': `${overrides.pidsMax ?? 'max'}\n`,
          'cpu.stat': 'usage_usec 453602\nuser_usec 306450\nsystem_usec 147152\ncore_sched.force_idle_usec 0\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5000\nnr_bursts 1\nburst_usec 7\n',
          'cpu.pressure': PSI,
          'memory.stat': MEMORY_STAT,
          'memory.current': '16437248\n',
          'memory.max': `${overrides.memoryMax ?? '67108864'}\n`,
          'memory.peak': '17588224\n',
          ...(overrides.swap === false ? {} : { 'memory.swap.current': '0\n', 'memory.swap.max': 'max\n' }),
          'memory.events': overrides.events ?? 'low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 0\n',
          'memory.pressure': PSI,
          'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n',
          nested: { 'cgroup.procs': '1001\n' },
        },
      },
    },
  });
  return cgroupOfPid(900, h) as CgroupV2;
}

describe('readMetrics on cgroup v2', () => {
  it('encodes io.containerd.cgroups.v2.Metrics that decode to the files\' values', () => {
    const any = readMetrics(container());
    expect(any.typeUrl).toBe('io.containerd.cgroups.v2.Metrics');
    const m = MetricsV2.decode(any.value);
    expect(m.pids).toEqual({ current: 2n, limit: 0n });
    expect(m.cpu).toEqual({
      usageUsec: 453602n,
      userUsec: 306450n,
      systemUsec: 147152n,
      nrPeriods: 10n,
      nrThrottled: 2n,
      throttledUsec: 5000n,
      nrBursts: 1n,
      burstUsec: 7n,
      psi: { some: { avg10: 1.5, avg60: 0.25, avg300: 0, total: 12345n }, full: { avg10: 0, avg60: 0, avg300: 0, total: 678n } },
    });
    const mem = m.memory!;
    expect(mem.anon).toBe(1699840n);
    expect(mem.file).toBe(13623296n);
    expect(mem.kernelStack).toBe(49152n);
    expect(mem.slab).toBe(500000n);
    expect(mem.sock).toBe(4096n);
    expect(mem.shmem).toBe(8192n);
    expect(mem.fileMapped).toBe(1048576n);
    expect(mem.fileDirty).toBe(20480n);
    expect(mem.fileWriteback).toBe(4096n);
    expect(mem.anonThp).toBe(2097152n);
    expect(mem.inactiveAnon).toBe(1589248n);
    expect(mem.activeAnon).toBe(12288n);
    expect(mem.inactiveFile).toBe(2502656n);
    expect(mem.activeFile).toBe(11120640n);
    expect(mem.unevictable).toBe(0n);
    expect(mem.pgfault).toBe(40958n);
    expect(mem.pgmajfault).toBe(17n);
    expect(mem.workingsetRefault).toBe(8n); // anon + file on 5.9+ kernels
    expect(mem.workingsetActivate).toBe(3n);
    expect(mem.usage).toBe(16437248n);
    expect(mem.usageLimit).toBe(67108864n);
    expect(mem.maxUsage).toBe(17588224n);
    expect(mem.swapUsage).toBe(0n);
    expect(mem.swapLimit).toBe(18446744073709551615n);
    expect(mem.psi?.full?.total).toBe(678n);
    expect(m.memoryEvents).toEqual({ low: 1n, high: 2n, max: 3n, oom: 4n, oomKill: 5n });
    expect(m.io?.usage).toEqual([
      { major: 8n, minor: 0n, rbytes: 4096n, wbytes: 8192n, rios: 1n, wios: 2n },
      { major: 253n, minor: 1n, rbytes: 1n, wbytes: 2n, rios: 3n, wios: 4n },
    ]);
    // What the CRI computes: working set = usage − inactive_file.
    expect(mem.usage - mem.inactiveFile).toBe(13934592n);
  });

  it('reads memory.max "max" as 2^64−1 and a numeric pids.max as the limit', () => {
    const m = MetricsV2.decode(readMetrics(container({ memoryMax: 'max', pidsMax: '128' })).value);
    expect(m.memory?.usageLimit).toBe((1n << 64n) - 1n);
    expect(m.pids).toEqual({ current: 2n, limit: 128n });
  });

  it('reads zero swap without swap files', () => {
    const m = MetricsV2.decode(readMetrics(container({ swap: false })).value);
    expect(m.memory?.swapUsage).toBe(0n);
    expect(m.memory?.swapLimit).toBe(0n);
  });

  it('works on a cgroup located from a systemd cgroupsPath too', () => {
    container();
    const cg = cgroupOfSpec('kubepods-pod1.slice:cri-containerd:c1', 'c1', h!);
    expect(cg.version === 2 && cg.dir).toBe(path.join(h!.sysRoot, 'kubepods.slice/kubepods-pod1.slice/cri-containerd-c1.scope'));
  });

  it('says not-found once the cgroup is gone', () => {
    const cg = container();
    fs.rmSync(cg.dir, { recursive: true });
    expect(() => readMetrics(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
    expect(() => listPids(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
    expect(() => readOomKillCount(cg)).toThrow(expect.objectContaining({ kind: 'not-found' }) as Error);
  });
});

describe('pids and OOM kills on cgroup v2', () => {
  it('lists the processes of the cgroup and its descendants', () => {
    expect(listPids(container())).toEqual([900, 955, 1001]);
  });

  it('reads oom_kill from memory.events', () => {
    expect(readOomKillCount(container())).toBe(5);
  });

  it('the watcher hears memory.events change through inotify, without waiting for a poll', async () => {
    const cg = container({ events: 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n' });
    const seen: OomKillEvent[] = [];
    const heard = new Promise<void>((resolve) => {
      const w = new OomWatcher(cg, (e) => {
        seen.push(e);
        w.stop();
        resolve();
      }, { intervalMs: 60_000 }).start();
    });
    fs.writeFileSync(path.join(cg.dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    await heard;
    expect(seen).toEqual([{ count: 1, newKills: 1, source: 'cgroup' }]);
  });

  it('at an exit by SIGKILL after the cgroup vanished, counts a rise of the parent\'s memory.events', () => {
    const cg = container({ events: 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n' });
    const seen: OomKillEvent[] = [];
    const w = new OomWatcher(cg, (e) => seen.push(e), { intervalMs: 60_000, procRoot: h!.procRoot }).start();
    fs.writeFileSync(path.join(path.dirname(cg.dir), 'memory.events'), 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n');
    fs.rmSync(cg.dir, { recursive: true });
    expect(w.exit(137)).toBe(true);
    expect(seen).toEqual([{ count: 1, newKills: 1, source: 'exit' }]);
  });
});
