/** The memory floor check a wasm container's limit must pass at Create (docs/memory-floor.md). */
import { describe, expect, it } from 'vitest';
import { ContainerError } from '../../src/container/errors.js';
import { checkMemoryLimit, NODE_RUNTIME_MEMORY_FLOOR_BYTES } from '../../src/container/memory-floor.js';

const MiB = 1024 * 1024;

describe('checkMemoryLimit', () => {
  it('is a whole number of MiB, well above what a warm start needs and below common pod limits', () => {
    expect(NODE_RUNTIME_MEMORY_FLOOR_BYTES % MiB).toBe(0);
    expect(NODE_RUNTIME_MEMORY_FLOOR_BYTES).toBeGreaterThanOrEqual(16 * MiB);
    expect(NODE_RUNTIME_MEMORY_FLOOR_BYTES).toBeLessThanOrEqual(256 * MiB);
  });

  it('accepts no limit, "unlimited" (-1, 0) and limits at or above the floor', () => {
    for (const limit of [undefined, 0, -1, NODE_RUNTIME_MEMORY_FLOOR_BYTES, NODE_RUNTIME_MEMORY_FLOOR_BYTES + 1, 8 * 1024 * MiB]) {
      expect(() => checkMemoryLimit(limit), String(limit)).not.toThrow();
    }
  });

  it('refuses a limit below the floor as invalid, naming the floor, the limit and what to set', () => {
    let err: unknown;
    try {
      checkMemoryLimit(16 * MiB);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContainerError);
    expect((err as ContainerError).kind).toBe('invalid');
    const message = (err as ContainerError).message;
    expect(message).toContain('16 MiB');
    expect(message).toContain(`${NODE_RUNTIME_MEMORY_FLOOR_BYTES / MiB} MiB`);
    expect(message).toContain('overhead.podFixed.memory');
    expect(message).toMatch(/raise the container's memory limit/);
  });

  it('shows odd limits to the KiB and refuses a limit one byte short', () => {
    expect(() => checkMemoryLimit(NODE_RUNTIME_MEMORY_FLOOR_BYTES - 1)).toThrow(ContainerError);
    expect(() => checkMemoryLimit(1536 * 1024 + 512)).toThrow(/1\.5 MiB|1536\.5 KiB/);
  });

  it('refuses values that are not byte counts', () => {
    for (const bad of [Number.NaN, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => checkMemoryLimit(bad), String(bad)).toThrow(ContainerError);
    }
  });
});
