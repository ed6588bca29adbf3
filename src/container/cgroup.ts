/**
 * A container's cgroup, for the Task API: Stats (metrics as the Any containerd and the CRI
 * accept), Pids (the processes in it), OOM kills (for the /tasks/oom event). Locate it once after
 * Start (cgroup-path.ts); every reader throws ContainerError('not-found') once the cgroup is gone,
 * which is when the container has exited: runc removes it.
 *
 *   const cg = cgroupOfPid(initPid);             // or cgroupOfSpec(spec.linux?.cgroupsPath, id)
 *   statsResponse.stats = readMetrics(cg);        // { typeUrl, value }
 *   const pids = listPids(cg);
 *   const watcher = new OomWatcher(cg, () => publishOom(id)).start();
 *   … on exit: watcher.exit(exitStatus);          // before publishing TaskExit
 */
import fs from 'node:fs';
import path from 'node:path';
import { MetricsV1, MetricsV2 } from '../../proto/cgroups.js';
import { cgroupExists, cgroupGone, type Cgroup } from './cgroup-path.js';
import { parsePidList, readOptionalFile } from './cgroup-stats.js';
import { procsDirV1, readMetricsV1, readOomKillCountV1 } from './cgroup-v1.js';
import { readMetricsV2, readOomKillCountV2 } from './cgroup-v2.js';

export {
  cgroupExists,
  cgroupOfPid,
  cgroupOfSpec,
  cgroupVersion,
  expandSlice,
  HOST_CGROUPS,
  systemdCgroupPath,
  type Cgroup,
  type CgroupHost,
  type CgroupV1,
  type CgroupV2,
  type V1Controller,
} from './cgroup-path.js';
export { readMetricsV1 } from './cgroup-v1.js';
export { readMetricsV2 } from './cgroup-v2.js';

/** What StatsResponse.stats carries: a protobuf `Any` whose type URL is the bare proto name. */
export interface MetricsAny {
  typeUrl: string;
  value: Uint8Array;
}

/**
 * The container's metrics as `io.containerd.cgroups.v1.Metrics` or `io.containerd.cgroups.v2.Metrics`,
 * encoded, ready for StatsResponse.stats. Throws ContainerError('not-found') when the cgroup is gone.
 */
export function readMetrics(cg: Cgroup): MetricsAny {
  if (!cgroupExists(cg)) throw cgroupGone(cg);
  if (cg.version === 1) {
    const metrics = readMetricsV1(cg);
    return { typeUrl: MetricsV1.typeName, value: MetricsV1.encode(metrics) };
  }
  const metrics = readMetricsV2(cg);
  return { typeUrl: MetricsV2.typeName, value: MetricsV2.encode(metrics) };
}

/**
 * The pids of every process in the container's cgroup and its descendants (as runc ps counts
 * them), ascending, as the host sees them. Throws ContainerError('not-found') when it is gone.
 */
export function listPids(cg: Cgroup): number[] {
  const dir = cg.version === 2 ? cg.dir : procsDirV1(cg);
  if (dir === undefined || !fs.existsSync(dir)) throw cgroupGone(cg);
  const pids = new Set<number>();
  collectPids(dir, pids);
  return [...pids].sort((a, b) => a - b);
}

function collectPids(dir: string, into: Set<number>): void {
  const file = path.join(dir, 'cgroup.procs');
  const text = readOptionalFile(file);
  if (text === undefined) return; // removed while we walked
  for (const pid of parsePidList(text, file)) into.add(pid);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) collectPids(path.join(dir, e.name), into);
}

/**
 * How many processes of the container's cgroup the kernel's OOM killer has killed: v1
 * `memory.oom_control` oom_kill (kernel 4.13+; 0 before), v2 `memory.events` oom_kill (which
 * counts descendant cgroups' kills too). Throws ContainerError('not-found') when the cgroup is gone.
 *
 * v1's memory.failcnt is not used as a fallback: it counts every time usage hit the limit,
 * which happens whenever the page cache fills up to it and reclaim succeeds, so it would report
 * OOM kills that never happened (and the CRI would then call a clean exit "OOMKilled").
 */
export function readOomKillCount(cg: Cgroup): number {
  const count = readOomKillCountOrUndefined(cg);
  if (count === undefined) throw cgroupGone(cg);
  return count;
}

function readOomKillCountOrUndefined(cg: Cgroup): number | undefined {
  if (cg.version === 2) return readOomKillCountV2(cg.dir);
  return cg.dirs.memory === undefined ? undefined : readOomKillCountV1(cg.dirs.memory);
}

/**
 * A counter that also rises when the container's cgroup has an OOM kill, readable after runc has
 * removed that cgroup: on v2 the parent's memory.events (the kernel counts a child's kills in
 * every ancestor); on v1, whose oom_control counts a cgroup's own kills only, the host-wide
 * `oom_kill` of /proc/vmstat.
 */
function fallbackOomKillCount(cg: Cgroup, procRoot: string): number | undefined {
  if (cg.version === 2) {
    const parent = readOomKillCountV2(path.dirname(cg.dir));
    if (parent !== undefined) return parent;
  }
  const vmstat = readOptionalFile(path.join(procRoot, 'vmstat'));
  const match = vmstat === undefined ? null : /^oom_kill (\d+)$/m.exec(vmstat);
  return match ? Number(match[1]) : undefined;
}

export interface OomKillEvent {
  /** The cgroup's OOM kill count as far as this watcher knows. */
  count: number;
  /** How many kills are new since the last report (at least 1). */
  newKills: number;
  /**
   * 'cgroup': read from the container's own cgroup: certain.
   * 'exit': the cgroup was already gone when the container exited by SIGKILL, and the fallback
   * counter (v2: the parent cgroup's; v1: the host's) rose since the last reading: almost
   * certainly this container, unless a process elsewhere was OOM-killed in the same instant
   * while someone else SIGKILLed this one.
   */
  source: 'cgroup' | 'exit';
}

export interface OomWatcherOptions {
  /** Poll period in ms: v1 always polls; v2 polls only as a backstop to inotify. Default 200 (v1), 2000 (v2). */
  intervalMs?: number;
  /** Kills already reported for this cgroup (default 0: a fresh container cgroup starts at 0). */
  baseline?: number;
  /** Called once when a check finds the cgroup gone; the watcher then stops polling. */
  onGone?: () => void;
  /** Errors other than "gone" (a malformed file): the watcher keeps going. Default: ignored. */
  onError?: (err: unknown) => void;
  /** Where /proc is (for /proc/vmstat); tests substitute a fake. */
  procRoot?: string;
}

/** 128 + SIGKILL: how runc reports a container whose init the OOM killer (or anyone) killed. */
const EXIT_BY_SIGKILL = 137;

/**
 * Calls back when the OOM killer kills a process of the container.
 *
 * How it learns of a kill, and why:
 * - v2: inotify (fs.watch) on memory.events, which the kernel notifies on every change; a slow
 *   poll backs it up in case a watch is lost. This is what containerd's own shim does.
 * - v1: polling memory.oom_control (every 200 ms by default). containerd's shim registers an
 *   eventfd through cgroup.event_control, which Node cannot create, and v1 control files raise
 *   no inotify events. Reading one small file of a virtual filesystem five times a second costs
 *   a few microseconds.
 *
 * The gap, and how exit() closes it: when the OOM killer kills the container's init (or the
 * runner under tini, which then exits), runc removes the cgroup within milliseconds — usually
 * before the next v1 poll, and its counter goes with it. So every reading also records a
 * fallback counter that survives the cgroup (see fallbackOomKillCount), and exit(status), called
 * when the container's init has exited and before TaskExit is published, reports a kill when
 * the cgroup is gone, the status is 137 and that counter rose since the last reading.
 */
export class OomWatcher {
  private last: number;
  /** The fallback counter, read right after the last successful reading of the cgroup's own. */
  private fallbackAtLastReading: number | undefined;
  /** The fallback counter when a check first found the cgroup gone. */
  private fallbackWhenGone: number | undefined;
  private gone = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private watcher: fs.FSWatcher | undefined;
  private readonly intervalMs: number;
  private readonly procRoot: string;

  constructor(
    private readonly cg: Cgroup,
    private readonly onOomKill: (event: OomKillEvent) => void,
    private readonly options: OomWatcherOptions = {},
  ) {
    this.last = options.baseline ?? 0;
    this.intervalMs = options.intervalMs ?? (cg.version === 1 ? 200 : 2000);
    this.procRoot = options.procRoot ?? '/proc';
  }

  /** Takes a first reading (reporting kills already counted) and starts watching. */
  start(): this {
    if (this.finished || this.gone || this.timer !== undefined) return this;
    if (this.cg.version === 2) {
      try {
        this.watcher = fs.watch(path.join(this.cg.dir, 'memory.events'), { persistent: false }, () => this.check());
        this.watcher.on('error', () => this.closeWatch());
      } catch {
        // no inotify (or no memory.events): the poll below still runs
      }
    }
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
    this.check();
    return this;
  }

  /** Reads the counter now and reports new kills. Returns whether it reported any. */
  check(): boolean {
    if (this.finished || this.gone) return false;
    let count: number | undefined;
    try {
      count = readOomKillCountOrUndefined(this.cg);
    } catch (err) {
      this.options.onError?.(err);
      return false;
    }
    if (count === undefined) {
      this.gone = true;
      this.fallbackWhenGone = this.readFallback();
      this.stopWatching();
      this.options.onGone?.();
      return false;
    }
    this.fallbackAtLastReading = this.readFallback();
    return this.report(count, 'cgroup');
  }

  /**
   * The container's init has exited with `exitStatus` (the code, or 128 + signal): reads a last
   * time, stops, and returns whether it reported a kill. Call it before publishing TaskExit, so
   * that TaskOOM comes first, as it does from containerd's own shim.
   */
  exit(exitStatus: number): boolean {
    if (this.finished) return false;
    let reported = this.check();
    if (this.gone && exitStatus === EXIT_BY_SIGKILL && this.fallbackAtLastReading !== undefined) {
      const now = this.fallbackWhenGone ?? this.readFallback();
      if (now !== undefined && now > this.fallbackAtLastReading) {
        // One kill: the init's. Others there may have been are not this container's to claim.
        reported = this.report(this.last + 1, 'exit') || reported;
      }
    }
    this.stop();
    return reported;
  }

  /** Stops watching; exit() afterwards reports nothing. Idempotent. */
  stop(): void {
    this.finished = true;
    this.stopWatching();
  }

  private report(count: number, source: OomKillEvent['source']): boolean {
    if (count <= this.last) return false;
    const newKills = count - this.last;
    this.last = count;
    this.onOomKill({ count, newKills, source });
    return true;
  }

  private readFallback(): number | undefined {
    try {
      return fallbackOomKillCount(this.cg, this.procRoot);
    } catch {
      return undefined;
    }
  }

  private stopWatching(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.closeWatch();
  }

  private closeWatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
