import { EVENTS_SERVICE, ForwardRequest, TaskEvents, type TaskEventKind } from '../../proto/events.js';
import { timestampFromDate, timestampNow } from '../../proto/google.js';
import { TtrpcClient } from '../ttrpc/client.js';
import type { Logger } from './log.js';
import type { TaskEvent, TaskEventSink } from './runtime.js';

/** How long one Forward may take, as containerd's own shims allow. */
const FORWARD_TIMEOUT_MS = 5_000;
/** How long an event is retried while containerd is away (a restart takes a few seconds). */
const GIVE_UP_AFTER_MS = 120_000;

interface Pending {
  topic: string;
  payload: Uint8Array;
  firstTried: number;
}

/**
 * Forwards task events to containerd over its ttrpc socket, one at a time and in the order they
 * were published. The connection is re-opened whenever it breaks, so a containerd restart loses
 * no event: an event is retried until containerd takes it (or for GIVE_UP_AFTER_MS).
 */
export class EventPublisher implements TaskEventSink {
  private readonly queue: Pending[] = [];
  private client: TtrpcClient | undefined;
  private draining = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly ttrpcAddress: string,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  publish(event: TaskEvent): void {
    const [topic, payload] = encodeEvent(event, this.namespace);
    this.queue.push({ topic, payload, firstTried: Date.now() });
    void this.drain();
  }

  /**
   * Resolves once every published event has been forwarded or given up on (true), or after
   * `limitMs` with events still queued (false).
   */
  flushed(limitMs = Infinity): Promise<boolean> {
    if (this.queue.length === 0 && !this.draining) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = Number.isFinite(limitMs) ? setTimeout(() => resolve(false), limitMs) : undefined;
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Events not yet taken by containerd. */
  get pending(): number {
    return this.queue.length;
  }

  /** Stops forwarding: what is still queued is dropped. */
  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue[0]; next !== undefined && !this.closed; next = this.queue[0]) {
        try {
          await this.forward(next.payload);
          this.queue.shift();
          this.log.debug({ topic: next.topic }, 'event forwarded');
        } catch (err) {
          this.client?.close();
          this.client = undefined;
          if (Date.now() - next.firstTried > GIVE_UP_AFTER_MS) {
            this.log.error({ topic: next.topic, err: (err as Error).message }, 'event dropped: containerd did not take it');
            this.queue.shift();
            continue;
          }
          this.log.warn({ topic: next.topic, err: (err as Error).message }, 'forwarding an event failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } finally {
      this.draining = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async forward(payload: Uint8Array): Promise<void> {
    this.client ??= await TtrpcClient.connect(this.ttrpcAddress, { connectTimeoutMs: FORWARD_TIMEOUT_MS });
    await this.client.call(EVENTS_SERVICE, 'Forward', payload, { timeoutMs: FORWARD_TIMEOUT_MS });
  }
}

function envelope<T>(kind: TaskEventKind<T>, event: Partial<T>, namespace: string): [string, Uint8Array] {
  const payload = ForwardRequest.encode({
    envelope: {
      timestamp: timestampNow(),
      namespace,
      topic: kind.topic,
      event: { typeUrl: kind.typeUrl, value: kind.type.encode(event) },
    },
  });
  return [kind.topic, payload];
}

/** The wire form of each task event; exhaustive over TaskEvent. */
export function encodeEvent(event: TaskEvent, namespace: string): [string, Uint8Array] {
  switch (event.type) {
    case 'create':
      return envelope(TaskEvents.create, {
        containerId: event.containerId,
        bundle: event.bundle,
        rootfs: event.rootfs.map((m) => ({ type: m.type, source: m.source, target: '', options: m.options })),
        io: event.io,
        pid: event.pid,
      }, namespace);
    case 'start':
      return envelope(TaskEvents.start, { containerId: event.containerId, pid: event.pid }, namespace);
    case 'exit':
      return envelope(TaskEvents.exit, {
        containerId: event.containerId,
        id: event.id,
        pid: event.pid,
        exitStatus: event.exitStatus,
        exitedAt: timestampFromDate(event.exitedAt),
      }, namespace);
    case 'delete':
      return envelope(TaskEvents.delete, {
        containerId: event.containerId,
        pid: event.pid,
        exitStatus: event.exitStatus,
        exitedAt: event.exitedAt ? timestampFromDate(event.exitedAt) : undefined,
      }, namespace);
    case 'exec-added':
      return envelope(TaskEvents.execAdded, { containerId: event.containerId, execId: event.execId }, namespace);
    case 'exec-started':
      return envelope(TaskEvents.execStarted, { containerId: event.containerId, execId: event.execId, pid: event.pid }, namespace);
    case 'paused':
      return envelope(TaskEvents.paused, { containerId: event.containerId }, namespace);
    case 'resumed':
      return envelope(TaskEvents.resumed, { containerId: event.containerId }, namespace);
    case 'oom':
      return envelope(TaskEvents.oom, { containerId: event.containerId }, namespace);
  }
}
