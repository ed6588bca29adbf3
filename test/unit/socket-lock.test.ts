import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withSocketLock } from '../../src/shim/socket-lock.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-socket-lock-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
