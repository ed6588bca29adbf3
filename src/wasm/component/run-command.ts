/**
 * wasi:cli/run: one instance, `run` called once. Exit status: the code given to wasi:cli/exit
 * (exit(ok) is 0, exit(err) is 1, exit-with-code passes its code), 0 when run returns ok, 1 when
 * it returns err; a trap or a failure of the host is RunnerExit.trap with the reason on stderr.
 */
import { RunnerExit } from '../settings.js';
import { GuestExit } from './cli.js';
import type { ComponentHost } from './host.js';
import { findExport, type LoadedComponent } from './load.js';

export type Say = (line: string) => void;

export function describeFailure(e: unknown): string {
  if (e instanceof Error) return e instanceof RangeError && e.message.includes('call stack') ? 'wasm trap: call stack exhausted' : e.message;
  return String(e);
}

export async function runCommand(component: LoadedComponent, host: ComponentHost, say: Say): Promise<number> {
  try {
    const exports = await component.instantiate(host.imports);
    const run = findExport(exports, 'wasi:cli/run')?.['run'];
    if (run === undefined) {
      say('the component does not export wasi:cli/run');
      return RunnerExit.cannotExecute;
    }
    await run();
    return 0;
  } catch (e) {
    if (e instanceof GuestExit) return e.code;
    // jco reports run's err result as a ComponentError carrying a payload: the guest failed.
    if (e instanceof Error && Object.hasOwn(e, 'payload')) return 1;
    say(describeFailure(e).startsWith('wasm trap') ? describeFailure(e) : `wasm trap: ${describeFailure(e)}`);
    return RunnerExit.trap;
  } finally {
    host.filesystem.closeAll();
  }
}
