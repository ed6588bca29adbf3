/**
 * The shim binary's entry. Every `ctr run` pays for `start` and `delete`, so each action loads
 * only its own modules: the daemon's (the task service, the container layer, pino) are imported
 * only by the daemon.
 */
import fs from 'node:fs';
import { daemonArgs, parseShimArgs, REPLY_FD_ENV, type ShimInvocation } from './flags.js';

export const SHIM_NAME = 'containerd-shim-nodewasm-v1';
declare const NODEWASM_VERSION: string | undefined;
const VERSION = typeof NODEWASM_VERSION === 'string' ? NODEWASM_VERSION : '0.0.0-dev';

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
    case 'info': {
      const { printRuntimeInfo } = await import('./info.js');
      printRuntimeInfo(VERSION);
      return;
    }
    case 'start': {
      const replyFd = Number(process.env[REPLY_FD_ENV]);
      if (!Number.isInteger(replyFd) || replyFd < 3) {
        throw new Error('start must be run through the launcher bin/containerd-shim-nodewasm-v1, which detaches it');
      }
      delete process.env[REPLY_FD_ENV];
      const { startOrJoin } = await import('./start.js');
      const claimed = await startOrJoin(inv, replyFd);
      if (claimed === 'joined') return;
      // From here on this process is the group's daemon, and `ps` shows it as one.
      setProcessTitle(daemonArgs(inv));
      const { runContainerDaemon } = await import('./container-daemon.js');
      await runContainerDaemon(inv, VERSION, claimed);
      return;
    }
    case 'delete': {
      const [{ runDelete }, { cleanupAfterShim }, { bundleLogger }] = await Promise.all([
        import('./delete.js'),
        import('../container/cleanup.js'),
        import('./log.js'),
      ]);
      const log = bundleLogger(inv.bundle ?? process.cwd(), { ns: inv.namespace, action: 'delete' }, inv.debug);
      await runDelete(inv, cleanupAfterShim, log);
      return;
    }
    case 'daemon': {
      // Run by hand, without an action: bind the group's socket here and serve.
      const [{ claimSocket }, { daemonSocketPath }] = await Promise.all([import('./start.js'), import('./group.js')]);
      const claimed = await claimSocket(daemonSocketPath(inv, process.cwd()), inv.id);
      if (claimed === 'joined') throw new Error('a live daemon already serves this group');
      const { runContainerDaemon } = await import('./container-daemon.js');
      await runContainerDaemon(inv, VERSION, claimed);
      return;
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // For start and delete, containerd shows this text as the failure.
  process.stderr.write(`${SHIM_NAME}: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
