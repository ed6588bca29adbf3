import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseShimArgs, type ShimInvocation } from './flags.js';
import { bundleLogger } from './log.js';
import { runStart } from './start.js';
import { runDelete } from './delete.js';
import { runDaemon } from './daemon.js';
import { printRuntimeInfo } from './info.js';
import { Container, cleanupAfterShim } from '../container/index.js';
import type { RuntimeFactory, TaskRuntime } from './runtime.js';

export const SHIM_NAME = 'containerd-shim-nodewasm-v1';
declare const NODEWASM_VERSION: string | undefined;
const VERSION = typeof NODEWASM_VERSION === 'string' ? NODEWASM_VERSION : '0.0.0-dev';

/** Containers run by runc, as the container layer does it: the one place the two layers meet. */
const containerRuntimes: RuntimeFactory = {
  async create(request, hooks): Promise<TaskRuntime> {
    const container = await Container.create({
      id: request.id,
      namespace: request.namespace,
      bundle: request.bundle,
      rootfs: request.rootfs,
      stdio: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
      onOomKill: hooks.onOomKill,
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

/** In `ps`, every shim process shows the shim's name and containerd's flags, as Go shims do. */
function setProcessTitle(argv: readonly string[]): void {
  try {
    process.title = [SHIM_NAME, ...argv].join(' ');
  } catch {
    // a title longer than the original command line cannot be set; the real one stays
  }
}

async function main(argv: string[]): Promise<void> {
  let inv: ShimInvocation;
  try {
    inv = parseShimArgs(argv);
  } catch (err) {
    process.stderr.write(`${SHIM_NAME}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  setProcessTitle(argv);
  switch (inv.action) {
    case 'version':
      fs.writeSync(1, `${SHIM_NAME}:\n  Version: ${VERSION}\n  Runtime: node ${process.version}\n`);
      return;
    case 'info':
      printRuntimeInfo(VERSION);
      return;
    case 'start':
      await runStart(inv, fileURLToPath(import.meta.url));
      return;
    case 'delete': {
      const log = bundleLogger(inv.bundle ?? process.cwd(), { ns: inv.namespace, action: 'delete' }, inv.debug);
      await runDelete(inv, cleanupAfterShim, log);
      return;
    }
    case 'daemon': {
      const log = bundleLogger(process.cwd(), { ns: inv.namespace }, inv.debug);
      await runDaemon({ invocation: inv, runtimes: containerRuntimes, log, version: VERSION });
      return;
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // For start and delete, containerd shows this text as the failure.
  process.stderr.write(`${SHIM_NAME}: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
