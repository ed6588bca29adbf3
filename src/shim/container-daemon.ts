/**
 * The daemon with the container layer wired in: the one place where the task layer and the way
 * containers are run meet.
 */
import { Container } from '../container/container.js';
import { runDaemon } from './daemon.js';
import { bundleLogger } from './log.js';
import type { ShimInvocation } from './flags.js';
import type { ClaimedSocket } from './start.js';
import type { RuntimeFactory, TaskRuntime } from './runtime.js';

/**
 * Containers run by runc, as the container layer does it: the one place the two layers meet.
 * `containerdAddress` is containerd's gRPC socket, where images' wasm layers are read from.
 */
export function containerRuntimes(containerdAddress: string): RuntimeFactory {
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
      return {
        start: () => container.start(),
        kill: (signal, all) => container.kill(signal, all),
        closeStdin: () => container.closeStdin(),
        destroy: () => container.destroy(),
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
  const log = bundleLogger(process.cwd(), { ns: inv.namespace }, inv.debug);
  await runDaemon({ invocation: inv, runtimes: containerRuntimes(inv.address), log, version, claimed });
}
