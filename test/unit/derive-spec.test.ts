import { describe, expect, it } from 'vitest';
import { deriveRunnerSettings, deriveWasmSpec, isSystemMount, runnerCommand, WasmLayout } from '../../src/container/derive-spec.js';
import type { OciSpec } from '../../src/container/spec.js';
import type { RunnerFiles } from '../../src/container/runner-files.js';

const runnerFiles: RunnerFiles = {
  node: '/opt/nw/node',
  loader: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
  libraries: new Map([['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6']]),
  runner: '/opt/nw/dist/runner.mjs',
  runnerComponent: '/opt/nw/dist/runner-component.mjs',
  tini: '/usr/bin/tini-static',
};

function ctrSpec(): OciSpec {
  return {
    ociVersion: '1.0.2',
    process: {
      user: { uid: 1000, gid: 1000 },
      args: ['/app.wasm', 'a b'],
      env: ['PATH=/bin', 'GREETING=hi'],
      cwd: '/work',
      capabilities: { bounding: ['CAP_KILL'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    hostname: 'h',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] },
      { destination: '/data', type: 'bind', source: '/host/vol', options: ['rbind', 'rw'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/x' }],
      resources: { memory: { limit: 64 << 20 }, cpu: { quota: 50000, period: 100000 } },
      cgroupsPath: '/default/t1',
      seccomp: { defaultAction: 'SCMP_ACT_ERRNO' },
    },
  };
}

const derive = (spec = ctrSpec(), existing: string[] = ['/run']) =>
  deriveWasmSpec({
    userSpec: spec,
    imageRoot: '/b/rootfs',
    runcRoot: '/b/nodewasm/root',
    settingsDir: '/b/nodewasm/settings',
    runnerFiles,
    guestPathExists: (p) => existing.includes(p),
  });

describe('deriveWasmSpec', () => {
  it('keeps the user spec\'s isolation and limits unchanged', () => {
    const user = ctrSpec();
    const spec = derive(user);
    expect(spec.linux).toEqual(user.linux);
    expect(spec.process!.user).toEqual(user.process!.user);
    expect(spec.process!.capabilities).toEqual(user.process!.capabilities);
    expect(spec.process!.rlimits).toEqual(user.process!.rlimits);
    expect(spec.process!.noNewPrivileges).toBe(true);
    expect(spec.hostname).toBe('h');
  });

  it('does not change the user spec it reads', () => {
    const user = ctrSpec();
    const before = structuredClone(user);
    derive(user);
    expect(user).toEqual(before);
  });

  it('runs the runner under tini through the mounted loader, with only tini\'s setting in its environment', () => {
    const spec = derive();
    expect(spec.process!.args).toEqual([
      WasmLayout.tini, '-s', '-g', '--', WasmLayout.loader, '--library-path', WasmLayout.libraryDir,
      WasmLayout.node, '--no-warnings', WasmLayout.runner, `${WasmLayout.settingsDir}/init.json`,
    ]);
    expect(spec.process!.env).toEqual(['TINI_VERBOSITY=0']);
    expect(spec.process!.cwd).toBe('/');
    expect(spec.root).toEqual({ path: '/b/nodewasm/root', readonly: true });
  });

  it('keeps system mounts at the root, makes /proc read-only, and moves the rest under the guest root', () => {
    const mounts = derive().mounts!;
    const destinations = mounts.map((m) => m.destination);
    expect(destinations.slice(0, 5)).toEqual(['/proc', '/dev', '/dev/pts', '/sys', WasmLayout.guestRoot]);
    expect(mounts[0]!.options).toContain('ro');
    expect(mounts[4]).toMatchObject({ type: 'bind', source: '/b/rootfs', options: expect.arrayContaining(['rbind', 'rw']) });
    expect(destinations).toContain('/guest/run');
    expect(mounts.find((m) => m.destination === '/guest/data')).toMatchObject({ source: '/host/vol' });
    expect(destinations).not.toContain('/run');
    expect(destinations).not.toContain('/data');
  });

  it('drops a filesystem mount over a directory the image lacks, but keeps bind mounts', () => {
    const destinations = derive(ctrSpec(), []).mounts!.map((m) => m.destination);
    expect(destinations).not.toContain('/guest/run');
    expect(destinations).toContain('/guest/data');
  });

  it('binds the guest root read-only when the spec root is read-only', () => {
    const user = ctrSpec();
    user.root!.readonly = true;
    const guest = derive(user).mounts!.find((m) => m.destination === WasmLayout.guestRoot)!;
    expect(guest.options).toContain('ro');
    expect(guest.options).not.toContain('rw');
  });

  it('mounts every runner file read-only and never the host root or /etc', () => {
    const mounts = derive().mounts!;
    const runnerMounts = mounts.filter((m) => m.destination.startsWith(WasmLayout.runnerDir));
    expect(runnerMounts.map((m) => m.destination).sort()).toEqual(
      [WasmLayout.tini, WasmLayout.loader, WasmLayout.node, WasmLayout.runner, WasmLayout.runnerComponent, WasmLayout.settingsDir, `${WasmLayout.libraryDir}/libc.so.6`].sort(),
    );
    for (const m of runnerMounts) expect(m.options).toEqual(expect.arrayContaining(['bind', 'ro']));
    for (const m of mounts) {
      expect(m.source).not.toBe('/');
      expect(m.source).not.toBe('/etc');
    }
  });
});

describe('isSystemMount', () => {
  it.each([
    ['/proc', true], ['/dev/shm', true], ['/sys/fs/cgroup', true], ['/run', false], ['/etc/hosts', false], ['/device', false], ['/process', false],
  ])('%s → %s', (dest, expected) => expect(isSystemMount(dest)).toBe(expected));
});

describe('runnerCommand', () => {
  it('runs an exec\'s settings file without tini', () => {
    expect(runnerCommand('exec-e1.json')).toEqual([
      WasmLayout.loader, '--library-path', WasmLayout.libraryDir, WasmLayout.node, '--no-warnings', WasmLayout.runner,
      `${WasmLayout.settingsDir}/exec-e1.json`,
    ]);
  });
});

describe('deriveRunnerSettings', () => {
  it('takes an exec\'s own process when given', () => {
    const settings = deriveRunnerSettings({
      userSpec: ctrSpec(),
      process: { user: { uid: 0, gid: 0 }, args: ['/other.wasm', 'x'], env: ['ONLY=exec'], cwd: '/' },
      kind: 'module',
      entrypoint: '/other.wasm',
    });
    expect(settings).toMatchObject({ args: ['/other.wasm', 'x'], env: ['ONLY=exec'], entrypoint: '/other.wasm', memoryLimitBytes: 64 << 20 });
  });

  it('passes the user\'s args, env and cwd exactly, and the memory limit', () => {
    const settings = deriveRunnerSettings({ userSpec: ctrSpec(), kind: 'module', entrypoint: '/app.wasm' });
    expect(settings).toEqual({
      version: 1,
      kind: 'module',
      guestRoot: WasmLayout.guestRoot,
      entrypoint: '/app.wasm',
      args: ['/app.wasm', 'a b'],
      env: ['PATH=/bin', 'GREETING=hi'],
      cwd: '/work',
      memoryLimitBytes: 64 << 20,
    });
  });

  it('takes NODEWASM_WASM_COMPILE out of the guest\'s environment into the settings, module or component', () => {
    for (const kind of ['module', 'component'] as const) {
      const spec = ctrSpec();
      spec.process!.env = ['A=1', 'NODEWASM_WASM_COMPILE=baseline', 'NODEWASM_WASM_COMPILE=optimized', 'NODEWASM_WASM_COMPILER=kept'];
      const settings = deriveRunnerSettings({ userSpec: spec, kind, entrypoint: '/app.wasm', ...(kind === 'component' ? { componentWorld: 'cli' as const } : {}) });
      expect(settings.compile).toBe('optimized');
      expect(settings.env).toEqual(['A=1', 'NODEWASM_WASM_COMPILER=kept']);
    }
    const plain = deriveRunnerSettings({ userSpec: ctrSpec(), kind: 'module', entrypoint: '/app.wasm' });
    expect(plain.compile).toBeUndefined();
  });

  it('refuses an unknown NODEWASM_WASM_COMPILE, naming the choices', () => {
    const spec = ctrSpec();
    spec.process!.env = ['NODEWASM_WASM_COMPILE=fast'];
    expect(() => deriveRunnerSettings({ userSpec: spec, kind: 'module', entrypoint: '/app.wasm' })).toThrow(
      'NODEWASM_WASM_COMPILE="fast": expected auto, baseline, optimized',
    );
  });
});

describe('components', () => {
  it('mounts the component\'s cache entry read-only at its place in the runner\'s directory', () => {
    const spec = deriveWasmSpec({
      userSpec: ctrSpec(), imageRoot: '/b/rootfs', runcRoot: '/b/nodewasm/root', settingsDir: '/b/nodewasm/settings',
      runnerFiles, guestPathExists: () => true, componentDir: '/var/lib/nodewasm/components/abc-v2',
    });
    const mount = spec.mounts!.find((m) => m.destination === WasmLayout.component);
    expect(mount).toEqual({ destination: WasmLayout.component, type: 'bind', source: '/var/lib/nodewasm/components/abc-v2', options: expect.arrayContaining(['bind', 'ro']) });
    expect(derive().mounts!.some((m) => m.destination === WasmLayout.component)).toBe(false);
  });

  it('tells the runner a command\'s world and where its code is, and hides the runner\'s variables', () => {
    const spec = ctrSpec();
    spec.process!.env = ['PATH=/bin', 'NODEWASM_HTTP_ADDRESS=127.0.0.1:1', 'NODEWASM_HTTP_ADDRESS_X=kept'];
    const settings = deriveRunnerSettings({ userSpec: spec, kind: 'component', entrypoint: '/app.wasm', componentWorld: 'cli' });
    expect(settings.component).toEqual({ dir: WasmLayout.component, world: 'cli' });
    expect(settings.env).toEqual(['PATH=/bin', 'NODEWASM_HTTP_ADDRESS_X=kept']);
    expect(settings.http).toBeUndefined();
  });

  it('gives an http component its listen address, 0.0.0.0:8080 by default', () => {
    const settings = deriveRunnerSettings({ userSpec: ctrSpec(), kind: 'component', entrypoint: '/app.wasm', componentWorld: 'http' });
    expect(settings.http).toEqual({ host: '0.0.0.0', port: 8080, requestTimeoutMs: 30_000, maxRequestBodyBytes: 16 << 20 });
    const spec = ctrSpec();
    spec.process!.env = ['NODEWASM_HTTP_ADDRESS=[::1]:9000', 'NODEWASM_HTTP_REQUEST_TIMEOUT_MS=500', 'NODEWASM_HTTP_MAX_BODY_BYTES=1024', 'A=b'];
    const custom = deriveRunnerSettings({ userSpec: spec, kind: 'component', entrypoint: '/app.wasm', componentWorld: 'http' });
    expect(custom.http).toEqual({ host: '::1', port: 9000, requestTimeoutMs: 500, maxRequestBodyBytes: 1024 });
    expect(custom.env).toEqual(['A=b']);
  });

  it('refuses a listen address it cannot use, naming the variable', () => {
    const spec = ctrSpec();
    for (const bad of ['8080', 'localhost:80', '1.2.3.4:0', '1.2.3.4:70000', '0.0.0.0:http']) {
      spec.process!.env = [`NODEWASM_HTTP_ADDRESS=${bad}`];
      expect(() => deriveRunnerSettings({ userSpec: spec, kind: 'component', entrypoint: '/a.wasm', componentWorld: 'http' })).toThrow(/NODEWASM_HTTP_ADDRESS/);
    }
  });
});
