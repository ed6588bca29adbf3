import { spawn } from 'node:child_process';
import { ContainerError } from './errors.js';
import { RUNC, type RuncContext } from './runc.js';
import type { OciLinuxResources } from './spec.js';

/**
 * `runc update --resources - <id>` with the OCI LinuxResources as JSON on stdin (the format runc
 * 1.1.5 documents in `runc update --help`; validate it first with parseLinuxResourcesAny).
 * runc applies it to the container's cgroup and records it in its state.
 *
 * Errors: a container runc does not know is ContainerError('not-found'); anything else runc
 * refuses (a limit below current usage, a value the kernel rejects) is 'invalid' with runc's
 * own words, since it is the request that cannot be applied.
 */
export function runcUpdate(ctx: RuncContext, id: string, resources: OciLinuxResources, options: { timeoutMs?: number } = {}): Promise<void> {
  const args = ['--root', ctx.root];
  if (ctx.systemdCgroup) args.push('--systemd-cgroup');
  args.push('update', '--resources', '-', id);
  const input = JSON.stringify(resources);
  return new Promise((resolve, reject) => {
    const child = spawn(RUNC, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ContainerError('internal', `runc update ${id}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve();
        return;
      }
      const detail = runcMessage(stderr) || (signal ? `killed by ${signal}` : `exit status ${code}`);
      const kind = /does not exist/i.test(detail) ? 'not-found' : 'invalid';
      reject(new ContainerError(kind, `runc update ${id}: ${detail}`));
    });
    child.stdin.on('error', () => {
      // runc exited before reading; its status says why
    });
    child.stdin.end(input);
  });
}

/** runc prints `time="…" level=error msg="…"` lines (or plain text); the message is what matters. */
function runcMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines.at(-1);
  if (last === undefined) return '';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return msg ? msg[1]!.replace(/\\(.)/g, '$1') : last;
}
