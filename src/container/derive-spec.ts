import path from 'node:path';
import type { ComponentSettings, RunnerSettings } from '../wasm/settings.js';
import { compileFromEnv, withoutCompileVariable } from './compile-settings.js';
import { httpSettingsFromEnv, withoutRunnerVariables } from './http-settings.js';
import type { OciMount, OciProcess, OciSpec } from './spec.js';
import type { RunnerFiles } from './runner-files.js';

/**
 * Layout of a wasm container's root as runc sees it. The root itself is a small directory the
 * shim owns; the guest's world (image rootfs + the user's mounts) is one subtree of it, and that
 * subtree is all the runner preopens as the guest's "/". /proc, /dev and /sys stay outside it.
 */
export const WasmLayout = {
  guestRoot: '/guest',
  runnerDir: '/.nodewasm',
  tini: '/.nodewasm/tini',
  loader: '/.nodewasm/ld.so',
  libraryDir: '/.nodewasm/lib',
  node: '/.nodewasm/node',
  runner: '/.nodewasm/runner.mjs',
  runnerComponent: '/.nodewasm/runner-component.mjs',
  /** One settings file per process: init.json, and exec-<id>.json for each exec. */
  settingsDir: '/.nodewasm/settings',
  /** A component's transpiled code, from the node's component cache. */
  component: '/.nodewasm/component',
} as const;

/** The settings file of the init process, or of an exec, as the runner sees it. */
export function settingsPathInContainer(fileName: string): string {
  return `${WasmLayout.settingsDir}/${fileName}`;
}

export interface WasmSpecInputs {
  userSpec: OciSpec;
  /** Absolute host path of the image's root filesystem (mounted or given with --rootfs). */
  imageRoot: string;
  /** Absolute host path of the directory that becomes runc's root. */
  runcRoot: string;
  /** Host directory of the runner's settings files (init's is written as INIT_SETTINGS). */
  settingsDir: string;
  runnerFiles: RunnerFiles;
  /** Whether a guest path exists in the image root (decides which filesystem mounts apply). */
  guestPathExists(guestPath: string): boolean;
  /** Host directory of the component's transpiled code (component entrypoints only). */
  componentDir?: string;
}

const READ_ONLY_BIND = ['bind', 'ro', 'nosuid', 'nodev', 'rprivate'];

/** Whether a mount belongs to the container's system view, which the guest never sees. */
export function isSystemMount(destination: string): boolean {
  return ['/proc', '/dev', '/sys'].some((dir) => destination === dir || destination.startsWith(`${dir}/`));
}

/**
 * Writes the spec runc runs for a wasm container: the user's namespaces, cgroups, resources,
 * user, capabilities, seccomp and rlimits unchanged; the process replaced by the runner under
 * tini; the guest's world moved under WasmLayout.guestRoot; the runner's files mounted read-only.
 */
export function deriveWasmSpec(inputs: WasmSpecInputs): OciSpec {
  const user = inputs.userSpec;
  const spec = structuredClone(user);
  const mounts: OciMount[] = [];
  for (const m of user.mounts ?? []) {
    if (!isSystemMount(m.destination)) continue;
    mounts.push(m.type === 'proc' ? { ...m, options: withOption(m.options, 'ro') } : m);
  }
  mounts.push({
    destination: WasmLayout.guestRoot,
    type: 'bind',
    source: inputs.imageRoot,
    options: ['rbind', 'rprivate', user.root?.readonly ? 'ro' : 'rw'],
  });
  for (const m of user.mounts ?? []) {
    if (isSystemMount(m.destination)) continue;
    // A filesystem mount (ctr's /run tmpfs) over a directory the image does not have would make
    // runc create it in the user's rootfs; a wasm guest that has no such directory never uses it.
    if (!isBindMount(m) && !inputs.guestPathExists(m.destination)) continue;
    mounts.push({ ...m, destination: path.posix.join(WasmLayout.guestRoot, m.destination) });
  }
  const files = inputs.runnerFiles;
  const binds: Array<[string, string]> = [
    [files.tini, WasmLayout.tini],
    [files.loader, WasmLayout.loader],
    [files.node, WasmLayout.node],
    [files.runner, WasmLayout.runner],
    [files.runnerComponent, WasmLayout.runnerComponent],
    // A directory, so that settings written later for exec processes show up in the container.
    [inputs.settingsDir, WasmLayout.settingsDir],
    ...[...files.libraries].map(([name, source]): [string, string] => [source, `${WasmLayout.libraryDir}/${name}`]),
  ];
  if (inputs.componentDir !== undefined) binds.push([inputs.componentDir, WasmLayout.component]);
  for (const [source, destination] of binds) {
    mounts.push({ destination, type: 'bind', source, options: READ_ONLY_BIND });
  }
  spec.mounts = mounts;
  spec.root = { path: inputs.runcRoot, readonly: true };
  spec.process = {
    ...structuredClone(user.process!),
    args: [WasmLayout.tini, '-s', '-g', '--', ...runnerCommand(INIT_SETTINGS)],
    // tini's warnings (a signal runc forwards as the runner exits) would land on the guest's
    // stderr; its fatal errors still print. The guest never sees the runner's environment.
    env: ['TINI_VERBOSITY=0'],
    cwd: '/',
  };
  return spec;
}

export const INIT_SETTINGS = 'init.json';

/**
 * The loader starting the pinned Node on the runner, outside the image's /lib. The init process
 * runs it under tini (PID 1); an exec runs it directly, since it is not PID 1.
 */
export function runnerCommand(settingsFile: string): string[] {
  return [
    WasmLayout.loader, '--library-path', WasmLayout.libraryDir,
    WasmLayout.node, '--no-warnings', WasmLayout.runner, settingsPathInContainer(settingsFile),
  ];
}

export interface RunnerSettingsInputs {
  userSpec: OciSpec;
  /** The process to run: the spec's own, or an exec's. */
  process?: OciProcess;
  kind: RunnerSettings['kind'];
  /** The entrypoint's resolved guest path. */
  entrypoint: string;
  /** For a component: the world its transpiled code runs. */
  componentWorld?: ComponentSettings['world'];
  /** Where the runner finds that code; the init's is mounted at WasmLayout.component. */
  componentDir?: string;
}

/**
 * The runner's settings. A component's guest does not see the runner's NODEWASM_HTTP_* variables:
 * they configure the wasi:http server (see http-settings.ts); no guest sees NODEWASM_WASM_COMPILE
 * (see compile-settings.ts).
 */
export function deriveRunnerSettings(inputs: RunnerSettingsInputs): RunnerSettings {
  const process = inputs.process ?? inputs.userSpec.process!;
  const memoryLimit = inputs.userSpec.linux?.resources?.memory?.limit;
  const env = process.env ?? [];
  const settings: RunnerSettings = {
    version: 1,
    kind: inputs.kind,
    guestRoot: WasmLayout.guestRoot,
    entrypoint: inputs.entrypoint,
    args: process.args ?? [],
    env: withoutCompileVariable(inputs.kind === 'component' ? withoutRunnerVariables(env) : env),
    cwd: process.cwd || '/',
  };
  const compile = compileFromEnv(env);
  if (compile !== 'auto') settings.compile = compile;
  if (memoryLimit !== undefined && memoryLimit > 0) settings.memoryLimitBytes = memoryLimit;
  if (inputs.componentWorld !== undefined) settings.component = { dir: inputs.componentDir ?? WasmLayout.component, world: inputs.componentWorld };
  if (inputs.componentWorld === 'http') settings.http = httpSettingsFromEnv(env);
  return settings;
}

function isBindMount(m: OciMount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function withOption(options: string[] | undefined, option: string): string[] {
  const kept = (options ?? []).filter((o) => o !== 'rw' && o !== option);
  return [...kept, option];
}
