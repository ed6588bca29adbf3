/** What the benchmark ran on: enough to tell whether two RESULTS.md files are comparable. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  cgroup: string;
  containerd: string;
  runc: string;
  node: string;
}

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { timeout: 10_000 });
    return stdout.split('\n')[0]!.trim();
  } catch (error) {
    return `unknown (${command}: ${(error as Error).message.split('\n')[0]})`;
  }
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown';
}

async function cgroupVersion(): Promise<string> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  if (/ - cgroup2 /.test(mounts) && !/ - cgroup /.test(mounts)) return 'v2';
  return / - cgroup2 /.test(mounts) ? 'v1 + v2 (hybrid)' : 'v1';
}

export async function describeMachine(): Promise<Machine> {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    os: await osName(),
    cgroup: await cgroupVersion(),
    containerd: await firstLine('containerd', ['--version']),
    runc: await firstLine('runc', ['--version']),
    node: process.version,
  };
}

/** Which code was measured: the commit, and whether the work tree differed from it. */
export async function describeCode(repo: string): Promise<string> {
  try {
    const { stdout: commit } = await run('git', ['-C', repo, 'log', '-1', '--format=%h %s'], { timeout: 10_000 });
    const { stdout: status } = await run('git', ['-C', repo, 'status', '--porcelain'], { timeout: 10_000 });
    const changed = status.split('\n').filter(Boolean).length;
    return `commit ${commit.trim()}${changed > 0 ? `, with uncommitted changes in ${changed} files` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
