/** Clocks, poll_oneoff, sched_yield and random_get. */
import { fstatSync } from 'node:fs';
import { ClockId, Errno, EventType, Rights as R, SUBCLOCKFLAGS_ABSTIME } from './constants.js';
import type { HostContext } from './context.js';
import { errnoOf, fail } from './errors.js';
import { sleepMs } from './stdio.js';

/**
 * Wall-clock time in nanoseconds. Date.now() has only milliseconds, so the wall clock is read once
 * and advanced with the monotonic clock, and read again whenever the two drift more than 50 ms
 * apart (the host's clock was set or stepped).
 */
let wallBase = 0n;
let monoBase = -1n;
function realtimeNs(): bigint {
  const mono = process.hrtime.bigint();
  const derived = wallBase + (mono - monoBase);
  const wallMs = Date.now();
  const driftMs = Number(derived / 1_000_000n) - wallMs;
  if (monoBase < 0n || driftMs > 50 || driftMs < -50) {
    wallBase = BigInt(wallMs) * 1_000_000n;
    monoBase = mono;
    return wallBase;
  }
  return derived;
}

function cpuNs(usage: NodeJS.CpuUsage): bigint {
  return BigInt(usage.user + usage.system) * 1000n;
}

/** The time of a WASI clock in nanoseconds. */
export function clockNow(id: number): bigint {
  switch (id) {
    case ClockId.REALTIME:
      return realtimeNs();
    case ClockId.MONOTONIC:
      return process.hrtime.bigint();
    case ClockId.PROCESS_CPUTIME:
      return cpuNs(process.cpuUsage());
    case ClockId.THREAD_CPUTIME:
      return cpuNs(process.threadCpuUsage());
    default:
      return fail(Errno.INVAL);
  }
}

type RandomFill = (buf: Uint8Array) => void;
let randomFill: RandomFill | undefined;

export function timeCalls(cx: HostContext) {
  const { mem, fds } = cx;

  /** Readiness of an fd for poll_oneoff: files and stdio are reported ready at once. */
  function fdEvent(fd: number, type: number): { error: number; nbytes: bigint } {
    try {
      const e = fds.withRights(fd, R.POLL_FD_READWRITE);
      if (e.kind === 'dir') return { error: Errno.BADF, nbytes: 0n };
      if (type === EventType.FD_READ && e.kind === 'file' && e.seekable) {
        const left = fstatSync(e.hostFd, { bigint: true }).size - BigInt(e.position);
        return { error: 0, nbytes: left > 0n ? left : 0n };
      }
      return { error: 0, nbytes: 0n };
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === undefined) throw err;
      return { error: errno, nbytes: 0n };
    }
  }

  function writeEvent(at: number, userdata: bigint, error: number, type: number, nbytes: bigint): void {
    mem.u8.fill(0, at, at + 32);
    mem.setU64(at, userdata);
    mem.setU16(at + 8, error);
    mem.setU8(at + 10, type);
    mem.setU64(at + 16, nbytes);
  }

  return {
    clock_res_get(id: number, ptr: number): void {
      clockNow(id); // EINVAL for an unknown clock
      // hrtime counts nanoseconds; CPU usage comes in microseconds.
      const res = id === ClockId.REALTIME || id === ClockId.MONOTONIC ? 1n : 1000n;
      mem.setU64(ptr >>> 0, res);
    },

    clock_time_get(id: number, _precision: bigint, ptr: number): void {
      mem.setU64(ptr >>> 0, clockNow(id));
    },

    poll_oneoff(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): void {
      inPtr >>>= 0;
      outPtr >>>= 0;
      nsubs >>>= 0;
      if (nsubs === 0) fail(Errno.INVAL);
      mem.bytes(inPtr, nsubs * 48);
      mem.bytes(outPtr, nsubs * 32);
      const view = mem.view;
      let events = 0;
      // Clock subscriptions as [userdata, monotonic deadline].
      const clocks: [bigint, bigint][] = [];
      const monoNow = process.hrtime.bigint();
      for (let i = 0; i < nsubs; i++) {
        const at = inPtr + i * 48;
        const userdata = view.getBigUint64(at, true);
        const tag = view.getUint8(at + 8);
        if (tag === EventType.CLOCK) {
          const id = view.getUint32(at + 16, true);
          const timeout = view.getBigUint64(at + 24, true);
          const flags = view.getUint16(at + 40, true);
          let wait: bigint;
          try {
            wait = flags & SUBCLOCKFLAGS_ABSTIME ? timeout - clockNow(id) : timeout;
          } catch (err) {
            const errno = errnoOf(err);
            if (errno === undefined) throw err;
            writeEvent(outPtr + events++ * 32, userdata, errno, EventType.CLOCK, 0n);
            continue;
          }
          clocks.push([userdata, monoNow + wait]);
        } else if (tag === EventType.FD_READ || tag === EventType.FD_WRITE) {
          const { error, nbytes } = fdEvent(view.getUint32(at + 16, true), tag);
          writeEvent(outPtr + events++ * 32, userdata, error, tag, nbytes);
        } else {
          writeEvent(outPtr + events++ * 32, userdata, Errno.INVAL, tag, 0n);
        }
      }
      if (clocks.length > 0) {
        let earliest = clocks[0]![1];
        for (const [, deadline] of clocks) if (deadline < earliest) earliest = deadline;
        // Nothing else is ready: sleep until the first clock fires.
        if (events === 0) {
          for (let left = earliest - process.hrtime.bigint(); left > 0n; left = earliest - process.hrtime.bigint()) {
            sleepMs(Number(left) / 1e6);
          }
        }
        const now = process.hrtime.bigint();
        for (const [userdata, deadline] of clocks) {
          if (deadline <= now) writeEvent(outPtr + events++ * 32, userdata, 0, EventType.CLOCK, 0n);
        }
      }
      mem.setU32(neventsPtr >>> 0, events);
    },

    sched_yield(): void {},

    random_get(buf: number, len: number): void {
      // node:crypto is loaded on first use only: most guests never ask and the runner starts faster.
      randomFill ??= process.getBuiltinModule('node:crypto').randomFillSync as RandomFill;
      randomFill(mem.bytes(buf >>> 0, len >>> 0));
    },
  };
}
