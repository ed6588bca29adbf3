/**
 * `nodewasm install` from this checkout into a temporary prefix, bin dir and containerd config
 * (never the machine's own): the copy it makes is complete enough that a private containerd runs
 * a wasm container through the installed launcher, and a second install changes nothing.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/cli/build-image.js';
import { managedBlock } from '../../src/cli/install.js';
import { buildFixtureImage, repoRoot } from './support.js';
import { importImage, uniqueId, withPrivateContainerd } from '../harness/containerd.js';

const run = promisify(execFile);
const NODEWASM = path.join(repoRoot, 'bin', 'nodewasm');
const EXISTING_CONFIG = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n';

let scratch: string;
let prefix: string;
let binDir: string;
let configPath: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewasm-install-e2e-'));
  prefix = path.join(scratch, 'opt', 'nodewasm');
  binDir = path.join(scratch, 'bin');
  configPath = path.join(scratch, 'etc', 'containerd', 'config.toml');
  fs.mkdirSync(path.dirname(configPath), { recursive: true });
  fs.writeFileSync(configPath, EXISTING_CONFIG);
});

afterAll(() => {
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(componentCache, { recursive: true, force: true });
});

// Components are transpiled into this cache, never the machine's /var/lib/nodewasm.
const componentCache = path.join(os.tmpdir(), `nodewasm-install-cache-${process.pid}-${Date.now()}`);
const env = withPrivateContainerd({ env: { NODEWASM_CACHE_DIR: componentCache } });

function install(...extra: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(NODEWASM, ['install', '--prefix', prefix, '--bin-dir', binDir, '--containerd-config', configPath, ...extra], { maxBuffer: 4 * 1024 * 1024 });
}

describe('nodewasm install', () => {
  it('--dry-run changes nothing', async () => {
    const { stdout } = await install('--dry-run');
    expect(stdout).toContain('dry run');
    expect(stdout).toContain('runtimes.nodewasm]');
    expect(fs.existsSync(prefix)).toBe(false);
    expect(fs.existsSync(binDir)).toBe(false);
    expect(fs.readFileSync(configPath, 'utf8')).toBe(EXISTING_CONFIG);
  });

  it('copies the shim, writes the launcher, patches the config once; the installed shim runs a wasm container', async () => {
    const first = await install();
    expect(first.stdout).toContain(`writing the "nodewasm" runtime handler to ${configPath}`);
    expect(fs.readFileSync(configPath, 'utf8')).toBe(`${EXISTING_CONFIG}\n${managedBlock(2)}`);
    expect(fs.readFileSync(`${configPath}.before-nodewasm`, 'utf8')).toBe(EXISTING_CONFIG);
    const launcher = path.join(binDir, 'containerd-shim-nodewasm-v1');
    expect(fs.statSync(launcher).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(launcher, 'utf8')).toContain(`exec ${prefix}/bin/containerd-shim-nodewasm-v1 "$@"`);
    for (const file of ['dist/shim.mjs', 'dist/runner.mjs', 'dist/cli.mjs', 'dist/nodewasm-reaper', 'bin/nodewasm', 'node_modules/pino/package.json', 'node_modules/@bytecodealliance/jco-transpile/package.json']) {
      expect(fs.existsSync(path.join(prefix, file)), file).toBe(true);
    }
    for (const left of ['vitest', '@bytecodealliance/jco', 'binaryen']) {
      expect(fs.existsSync(path.join(prefix, 'node_modules', left)), `${left} stays behind`).toBe(false);
    }

    const second = await install();
    expect(second.stdout).toContain('already has the "nodewasm" runtime handler');
    expect(fs.readFileSync(configPath, 'utf8')).toBe(`${EXISTING_CONFIG}\n${managedBlock(2)}`);
    expect(fs.readdirSync(path.dirname(prefix))).toEqual(['nodewasm']);

    // containerd takes an absolute path as the runtime: this is the installed launcher, not bin/.
    const image = buildFixtureImage(scratch, 'docker.io/library/nodewasm-install-e2e:1', ['hello']);
    await importImage(env.pc, image);
    const id = uniqueId('installed');
    const result = await env.pc.ctr(['run', '--rm', '--runtime', launcher, '--platform', 'wasi/wasm', 'docker.io/library/nodewasm-install-e2e:1', id, '/hello.wasm', 'installed']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=installed\n');
    expect(result.code).toBe(0);

    // A component: the installed copy transpiles it (jco-transpile, without what was left behind).
    const componentImage = path.join(scratch, 'component.tar');
    fs.writeFileSync(
      componentImage,
      buildImage({ reference: 'docker.io/library/nodewasm-install-component:1', files: [{ guestPath: '/hello.wasm', data: fs.readFileSync(path.join(repoRoot, 'fixtures', 'components', 'hello.component.wasm')) }] }).archive,
    );
    await importImage(env.pc, componentImage);
    const component = await env.pc.ctr(['run', '--rm', '--runtime', launcher, '--platform', 'wasi/wasm', 'docker.io/library/nodewasm-install-component:1', uniqueId('installed-c'), '/hello.wasm', 'c']);
    expect(component.stderr).toBe('');
    expect(component.stdout).toBe('hello from wasm\nargv[0]=/hello.wasm\nargv[1]=c\n');
    expect(component.code).toBe(0);
  }, 180_000);
});
