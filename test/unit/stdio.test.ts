/**
 * ProcessStdio's stdin: the FIFO's fd belongs to the socket that reads it, and once the socket has
 * closed it the number is free for the next file this daemon opens. A CloseIO that arrives while
 * the task is being deleted (after close()) must not read that number: the daemon hung once in a
 * blocking read of another container's stdout FIFO that had reused it.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ProcessStdio } from '../../src/container/stdio.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-stdio-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function fifo(name: string): string {
  const file = path.join(dir, name);
  execFileSync('mkfifo', [file]);
  return file;
}

/** What ProcessStdio.attach needs of the runc child: its stdin. */
function childWithStdin(stdin: PassThrough): ChildProcess {
  return { stdin } as unknown as ChildProcess;
}

/** The fd this process has open on `file`, from /proc/self/fd. */
function fdOf(file: string): number | undefined {
  for (const entry of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${entry}`) === file) return Number(entry);
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

it('never reads the stdin fd again once close() has let it go, whatever now holds its number', async () => {
  const stdin = fifo('stdin');
  const stdio = await ProcessStdio.open({ stdin, stdout: '', stderr: '', terminal: false }, { containerId: 'c1', namespace: 'ns' });
  const stdinFd = fdOf(stdin);
  expect(stdinFd).toBeDefined();
  // The process runs (its stdin is attached), then Delete closes its stdio.
  stdio.attach(childWithStdin(new PassThrough()));
  await stdio.close();
  await new Promise((resolve) => setImmediate(resolve));
  expect(fdOf(stdin)).toBeUndefined();

  // Another container's FIFO, opened as the shim opens output FIFOs, gets the freed number; it is
  // non-blocking here only so that a wrong read shows as stolen bytes rather than a hung test.
  const other = fifo('other-stdout');
  const otherFd = fs.openSync(other, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  try {
    expect(otherFd).toBe(stdinFd);
    fs.writeSync(otherFd, 'not for the closed stdin\n');
    stdio.closeStdin();
    const buffer = Buffer.alloc(64);
    const n = fs.readSync(otherFd, buffer, 0, buffer.length, null);
    expect(buffer.subarray(0, n).toString()).toBe('not for the closed stdin\n');
  } finally {
    fs.closeSync(otherFd);
  }
});

it('ends stdin with what ctr wrote before CloseIO, then lets the fd go', async () => {
  const stdin = fifo('stdin');
  const stdio = await ProcessStdio.open({ stdin, stdout: '', stderr: '', terminal: false }, { containerId: 'c2', namespace: 'ns' });
  const writer = fs.openSync(stdin, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(writer, 'typed before the process started\n');
  fs.closeSync(writer);
  // A process that has not been attached yet: CloseIO first, then the attach ends its stdin.
  stdio.closeStdin();
  const received: Buffer[] = [];
  const target = new PassThrough();
  target.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise((resolve) => target.once('end', resolve));
  stdio.attach(childWithStdin(target));
  await ended;
  expect(Buffer.concat(received).toString()).toBe('typed before the process started\n');
  await new Promise((resolve) => setImmediate(resolve));
  expect(fdOf(stdin)).toBeUndefined();
  await stdio.close();
});
