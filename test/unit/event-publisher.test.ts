import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventPublisher } from '../../src/shim/event-publisher.js';
import { silentLogger } from '../../src/shim/log.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-events-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('EventPublisher.flushed', () => {
  it('is flushed at once with nothing queued', async () => {
    const events = new EventPublisher(path.join(dir, 'containerd.sock.ttrpc'), 'ns', silentLogger());
    expect(await events.flushed(10)).toBe(true);
  });

  it('gives up waiting after its limit while containerd does not take an event, and keeps it queued', async () => {
    const events = new EventPublisher(path.join(dir, 'nobody-listens.ttrpc'), 'ns', silentLogger());
    events.publish({ type: 'start', containerId: 'c1', pid: 42 });
    const started = Date.now();
    expect(await events.flushed(300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(events.pending).toBe(1);
    events.close();
  });
});
