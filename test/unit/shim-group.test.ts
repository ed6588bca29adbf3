import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_GROUP, GROUP_ANNOTATION, groupKey, probeSocket, releaseSocket, removeStaleSocket } from '../../src/shim/group.js';
import { clearJoinMarker, joinMarkerPath, markJoined, pendingJoins } from '../../src/shim/join-markers.js';
import { shimSocketPath } from '../../src/shim/socket-address.js';
import { claimSocket, type ClaimedSocket } from '../../src/shim/start.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-group-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A socket file nobody listens on: bound by a process that was then SIGKILLed. */
async function staleSocket(socketPath: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(await probeSocket(socketPath)).toBe('stale');
}

function writeSpec(annotations: Record<string, string> | undefined): string {
  const bundle = fs.mkdtempSync(path.join(dir, 'bundle-'));
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(annotations ? { annotations } : {}));
  return bundle;
}

describe('groupKey', () => {
  it("puts a pod's containers together, named groups together and every other container in the namespace's default group", () => {
    expect(groupKey(writeSpec({ 'io.kubernetes.cri.sandbox-id': 'pod1', [GROUP_ANNOTATION]: 'mine' }), 'c1')).toBe('pod1');
    expect(groupKey(writeSpec({ [GROUP_ANNOTATION]: 'mine' }), 'c1')).toBe('group:mine');
    expect(groupKey(writeSpec({ other: 'x' }), 'c1')).toBe(DEFAULT_GROUP);
    expect(groupKey(writeSpec(undefined), 'c2')).toBe(DEFAULT_GROUP);
  });

  it('keeps a task whose spec cannot be read to itself', () => {
    expect(groupKey(path.join(dir, 'missing'), 'c3')).toBe('c3');
  });
});

describe('join markers', () => {
  it('count as pending until Create clears them, and a stale one is removed', () => {
    const socketPath = path.join(dir, 'group.sock');
    markJoined(socketPath, 'b');
    markJoined(socketPath, 'c');
    expect(pendingJoins(socketPath).sort()).toEqual(['b', 'c']);
    clearJoinMarker(socketPath, 'b');
    expect(pendingJoins(socketPath)).toEqual(['c']);
    expect(pendingJoins(socketPath, Date.now() + 61_000)).toEqual([]);
    expect(fs.existsSync(joinMarkerPath(socketPath, 'c'))).toBe(false);
    expect(pendingJoins(path.join(dir, 'other.sock'))).toEqual([]);
  });
});

/** A daemon's listener for the test: the claimed socket, serving nothing. */
async function closeClaimed(claimed: ClaimedSocket | 'joined'): Promise<void> {
  if (claimed !== 'joined') await releaseSocket(claimed.socketPath, claimed.listener, (err) => expect.fail(err.message));
}

describe("claiming a group's socket", () => {
  it('binds it once when claimers race over a stale socket; the others join the daemon that bound it, each with a promise', async () => {
    const socketPath = path.join(dir, 'group.sock');
    await staleSocket(socketPath);
    const results = await Promise.all(['a', 'b', 'c'].map((id) => claimSocket(socketPath, id)));
    const bound = results.filter((result) => result !== 'joined');
    expect(bound).toHaveLength(1);
    const boundIndex = results.findIndex((result) => result !== 'joined');
    expect(pendingJoins(socketPath).sort()).toEqual(['a', 'b', 'c'].filter((_, index) => index !== boundIndex));
    await closeClaimed(bound[0]!);
    expect(fs.existsSync(socketPath)).toBe(false);
  });

  it('drops the promises made to a dead daemon when a new one binds the socket', async () => {
    const socketPath = path.join(dir, 'group.sock');
    await staleSocket(socketPath);
    markJoined(socketPath, 'promised-to-the-dead');
    const claimed = await claimSocket(socketPath, 'a');
    expect(claimed).not.toBe('joined');
    expect(pendingJoins(socketPath)).toEqual([]);
    await closeClaimed(claimed);
  });

  it('binds a new socket once the daemon has let go of its own', async () => {
    const socketPath = path.join(dir, 'group.sock');
    const first = await claimSocket(socketPath, 'a');
    await closeClaimed(first);
    const next = await claimSocket(socketPath, 'b');
    expect(next).not.toBe('joined');
    expect(await probeSocket(socketPath)).toBe('live');
    expect(pendingJoins(socketPath)).toEqual([]);
    await closeClaimed(next);
  });

  it('always ends with the new daemon listening when delete removes the stale socket at the same time', async () => {
    for (let round = 0; round < 15; round++) {
      const socketPath = path.join(dir, `group-${round}.sock`);
      await staleSocket(socketPath);
      const [claimed] = await Promise.all([claimSocket(socketPath, 'a'), removeStaleSocket(socketPath), removeStaleSocket(socketPath)]);
      expect(claimed).not.toBe('joined');
      try {
        expect(await probeSocket(socketPath), `round ${round}`).toBe('live');
      } finally {
        await closeClaimed(claimed);
      }
    }
  });
});

describe("the launcher's start, joining a live daemon without Node", () => {
  const LAUNCHER = path.join(import.meta.dirname, '..', '..', 'bin', 'containerd-shim-nodewasm-v1');
  const sockets: string[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) for (const file of [socket, `${socket}.lock`]) fs.rmSync(file, { force: true });
  });

  /** A daemon's socket where the launcher computes it, for a containerd address of this test. */
  async function listeningGroup(address: string, key: string): Promise<{ socketPath: string; close(): Promise<void> }> {
    const socketPath = shimSocketPath(address, 'ns1', key);
    sockets.push(socketPath);
    const claimed = await claimSocket(socketPath, 'first');
    if (claimed === 'joined') throw new Error('the test socket was already served');
    return { socketPath, close: () => closeClaimed(claimed) };
  }

  /**
   * The launcher, copied into a tree without Node: what it answers itself shows on stdout; a start
   * it leaves to the shim fails there, with nothing on stdout.
   */
  function launchStart(address: string, bundle: string, id: string): { stdout: string; status: number | null } {
    const launcher = path.join(dir, 'install', 'bin', 'containerd-shim-nodewasm-v1');
    fs.mkdirSync(path.dirname(launcher), { recursive: true });
    fs.copyFileSync(LAUNCHER, launcher);
    const r = spawnSync('sh', [launcher, '-namespace', 'ns1', '-address', address, '-publish-binary', '/nonexistent', '-id', id, 'start'], {
      cwd: bundle,
      encoding: 'utf8',
      input: '',
      timeout: 10_000,
    });
    return { stdout: r.stdout, status: r.status };
  }

  it.each([
    ['a pod', { 'io.kubernetes.cri.sandbox-id': 'sandbox1' }, 'sandbox1'],
    ['a named group', { [GROUP_ANNOTATION]: 'team' }, 'group:team'],
    ['a standalone container', { other: 'x' }, DEFAULT_GROUP],
  ])('answers for %s with the group daemon\'s address and leaves its promise, as the shim would', async (_what, annotations, key) => {
    const address = path.join(dir, 'containerd.sock');
    const bundle = writeSpec(annotations);
    expect(groupKey(bundle, 'task1')).toBe(key);
    const daemon = await listeningGroup(address, key);
    try {
      const { stdout, status } = launchStart(address, bundle, 'task1');
      expect(status).toBe(0);
      expect(stdout).toBe(`unix://${daemon.socketPath}`);
      expect(fs.readFileSync(path.join(bundle, 'address'), 'utf8')).toBe(stdout);
      expect(pendingJoins(daemon.socketPath)).toEqual(['task1']);
      expect(fs.existsSync(`${daemon.socketPath}.lock`)).toBe(false);
      clearJoinMarker(daemon.socketPath, 'task1');
    } finally {
      await daemon.close();
    }
  });

  it('leaves a spec it cannot read with certainty, or a busy lock, to the shim', async () => {
    const address = path.join(dir, 'containerd.sock');
    const daemon = await listeningGroup(address, DEFAULT_GROUP);
    try {
      const escaped = writeSpec({ [GROUP_ANNOTATION]: 'a"b' });
      const pretty = fs.mkdtempSync(path.join(dir, 'bundle-'));
      fs.writeFileSync(path.join(pretty, 'config.json'), JSON.stringify({ annotations: {} }, null, 2));
      fs.writeFileSync(`${daemon.socketPath}.lock`, String(process.pid));
      const busy = writeSpec({});
      for (const bundle of [escaped, pretty, busy]) expect(launchStart(address, bundle, 'task2')).toEqual({ stdout: '', status: 1 });
      fs.rmSync(`${daemon.socketPath}.lock`);
      expect(pendingJoins(daemon.socketPath)).toEqual([]);
    } finally {
      await daemon.close();
    }
  });
});
