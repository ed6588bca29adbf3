import { describe, expect, it } from 'vitest';
import { containerdConfig, type ConfigPaths } from '../../src/cli/private-containerd.js';
import { managedBlock } from '../../src/cli/runtime-handler.js';

const paths: ConfigPaths = {
  root: '/t/root',
  state: '/t/state',
  address: '/t/c.sock',
  ttrpcAddress: '/t/c.sock.ttrpc',
  cniBinDir: '/usr/lib/cni',
  cniConfDir: '/t/cni',
};

describe('the private containerd config', () => {
  it('is version 2 by default, with the CRI under io.containerd.grpc.v1.cri', () => {
    const text = containerdConfig(paths, { cri: true, debug: false, sandboxImage: 'pause:1' });
    expect(text).toMatch(/^version = 2$/m);
    expect(text).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodewasm]');
    expect(text).toContain('sandbox_image = "pause:1"');
    expect(text).not.toContain('io.containerd.cri.v1.runtime');
  });

  it('in version 3, puts images and runtime settings in their own plugins and the handler as nodewasm install writes it', () => {
    const text = containerdConfig(paths, { cri: true, debug: false, sandboxImage: 'pause:1', version: 3 });
    expect(text).toMatch(/^version = 3$/m);
    expect(text).toContain(managedBlock(3));
    expect(text).toContain("[plugins.'io.containerd.cri.v1.images'.pinned_images]\n    sandbox = \"pause:1\"");
    expect(text).toContain('bin_dirs = ["/usr/lib/cni"]');
    expect(text).not.toContain('plugins."io.containerd.grpc.v1.cri".containerd');
  });

  it('without the CRI, disables every CRI plugin of the version', () => {
    expect(containerdConfig(paths, { cri: false, debug: false })).toMatch(/disabled_plugins = \[.*"io\.containerd\.grpc\.v1\.cri"\]/);
    const v3 = containerdConfig(paths, { cri: false, debug: false, version: 3 });
    for (const plugin of ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime']) expect(v3).toContain(`"${plugin}"`);
  });
});
