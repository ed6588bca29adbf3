/**
 * The resources of an UpdateTaskRequest: an `Any` whose type URL is
 * `types.containerd.io/opencontainers/runtime-spec/1/LinuxResources` and whose value is the OCI
 * LinuxResources as **JSON**, which is also exactly what `runc update --resources -` reads on
 * stdin (runc 1.1.5 decodes it into the same specs.LinuxResources type). So "converting" is
 * validating: the types runc's Go decoder would reject, the values the kernel or runc would
 * refuse with a less clear message, and the nulls that would crash runc 1.1.5 (it dereferences
 * `memory`, `cpu`, `blockIO` and `pids` without checking them for nil).
 *
 * Fields this module does not know are kept as they are; runc ignores what it does not apply.
 */
import { ContainerError } from './errors.js';
import type { OciLinuxResources } from './spec.js';

export const LINUX_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

/** The shape of `proto/google.ts`'s Any; the container layer does not import the wire types. */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

type Kind = 'int64' | 'uint64' | 'uint16' | 'bool' | 'string' | 'cpuset' | 'array' | 'object';

/** specs-go field types of the sections runc update applies (and a few it only passes along). */
const SECTIONS: Record<string, Record<string, Kind>> = {
  memory: {
    limit: 'int64',
    reservation: 'int64',
    swap: 'int64',
    kernel: 'int64',
    kernelTCP: 'int64',
    swappiness: 'uint64',
    disableOOMKiller: 'bool',
    useHierarchy: 'bool',
    checkBeforeUpdate: 'bool',
  },
  cpu: {
    shares: 'uint64',
    quota: 'int64',
    burst: 'uint64',
    period: 'uint64',
    realtimeRuntime: 'int64',
    realtimePeriod: 'uint64',
    cpus: 'cpuset',
    mems: 'cpuset',
    idle: 'int64',
  },
  pids: { limit: 'int64' },
  blockIO: {
    weight: 'uint16',
    leafWeight: 'uint16',
    weightDevice: 'array',
    throttleReadBpsDevice: 'array',
    throttleWriteBpsDevice: 'array',
    throttleReadIOPSDevice: 'array',
    throttleWriteIOPSDevice: 'array',
  },
  network: { classID: 'uint64', priorities: 'array' },
};
const TOP_LEVEL: Record<string, Kind> = { devices: 'array', hugepageLimits: 'array', rdma: 'object', unified: 'object' };

function invalid(message: string): ContainerError {
  return new ContainerError('invalid', `update resources: ${message}`);
}

/**
 * Decodes and validates UpdateTaskRequest.resources. Throws ContainerError('invalid') with the
 * offending field named, e.g. `update resources: memory.limit must be an integer, got "1Gi"`.
 */
export function parseLinuxResourcesAny(any: AnyMessage | undefined): OciLinuxResources {
  if (any === undefined) throw invalid('the request carries no resources');
  if (any.typeUrl !== LINUX_RESOURCES_TYPE_URL) {
    throw invalid(`expected an Any of type ${LINUX_RESOURCES_TYPE_URL}, got ${JSON.stringify(any.typeUrl)} (only Linux resources apply to nodewasm containers)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(any.value));
  } catch (err) {
    throw invalid(`the value is not valid JSON: ${(err as Error).message}`);
  }
  return validateLinuxResources(value);
}

/** Validates an already decoded LinuxResources object (see parseLinuxResourcesAny); returns a cleaned copy. */
export function validateLinuxResources(value: unknown): OciLinuxResources {
  if (!isPlainObject(value)) throw invalid(`expected a JSON object, got ${describe(value)}`);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue; // Go's omitempty would not have sent it; runc 1.1.5 crashes on some
    const section = SECTIONS[key];
    if (section !== undefined) {
      if (!isPlainObject(v)) throw invalid(`${key} must be an object, got ${describe(v)}`);
      out[key] = validateSection(key, v, section);
      continue;
    }
    const kind = TOP_LEVEL[key];
    if (kind !== undefined) checkKind(key, v, kind);
    if (key === 'unified') checkUnified(v as Record<string, unknown>);
    out[key] = v;
  }
  checkConsistency(out as OciLinuxResources);
  return out as OciLinuxResources;
}

function validateSection(name: string, section: Record<string, unknown>, fields: Record<string, Kind>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(section)) {
    if (v === null) continue;
    const kind = fields[key];
    if (kind !== undefined) checkKind(`${name}.${key}`, v, kind);
    out[key] = v;
  }
  return out;
}

const INT53 = 2 ** 53;

function checkKind(where: string, v: unknown, kind: Kind): void {
  switch (kind) {
    case 'int64':
    case 'uint64':
    case 'uint16': {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${where} must be an integer, got ${describe(v)}`);
      // JSON.parse keeps 53 bits: a larger value would reach runc changed. -1 means "unlimited".
      if (Math.abs(v) >= INT53) throw invalid(`${where} is out of range (${describe(v)}); use -1 for "unlimited"`);
      if (kind !== 'int64' && v < 0) throw invalid(`${where} must not be negative, got ${v}`);
      if (kind === 'uint16' && v > 0xffff) throw invalid(`${where} must be at most 65535, got ${v}`);
      return;
    }
    case 'bool':
      if (typeof v !== 'boolean') throw invalid(`${where} must be true or false, got ${describe(v)}`);
      return;
    case 'string':
      if (typeof v !== 'string') throw invalid(`${where} must be a string, got ${describe(v)}`);
      return;
    case 'cpuset':
      if (typeof v !== 'string') throw invalid(`${where} must be a string, got ${describe(v)}`);
      if (v !== '' && !/^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/.test(v)) {
        throw invalid(`${where} must be a list like "0-3,6", got ${JSON.stringify(v)}`);
      }
      return;
    case 'array':
      if (!Array.isArray(v)) throw invalid(`${where} must be an array, got ${describe(v)}`);
      return;
    case 'object':
      if (!isPlainObject(v)) throw invalid(`${where} must be an object, got ${describe(v)}`);
      return;
  }
}

function checkUnified(unified: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(unified)) {
    if (typeof v !== 'string') throw invalid(`unified[${JSON.stringify(key)}] must be a string, got ${describe(v)}`);
    if (key.includes('/') || key.startsWith('.')) throw invalid(`unified key ${JSON.stringify(key)} is not a cgroup file name`);
  }
}

/** Value rules the kernel or runc would refuse later, with a message naming less of the cause. */
function checkConsistency(r: OciLinuxResources): void {
  const memory = r.memory as Record<string, number | undefined> | undefined;
  if (memory !== undefined) {
    for (const key of ['limit', 'swap', 'reservation'] as const) {
      const v = memory[key];
      if (v !== undefined && v < -1) throw invalid(`memory.${key} must be -1 (unlimited), 0 (unchanged) or a number of bytes, got ${v}`);
    }
    const { limit, swap } = memory;
    if (limit !== undefined && swap !== undefined && limit > 0 && swap > 0 && swap < limit) {
      throw invalid(`memory.swap (${swap}) is the limit of memory plus swap and must be at least memory.limit (${limit})`);
    }
    const swappiness = memory['swappiness'];
    if (swappiness !== undefined && swappiness > 100) throw invalid(`memory.swappiness must be between 0 and 100, got ${swappiness}`);
  }
  const cpu = r.cpu as Record<string, unknown> | undefined;
  if (cpu !== undefined) {
    const quota = cpu['quota'] as number | undefined;
    if (quota !== undefined && quota < -1) throw invalid(`cpu.quota must be -1 (unlimited), 0 (unchanged) or microseconds per period, got ${quota}`);
  }
  const weight = (r['blockIO'] as Record<string, unknown> | undefined)?.['weight'] as number | undefined;
  if (weight !== undefined && weight !== 0 && (weight < 10 || weight > 1000)) {
    throw invalid(`blockIO.weight must be between 10 and 1000, got ${weight}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return JSON.stringify(v) ?? String(v);
}
