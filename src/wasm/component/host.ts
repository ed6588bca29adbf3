/**
 * Our WASI 0.2 host: the import object a transpiled component is instantiated with, keyed by
 * interface name without a version (see transpile-options.ts). Nothing here reads the runner's
 * own environment, arguments or filesystem: the guest gets exactly what the settings say.
 */
import { cliImports, processStdio, type CliConfig, type Stdio } from './cli.js';
import { clockImports } from './clocks-random.js';
import { GuestFilesystem } from './filesystem.js';
import { handleOutgoing } from './http-client.js';
import { httpTypeImports } from './http-types.js';
import { ioImports } from './io.js';

export interface ComponentHostConfig extends CliConfig {
  /** Host path of the guest's root, preopened as "/". */
  guestRoot: string;
}

export type ImportObject = Record<string, Record<string, unknown>>;

export interface ComponentHost {
  imports: ImportObject;
  filesystem: GuestFilesystem;
  stdio: Stdio;
}

export function componentHost(config: ComponentHostConfig): ComponentHost {
  const filesystem = new GuestFilesystem(config.guestRoot);
  const stdio = processStdio();
  const imports: ImportObject = {
    ...ioImports,
    ...cliImports(config, stdio),
    ...clockImports,
    ...filesystem.imports(),
    'wasi:http/types': httpTypeImports,
    'wasi:http/outgoing-handler': { handle: handleOutgoing },
  };
  return { imports, filesystem, stdio };
}
