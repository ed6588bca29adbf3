/**
 * Gives the daemon's start-up garbage back once containerd goes quiet. A daemon lives as long as
 * its pod, and most of its heap after the first Create is what loading its modules and serving
 * one start left behind. Node never tells V8 that it is idle, so V8's memory reducer never runs
 * and that memory stays resident for the life of the pod (about 2 MiB of a 14 MiB heap, measured
 * by the bench's physical-pages rows). A memory-reducing full GC, a few milliseconds, runs when
 * no request has come for a second, and at most once a minute however often containerd polls.
 */

/** How long without a request before the daemon counts as quiet. */
export const QUIET_MS = 1_000;
/** The shortest time between two compactions, for clients that poll (the CRI's stats). */
export const MIN_INTERVAL_MS = 60_000;

/** V8's gc() as `--expose-gc` installs it; the options form picks a memory-reducing collection. */
type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export class QuietCompaction {
  private timer: NodeJS.Timeout | undefined;
  private lastRun = -Infinity;
  private pending = false;

  constructor(
    private readonly collect: (() => void) | undefined = exposedGc(),
    // Not performance.now(): the global `performance` loads node:perf_hooks, half a MiB the daemon needs for nothing else.
    private readonly now: () => number = () => Number(process.hrtime.bigint() / 1_000_000n),
  ) {}

  /** Whether this process can compact at all (the launcher starts it with `--expose-gc`). */
  get available(): boolean {
    return this.collect !== undefined;
  }

  /** A request arrived: compact once things have been quiet for a while. */
  activity(): void {
    if (this.collect === undefined) return;
    this.pending = true;
    clearTimeout(this.timer);
    const delay = Math.max(QUIET_MS, this.lastRun + MIN_INTERVAL_MS - this.now());
    this.timer = setTimeout(() => this.run(), delay);
    // Never what keeps the daemon alive.
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.pending = false;
  }

  private run(): void {
    if (!this.pending || this.collect === undefined) return;
    this.pending = false;
    this.lastRun = this.now();
    this.collect();
  }
}

function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== 'function') return undefined;
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
