/** UpdateTaskRequest.resources → what `runc update --resources -` reads, and runcUpdate against a fake runc. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Any, UpdateTaskRequest } from '../../proto/index.js';
import { LINUX_RESOURCES_TYPE_URL, parseLinuxResourcesAny } from '../../src/container/cgroup-resources.js';
import { ContainerError } from '../../src/container/errors.js';

const json = (v: unknown): Any => ({ typeUrl: LINUX_RESOURCES_TYPE_URL, value: new TextEncoder().encode(JSON.stringify(v)) });

describe('parseLinuxResourcesAny', () => {
  it('accepts what the CRI sends for UpdateContainerResources', () => {
    const cri = {
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 268435456, swap: 268435456 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '' },
      pids: { limit: 100 },
      unified: { 'memory.high': '200000000' },
    };
    expect(parseLinuxResourcesAny(json(cri))).toEqual(cri);
  });

  it('decodes the Any as it arrives inside UpdateTaskRequest', () => {
    const wire = UpdateTaskRequest.encode({ id: 'c1', resources: json({ memory: { limit: 64 << 20 } }) });
    const req = UpdateTaskRequest.decode(wire);
    expect(parseLinuxResourcesAny(req.resources)).toEqual({ memory: { limit: 64 << 20 } });
  });

  it('drops nulls, which would crash runc 1.1.5, and keeps fields it does not know', () => {
    expect(parseLinuxResourcesAny(json({ memory: null, pids: null, cpu: { shares: 2, quota: null }, future: { x: 1 } }))).toEqual({
      cpu: { shares: 2 },
      future: { x: 1 },
    });
  });

  it('accepts -1 for unlimited', () => {
    expect(parseLinuxResourcesAny(json({ memory: { limit: -1, swap: -1 }, cpu: { quota: -1 }, pids: { limit: -1 } }))).toEqual({
      memory: { limit: -1, swap: -1 },
      cpu: { quota: -1 },
      pids: { limit: -1 },
    });
  });

  it.each([
    [undefined, /carries no resources/],
    [{ typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/WindowsResources', value: new Uint8Array() }, /expected an Any of type types\.containerd\.io\/opencontainers\/runtime-spec\/1\/LinuxResources/],
    [{ typeUrl: LINUX_RESOURCES_TYPE_URL, value: new TextEncoder().encode('{"memory":') }, /not valid JSON/],
    [{ typeUrl: LINUX_RESOURCES_TYPE_URL, value: Uint8Array.of(0xff, 0xfe) }, /not valid JSON/],
    [json([1]), /expected a JSON object, got an array/],
    [json({ memory: 5 }), /memory must be an object, got 5/],
    [json({ memory: { limit: '1Gi' } }), /memory\.limit must be an integer, got "1Gi"/],
    [json({ memory: { limit: 1.5 } }), /memory\.limit must be an integer, got 1\.5/],
    [json({ memory: { limit: 2 ** 60 } }), /memory\.limit is out of range .* use -1 for "unlimited"/],
    [json({ memory: { limit: -2 } }), /memory\.limit must be -1 \(unlimited\), 0 \(unchanged\) or a number of bytes, got -2/],
    [json({ memory: { limit: 200, swap: 100 } }), /memory\.swap \(100\) is the limit of memory plus swap and must be at least memory\.limit \(200\)/],
    [json({ memory: { swappiness: 101 } }), /memory\.swappiness must be between 0 and 100/],
    [json({ memory: { disableOOMKiller: 'yes' } }), /memory\.disableOOMKiller must be true or false/],
    [json({ cpu: { shares: -5 } }), /cpu\.shares must not be negative, got -5/],
    [json({ cpu: { quota: -7 } }), /cpu\.quota must be -1/],
    [json({ cpu: { cpus: '0-3,x' } }), /cpu\.cpus must be a list like "0-3,6", got "0-3,x"/],
    [json({ cpu: { mems: 3 } }), /cpu\.mems must be a string, got 3/],
    [json({ pids: { limit: 'many' } }), /pids\.limit must be an integer/],
    [json({ blockIO: { weight: 5 } }), /blockIO\.weight must be between 10 and 1000, got 5/],
    [json({ blockIO: { weight: 70000 } }), /blockIO\.weight must be at most 65535/],
    [json({ hugepageLimits: {} }), /hugepageLimits must be an array, got an object/],
    [json({ unified: { 'memory.high': 5 } }), /unified\["memory\.high"\] must be a string, got 5/],
    [json({ unified: { '../x': '1' } }), /unified key "\.\.\/x" is not a cgroup file name/],
  ])('refuses %# with a clear, invalid-kind error', (any, message) => {
    let err: unknown;
    try {
      parseLinuxResourcesAny(any as Any | undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContainerError);
    expect((err as ContainerError).kind).toBe('invalid');
    expect((err as ContainerError).message).toMatch(/^update resources: /);
    expect((err as ContainerError).message).toMatch(message);
  });
});

describe('runcUpdate (against a fake runc that records what it got)', () => {
  let dir: string;
  let runcUpdate: typeof import('../../src/container/runc-update.js').runcUpdate;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-runc-update-'));
    const fake = path.join(dir, 'runc');
    fs.writeFileSync(
      fake,
      `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/args"
cat > "${dir}/stdin"
case "$*" in
  *missing*) echo 'time="2026-11-22T00:00:00Z" level=error msg="container does not exist"' >&2; exit 1 ;;
  *toolow*) echo 'time="2026-11-22T00:00:00Z" level=error msg="unable to set memory limit to 4096 (current usage: 9000000, peak usage: 9100000)"' >&2; exit 1 ;;
esac
exit 0
`,
      { mode: 0o755 },
    );
    vi.stubEnv('NODEWASM_RUNC', fake);
    vi.resetModules();
    ({ runcUpdate } = await import('../../src/container/runc-update.js'));
  });

  afterAll(() => {
    vi.unstubAllEnvs();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes --root, --systemd-cgroup and the resources as JSON on stdin', async () => {
    await runcUpdate({ root: '/run/x/nodewasm-runc/default', systemdCgroup: true }, 'c1', { memory: { limit: 1048576, swap: 1048576 }, pids: { limit: 10 } });
    expect(fs.readFileSync(path.join(dir, 'args'), 'utf8').trim().split('\n')).toEqual([
      '--root', '/run/x/nodewasm-runc/default', '--systemd-cgroup', 'update', '--resources', '-', 'c1',
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'stdin'), 'utf8'))).toEqual({ memory: { limit: 1048576, swap: 1048576 }, pids: { limit: 10 } });
  });

  it('maps runc\'s "container does not exist" to not-found and other refusals to invalid, with runc\'s words', async () => {
    const ctx = { root: '/r', systemdCgroup: false };
    await expect(runcUpdate(ctx, 'missing', {})).rejects.toMatchObject({ kind: 'not-found', message: 'runc update missing: container does not exist' });
    await expect(runcUpdate(ctx, 'toolow', { memory: { limit: 4096 } })).rejects.toMatchObject({
      kind: 'invalid',
      message: 'runc update toolow: unable to set memory limit to 4096 (current usage: 9000000, peak usage: 9100000)',
    });
  });
});
