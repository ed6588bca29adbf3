import { ContainerError } from './errors.js';

const MiB = 1024 * 1024;

/**
 * The smallest memory limit (cgroup memory.limit_in_bytes, no swap) a wasm container is allowed:
 * what runc's init, tini and the pinned Node 24 runner need to start and run a trivial guest.
 * Measured on 2026-11-22 (docs/memory-floor.md), a whole `runc run` of a hello guest:
 * - 17–18 MiB when the Node binary's pages are in the page cache (16 MiB: always OOM-killed);
 * - 32 MiB when only the pages an idle Node process uses are cached, as the shim daemon keeps
 *   them on a node running nodewasm (24 MiB: 1 run in 10);
 * - 64 MiB when the binary is not cached at all (48 MiB: 6 in 10, thrashing for seconds).
 * 32 MiB covers the first two; the guest's own memory comes on top.
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
      `(before the guest's memory): raise the container's memory limit to at least ${floor} plus what the guest needs, ` +
      `and in Kubernetes give the RuntimeClass an overhead.podFixed.memory of at least ${floor} per container ` +
      `so that the scheduler counts the runtime`,
  );
}

/** 16 MiB, 1.5 MiB, 700 KiB, 123 bytes. */
function formatBytes(n: number): string {
  const unit = n >= MiB ? { size: MiB, name: 'MiB' } : n >= 1024 ? { size: 1024, name: 'KiB' } : { size: 1, name: 'bytes' };
  const value = n / unit.size;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${text} ${unit.name}`;
}
