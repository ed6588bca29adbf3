import { ContainerError } from './errors.js';

const MiB = 1024 * 1024;

/**
 * The smallest memory limit (cgroup memory.limit_in_bytes, no swap) a wasm container is allowed:
 * what runc's init, tini and the pinned Node 24 runner need to start and run a trivial guest,
 * with a margin. Measured on 2026-11-22 (docs/memory-floor.md): a whole `runc run` of a hello
 * guest needs 18 MiB when the Node binary is already in the page cache; below that it is
 * OOM-killed. A guest's own linear memory and data come on top.
 */
export const NODE_RUNTIME_MEMORY_FLOOR_BYTES = 32 * MiB;

/**
 * Refuses a container memory limit below NODE_RUNTIME_MEMORY_FLOOR_BYTES, as ContainerError('invalid').
 * No limit (undefined), 0 and negative values (-1: unlimited) pass.
 */
export function checkMemoryLimit(limitBytes: number | undefined): void {
  if (limitBytes === undefined || limitBytes === 0 || limitBytes === -1) return;
  if (!Number.isSafeInteger(limitBytes)) {
    throw new ContainerError('invalid', `memory limit ${limitBytes} is not a whole number of bytes`);
  }
  if (limitBytes < 0 || limitBytes >= NODE_RUNTIME_MEMORY_FLOOR_BYTES) return;
  const floor = formatBytes(NODE_RUNTIME_MEMORY_FLOOR_BYTES);
  throw new ContainerError(
    'invalid',
    `memory limit ${formatBytes(limitBytes)} is below the ${floor} that the Node.js runtime of a nodewasm container needs on its own ` +
      `(before the guest's memory): set the RuntimeClass's overhead.podFixed.memory to at least ${floor} ` +
      `(or raise the container's memory limit to at least ${floor} plus what the guest needs)`,
  );
}

/** 16 MiB, 1.5 MiB, 700 KiB, 123 bytes. */
function formatBytes(n: number): string {
  const unit = n >= MiB ? { size: MiB, name: 'MiB' } : n >= 1024 ? { size: 1024, name: 'KiB' } : { size: 1, name: 'bytes' };
  const value = n / unit.size;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${text} ${unit.name}`;
}
