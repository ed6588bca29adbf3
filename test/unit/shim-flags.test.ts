import { describe, expect, it } from 'vitest';
import { parseShimArgs, daemonArgs } from '../../src/shim/flags.js';
import { shimSocketPath } from '../../src/shim/socket-address.js';
import { createHash } from 'node:crypto';

describe('parseShimArgs', () => {
  it('reads containerd 1.6 start arguments', () => {
    const inv = parseShimArgs(['-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 't1', '-debug', 'start']);
    expect(inv).toMatchObject({ action: 'start', namespace: 'default', address: '/run/containerd/containerd.sock', id: 't1', debug: true });
  });

  it('accepts reordered, double-dash and = forms, and ignores unknown flags', () => {
    const inv = parseShimArgs(['delete', '--id=t2', '--bundle', '/b', '--future-flag', 'x', '-namespace=k8s.io', '-address', '/a']);
    expect(inv).toMatchObject({ action: 'delete', id: 't2', bundle: '/b', namespace: 'k8s.io', address: '/a' });
  });

  it('treats no action as the daemon and -v as version', () => {
    expect(parseShimArgs(['-id', 'x']).action).toBe('daemon');
    expect(parseShimArgs(['-v']).action).toBe('version');
  });

  it('refuses unknown actions', () => {
    expect(() => parseShimArgs(['frobnicate'])).toThrow(/unknown action/);
  });

  it('gives the daemon the same flags without an action', () => {
    const inv = parseShimArgs(['-namespace', 'n', '-address', '/a', '-publish-binary', '/c', '-id', 'i', 'start']);
    expect(daemonArgs(inv)).toEqual(['-namespace', 'n', '-address', '/a', '-publish-binary', '/c', '-id', 'i']);
  });
});

describe('shimSocketPath', () => {
  it('hashes address/namespace/key as containerd expects', () => {
    const expected = createHash('sha256').update('/run/containerd/containerd.sock/default/t1').digest('hex');
    expect(shimSocketPath('/run/containerd/containerd.sock', 'default', 't1')).toBe(`/run/containerd/s/${expected}`);
  });
});

describe('-info (containerd 2.x)', () => {
  it('is an action of its own, in any position, and takes no value', () => {
    expect(parseShimArgs(['-info']).action).toBe('info');
    expect(parseShimArgs(['--info', '-id', 'x'])).toMatchObject({ action: 'info', id: 'x' });
    expect(parseShimArgs(['-namespace', 'k8s.io', '-info']).action).toBe('info');
  });

  it('prints a RuntimeInfo naming our runtime and version, with no features', async () => {
    const { runtimeInfo, RUNTIME_NAME } = await import('../../src/shim/info.js');
    const { RuntimeInfo } = await import('../../proto/shim.js');
    const decoded = RuntimeInfo.decode(runtimeInfo('1.2.3'));
    expect(decoded.name).toBe(RUNTIME_NAME);
    expect(decoded.name).toBe('io.containerd.nodewasm.v1');
    expect(decoded.version?.version).toBe('1.2.3');
    expect(decoded.features).toBeUndefined();
    expect(decoded.options).toBeUndefined();
  });
});
