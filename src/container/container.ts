import fs from 'node:fs';
import path from 'node:path';
import { ContainerError } from './errors.js';
import { imageRootPath, layoutDir, LayoutFile, readBundleSpec } from './bundle.js';
import { mountRootfs, unmountAll, type RootfsMount } from './rootfs.js';
import { lookupEntrypoint, resolveInRoot, DEFAULT_PATH } from './resolve-in-root.js';
import { classifyFile, type WorkloadKind } from './workload.js';
import { deriveRunnerSettings, deriveWasmSpec } from './derive-spec.js';
import { findRunnerFiles } from './runner-files.js';
import { ProcessStdio, type StdioPaths } from './stdio.js';
import { RuncRun, runcForceDelete, runcKill, runcRootForBundle, usesSystemdCgroup, type ExitResult, type RuncContext } from './runc.js';
import { specEnvValue, type OciSpec } from './spec.js';

export interface CreateContainerOptions {
  id: string;
  namespace: string;
  bundle: string;
  rootfs: readonly RootfsMount[];
  stdio: StdioPaths;
}

export interface StartedProcess {
  pid: number;
  exited: Promise<ExitResult>;
}

/**
 * One container: its rootfs, its runc bundle and its init process. Create prepares everything
 * but runs nothing; Start runs `runc run` in the foreground.
 */
export class Container {
  private runc: RuncRun | undefined;
  private pid = 0;
  private hasExited = false;
  private destroyed = false;

  private constructor(
    readonly id: string,
    readonly workload: WorkloadKind,
    private readonly bundle: string,
    private readonly runcBundle: string,
    private readonly runcContext: RuncContext,
    private readonly mountedRootfs: string | undefined,
    private readonly stdio: ProcessStdio,
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
      const entrypoint = lookupEntrypoint(imageRoot, args[0]!, searchPath, spec.process!.cwd);
      const workload = classifyFile(path.join(imageRoot, entrypoint), args[0]!);
      const stdio = new ProcessStdio(options.stdio);
      cleanups.push(() => stdio.close());
      const runcContext: RuncContext = {
        root: runcRootForBundle(bundle, options.namespace),
        systemdCgroup: usesSystemdCgroup(spec.linux?.cgroupsPath),
      };
      let runcBundle = bundle;
      if (workload.kind !== 'native') {
        await writeWasmBundle(layout, spec, imageRoot, entrypoint, workload);
        runcBundle = layout;
      }
      return new Container(id, workload, bundle, runcBundle, runcContext, mountedRootfs, stdio);
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

  get initPid(): number {
    return this.pid;
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
    return { pid: this.pid, exited: runc.exited };
  }

  async kill(signal: number, all: boolean): Promise<void> {
    if (!this.runc || this.pid === 0) throw new ContainerError('precondition', `container ${this.id} is not running`);
    if (all) {
      await runcKill(this.runcContext, this.id, signal, true).catch((err: unknown) => {
        throw new ContainerError('not-found', `container ${this.id}: ${(err as Error).message}`, { cause: err });
      });
      return;
    }
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') throw new ContainerError('not-found', `process ${this.pid} of container ${this.id} has already exited`);
      throw new ContainerError('internal', `signalling container ${this.id}: ${(err as Error).message}`, { cause: err });
    }
  }

  closeStdin(): void {
    this.stdio.closeStdin();
  }

  /** Removes every trace of the container: processes, runc state, mounts, files. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.runc && !this.hasExited) {
      await runcKill(this.runcContext, this.id, 9, true).catch(() => undefined);
      await Promise.race([this.runc.exited, delay(10_000)]);
    }
    await runcForceDelete(this.runcContext, this.id);
    this.stdio.close();
    if (this.mountedRootfs !== undefined) await unmountAll(this.mountedRootfs);
    fs.rmSync(layoutDir(this.bundle), { recursive: true, force: true });
  }
}

async function writeWasmBundle(layout: string, spec: OciSpec, imageRoot: string, entrypoint: string, workload: WorkloadKind): Promise<void> {
  const runnerFiles = await findRunnerFiles();
  const settingsFile = path.join(layout, LayoutFile.settings);
  const runcRoot = path.join(layout, LayoutFile.root);
  fs.mkdirSync(runcRoot, { mode: 0o755 });
  const kind = workload.kind === 'wasm-component' ? 'component' : 'module';
  fs.writeFileSync(settingsFile, JSON.stringify(deriveRunnerSettings({ userSpec: spec, kind, entrypoint })), { mode: 0o644 });
  const guestPathExists = (guestPath: string) => {
    try {
      resolveInRoot(imageRoot, guestPath);
      return true;
    } catch {
      return false;
    }
  };
  const derived = deriveWasmSpec({ userSpec: spec, imageRoot, runcRoot, settingsFile, runnerFiles, guestPathExists });
  fs.writeFileSync(path.join(layout, LayoutFile.config), JSON.stringify(derived), { mode: 0o600 });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The `delete` action's cleanup when the shim daemon is gone: kill what is left of the container,
 * forget it in runc, unmount the rootfs the shim mounted, and remove the shim's files.
 * Returns the pid the container had, when known.
 */
export async function cleanupAfterShim(bundle: string, namespace: string, id: string): Promise<{ pid: number }> {
  const layout = layoutDir(bundle);
  let pid = 0;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(layout, LayoutFile.initPid), 'utf8'), 10) || 0;
  } catch {
    // never started
  }
  let cgroupsPath: string | undefined;
  let rootPath = 'rootfs';
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
    cgroupsPath = spec.linux?.cgroupsPath;
    rootPath = spec.root?.path ?? rootPath;
  } catch {
    // the bundle's spec is gone: clean up what can be found without it
  }
  const ctx: RuncContext = { root: runcRootForBundle(bundle, namespace), systemdCgroup: usesSystemdCgroup(cgroupsPath) };
  await runcKill(ctx, id, 9, true).catch(() => undefined);
  await runcForceDelete(ctx, id);
  // Only the bundle's own rootfs directory is ever a mount of ours; a --rootfs DIR is the user's.
  const bundleRootfs = path.join(bundle, 'rootfs');
  if (path.resolve(bundle, rootPath) === bundleRootfs) await unmountAll(bundleRootfs).catch(() => undefined);
  fs.rmSync(layout, { recursive: true, force: true });
  return { pid };
}
