/**
 * A private containerd: its own config, root, state, sockets, log and ctr FIFO directory in one
 * folder, started and stopped by PID. Used by `nodewasm demo`, the end-to-end tests and the
 * benchmark; it never talks to (or starts) a system containerd.
 *
 * What stays shared with any other containerd on the machine, because containerd and its shims
 * hard-code it: shim sockets in /run/containerd/s (named sha256(<grpc address>/<ns>/<id>), so they
 * never collide with another instance's), runc-v2 shim state in /run/containerd/runc/<ns>/<id>,
 * and container cgroups at /<ns>/<id>. Use unique container ids.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_GROUP } from '../shim/group.js';
import { managedBlock } from './runtime-handler.js';

const execFileAsync = promisify(execFile);

/** Where every v2 shim (ours and runc's) puts its socket, whatever containerd's own paths are. */
export const SHIM_SOCKET_DIR = '/run/containerd/s';
/** The runc-v2 shim's default `--root` for runc, per namespace. */
const RUNC_SHIM_ROOT = '/run/containerd/runc';
/** sun_path is 108 bytes; containerd wants its addresses well under that (the fact sheet says 106). */
const MAX_SOCKET_PATH = 100;
const MARKER = '.nodewasm-private-containerd';
const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface CtrOptions {
  /** Written to ctr's stdin, which is then closed. Without it stdin is closed at once. */
  input?: string | Buffer;
  /** Kill ctr (by its PID, SIGKILL) after this long. Default 120 s. */
  timeoutMs?: number;
  /** containerd namespace, default `default`. */
  namespace?: string;
  /** Extra environment for ctr. */
  env?: Record<string, string>;
}

export interface CtrResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface CtrSpawnOptions {
  namespace?: string;
  env?: Record<string, string>;
}

/** Runs ctr against one containerd, with the FIFO directory moved out of /run/containerd/fifo. */
export interface CtrClient {
  /** containerd's gRPC socket (a plain path). */
  address: string;
  /** Where `ctr run`/`ctr task start`/`ctr task exec` create their stdio FIFOs. */
  fifoDir: string;
  ctr(args: string[], options?: CtrOptions): Promise<CtrResult>;
  ctrSpawn(args: string[], options?: CtrSpawnOptions): ChildProcess;
}

export interface PrivateContainerdOptions {
  /** The folder for everything; created if missing, wiped (after stopping what ran there) if ours. Default: a new temp dir. */
  dir?: string;
  /** Prepended to containerd's PATH so that it finds containerd-shim-nodewasm-v1. */
  shimDir: string;
  /** Enable the CRI plugin (with runtimes runc and nodewasm). Default false. */
  cri?: boolean;
  /** CRI `sandbox_image`; import it yourself into namespace k8s.io. */
  sandboxImage?: string;
  /**
   * CRI: where containerd looks for CNI plugin binaries (e.g. Debian's /usr/lib/cni). Default: an
   * empty private folder, so only host-network pods can run. CNI network configs go in the
   * instance's `cniConfDir`, which is always private.
   */
  cniBinDir?: string;
  /** containerd log level debug instead of info. */
  debug?: boolean;
  /** Default: overlayfs when containerd reports it usable, else native. */
  snapshotter?: string;
  /** Extra environment for containerd (and so for the shims it starts). */
  env?: Record<string, string>;
  /** How long to wait for `ctr version` to answer. Default 30 s. */
  startTimeoutMs?: number;
  containerdBinary?: string;
  ctrBinary?: string;
  /** Folders containerd searches for shims after shimDir: another containerd's own runc shim. */
  extraPath?: string[];
  /** The config version to write; default: 3 for a containerd 2.x, else 2. */
  configVersion?: 2 | 3;
}

export interface PrivateContainerd extends CtrClient {
  dir: string;
  /** gRPC socket path. */
  address: string;
  ttrpcAddress: string;
  root: string;
  state: string;
  configPath: string;
  /** containerd's PID. */
  pid: number;
  logPath: string;
  /** `ctr events` output for the whole life of this containerd. */
  eventsLogPath: string;
  snapshotter: string;
  cri: boolean;
  /** CRI: the private folder containerd loads CNI network configs (`*.conflist`) from. */
  cniConfDir: string;
  /**
   * Kills and deletes remaining tasks and containers in every namespace (so shims exit), stops
   * containerd (SIGTERM, then SIGKILL after 10 s), kills by PID anything of its own left running,
   * unmounts what is still mounted under its folders (deepest first) and removes them. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Stops containerd alone (SIGTERM to its PID) and starts it again on the same folders, as a
   * node's containerd restarts: shims and their tasks keep running and containerd reconnects.
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
}

interface KnownContainer {
  namespace: string;
  id: string;
}

interface Internal {
  options: PrivateContainerdOptions;
  child: ChildProcess;
  exited: Promise<void>;
  socketDir: string;
  ownSocketDir: boolean;
  shimSocketsAtStart: Set<string>;
  othersAtStart: boolean;
  events?: ChildProcess;
  stopping?: Promise<void>;
  stopped: boolean;
  leftoversAtStop: string[];
  containers: Map<string, KnownContainer>;
}

const internals = new WeakMap<PrivateContainerd, Internal>();

// ---------------------------------------------------------------------------------------------
// ctr

/** Puts `--fifo-dir` right after the ctr subcommands that create FIFOs, unless already given. */
export function withFifoDir(args: readonly string[], fifoDir: string): string[] {
  if (args.includes('--fifo-dir') || args.some((arg) => arg.startsWith('--fifo-dir='))) return [...args];
  const result = [...args];
  if (args[0] === 'run') {
    result.splice(1, 0, '--fifo-dir', fifoDir);
  } else if (['t', 'task', 'tasks'].includes(args[0] ?? '') && ['start', 'exec'].includes(args[1] ?? '')) {
    result.splice(2, 0, '--fifo-dir', fifoDir);
  }
  return result;
}

function runProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { input?: string | Buffer; timeoutMs?: number },
): Promise<CtrResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin!.on('error', () => {
      // ctr may exit before reading all its input; that is its answer, not ours to report.
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin!.end(options.input);
  });
}

/** A ctr runner for any containerd (the demo uses it for one given by the user). */
export function ctrClient(address: string, fifoDir: string, config: { ctrBinary?: string; env?: Record<string, string> } = {}): CtrClient {
  const ctrBinary = config.ctrBinary ?? 'ctr';
  const globalArgs = (namespace: string | undefined): string[] => ['--address', address, '--namespace', namespace ?? 'default'];
  const environment = (extra: Record<string, string> | undefined): NodeJS.ProcessEnv => ({ ...process.env, ...config.env, ...extra });
  return {
    address,
    fifoDir,
    ctr: (args, options = {}) =>
      runProcess(ctrBinary, [...globalArgs(options.namespace), ...withFifoDir(args, fifoDir)], environment(options.env), options),
    ctrSpawn: (args, options = {}) =>
      spawn(ctrBinary, [...globalArgs(options.namespace), ...withFifoDir(args, fifoDir)], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: environment(options.env),
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// processes, mounts, files

function sleep(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

async function readCmdline(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function listPids(): Promise<number[]> {
  const entries = await readdir('/proc');
  return entries.filter((name) => /^\d+$/.test(name)).map(Number);
}

async function waitForDeath(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** SIGTERM, wait, SIGKILL: for a PID we started (or recorded as ours). */
async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!(await isAlive(pid))) return;
  signal(pid, 'SIGTERM');
  if (await waitForDeath(pid, graceMs)) return;
  signal(pid, 'SIGKILL');
  await waitForDeath(pid, 5_000);
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** /proc/self/mountinfo, with its octal escapes (\040 for space...) decoded. */
async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const decode = (field: string): string => field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    mounts.push({ mountPoint: decode(fields[4]!), fsType: fields[separator + 1] ?? '?' });
  }
  return mounts;
}

function isUnder(path: string, folder: string): boolean {
  return path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);
}

async function mountsUnder(folders: readonly string[]): Promise<MountEntry[]> {
  const mounts = await readMounts();
  return mounts.filter((mount) => folders.some((folder) => isUnder(mount.mountPoint, folder)));
}

async function unmountUnder(folders: readonly string[]): Promise<void> {
  // Deepest first, and repeat: a path can be mounted over more than once.
  for (let round = 0; round < 5; round++) {
    const mounts = (await mountsUnder(folders)).map((mount) => mount.mountPoint);
    if (mounts.length === 0) return;
    mounts.sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
    for (const mountPoint of mounts) {
      const result = await runProcess('umount', [mountPoint], process.env, { timeoutMs: 30_000 });
      if (result.code !== 0) await runProcess('umount', ['-l', mountPoint], process.env, { timeoutMs: 30_000 });
    }
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function walk(path: string, found: string[] = []): Promise<string[]> {
  for (const name of await listDir(path)) {
    const child = join(path, name);
    found.push(child);
    const stat = await lstat(child).catch(() => undefined);
    if (stat?.isDirectory()) await walk(child, found);
  }
  return found;
}

/** The cgroup hierarchies to look in: every v1 controller mount, or the single v2 root. */
async function cgroupRoots(): Promise<string[]> {
  const mounts = await readMounts();
  const inSysfs = (path: string): boolean => path === '/sys/fs/cgroup' || isUnder(path, '/sys/fs/cgroup');
  return mounts
    .filter((mount) => (mount.fsType === 'cgroup' || mount.fsType === 'cgroup2') && inSysfs(mount.mountPoint))
    .map((mount) => mount.mountPoint);
}

/** Directories named `name` at most `depth` levels below `root` (CRI cgroups live under a pod's parent). */
async function findDirectories(root: string, name: string, depth: number, found: string[] = []): Promise<string[]> {
  if (depth < 0) return found;
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    const path = join(root, entry.name);
    if (entry.name === name) found.push(path);
    else await findDirectories(path, name, depth - 1, found);
  }
  return found;
}

export function shimSocketName(address: string, namespace: string, id: string): string {
  return createHash('sha256').update(`${address}/${namespace}/${id}`).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// config

function tomlString(value: string): string {
  return JSON.stringify(value);
}

export interface ConfigPaths {
  root: string;
  state: string;
  address: string;
  ttrpcAddress: string;
  cniBinDir: string;
  cniConfDir: string;
}

export interface ConfigOptions {
  cri: boolean;
  debug: boolean;
  snapshotter?: string;
  sandboxImage?: string;
  /** 2 (containerd 1.6 and 1.7; 2.x migrates it) or 3 (containerd 2.x's own). Default 2. */
  version?: 2 | 3;
}

/**
 * The containerd config. Version 3 puts the CRI settings where containerd 2.x keeps them and
 * registers the nodewasm handler with exactly the block `nodewasm install` writes for 2.x.
 */
export function containerdConfig(paths: ConfigPaths, options: ConfigOptions): string {
  const version = options.version ?? 2;
  const disabled = [
    'io.containerd.internal.v1.opt', // would create /opt/containerd and put it on the shims' PATH
    'io.containerd.internal.v1.restart',
    'io.containerd.snapshotter.v1.aufs',
    'io.containerd.snapshotter.v1.btrfs',
    'io.containerd.snapshotter.v1.devmapper',
    'io.containerd.snapshotter.v1.zfs',
    'io.containerd.tracing.processor.v1.otlp',
    'io.containerd.internal.v1.tracing',
  ];
  if (!options.cri) disabled.push('io.containerd.grpc.v1.cri', ...(version === 3 ? ['io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime'] : []));
  const lines = [
    '# Written by nodewasm for a private containerd; see src/cli/private-containerd.ts.',
    `version = ${version}`,
    `root = ${tomlString(paths.root)}`,
    `state = ${tomlString(paths.state)}`,
    `disabled_plugins = [${disabled.map(tomlString).join(', ')}]`,
    '',
    '[grpc]',
    `  address = ${tomlString(paths.address)}`,
    '',
    '[ttrpc]',
    `  address = ${tomlString(paths.ttrpcAddress)}`,
    '',
    '[debug]',
    '  address = ""',
    `  level = ${tomlString(options.debug ? 'debug' : 'info')}`,
    '',
    '[metrics]',
    '  address = ""',
  ];
  if (options.cri) lines.push('', ...(version === 3 ? criSectionV3(paths, options) : criSectionV2(paths, options)));
  return `${lines.join('\n')}\n`;
}

/** What `containerd --version` says of itself, e.g. `2.1.9+unknown`; undefined if it says nothing usable. */
export async function containerdBinaryVersion(containerdBinary: string): Promise<string | undefined> {
  const { stdout } = await execFileAsync(containerdBinary, ['--version'], { timeout: 10_000 }).catch(() => ({ stdout: '' }));
  return /\s(v?\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1];
}

/** 3 for a containerd 2.x or later, else 2. */
async function configVersionFor(containerdBinary: string): Promise<2 | 3> {
  const major = /^v?(\d+)\./.exec((await containerdBinaryVersion(containerdBinary)) ?? '')?.[1];
  return major !== undefined && Number(major) >= 2 ? 3 : 2;
}

function criSectionV2(paths: ConfigPaths, options: ConfigOptions): string[] {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    `[${cri}]`,
    '  restrict_oom_score_adj = true',
    '  disable_tcp_service = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '  netns_mounts_under_state_dir = true',
    ...(options.sandboxImage !== undefined ? [`  sandbox_image = ${tomlString(options.sandboxImage)}`] : []),
    `  [${cri}.cni]`,
    `    bin_dir = ${tomlString(paths.cniBinDir)}`,
    `    conf_dir = ${tomlString(paths.cniConfDir)}`,
    `  [${cri}.containerd]`,
    `    snapshotter = ${tomlString(options.snapshotter ?? 'overlayfs')}`,
    '    default_runtime_name = "runc"',
    `    [${cri}.containerd.runtimes.runc]`,
    '      runtime_type = "io.containerd.runc.v2"',
    `    [${cri}.containerd.runtimes.nodewasm]`,
    '      runtime_type = "io.containerd.nodewasm.v1"',
  ];
}

function criSectionV3(paths: ConfigPaths, options: ConfigOptions): string[] {
  const images = "plugins.'io.containerd.cri.v1.images'";
  const runtime = "plugins.'io.containerd.cri.v1.runtime'";
  return [
    `[${images}]`,
    `  snapshotter = ${tomlString(options.snapshotter ?? 'overlayfs')}`,
    ...(options.sandboxImage !== undefined ? [`  [${images}.pinned_images]`, `    sandbox = ${tomlString(options.sandboxImage)}`] : []),
    '',
    `[${runtime}]`,
    '  restrict_oom_score_adj = true',
    '  netns_mounts_under_state_dir = true',
    `  [${runtime}.cni]`,
    `    bin_dirs = [${tomlString(paths.cniBinDir)}]`,
    `    conf_dir = ${tomlString(paths.cniConfDir)}`,
    `  [${runtime}.containerd]`,
    "    default_runtime_name = 'runc'",
    `  [${runtime}.containerd.runtimes.runc]`,
    "    runtime_type = 'io.containerd.runc.v2'",
    '',
    managedBlock(3).trimEnd(),
    '',
    "[plugins.'io.containerd.grpc.v1.cri']",
    '  disable_tcp_service = true',
    "  stream_server_address = '127.0.0.1'",
    "  stream_server_port = '0'",
  ];
}

// ---------------------------------------------------------------------------------------------
// start

function containerdEnvironment(shimDir: string, extra: Record<string, string> | undefined, extraPath: readonly string[] = []): NodeJS.ProcessEnv {
  const path = [resolve(shimDir), ...extraPath.map((dir) => resolve(dir)), ...(process.env['PATH'] ?? '').split(':'), ...STANDARD_PATH.split(':')]
    .filter((part, index, all) => part !== '' && all.indexOf(part) === index)
    .join(':');
  // A clean environment: the shims inherit it, and a test runner's NODE_OPTIONS must not reach them.
  const environment: NodeJS.ProcessEnv = { PATH: path };
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('NODEWASM_') || key === 'LANG' || key === 'TZ') environment[key] = value;
  }
  return { ...environment, ...extra };
}

/**
 * Makes `dir` ready for a new instance. A folder left by an earlier run of ours (it has the marker
 * file) is reclaimed: its recorded containerd and anything still running from it are stopped,
 * mounts are undone and it is emptied. A non-empty folder without the marker is refused.
 */
async function reclaimDir(dir: string): Promise<void> {
  const entries = await listDir(dir);
  if (entries.length === 0) return;
  if (!entries.includes(MARKER)) {
    throw new Error(`${dir} is not empty and was not made by nodewasm; refusing to use it for a private containerd`);
  }
  const configPath = join(dir, 'config.toml');
  const socketDir = (await readFile(join(dir, 'socket-dir'), 'utf8').catch(() => dir)).trim();
  const pid = Number((await readFile(join(dir, 'containerd.pid'), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0 && (await readCmdline(pid))?.includes(configPath)) await terminate(pid, 10_000);
  for (const stale of await listPids()) {
    const cmdline = await readCmdline(stale);
    if (stale !== process.pid && cmdline !== undefined && (cmdline.includes(`${dir}/`) || cmdline.includes(`${socketDir}/`))) {
      signal(stale, 'SIGKILL');
    }
  }
  await unmountUnder([dir]);
  if ((await mountsUnder([dir])).length > 0) throw new Error(`cannot unmount everything under ${dir}`);
  await rm(dir, { recursive: true, force: true });
  if (socketDir !== dir) await rm(socketDir, { recursive: true, force: true });
}

async function tail(path: string, lines = 30): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/** Any containerd or shim on the machine that is not this instance's. */
async function othersUsingShimSockets(ours: { dir: string; socketDir: string; pids: number[] }): Promise<boolean> {
  for (const pid of await listPids()) {
    if (ours.pids.includes(pid) || pid === process.pid) continue;
    const cmdline = await readCmdline(pid);
    if (cmdline === undefined || cmdline.includes(`${ours.dir}/`) || cmdline.includes(`${ours.socketDir}/`)) continue;
    const program = cmdline.split(' ')[0] ?? '';
    if (/(^|\/)containerd$/.test(program) || cmdline.includes('containerd-shim')) return true;
  }
  return false;
}

export async function startPrivateContainerd(options: PrivateContainerdOptions): Promise<PrivateContainerd> {
  let dir: string;
  if (options.dir !== undefined) {
    dir = resolve(options.dir);
    await reclaimDir(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } else {
    dir = await mkdtemp(join(tmpdir(), 'nodewasm-containerd-'));
  }
  await writeFile(join(dir, MARKER), 'This folder belongs to a private containerd started by nodewasm.\n');

  let socketDir = dir;
  let ownSocketDir = false;
  if (join(dir, 'containerd.sock.ttrpc').length > MAX_SOCKET_PATH) {
    socketDir = await mkdtemp('/tmp/nwc-');
    ownSocketDir = true;
    await writeFile(join(dir, 'socket-dir'), socketDir);
  }
  const address = join(socketDir, 'containerd.sock');
  const ttrpcAddress = `${address}.ttrpc`;
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const fifoDir = join(dir, 'fifo');
  const configPath = join(dir, 'config.toml');
  const logPath = join(dir, 'containerd.log');
  const eventsLogPath = join(dir, 'events.log');
  const cri = options.cri ?? false;
  const cniBinDir = options.cniBinDir !== undefined ? resolve(options.cniBinDir) : join(dir, 'cni', 'bin');
  const cniConfDir = join(dir, 'cni', 'conf');
  const privateCniFolders = [cniConfDir, ...(options.cniBinDir === undefined ? [cniBinDir] : [])];
  for (const folder of [root, state, fifoDir, ...(cri ? privateCniFolders : [])]) {
    await mkdir(folder, { recursive: true, mode: 0o700 });
  }
  await writeFile(
    configPath,
    containerdConfig(
      { root, state, address, ttrpcAddress, cniBinDir, cniConfDir },
      {
        cri,
        version: options.configVersion ?? (await configVersionFor(options.containerdBinary ?? 'containerd')),
        debug: options.debug ?? false,
        ...(options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {}),
        ...(options.sandboxImage !== undefined ? { sandboxImage: options.sandboxImage } : {}),
      },
    ),
  );

  const shimSocketsAtStart = new Set(await listDir(SHIM_SOCKET_DIR));
  const othersAtStart = await othersUsingShimSockets({ dir, socketDir, pids: [] });

  const { child, exited, spawnError } = spawnContainerd(options, configPath, dir, logPath);

  const client = ctrClient(address, fifoDir, {
    ...(options.ctrBinary !== undefined ? { ctrBinary: options.ctrBinary } : {}),
    ...(options.snapshotter !== undefined ? { env: { CONTAINERD_SNAPSHOTTER: options.snapshotter } } : {}),
  });
  const pc: PrivateContainerd = {
    ...client,
    dir,
    address,
    ttrpcAddress,
    root,
    state,
    configPath,
    pid: child.pid ?? -1,
    logPath,
    eventsLogPath,
    snapshotter: options.snapshotter ?? 'overlayfs',
    cri,
    cniConfDir,
    stop: () => stopPrivateContainerd(pc),
    restart: (whileStopped) => restartPrivateContainerd(pc, whileStopped),
  };
  const internal: Internal = {
    options,
    child,
    exited,
    socketDir,
    ownSocketDir,
    shimSocketsAtStart,
    othersAtStart,
    stopped: false,
    leftoversAtStop: [],
    containers: new Map(),
  };
  internals.set(pc, internal);

  try {
    const failure = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    if (failure !== undefined || child.pid === undefined) throw failure ?? new Error('containerd did not start');
    await writeFile(join(dir, 'containerd.pid'), `${child.pid}\n`);
    await waitUntilReady(pc, internal, options.startTimeoutMs ?? 30_000);
    await startEventsRecorder(pc, internal, options);
    if (options.snapshotter === undefined) pc.snapshotter = await usableSnapshotter(pc);
    if (pc.snapshotter !== 'overlayfs') {
      Object.assign(pc, ctrClient(address, fifoDir, { ...(options.ctrBinary !== undefined ? { ctrBinary: options.ctrBinary } : {}), env: { CONTAINERD_SNAPSHOTTER: pc.snapshotter } }));
    }
    return pc;
  } catch (error) {
    const log = await tail(logPath);
    await pc.stop().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`private containerd failed to start: ${message}\n--- ${logPath} (last lines) ---\n${log}`, { cause: error });
  }
}

/** Starts containerd in its own process group, its output to the log file. */
function spawnContainerd(
  options: PrivateContainerdOptions,
  configPath: string,
  dir: string,
  logPath: string,
): { child: ChildProcess; exited: Promise<void>; spawnError: Promise<Error> } {
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // Its own process group: a Ctrl-C at the terminal reaches us, and we stop it in order.
    child = spawn(options.containerdBinary ?? 'containerd', ['--config', configPath], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: containerdEnvironment(options.shimDir, options.env, options.extraPath),
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<void>((resolvePromise) => {
    child.once('exit', () => resolvePromise());
    child.once('error', () => resolvePromise());
  });
  const spawnError = new Promise<Error>((resolvePromise) => child.once('error', resolvePromise));
  child.unref();
  return { child, exited, spawnError };
}

async function restartPrivateContainerd(pc: PrivateContainerd, whileStopped?: () => Promise<void>): Promise<void> {
  const internal = internals.get(pc);
  if (!internal || internal.stopped || internal.stopping) throw new Error('this private containerd is stopped');
  internal.child.ref();
  await terminate(pc.pid, 10_000);
  await internal.exited;
  if (internal.events?.pid !== undefined) await terminate(internal.events.pid, 2_000);
  await whileStopped?.();
  const { child, exited, spawnError } = spawnContainerd(internal.options, pc.configPath, pc.dir, pc.logPath);
  internal.child = child;
  internal.exited = exited;
  const failure = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
  if (failure !== undefined || child.pid === undefined) throw failure ?? new Error('containerd did not start again');
  pc.pid = child.pid;
  await writeFile(join(pc.dir, 'containerd.pid'), `${child.pid}\n`);
  await waitUntilReady(pc, internal, internal.options.startTimeoutMs ?? 30_000);
  await startEventsRecorder(pc, internal, internal.options);
}

async function waitUntilReady(pc: PrivateContainerd, internal: Internal, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: CtrResult | undefined;
  for (;;) {
    if (internal.child.exitCode !== null || internal.child.signalCode !== null) {
      throw new Error(`containerd exited (${internal.child.exitCode ?? internal.child.signalCode}) before it answered`);
    }
    if (await exists(pc.address)) {
      last = await pc.ctr(['version'], { timeoutMs: 5_000 });
      if (last.code === 0) return;
    }
    if (Date.now() > deadline) {
      throw new Error(`containerd did not answer "ctr version" within ${timeoutMs} ms${last ? `: ${last.stderr.trim()}` : ''}`);
    }
    await sleep(50);
  }
}

/**
 * Records every event with `ctr events`, which sees all namespaces: the container ids it names
 * give the exact shim socket names, cgroups and runc state paths to check for leftovers. Ready
 * when it has seen the creation of a probe namespace.
 */
async function startEventsRecorder(pc: PrivateContainerd, internal: Internal, options: PrivateContainerdOptions): Promise<void> {
  const fd = openSync(pc.eventsLogPath, 'a');
  try {
    internal.events = spawn(options.ctrBinary ?? 'ctr', ['--address', pc.address, 'events'], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  internal.events.on('error', () => undefined);
  internal.events.unref();
  const probe = `nodewasm-probe-${randomBytes(4).toString('hex')}`;
  const deadline = Date.now() + 10_000;
  await pc.ctr(['namespaces', 'create', probe]);
  while (!(await readFile(pc.eventsLogPath, 'utf8')).includes(probe)) {
    if (Date.now() > deadline) throw new Error('ctr events did not report the probe namespace');
    await sleep(20);
    // Subscribing may race the first create: poke again with a label change.
    await pc.ctr(['namespaces', 'label', probe, `probe=${Date.now()}`]);
  }
  await pc.ctr(['namespaces', 'remove', probe]);
}

async function usableSnapshotter(pc: PrivateContainerd): Promise<string> {
  const plugins = await pc.ctr(['plugins', 'ls']);
  const overlay = plugins.stdout.split('\n').find((line) => /^io\.containerd\.snapshotter\.v1\s+overlayfs\s/.test(line));
  return overlay !== undefined && /\sok\s*$/.test(overlay) ? 'overlayfs' : 'native';
}

async function readKnownContainers(pc: PrivateContainerd, internal: Internal): Promise<void> {
  const text = await readFile(pc.eventsLogPath, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    // "<date> <time> <zone> <zone> <namespace> <topic> <json>"
    const match = /^\S+ \S+ \S+ \S+ (\S+) (\/containers\/create|\/tasks\/create) (.*)$/.exec(line);
    if (match === null) continue;
    try {
      const event = JSON.parse(match[3]!) as { id?: string; container_id?: string };
      const id = event.id ?? event.container_id;
      if (id !== undefined) internal.containers.set(`${match[1]}/${id}`, { namespace: match[1]!, id });
    } catch {
      // a truncated last line
    }
  }
}

// ---------------------------------------------------------------------------------------------
// stop and leftovers

async function removeAllContainers(pc: PrivateContainerd): Promise<void> {
  const namespaces = await pc.ctr(['namespaces', 'ls', '-q'], { timeoutMs: 20_000 });
  for (const namespace of namespaces.stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
    const tasks = await pc.ctr(['tasks', 'ls', '-q'], { namespace, timeoutMs: 20_000 });
    for (const id of tasks.stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
      await pc.ctr(['tasks', 'rm', '-f', id], { namespace, timeoutMs: 30_000 });
    }
    const containers = await pc.ctr(['containers', 'ls', '-q'], { namespace, timeoutMs: 20_000 });
    const ids = containers.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
    if (ids.length > 0) await pc.ctr(['containers', 'rm', ...ids], { namespace, timeoutMs: 30_000 });
  }
}

async function stopPrivateContainerd(pc: PrivateContainerd): Promise<void> {
  const internal = internals.get(pc);
  if (internal === undefined) throw new Error('not a private containerd');
  internal.stopping ??= (async () => {
    const errors: string[] = [];
    if (await isAlive(pc.pid)) {
      await removeAllContainers(pc).catch((error: unknown) => errors.push(`removing containers: ${String(error)}`));
    }
    if (internal.events?.pid !== undefined) await terminate(internal.events.pid, 2_000);
    await readKnownContainers(pc, internal);
    // Referenced while we wait for its exit event: an unreferenced child alone does not keep the
    // event loop alive, and a caller with nothing else pending would end before the event came.
    internal.child.ref();
    if (pc.pid > 0) await terminate(pc.pid, 10_000);
    await internal.exited;

    internal.stopped = true;
    internal.leftoversAtStop = await scanLeftovers(pc, internal);
    await cleanUp(pc, internal);
    if (errors.length > 0) internal.leftoversAtStop.push(...errors.map((error) => `stop: ${error}`));
  })();
  return internal.stopping;
}

/** Removes by PID and path what a stop found left behind; the leak report keeps the record. */
async function cleanUp(pc: PrivateContainerd, internal: Internal): Promise<void> {
  const ours = await ourProcesses(pc, internal);
  for (const pid of ours.keys()) signal(pid, 'SIGKILL');
  for (const pid of ours.keys()) await waitForDeath(pid, 5_000);

  for (const container of internal.containers.values()) {
    for (const cgroup of await containerCgroups(container)) {
      const procs = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of procs.split('\n').filter(Boolean).map(Number)) signal(pid, 'SIGKILL');
    }
  }
  for (const container of internal.containers.values()) {
    for (const cgroup of (await containerCgroups(container)).sort((a, b) => b.length - a.length)) {
      await rmdir(cgroup).catch(() => undefined);
    }
    await rm(join(RUNC_SHIM_ROOT, container.namespace, container.id), { recursive: true, force: true });
  }
  for (const name of (await shimFilesOf(pc, internal)).keys()) await rm(join(SHIM_SOCKET_DIR, name), { force: true });

  const folders = internal.ownSocketDir ? [pc.dir, internal.socketDir] : [pc.dir];
  await unmountUnder(folders);
  const stillMounted = await mountsUnder(folders);
  if (stillMounted.length > 0) {
    // Never delete through a mount: it could be a bind of a host folder.
    throw new Error(`could not unmount ${stillMounted.map((mount) => mount.mountPoint).join(', ')}; left ${pc.dir} in place`);
  }
  await rm(pc.dir, { recursive: true, force: true });
  if (internal.ownSocketDir) await rm(internal.socketDir, { recursive: true, force: true });
}

/** Processes that belong to this instance: their command line names its socket or its folders. */
async function ourProcesses(pc: PrivateContainerd, internal: Internal): Promise<Map<number, string>> {
  const needles = [pc.address, `${pc.dir}/`, `${internal.socketDir}/`];
  const skip = new Set([process.pid, ...(internal.stopped ? [] : [pc.pid, internal.events?.pid ?? -1])]);
  const found = new Map<number, string>();
  for (const pid of await listPids()) {
    if (skip.has(pid)) continue;
    const cmdline = await readCmdline(pid);
    if (cmdline !== undefined && needles.some((needle) => cmdline.includes(needle))) found.set(pid, cmdline);
  }
  return found;
}

/** For each of the given paths, the processes that have it open. */
async function openFileHolders(paths: ReadonlySet<string>): Promise<Map<string, number[]>> {
  const holders = new Map<string, number[]>();
  for (const pid of await listPids()) {
    if (pid === process.pid) continue;
    for (const fd of await listDir(`/proc/${pid}/fd`)) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (paths.has(target)) holders.set(target, [...(holders.get(target) ?? []), pid]);
    }
  }
  return holders;
}

async function containerCgroups(container: KnownContainer): Promise<string[]> {
  const found: string[] = [];
  for (const root of await cgroupRoots()) {
    const direct = join(root, container.namespace, container.id);
    if (await exists(direct)) found.push(direct);
    else if (/^[0-9a-f]{64}$/.test(container.id)) await findDirectories(root, container.id, 4, found);
  }
  return found;
}

/**
 * This instance's files in /run/containerd/s, each with whose it is: the sockets of shim daemons
 * named after a container (runc's shim; a pod named after its sandbox container) or after the
 * default group of a namespace (nodewasm's standalone containers), with nodewasm's lock and
 * promise files beside them (src/shim/join-markers.ts).
 */
async function shimFilesOf(pc: PrivateContainerd, internal: Internal): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const container of internal.containers.values()) {
    owners.set(shimSocketName(pc.address, container.namespace, container.id), `${container.namespace}/${container.id}`);
    owners.set(shimSocketName(pc.address, container.namespace, DEFAULT_GROUP), `${container.namespace}, standalone containers' daemon`);
  }
  const found = new Map<string, string>();
  for (const name of await listDir(SHIM_SOCKET_DIR)) {
    const socket = /^[0-9a-f]{64}/.exec(name)?.[0];
    const owner = socket === undefined ? undefined : owners.get(socket);
    if (owner !== undefined && (name === socket || name === `${socket}.lock` || name.startsWith(`${socket}.join.`))) found.set(name, owner);
  }
  return found;
}

async function scanLeftovers(pc: PrivateContainerd, internal: Internal): Promise<string[]> {
  const leftovers: string[] = [];
  if (internal.stopped && (await isAlive(pc.pid)) && (await readCmdline(pc.pid))?.includes(pc.configPath)) {
    leftovers.push(`containerd ${pc.pid} is still running`);
  }

  for (const mount of await mountsUnder(internal.ownSocketDir ? [pc.dir, internal.socketDir] : [pc.dir])) {
    leftovers.push(`mount: ${mount.mountPoint} (${mount.fsType})`);
  }
  for (const [pid, cmdline] of await ourProcesses(pc, internal)) leftovers.push(`process ${pid}: ${cmdline}`);

  if (!internal.stopped) await readKnownContainers(pc, internal);
  const shimFiles = await shimFilesOf(pc, internal);
  const attributed = new Set(shimFiles.keys());
  for (const [name, owner] of shimFiles) leftovers.push(`shim socket: ${join(SHIM_SOCKET_DIR, name)} (${owner})`);
  for (const container of internal.containers.values()) {
    for (const cgroup of await containerCgroups(container)) {
      const procs = (await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      leftovers.push(`cgroup: ${cgroup}${procs.length > 0 ? ` (pids ${procs.join(' ')})` : ''}`);
    }
    const runcState = join(RUNC_SHIM_ROOT, container.namespace, container.id);
    if (await exists(runcState)) leftovers.push(`runc state: ${runcState}`);
    // nodewasm keeps runc's state under containerd's state directory (src/container/runc.ts).
    const nodewasmRuncState = join(pc.state, 'nodewasm-runc', container.namespace, container.id);
    if (await exists(nodewasmRuncState)) leftovers.push(`runc state: ${nodewasmRuncState}`);
  }
  // Sockets no container id explains: reported only while no other containerd or shim runs on
  // this machine (and none ran when we started), since theirs would look the same.
  if (!internal.othersAtStart && !(await othersUsingShimSockets({ dir: pc.dir, socketDir: internal.socketDir, pids: [pc.pid, internal.events?.pid ?? -1] }))) {
    for (const name of await listDir(SHIM_SOCKET_DIR)) {
      if (!internal.shimSocketsAtStart.has(name) && !attributed.has(name)) {
        leftovers.push(`shim socket (new since start, no known container): ${join(SHIM_SOCKET_DIR, name)}`);
      }
    }
  }

  const fifos = await walk(pc.fifoDir);
  if (fifos.length > 0) {
    // `ctr run -d` leaves its FIFOs behind by design (ctr 1.6 removes them only when it waits for
    // the task itself), so a FIFO file alone is not a leak; one still held open is.
    const holders = await openFileHolders(new Set(fifos));
    for (const [path, pids] of holders) leftovers.push(`fifo still open: ${path} (pids ${pids.join(' ')})`);
  }
  if (internal.stopped) {
    const bundles = join(pc.state, 'io.containerd.runtime.v2.task');
    for (const namespace of await listDir(bundles)) {
      for (const id of await listDir(join(bundles, namespace))) leftovers.push(`bundle: ${join(bundles, namespace, id)}`);
    }
  }
  return leftovers;
}

/**
 * What this containerd left behind. After `stop()`: what stop found (and then cleaned) plus
 * anything still present now. Before: the current state (running containers show up too).
 *
 * Checked: mounts under its folders; processes whose command line names its socket or folders
 * (shim daemons, runc, ctr); for every container id seen in its events, the shim socket
 * /run/containerd/s/sha256(<address>/<ns>/<id>), cgroups <ns>/<id> (or a 64-hex id anywhere a few
 * levels deep, for CRI cgroup parents) and runc-shim state /run/containerd/runc/<ns>/<id>; new
 * unexplained entries in /run/containerd/s when no other containerd uses it (heuristic);
 * FIFOs in its FIFO folder that some process still holds open (`ctr run -d` leaves closed ones by
 * design; stop() removes them); bundles left in its state folder after containerd stopped.
 * Polls for up to `settleMs` (default 3 s) while anything is found, since shims exit asynchronously.
 */
export async function findLeftovers(pc: PrivateContainerd, options: { settleMs?: number } = {}): Promise<string[]> {
  const internal = internals.get(pc);
  if (internal === undefined) throw new Error('not a private containerd');
  if (internal.stopping !== undefined) await internal.stopping.catch(() => undefined);
  // A shim exits a moment after containerd's last call to it: give transient things time to go.
  const deadline = Date.now() + (options.settleMs ?? 3_000);
  let now = await scanLeftovers(pc, internal);
  while (now.length > 0 && Date.now() < deadline) {
    await sleep(100);
    now = await scanLeftovers(pc, internal);
  }
  return [...new Set([...internal.leftoversAtStop, ...now])];
}
