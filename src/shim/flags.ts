/** Names the fd on which the launcher waits for `start`'s answer (a pipe only the shim holds). */
export const REPLY_FD_ENV = 'NODEWASM_START_REPLY_FD';

/** What containerd asked the shim binary to do, read from its command line. */
export interface ShimInvocation {
  /** `info`: containerd 2.x's `-info`, which asks for the runtime's RuntimeInfo. */
  action: 'start' | 'delete' | 'daemon' | 'version' | 'info';
  namespace: string;
  /** containerd's gRPC socket (a plain path). */
  address: string;
  publishBinary: string;
  id: string;
  bundle: string | undefined;
  debug: boolean;
}

const VALUE_FLAGS: Record<string, keyof ShimInvocation> = {
  namespace: 'namespace',
  address: 'address',
  'publish-binary': 'publishBinary',
  id: 'id',
  bundle: 'bundle',
};

/**
 * Reads flags in any order, as `-x v`, `--x v`, `-x=v` or `--x=v`; containerd 2.3 reorders them
 * and may add some. The action is the last bare word; none means the daemon.
 */
export function parseShimArgs(argv: readonly string[]): ShimInvocation {
  const parsed: ShimInvocation = {
    action: 'daemon',
    namespace: '',
    address: '',
    publishBinary: '',
    id: '',
    bundle: undefined,
    debug: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      if (arg === 'start' || arg === 'delete') parsed.action = arg;
      else throw new Error(`unknown action "${arg}" (expected start or delete)`);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'v' || name === 'version') {
      parsed.action = 'version';
      continue;
    }
    if (name === 'info') {
      // A flag without a value: read as one taking a value, it would swallow the next argument.
      parsed.action = 'info';
      continue;
    }
    if (name === 'debug') {
      parsed.debug = eq >= 0 ? body.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const key = VALUE_FLAGS[name];
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`flag -${name} needs a value`);
    if (key !== undefined) (parsed as unknown as Record<string, string>)[key] = value;
    // Unknown flags from newer containerd versions carry a value and are ignored.
  }
  return parsed;
}

/** The command line a shim daemon is given: the same flags, no action, so `ps` shows them. */
export function daemonArgs(inv: ShimInvocation): string[] {
  const args = ['-namespace', inv.namespace, '-address', inv.address, '-publish-binary', inv.publishBinary, '-id', inv.id];
  if (inv.debug) args.push('-debug');
  return args;
}
