/**
 * The runner's component path: load the transpiled component the shim mounted, build our WASI 0.2
 * host from the settings, then run the command or serve HTTP.
 */
import { MemoryCapError } from '../memory-cap.js';
import { RunnerExit, type RunnerSettings } from '../settings.js';
import { componentHost } from './host.js';
import { freshInstanceHandler, serveHttp, type RequestHandler } from './http-server.js';
import { fastHandler } from './fast/instance-pool.js';
import type { ComponentHost } from './host.js';
import { loadComponent, type LoadedComponent } from './load.js';
import { describeFailure, runCommand, type Say } from './run-command.js';

export async function runComponent(settings: RunnerSettings, say: Say): Promise<number> {
  const entry = settings.entrypoint;
  const component = settings.component;
  if (component === undefined) {
    say(`${entry}: the shim gave no transpiled component to run`);
    return RunnerExit.cannotExecute;
  }
  let loaded: LoadedComponent;
  try {
    loaded = await loadComponent(component.dir, settings.memoryLimitBytes);
  } catch (e) {
    const why = e instanceof MemoryCapError ? `cannot run within the memory limit: ${e.message}` : `cannot load the component: ${describeFailure(e)}`;
    say(`${entry}: ${why}`);
    return RunnerExit.cannotExecute;
  }
  const host = componentHost({ args: settings.args, env: settings.env, cwd: settings.cwd, guestRoot: settings.guestRoot });
  const prefixed: Say = (line) => say(`${entry}: ${line}`);
  if (component.world === 'cli') return runCommand(loaded, host, prefixed);

  const http = settings.http;
  if (http === undefined) {
    say(`${entry}: the shim gave no wasi:http server settings`);
    return RunnerExit.cannotExecute;
  }
  const { handler, engine } = httpHandler(component.dir, settings, loaded, host);
  let server;
  try {
    server = await serveHttp(handler, { ...http, say: prefixed });
  } catch (e) {
    say(`${entry}: cannot listen on ${http.host}:${http.port}: ${describeFailure(e)}`);
    return RunnerExit.cannotExecute;
  }
  // The only graceful stop: in-flight requests finish, then the status is 0.
  process.once('SIGTERM', () => server.drain());
  const shown = server.address.address.includes(':') ? `[${server.address.address}]` : server.address.address;
  say(`${entry}: serving wasi:http on http://${shown}:${server.address.port} (${engine})`);
  return server.stopped;
}

/**
 * The fast path (our own bindings, instances reset between requests) when the component's shape
 * allows it, else jco's bindings with a new instance per request. For the benchmark's comparisons,
 * NODEWASM_HTTP_ENGINE in the runner's own environment (never the guest's; a container's runner
 * has none) picks "fresh" (our bindings, a new instance per request) or "jco".
 */
function httpHandler(dir: string, settings: RunnerSettings, loaded: LoadedComponent, host: ComponentHost): { handler: RequestHandler; engine: string } {
  const choice = process.env['NODEWASM_HTTP_ENGINE'];
  if (choice !== 'jco') {
    const strategy = choice === 'fresh' ? 'fresh' : 'reset';
    const fast = fastHandler(dir, settings.memoryLimitBytes, host.stdio, strategy);
    const engine = strategy === 'fresh' ? 'our bindings, a new instance per request' : 'instances reset between requests';
    if (typeof fast !== 'string') return { handler: (request, outparam) => fast.handle(request, outparam), engine };
  }
  return { handler: freshInstanceHandler(() => loaded.instantiate(host.imports)), engine: 'a new instance per request' };
}
