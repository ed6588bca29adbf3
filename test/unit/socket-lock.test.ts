import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeSocket, removeStaleSocket } from '../../src/shim/group.js';
import { withSocketLock } from '../../src/shim/socket-lock.js';
import { claimSocket, type ClaimedSocket } from '../../src/shim/start.js';

const NODE = process.execPath;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-socket-lock-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A socket file nobody listens on: bound by a process that was then SIGKILLed. */
async function staleSocket(socketPath: string): Promise<void> {
  const child = spawn(NODE, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(await probeSocket(socketPath)).toBe('stale');
}

describe('withSocketLock', () => {
  it('never runs two sections at once', async () => {
    const socketPath = path.join(dir, 'pod.sock');
    let active = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () =>
        withSocketLock(socketPath, async () => {
          active++;
          most = Math.max(most, active);
          await sleep(2);
          active--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of an owner that is gone, and waits for a live one up to its limit', async () => {
    const socketPath = path.join(dir, 'pod.sock');
    const gone = spawnSync('true').pid!;
    fs.writeFileSync(`${socketPath}.lock`, String(gone));
    expect(await withSocketLock(socketPath, async () => 'ran')).toBe('ran');

    fs.writeFileSync(`${socketPath}.lock`, String(process.pid));
    await expect(withSocketLock(socketPath, async () => 'ran', { waitLimitMs: 100 })).rejects.toThrow(/held by pid \d+ for more than 100 ms/);
    fs.rmSync(`${socketPath}.lock`);
  });
});

describe('a stale pod socket, replaced by start and removed by delete at the same time', () => {
  it('always ends with the new daemon listening', async () => {
    for (let round = 0; round < 15; round++) {
      const socketPath = path.join(dir, `pod-${round}.sock`);
      await staleSocket(socketPath);
      const [claimed] = await Promise.all([claimSocket(socketPath), removeStaleSocket(socketPath), removeStaleSocket(socketPath)]);
      expect(claimed).not.toBe('joined');
      const { listener } = claimed as ClaimedSocket;
      try {
        expect(await probeSocket(socketPath), `round ${round}`).toBe('live');
      } finally {
        await new Promise((resolve) => listener.close(resolve));
      }
    }
  });

  it('lets a second claimer join the daemon the first one bound', async () => {
    const socketPath = path.join(dir, 'pod.sock');
    await staleSocket(socketPath);
    const results = await Promise.all([claimSocket(socketPath), claimSocket(socketPath)]);
    const bound = results.filter((result): result is ClaimedSocket => result !== 'joined');
    expect(bound).toHaveLength(1);
    expect(results.filter((result) => result === 'joined')).toHaveLength(1);
    await new Promise((resolve) => bound[0]!.listener.close(resolve));
  });
});
