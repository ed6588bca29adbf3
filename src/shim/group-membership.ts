/**
 * Who a daemon is still waiting for. A daemon serves a group of tasks (a pod, or the standalone
 * containers of a namespace) and exits when the group is empty. "Empty" counts the tasks it has
 * and the ones promised to it: a `start` that joins the daemon reserves its task's id, and the
 * reservation lasts until containerd's Create for that id arrives, or runs out.
 */

import { GROUP_SERVICE, JoinRequest, JoinResponse } from '../../proto/group.js';
import { unary, type TtrpcServer } from '../ttrpc/server.js';

/** containerd sends Create right after `start` answers; a minute covers a machine under load. */
export const RESERVATION_MS = 60_000;

export class GroupMembership {
  private readonly reservations = new Map<string, NodeJS.Timeout>();
  private closing = false;

  constructor(
    /** Called when a reservation runs out, so the daemon can check whether it is empty now. */
    private readonly onReservationExpired: () => void,
    private readonly reservationMs = RESERVATION_MS,
  ) {}

  /** A `start` asks to bring task `id` here: refused once the daemon has begun to exit. */
  join(id: string): boolean {
    if (this.closing) return false;
    clearTimeout(this.reservations.get(id));
    const timer = setTimeout(() => {
      this.reservations.delete(id);
      this.onReservationExpired();
    }, this.reservationMs);
    timer.unref();
    this.reservations.set(id, timer);
    return true;
  }

  /** Create for `id` has arrived: from here on the task manager counts it. */
  arrived(id: string): void {
    clearTimeout(this.reservations.get(id));
    this.reservations.delete(id);
  }

  get pending(): number {
    return this.reservations.size;
  }

  /**
   * Decides, once, that the daemon goes: only when it has no task and none promised. From then on
   * every join is refused. Returns whether it closed.
   */
  closeIfEmpty(taskCount: number): boolean {
    if (this.closing) return true;
    if (taskCount > 0 || this.reservations.size > 0) return false;
    this.closing = true;
    return true;
  }

  /** For an exit that does not wait for the group to empty (SIGTERM). */
  close(): void {
    this.closing = true;
    for (const timer of this.reservations.values()) clearTimeout(timer);
    this.reservations.clear();
  }
}

/** The Group service beside the Task API: a `start` joins through it (group.ts, joinDaemon). */
export function registerGroupService(server: TtrpcServer, membership: GroupMembership, onRefused: (id: string) => void = () => undefined): void {
  server.register(GROUP_SERVICE, {
    Join: unary(JoinRequest, JoinResponse, (req) => {
      const accepted = membership.join(req.id);
      if (!accepted) onRefused(req.id);
      return { accepted };
    }),
  });
}
