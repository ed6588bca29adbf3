import { execFile } from 'node:child_process';

/** Runs a host tool (mount, umount, runc) and resolves with its stdout; rejects with its stderr. */
export function run(command: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: options.timeoutMs ?? 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const detail = stderr.trim() || err.message;
        reject(new Error(`${command} ${args[0] ?? ''}: ${detail}`));
      } else {
        resolve(stdout);
      }
    });
  });
}
