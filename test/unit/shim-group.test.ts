import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_GROUP, GROUP_ANNOTATION, groupKey, joinDaemon, probeSocket, releaseSocket, removeStaleSocket } from '../../src/shim/group.js';
import { GroupMembership, registerGroupService } from '../../src/shim/group-membership.js';
import { claimSocket, type ClaimedSocket } from '../../src/shim/start.js';
import { TtrpcServer } from '../../src/ttrpc/server.js';

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

/** What the daemon does with a claimed socket, reduced to the Group service. */
function serveGroup(claimed: ClaimedSocket, membership: GroupMembership): TtrpcServer {
  const server = new TtrpcServer();
  registerGroupService(server, membership);
  server.attach(claimed.listener);
  claimed.stopHolding();
  for (const socket of claimed.early) server.handleConnection(socket);
  return server;
}

function claimAndServe(socketPath: string, id: string, membership: GroupMembership): Promise<{ claimed: ClaimedSocket | 'joined'; server?: TtrpcServer }> {
  return claimSocket(socketPath, id).then((claimed) => (claimed === 'joined' ? { claimed } : { claimed, server: serveGroup(claimed, membership) }));
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

describe('GroupMembership', () => {
  it('stays open while a joined task has not arrived, and closes once empty', () => {
    const membership = new GroupMembership(() => undefined);
    expect(membership.join('b')).toBe(true);
    expect(membership.closeIfEmpty(0)).toBe(false);
    membership.arrived('b');
    expect(membership.closeIfEmpty(1)).toBe(false);
    expect(membership.closeIfEmpty(0)).toBe(true);
    expect(membership.join('c')).toBe(false);
  });

  it('lets a reservation run out and says so', async () => {
    let expired = 0;
    const membership = new GroupMembership(() => expired++, 20);
    membership.join('b');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(expired).toBe(1);
    expect(membership.pending).toBe(0);
    expect(membership.closeIfEmpty(0)).toBe(true);
  });
});

describe("claiming a group's socket", () => {
  it('binds it once when claimers race over a stale socket; the others join the daemon that bound it', async () => {
    const socketPath = path.join(dir, 'group.sock');
    await staleSocket(socketPath);
    const membership = new GroupMembership(() => undefined);
    const results = await Promise.all(['a', 'b', 'c'].map((id) => claimAndServe(socketPath, id, membership)));
    const bound = results.filter((result) => result.claimed !== 'joined');
    expect(bound).toHaveLength(1);
    expect(membership.pending).toBe(2);
    await bound[0]!.server!.close();
  });

  it('waits for an exiting daemon to let go of the socket, then binds its own', async () => {
    const socketPath = path.join(dir, 'group.sock');
    const old = new GroupMembership(() => undefined);
    const first = await claimAndServe(socketPath, 'a', old);
    expect(old.closeIfEmpty(0)).toBe(true);
    expect(await joinDaemon(socketPath, 'b')).toBe('refused');

    const next = claimAndServe(socketPath, 'b', new GroupMembership(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await probeSocket(socketPath)).toBe('live');
    await releaseSocket(socketPath, (first.claimed as ClaimedSocket).listener, (err) => {
      throw err;
    });
    await first.server!.close();
    const { claimed, server } = await next;
    expect(claimed).not.toBe('joined');
    expect(await probeSocket(socketPath)).toBe('live');
    expect(await joinDaemon(socketPath, 'c')).toBe('joined');
    await releaseSocket(socketPath, (claimed as ClaimedSocket).listener, (err) => {
      throw err;
    });
    expect(fs.existsSync(socketPath)).toBe(false);
    await server!.close();
  });

  it('always ends with the new daemon listening when delete removes the stale socket at the same time', async () => {
    for (let round = 0; round < 15; round++) {
      const socketPath = path.join(dir, `group-${round}.sock`);
      await staleSocket(socketPath);
      const [claimed] = await Promise.all([claimSocket(socketPath, 'a'), removeStaleSocket(socketPath), removeStaleSocket(socketPath)]);
      expect(claimed).not.toBe('joined');
      const { listener } = claimed as ClaimedSocket;
      try {
        expect(await probeSocket(socketPath), `round ${round}`).toBe('live');
      } finally {
        await new Promise((resolve) => listener.close(resolve));
      }
    }
  });
});
