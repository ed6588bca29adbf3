/**
 * The daemon with the container layer wired in: the one place where the task layer and the way
 * containers are run meet.
 */
import { Container } from '../container/container.js';
import { runDaemon } from './daemon.js';
import { BundleLogs, logsLogger } from './log.js';
import type { ShimInvocation } from './flags.js';
import type { ClaimedSocket } from './start.js';
import type { RuntimeFactory, TaskRuntime } from './runtime.js';

/**
 * Containers run by runc, as the container layer does it: the one place the two layers meet.
 * `containerdAddress` is containerd's gRPC socket, where images' wasm layers are read from; each
 * task's bundle joins `logs` while the task exists.
 */
export function containerRuntimes(containerdAddress: string, logs: BundleLogs): RuntimeFactory {
  return {
    async create(request, hooks): Promise<TaskRuntime> {
      const container = await Container.create({
        id: request.id,
        namespace: request.namespace,
        bundle: request.bundle,
        rootfs: request.rootfs,
        stdio: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
        onOomKill: hooks.onOomKill,
        ...(containerdAddress !== '' ? { containerdAddress } : {}),
      });
      logs.add(request.bundle);
      return {
        start: () => container.start(),
        kill: (signal, all) => container.kill(signal, all),
        closeStdin: () => container.closeStdin(),
        destroy: async () => {
          await container.destroy();
          logs.remove(request.bundle);
        },
        pause: () => container.pause(),
        resume: () => container.resume(),
        stats: () => container.stats(),
        pids: () => container.pids(),
        update: (resources) => container.update(resources),
        exec: (execId, exec) =>
          container.exec(execId, {
            processJson: exec.processJson,
            stdio: { stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr, terminal: exec.terminal },
          }),
      };
    },
  };
}

export async function runContainerDaemon(inv: ShimInvocation, version: string, claimed: ClaimedSocket): Promise<void> {
  // Started in the first task's bundle, which containerd removes while others of the group may
  // still run: nothing may depend on the working directory afterwards.
  const bundle = process.cwd();
  process.chdir('/');
  const logs = new BundleLogs();
  logs.add(bundle);
  const log = logsLogger(logs, { ns: inv.namespace }, inv.debug);
  await runDaemon({ invocation: inv, runtimes: containerRuntimes(inv.address, logs), log, version, claimed, bundle });
}
