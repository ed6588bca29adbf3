/**
 * wasi:clocks 0.2 and wasi:random 0.2. Monotonic time is process.hrtime (nanoseconds); a clock
 * pollable waits with a timer, so a sleeping guest suspends (JSPI) instead of blocking the thread.
 */
import { randomFillSync } from 'node:crypto';
import { Pollable } from './io.js';

function now(): bigint {
  return process.hrtime.bigint();
}

function timerUntil(deadline: bigint): Pollable {
  return new Pollable({
    ready: () => now() >= deadline,
    wait: () =>
      new Promise((resolve) => {
        const ms = Number((deadline - now()) / 1_000_000n);
        // Timers may fire a little early; never report readiness before the deadline.
        const check = () => (now() >= deadline ? resolve() : setTimeout(check, 1));
        setTimeout(check, Math.max(0, ms));
      }),
  });
}

function randomBytes(len: bigint): Uint8Array {
  const bytes = new Uint8Array(Number(len > 1n << 24n ? 1n << 24n : len));
  return randomFillSync(bytes);
}

function randomU64(): bigint {
  const b = randomFillSync(new BigUint64Array(1));
  return b[0]!;
}

export const clockImports = {
  'wasi:clocks/monotonic-clock': {
    now,
    resolution: () => 1n,
    subscribeInstant: (when: bigint) => timerUntil(when),
    subscribeDuration: (duration: bigint) => timerUntil(now() + duration),
  },
  'wasi:clocks/wall-clock': {
    now: () => {
      const ns = BigInt(Date.now()) * 1_000_000n;
      return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
    },
    resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
  },
  'wasi:random/random': { getRandomBytes: randomBytes, getRandomU64: randomU64 },
  'wasi:random/insecure': { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: randomU64 },
  'wasi:random/insecure-seed': { insecureSeed: (): [bigint, bigint] => [randomU64(), randomU64()] },
};
