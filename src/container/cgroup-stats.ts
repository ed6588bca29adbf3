/**
 * Reading cgroup interface files: single values, "max", flat-keyed files ("key value" lines),
 * PSI files. Values are uint64 and stay bigints (memory limits exceed 2^53).
 *
 * A file that does not exist reads as undefined: controllers come and go with kernel versions
 * and configuration (memsw without swap accounting, memory.peak before 5.19, PSI when disabled),
 * and containerd reports zero for what it cannot read. A cgroup whose directory is gone is the
 * caller's concern (see cgroupGone).
 */
import fs from 'node:fs';
import { ContainerError } from './errors.js';

export const UINT64_MAX = (1n << 64n) - 1n;

/** Errors that mean "this file is not there (any more)" rather than "the host failed". */
const ABSENT = new Set(['ENOENT', 'ENODEV', 'ENOTDIR', 'EOPNOTSUPP', 'ENOTSUP']);

/** The file's text, or undefined when it does not exist (or its cgroup was just removed). */
export function readOptionalFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw new ContainerError('internal', `reading ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A uint64 as the kernel prints it. A negative number reads as 0 (containerd does the same:
 * some v1 counters can be printed as -1 transiently).
 */
export function parseUint64(text: string, file: string): bigint {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const v = BigInt(s);
    if (v > UINT64_MAX) throw badValue(file, s);
    return v;
  }
  if (/^-\d+$/.test(s)) return 0n;
  throw badValue(file, s);
}

function badValue(file: string, value: string): ContainerError {
  return new ContainerError('internal', `${file}: expected an unsigned integer, found ${JSON.stringify(value.slice(0, 40))}`);
}

/**
 * A single-value file. `max` is what the literal "max" stands for (cgroup v2 limits, pids.max);
 * without it, "max" is a parse error.
 */
export function readUint64(file: string, max?: bigint): bigint | undefined {
  const text = readOptionalFile(file);
  if (text === undefined) return undefined;
  if (max !== undefined && text.trim() === 'max') return max;
  return parseUint64(text, file);
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat, memory.oom_control). */
export function parseFlatKeyed(text: string, file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new ContainerError('internal', `${file}: malformed line ${JSON.stringify(line.slice(0, 80))}`);
    out.set(parts[0]!, parseUint64(parts[1]!, file));
  }
  return out;
}

export function readFlatKeyed(file: string): Map<string, bigint> | undefined {
  const text = readOptionalFile(file);
  return text === undefined ? undefined : parseFlatKeyed(text, file);
}

/** Space-separated uint64s on one line (cpuacct.usage_percpu). */
export function readUint64List(file: string): bigint[] | undefined {
  const text = readOptionalFile(file);
  if (text === undefined) return undefined;
  return text.split(/\s+/).filter((s) => s !== '').map((s) => parseUint64(s, file));
}

/** Pids of cgroup.procs (one per line). */
export function parsePidList(text: string, file: string): number[] {
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    const s = line.trim();
    if (s === '') continue;
    if (!/^\d+$/.test(s)) throw new ContainerError('internal', `${file}: not a pid: ${JSON.stringify(s.slice(0, 40))}`);
    pids.push(Number(s));
  }
  return pids;
}

export interface PsiData {
  avg10: number;
  avg60: number;
  avg300: number;
  total: bigint;
}
export interface PsiStats {
  some?: PsiData;
  full?: PsiData;
}

/** `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` / `full …` (cpu.pressure, memory.pressure, io.pressure). */
export function parsePsi(text: string, file: string): PsiStats {
  const out: PsiStats = {};
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const kind = parts[0];
    if (kind !== 'some' && kind !== 'full') continue;
    const data: PsiData = { avg10: 0, avg60: 0, avg300: 0, total: 0n };
    for (const kv of parts.slice(1)) {
      const eq = kv.indexOf('=');
      if (eq < 0) throw new ContainerError('internal', `${file}: malformed PSI field ${JSON.stringify(kv)}`);
      const key = kv.slice(0, eq);
      const value = kv.slice(eq + 1);
      if (key === 'total') data.total = parseUint64(value, file);
      else if (key === 'avg10' || key === 'avg60' || key === 'avg300') {
        const n = Number(value);
        if (!Number.isFinite(n)) throw new ContainerError('internal', `${file}: malformed PSI value ${JSON.stringify(kv)}`);
        data[key] = n;
      }
    }
    out[kind] = data;
  }
  return out;
}

export function readPsi(file: string): PsiStats | undefined {
  const text = readOptionalFile(file);
  return text === undefined ? undefined : parsePsi(text, file);
}

/** The value of `key` in a flat-keyed map, 0 when absent (as containerd reports a missing key). */
export function kv(map: ReadonlyMap<string, bigint> | undefined, key: string): bigint {
  return map?.get(key) ?? 0n;
}
