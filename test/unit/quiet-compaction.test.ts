import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MIN_INTERVAL_MS, QUIET_MS, QuietCompaction } from '../../src/shim/quiet-compaction.js';

describe('QuietCompaction', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const compaction = () => {
    const collect = vi.fn();
    return { collect, quiet: new QuietCompaction(collect, () => Date.now()) };
  };

  it('collects once, a quiet second after the last request of a burst', () => {
    const { collect, quiet } = compaction();
    for (let i = 0; i < 5; i++) {
      quiet.activity();
      vi.advanceTimersByTime(QUIET_MS / 2);
    }
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(QUIET_MS / 2);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MIN_INTERVAL_MS);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('waits out the minimum interval for a client that polls', () => {
    const { collect, quiet } = compaction();
    quiet.activity();
    vi.advanceTimersByTime(QUIET_MS);
    expect(collect).toHaveBeenCalledTimes(1);
    // A poll every ten seconds, as the CRI's stats do.
    for (let t = 0; t < MIN_INTERVAL_MS - 10_000; t += 10_000) {
      vi.advanceTimersByTime(10_000);
      quiet.activity();
    }
    vi.advanceTimersByTime(QUIET_MS);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(MIN_INTERVAL_MS);
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it('never keeps the process alive, and does nothing after stop', () => {
    const { collect, quiet } = compaction();
    const unref = vi.spyOn(globalThis, 'setTimeout');
    quiet.activity();
    const timer = unref.mock.results.at(-1)!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    quiet.stop();
    vi.advanceTimersByTime(MIN_INTERVAL_MS);
    expect(collect).not.toHaveBeenCalled();
  });

  it('is unavailable, and harmless, without --expose-gc', () => {
    const quiet = new QuietCompaction(undefined);
    expect(quiet.available).toBe(false);
    quiet.activity();
    expect(vi.getTimerCount()).toBe(0);
  });
});
