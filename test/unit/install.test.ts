/** The pure parts of `nodewasm install`: config versions, the managed block, layouts, packages. */
import { describe, expect, it } from 'vitest';
import {
  configVersionOf,
  detectLayout,
  freshConfig,
  launcherScript,
  managedBlock,
  patchConfig,
  productionPackages,
  runtimeTable,
} from '../../src/cli/install.js';

const V2_CONFIG = `version = 2
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
`;

describe('configVersionOf', () => {
  it('reads the version line, and treats a file without one as version 1', () => {
    expect(configVersionOf(V2_CONFIG)).toBe(2);
    expect(configVersionOf("version = 3\n[plugins.'io.containerd.cri.v1.images']\n")).toBe(3);
    expect(configVersionOf('  version=2 # comment\n')).toBe(2);
    expect(configVersionOf('[plugins.cri]\n  sandbox_image = "x"\n')).toBe(1);
    expect(() => configVersionOf('version = 4\n')).toThrow(/unsupported/);
  });
});

describe('runtimeTable', () => {
  it('names the CRI plugin as each config version does', () => {
    expect(runtimeTable(1)).toBe('[plugins.cri.containerd.runtimes.nodewasm]\n  runtime_type = "io.containerd.nodewasm.v1"\n');
    expect(runtimeTable(2)).toBe('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodewasm]\n  runtime_type = "io.containerd.nodewasm.v1"\n');
    expect(runtimeTable(3)).toBe("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nodewasm]\n  runtime_type = 'io.containerd.nodewasm.v1'\n");
  });
});

describe('patchConfig', () => {
  it('appends the block once; a second run changes nothing', () => {
    const first = patchConfig(V2_CONFIG, managedBlock(2));
    expect(first.changed).toBe(true);
    expect(first.text.startsWith(V2_CONFIG)).toBe(true);
    expect(first.text.endsWith(managedBlock(2))).toBe(true);
    const second = patchConfig(first.text, managedBlock(2));
    expect(second).toEqual({ text: first.text, changed: false });
  });

  it('replaces an older block in place, keeping what follows it', () => {
    const old = `${V2_CONFIG}\n${managedBlock(2).replace('io.containerd.nodewasm.v1', 'io.containerd.old.v1')}\n[metrics]\n  address = ""\n`;
    const patched = patchConfig(old, managedBlock(2));
    expect(patched.changed).toBe(true);
    expect(patched.text).toBe(`${V2_CONFIG}\n${managedBlock(2)}\n[metrics]\n  address = ""\n`);
  });

  it('leaves a config alone that defines the handler by hand (a second table would be a TOML error)', () => {
    const byHand = `${V2_CONFIG}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodewasm]\n  runtime_type = "io.containerd.nodewasm.v1"\n`;
    expect(patchConfig(byHand, managedBlock(2))).toEqual({ text: byHand, changed: false, configuredByHand: true });
  });

  it('separates the block from a file without a final newline', () => {
    expect(patchConfig('version = 2', managedBlock(2)).text).toBe(`version = 2\n\n${managedBlock(2)}`);
  });
});

describe('freshConfig', () => {
  it('keeps runc beside nodewasm, in the version asked for', () => {
    const v2 = freshConfig(2);
    expect(configVersionOf(v2)).toBe(2);
    expect(v2).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]');
    expect(v2).toContain(managedBlock(2));
    const v3 = freshConfig(3);
    expect(configVersionOf(v3)).toBe(3);
    expect(v3).toContain("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]");
    expect(v3).toContain(managedBlock(3));
  });
});

describe('detectLayout', () => {
  const fs = (files: Record<string, string>) => [(p: string) => p in files, (p: string) => files[p]] as const;

  it('plain containerd: /etc/containerd/config.toml, unit containerd', () => {
    expect(detectLayout(...fs({}))).toEqual({ kind: 'containerd', configPath: '/etc/containerd/config.toml', units: ['containerd'] });
  });

  it('k3s with containerd 1.7 patches config.toml.tmpl, with containerd 2 config-v3.toml.tmpl', () => {
    const generated = '/var/lib/rancher/k3s/agent/etc/containerd/config.toml';
    const v2 = detectLayout(...fs({ [generated]: 'version = 2\n' }));
    expect(v2.kind).toBe('k3s');
    expect(v2.configPath).toBe('/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl');
    expect(v2.units).toEqual(['k3s', 'k3s-agent']);
    expect(v2.templateBase).toBe('{{ template "base" . }}\n\n');
    const v3 = detectLayout(...fs({ [generated]: 'version = 3\n' }));
    expect(v3.configPath).toBe('/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl');
  });

  it('RKE2 likewise, with its own units', () => {
    const layout = detectLayout(...fs({ '/var/lib/rancher/rke2/agent/etc/containerd/config.toml': 'version = 2\n' }));
    expect(layout.kind).toBe('rke2');
    expect(layout.units).toEqual(['rke2-server', 'rke2-agent']);
  });
});

describe('productionPackages and launcherScript', () => {
  it('takes the top-level packages npm did not mark dev-only', () => {
    const lock = {
      packages: {
        '': {},
        'node_modules/pino': {},
        'node_modules/@bytecodealliance/jco': {},
        'node_modules/@bytecodealliance/jco/node_modules/nested': {},
        'node_modules/vitest': { dev: true },
        'node_modules/linked': { link: true },
      },
    };
    expect(productionPackages(lock)).toEqual(['@bytecodealliance/jco', 'pino']);
  });

  it('execs the launcher of the prefix, which starts its pinned Node', () => {
    const script = launcherScript('/opt/nodewasm');
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('exec /opt/nodewasm/bin/containerd-shim-nodewasm-v1 "$@"\n');
  });
});
