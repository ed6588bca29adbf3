/**
 * io.containerd.cgroups.v1/v2 Metrics: byte vectors computed by hand from the field numbers of
 * containerd/cgroups' metrics.proto, and round trips of full messages.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStatV1, MemoryStatV2, MetricsV1, MetricsV2 } from '../../proto/cgroups.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?=.)/g, '$1 ');
}
function bytesOf(spaced: string): Uint8Array {
  return Uint8Array.from(Buffer.from(spaced.replace(/ /g, ''), 'hex'));
}

describe('type names (the Any type URLs)', () => {
  it('are the full proto names', () => {
    expect(MetricsV1.typeName).toBe('io.containerd.cgroups.v1.Metrics');
    expect(MetricsV2.typeName).toBe('io.containerd.cgroups.v2.Metrics');
  });
});

describe('v1 byte vectors', () => {
  it('pids {1 current 3}; a zero limit is omitted', () => {
    // 2 pids LEN(2) { 1 current varint 3 }
    expect(hex(MetricsV1.encode({ pids: { current: 3n, limit: 0n } }))).toBe('12 02 08 03');
  });

  it('cpu.usage with a packed per_cpu', () => {
    const bytes = MetricsV1.encode({ cpu: { usage: { total: 1000n, kernel: 0n, user: 0n, perCpu: [1n, 2n, 300n] }, throttling: undefined } });
    // 3 cpu LEN(11) { 1 usage LEN(9) { 1 total 1000 = e8 07, 4 per_cpu packed LEN(4) 01 02 ac02 } }
    expect(hex(bytes)).toBe('1a 0b 0a 09 08 e8 07 22 04 01 02 ac 02');
  });

  it('memory: field 30 total_inactive_file and 33 usage with the kernel\'s "unlimited" limit', () => {
    const memory = MemoryStatV1.create({
      totalInactiveFile: 4096n,
      usage: { limit: 9223372036854771712n, usage: 8192n, max: 0n, failcnt: 0n },
    });
    // 4 memory LEN(20) {
    //   30 varint: tag 240 = f0 01, 4096 = 80 20
    //   33 LEN: tag 266 = 8a 02, LEN(13) { 1 limit 0x7ffffffffffff000 = 80 e0 ff ff ff ff ff ff 7f, 2 usage 8192 = 80 40 } }
    expect(hex(MetricsV1.encode({ memory }))).toBe('22 14 f0 01 80 20 8a 02 0d 08 80 e0 ff ff ff ff ff ff 7f 10 80 40');
  });

  it('decodes the CRI fields from those bytes', () => {
    const m = MetricsV1.decode(bytesOf('12 02 08 03 22 14 f0 01 80 20 8a 02 0d 08 80 e0 ff ff ff ff ff ff 7f 10 80 40'));
    expect(m.pids).toEqual({ current: 3n, limit: 0n });
    expect(m.memory?.totalInactiveFile).toBe(4096n);
    expect(m.memory?.usage).toEqual({ limit: 9223372036854771712n, usage: 8192n, max: 0n, failcnt: 0n });
    expect(m.cpu).toBeUndefined();
  });
});

describe('v2 byte vectors', () => {
  const bytes =
    '0a 04 08 05 10 64' + // 1 pids { 1 current 5, 2 limit 100 }
    ' 12 03 08 ac 02' + // 2 cpu { 1 usage_usec 300 }
    ' 22 13 68 80 20 80 02 80 40 88 02 ff ff ff ff ff ff ff ff ff 01' + // 4 memory { 13 inactive_file 4096, 32 usage 8192, 33 usage_limit 2^64-1 }
    ' 42 02 28 02'; // 8 memory_events { 5 oom_kill 2 }

  it('encodes pids, cpu, memory and memory_events field by field', () => {
    const m = MetricsV2.encode({
      pids: { current: 5n, limit: 100n },
      cpu: { usageUsec: 300n, userUsec: 0n, systemUsec: 0n, nrPeriods: 0n, nrThrottled: 0n, throttledUsec: 0n, psi: undefined, nrBursts: 0n, burstUsec: 0n },
      memory: MemoryStatV2.create({ inactiveFile: 4096n, usage: 8192n, usageLimit: (1n << 64n) - 1n }),
      memoryEvents: { low: 0n, high: 0n, max: 0n, oom: 0n, oomKill: 2n },
    });
    expect(hex(m)).toBe(bytes);
  });

  it('decodes them back', () => {
    const m = MetricsV2.decode(bytesOf(bytes));
    expect(m.pids).toEqual({ current: 5n, limit: 100n });
    expect(m.cpu?.usageUsec).toBe(300n);
    expect(m.memory?.inactiveFile).toBe(4096n);
    expect(m.memory?.usage).toBe(8192n);
    expect(m.memory?.usageLimit).toBe(18446744073709551615n);
    expect(m.memoryEvents?.oomKill).toBe(2n);
  });
});

describe('round trips of full messages', () => {
  it('v1 with every memory entry and the oom control', () => {
    const entry = (n: bigint) => ({ limit: n, usage: n + 1n, max: n + 2n, failcnt: n + 3n });
    const value = MetricsV1.create({
      pids: { current: 7n, limit: 64n },
      cpu: { usage: { total: 5n, kernel: 2n, user: 3n, perCpu: [4n, 1n] }, throttling: { periods: 9n, throttledPeriods: 8n, throttledTime: 7n } },
      memory: MemoryStatV1.create({ cache: 1n, rss: 2n, rssHuge: 3n, pgMajFault: 10n, totalUnevictable: 32n, usage: entry(100n), swap: entry(200n), kernel: entry(300n), kernelTcp: entry(400n) }),
      memoryOomControl: { oomKillDisable: 0n, underOom: 1n, oomKill: 2n },
      hugetlb: [{ usage: 1n, max: 2n, failcnt: 3n, pagesize: '2MB' }],
    });
    expect(MetricsV1.decode(MetricsV1.encode(value))).toEqual(value);
  });

  it('v2 with PSI doubles and io entries', () => {
    const psi = { some: { avg10: 0.5, avg60: 1.25, avg300: 0, total: 123n }, full: undefined };
    const value = MetricsV2.create({
      cpu: { usageUsec: 1n, userUsec: 2n, systemUsec: 3n, nrPeriods: 4n, nrThrottled: 5n, throttledUsec: 6n, psi, nrBursts: 7n, burstUsec: 8n },
      memory: MemoryStatV2.create({ anon: 1n, swapLimit: 2n, maxUsage: 3n, swapMaxUsage: 4n, psi }),
      io: { usage: [{ major: 8n, minor: 0n, rbytes: 1n, wbytes: 2n, rios: 3n, wios: 4n }], psi: undefined },
      network: [{ name: 'eth0', rxBytes: 1n, rxPackets: 2n, rxErrors: 0n, rxDropped: 0n, txBytes: 3n, txPackets: 4n, txErrors: 0n, txDropped: 0n }],
    });
    expect(MetricsV2.decode(MetricsV2.encode(value))).toEqual(value);
  });
});
