import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';
import { imageRootPath, layoutDir, LayoutFile, readBundleSpec } from './bundle.js';
import { mountRootfs, unmountAll, type RootfsMount } from './rootfs.js';
import { lookupEntrypoint, resolveInRoot, DEFAULT_PATH } from './resolve-in-root.js';
import { classifyFile, type WorkloadKind } from './workload.js';
import { deriveRunnerSettings, deriveWasmSpec, INIT_SETTINGS, runnerCommand, settingsPathInContainer } from './derive-spec.js';
import { findRunnerFiles } from './runner-files.js';
import type { PreparedComponent } from './component-cache.js';
import { ProcessStdio, type StdioPaths } from './stdio.js';
import { RuncRun, runcForceDelete, runcKill, runcPause, runcResume, runcRootForBundle, usesSystemdCgroup, type RuncContext } from './runc.js';
import { specEnvValue, type OciProcess, type OciSpec } from './spec.js';
import { cgroupOfPid, listPids, OomWatcher, readMetrics, type Cgroup, type MetricsAny } from './cgroup.js';
import { parseLinuxResourcesAny, type AnyMessage } from './cgroup-resources.js';
import { runcUpdate } from './runc-update.js';
import { checkMemoryLimit } from './memory-floor.js';
import { ExecProcess, signalPid, type StartedProcess } from './exec-process.js';

export type { StartedProcess } from './exec-process.js';

const SIGKILL = 9;

export interface CreateContainerOptions {
  id: string;
  namespace: string;
  bundle: string;
  rootfs: readonly RootfsMount[];
  stdio: StdioPaths;
  /** Called when the OOM killer kills a process of the container (before its exit is reported). */
  onOomKill?: () => void;
  /**
   * containerd's gRPC socket: where a container whose program is not in its rootfs (a wasm
   * artifact image) has its wasm layers read from.
   */
  containerdAddress?: string;
}

/** What Exec asks for: the OCI process (JSON, as containerd sends it) and its stdio. */
export interface ExecOptions {
  processJson: Uint8Array;
  stdio: StdioPaths;
}

/**
 * One container: its rootfs, its runc bundle and its init process. Create prepares everything
 * but runs nothing; Start runs `runc run --detach` under the reaper (see RuncRun).
 */
export class Container {
  private runc: RuncRun | undefined;
  private pid = 0;
  private hasExited = false;
  private destroyed = false;
  private cgroup: Cgroup | undefined;
  private oomWatcher: OomWatcher | undefined;
  /** A SIGKILL we sent explains a 137: the OOM watcher must not guess an OOM kill from it. */
  private sentSigkill = false;
  /** The `runc delete` started when the init exited. */
  private runcDeleted: Promise<void> | undefined;

  private constructor(
    readonly id: string,
    readonly workload: WorkloadKind,
    private readonly bundle: string,
    private readonly spec: OciSpec,
    private readonly imageRoot: string,
    private readonly runcBundle: string,
    private readonly runcContext: RuncContext,
    private readonly mountedRootfs: string | undefined,
    private readonly stdio: ProcessStdio,
    private readonly namespace: string,
    private readonly onOomKill: (() => void) | undefined,
  ) {}

  static async create(options: CreateContainerOptions): Promise<Container> {
    const { bundle, id } = options;
    const spec = readBundleSpec(bundle);
    const layout = layoutDir(bundle);
    const cleanups: Array<() => Promise<void> | void> = [];
    try {
      fs.mkdirSync(layout, { recursive: true, mode: 0o711 });
      cleanups.push(() => fs.rmSync(layout, { recursive: true, force: true }));
      const imageRoot = imageRootPath(bundle, spec);
      let mountedRootfs: string | undefined;
      if (options.rootfs.length > 0) {
        await mountRootfs(options.rootfs, imageRoot);
        mountedRootfs = imageRoot;
        cleanups.push(() => unmountAll(imageRoot));
      }
      const args = spec.process!.args!;
      const searchPath = specEnvValue(spec.process!.env, 'PATH') ?? DEFAULT_PATH;
      let entrypoint: string;
      try {
        entrypoint = lookupEntrypoint(imageRoot, args[0]!, searchPath, spec.process!.cwd);
      } catch (err) {
        const fromLayers = await entrypointFromWasmLayers(err, options, imageRoot, args[0]!);
        if (fromLayers === undefined) throw err;
        entrypoint = fromLayers;
      }
      const workload = classifyFile(path.join(imageRoot, entrypoint), args[0]!);
      const runcContext: RuncContext = {
        root: runcRootForBundle(bundle, options.namespace),
        systemdCgroup: usesSystemdCgroup(spec.linux?.cgroupsPath),
      };
      let runcBundle = bundle;
      if (workload.kind !== 'native') {
        // The Node runtime needs its floor before the guest gets any memory at all.
        checkMemoryLimit(spec.linux?.resources?.memory?.limit);
        // A component is transpiled (or found in the node's cache) now, so that an invalid one is
        // a Create error that ctr shows. That module (and node:crypto with it) is loaded only
        // for components, as the artifact form's below: a daemon serving core modules never does.
        const component = workload.kind === 'wasm-component' ? await (await import('./component-cache.js')).prepareComponent(path.join(imageRoot, entrypoint), args[0]!) : undefined;
        await writeWasmBundle(layout, spec, imageRoot, entrypoint, component);
        runcBundle = layout;
      }
      // Last: a binary:// logger is started only for a container that passed every check.
      const stdio = await ProcessStdio.open(options.stdio, { containerId: id, namespace: options.namespace });
      cleanups.push(() => stdio.close());
      return new Container(id, workload, bundle, spec, imageRoot, runcBundle, runcContext, mountedRootfs, stdio, options.namespace, options.onOomKill);
    } catch (err) {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch {
          // keep undoing the rest
        }
      }
      throw err;
    }
  }

  async start(): Promise<StartedProcess> {
    if (this.runc) throw new ContainerError('precondition', `container ${this.id} was already started`);
    const layout = layoutDir(this.bundle);
    const runc = RuncRun.start({
      ctx: this.runcContext,
      id: this.id,
      bundle: this.runcBundle,
      pidFile: path.join(layout, LayoutFile.initPid),
      logFile: path.join(layout, LayoutFile.runcLog),
      stdio: this.stdio.spawnStdio,
    });
    this.runc = runc;
    void runc.exited.then(() => {
      this.hasExited = true;
    });
    this.stdio.attach(runc.process);
    this.pid = await runc.waitForPid();
    this.watchCgroup();
    // TaskOOM must come before TaskExit: the last OOM reading happens before the exit is passed on.
    const exited = runc.exited.then((exit) => {
      if (this.sentSigkill) this.oomWatcher?.stop();
      else this.oomWatcher?.exit(exit.status);
      // runc run --detach leaves the stopped container to delete: start now, while containerd
      // reads the exit, so that Delete does not wait for a runc process (what a foreground runc
      // did at exit: kill what is left, remove the cgroup).
      this.runcDeleted = runcForceDelete(this.runcContext, this.id);
      return exit;
    });
    return { pid: this.pid, exited };
  }

  private watchCgroup(): void {
    try {
      this.cgroup = cgroupOfPid(this.pid);
    } catch {
      // Already gone (a guest that exits at once): nothing to measure or watch.
      return;
    }
    if (this.onOomKill) {
      const onOomKill = this.onOomKill;
      this.oomWatcher = new OomWatcher(this.cgroup, () => onOomKill()).start();
    }
  }

  /** The container's cgroup metrics, as the Any that Stats returns. */
  stats(): MetricsAny {
    return readMetrics(this.requireCgroup());
  }

  /** Every process of the container, as host pids. */
  pids(): number[] {
    return listPids(this.requireCgroup());
  }

  /** Applies new resource limits (Update's LinuxResources, JSON in an Any) through runc. */
  async update(resources: AnyMessage | undefined): Promise<void> {
    const parsed = parseLinuxResourcesAny(resources);
    if (this.workload.kind !== 'native') checkMemoryLimit(parsed.memory?.limit);
    if (!this.runc || this.hasExited) throw new ContainerError('precondition', `container ${this.id} is not running`);
    await runcUpdate(this.runcContext, this.id, parsed);
  }

  private requireCgroup(): Cgroup {
    if (!this.cgroup || this.hasExited) throw new ContainerError('not-found', `container ${this.id} is not running`);
    return this.cgroup;
  }

  async kill(signal: number, all: boolean): Promise<void> {
    if (!this.runc || this.pid === 0) throw new ContainerError('precondition', `container ${this.id} is not running`);
    if (signal === SIGKILL) this.sentSigkill = true;
    if (all) {
      await runcKill(this.runcContext, this.id, signal, true).catch((err: unknown) => {
        throw new ContainerError('not-found', `container ${this.id}: ${(err as Error).message}`, { cause: err });
      });
      return;
    }
    if (this.hasExited) throw new ContainerError('not-found', `container ${this.id} has already exited`);
    signalPid(this.pid, signal, `container ${this.id}`);
  }

  async pause(): Promise<void> {
    await runcPause(this.runcContext, this.id).catch((err: unknown) => {
      throw new ContainerError('precondition', `pausing container ${this.id}: ${(err as Error).message}`, { cause: err });
    });
  }

  async resume(): Promise<void> {
    await runcResume(this.runcContext, this.id).catch((err: unknown) => {
      throw new ContainerError('precondition', `resuming container ${this.id}: ${(err as Error).message}`, { cause: err });
    });
  }

  /**
   * Prepares a second process in this container. In a wasm container it must be wasm too: the
   * runner runs it with settings of its own; a native container runs the process as given.
   */
  async exec(execId: string, options: ExecOptions): Promise<ExecProcess> {
    const requested = parseProcess(options.processJson);
    const layout = layoutDir(this.bundle);
    if (this.workload.kind === 'native') {
      return ExecProcess.prepare({ execId, containerId: this.id, namespace: this.namespace, layout, runcContext: this.runcContext, process: requested, stdio: options.stdio, extraFiles: [] });
    }
    const arg0 = requested.args![0]!;
    const searchPath = specEnvValue(requested.env, 'PATH') ?? specEnvValue(this.spec.process!.env, 'PATH') ?? DEFAULT_PATH;
    const entrypoint = lookupEntrypoint(this.imageRoot, arg0, searchPath, requested.cwd || '/');
    const workload = classifyFile(path.join(this.imageRoot, entrypoint), arg0);
    if (workload.kind === 'native') {
      throw new ContainerError('invalid', `exec "${arg0}": a native program cannot run in a WebAssembly container; exec a .wasm module`);
    }
    const settingsDir = path.join(layout, LayoutFile.settings);
    const settingsName = LayoutFile.execSettings(execId);
    const files = [path.join(settingsDir, settingsName)];
    try {
      let component: { world: PreparedComponent['world']; dir: string } | undefined;
      if (workload.kind === 'wasm-component') {
        // A mount cannot be added to a running container, but the settings folder is a bind mount
        // of a host folder, so what is written there now appears inside: the exec's transpiled
        // code (from the node's cache, transpiled now if it is not there yet) goes beside its
        // settings, read-only for the runner like them.
        const prepared = await (await import('./component-cache.js')).prepareComponent(path.join(this.imageRoot, entrypoint), arg0);
        const codeName = LayoutFile.execComponent(execId);
        files.push(path.join(settingsDir, codeName));
        fs.cpSync(prepared.dir, files[1]!, { recursive: true });
        component = { world: prepared.world, dir: settingsPathInContainer(codeName) };
      }
      const settings = deriveRunnerSettings({
        userSpec: this.spec,
        process: requested,
        kind: component ? 'component' : 'module',
        entrypoint,
        componentWorld: component?.world,
        componentDir: component?.dir,
      });
      fs.writeFileSync(files[0]!, JSON.stringify(settings), { mode: 0o644 });
      // The exec keeps the requested user, capabilities and limits; only what runs changes.
      const runnerProcess: OciProcess = { ...requested, terminal: false, args: runnerCommand(settingsName), env: [], cwd: '/' };
      return await ExecProcess.prepare({ execId, containerId: this.id, namespace: this.namespace, layout, runcContext: this.runcContext, process: runnerProcess, stdio: options.stdio, extraFiles: files });
    } catch (err) {
      for (const file of files) fs.rmSync(file, { recursive: true, force: true });
      throw err;
    }
  }

  closeStdin(): void {
    this.stdio.closeStdin();
  }

  /** Removes every trace of the container: processes, runc state, mounts, files. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.oomWatcher?.stop();
    if (this.runc && !this.hasExited) {
      this.sentSigkill = true;
      await runcKill(this.runcContext, this.id, SIGKILL, true).catch(() => undefined);
      await Promise.race([this.runc.exited, delay(10_000)]);
    }
    await (this.runcDeleted ?? runcForceDelete(this.runcContext, this.id));
    await this.stdio.close();
    if (this.mountedRootfs !== undefined) await unmountAll(this.mountedRootfs);
    fs.rmSync(layoutDir(this.bundle), { recursive: true, force: true });
  }
}

function parseProcess(json: Uint8Array): OciProcess {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(json).toString('utf8'));
  } catch (err) {
    throw new ContainerError('invalid', `the exec's process spec is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const process = value as OciProcess;
  if (typeof process !== 'object' || process === null || !Array.isArray(process.args) || !process.args[0]) {
    throw new ContainerError('invalid', 'the exec\'s process has no args: give the program to run');
  }
  if (process.terminal) {
    throw new ContainerError('unsupported', 'a terminal (-t) is not supported by nodewasm: exec without -t');
  }
  return process;
}

/**
 * When the entrypoint is missing from a snapshot rootfs, the image may keep its wasm in raw layers
 * that containerd did not unpack (the wasm artifact form): they are read from containerd's
 * content store and written into the rootfs. Undefined when the image has none.
 */
async function entrypointFromWasmLayers(notFound: unknown, options: CreateContainerOptions, imageRoot: string, arg0: string): Promise<string | undefined> {
  if (!(notFound instanceof ContainerError) || notFound.kind !== 'not-found') return undefined;
  if (options.containerdAddress === undefined || options.rootfs.length === 0) return undefined;
  const [{ containerdImageSource }, { materialiseWasmLayers }] = await Promise.all([import('../containerd/image-source.js'), import('./wasm-artifact.js')]);
  const source = containerdImageSource(options.containerdAddress, options.namespace);
  try {
    return await materialiseWasmLayers(source, options.id, imageRoot, arg0);
  } catch (err) {
    if (err instanceof ContainerError) throw err;
    // containerd could not be asked: the missing entrypoint stays the error the user reads.
    throw new ContainerError('not-found', `${notFound.message} (nor could the image's wasm layers be read from containerd: ${(err as Error).message})`, { cause: err });
  } finally {
    source.close();
  }
}

async function writeWasmBundle(layout: string, spec: OciSpec, imageRoot: string, entrypoint: string, component: PreparedComponent | undefined): Promise<void> {
  const runnerFiles = await findRunnerFiles();
  const settingsDir = path.join(layout, LayoutFile.settings);
  const runcRoot = path.join(layout, LayoutFile.root);
  fs.mkdirSync(runcRoot, { mode: 0o755 });
  fs.mkdirSync(settingsDir, { mode: 0o755 });
  const kind = component ? 'component' : 'module';
  const settings = deriveRunnerSettings({ userSpec: spec, kind, entrypoint, componentWorld: component?.world });
  fs.writeFileSync(path.join(settingsDir, INIT_SETTINGS), JSON.stringify(settings), { mode: 0o644 });
  const guestPathExists = (guestPath: string) => {
    try {
      resolveInRoot(imageRoot, guestPath);
      return true;
    } catch {
      return false;
    }
  };
  const derived = deriveWasmSpec({ userSpec: spec, imageRoot, runcRoot, settingsDir, runnerFiles, guestPathExists, componentDir: component?.dir });
  fs.writeFileSync(path.join(layout, LayoutFile.config), JSON.stringify(derived), { mode: 0o600 });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
