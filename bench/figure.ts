/** One row of RESULTS.md: both sides' runs, how to compare them, and the goal it is held to. */
import type { BuiltImages } from './images.js';
import type { PrivateContainerd } from '../src/cli/private-containerd.js';
import { median } from './stats.js';

export type Unit = 'ms' | 's' | 'MiB' | 'tasks/s' | 'req/s' | 'calls/s';

export interface Goal {
  /** As the issue states it, e.g. "≤ 2x runc". */
  text: string;
  /** What is held against the bound: the ratio, or our own median. */
  on: 'ratio' | 'ours';
  atMost?: number;
  atLeast?: number;
}

export interface Figure {
  title: string;
  unit: Unit;
  /** Our runs; undefined when this row cannot be measured yet (see `note`). */
  ours: number[] | undefined;
  peerName: string;
  peer: number[] | undefined;
  /**
   * How the ratio is formed: `ours/peer` (the default), or `peer/ours` for a time whose goal is
   * stated as a speed ("at least 0.8x of native").
   */
  ratio?: 'ours/peer' | 'peer/ours';
  goal?: Goal;
  note?: string;
}

export interface FigureResult {
  figure: Figure;
  oursMedian: number | undefined;
  peerMedian: number | undefined;
  ratio: number | undefined;
  met: boolean | undefined;
}

export function evaluate(figure: Figure): FigureResult {
  const oursMedian = figure.ours && figure.ours.length > 0 ? median(figure.ours) : undefined;
  const peerMedian = figure.peer && figure.peer.length > 0 ? median(figure.peer) : undefined;
  let ratio: number | undefined;
  if (oursMedian !== undefined && peerMedian !== undefined) {
    ratio = figure.ratio === 'peer/ours' ? peerMedian / oursMedian : oursMedian / peerMedian;
  }
  let met: boolean | undefined;
  const goal = figure.goal;
  if (goal !== undefined) {
    const held = goal.on === 'ratio' ? ratio : oursMedian;
    if (held !== undefined) {
      met = (goal.atMost === undefined || held <= goal.atMost) && (goal.atLeast === undefined || held >= goal.atLeast);
    }
  }
  return { figure, oursMedian, peerMedian, ratio, met };
}

/** What every figure's measurement gets. */
export interface BenchContext {
  pc: PrivateContainerd;
  repo: string;
  /**
   * What this run measures: a copy of bin/ and dist/ taken at its start, with a link to
   * node_modules. containerd finds the shim there, so a rebuild in the checkout during the run
   * (another `npm run build` or `npm test`) cannot change the code under measurement.
   */
  snapshot: string;
  /** Scratch folder of this run, removed at the end. */
  work: string;
  /** The pinned Node 24 that the shim and the runner run on. */
  node: string;
  images: BuiltImages;
  /** How many runs make a median for the quick figures (starts, compute, control plane). */
  runs: number;
  /** How many for the heavy ones (memory, 20 parallel starts, HTTP load). */
  heavyRuns: number;
  progress(message: string): void;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}
