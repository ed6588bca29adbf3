/**
 * wasi:cli 0.2: arguments and environment exactly from the runner settings (never the runner's
 * own process.env), stdio on the runner's fds 0/1/2 with the same synchronous, blocking-safe
 * writes as the preview1 host (one write system call per guest write, no line buffering), and
 * exit as an exception that unwinds the guest back to the runner.
 */
import { readViews, writeFully } from '../preview1/stdio.js';
import { CLOSED, InputStream, OutputStream, streamFailure, type ByteSink, type ByteSource, type Readiness } from './io.js';

/** Thrown by wasi:cli/exit: not an Error, so jco's bindings pass it through untouched. */
export class GuestExit {
  constructor(readonly code: number) {}
}

const READY: Readiness = { ready: () => true, wait: () => Promise.resolve() };

/** The guest's stdin: blocking reads of fd 0 (EAGAIN waited out, as for preview1). */
export function fdSource(fd: number): ByteSource {
  let ended = false;
  return {
    readiness: READY,
    read(max) {
      if (ended) throw CLOSED;
      if (max === 0) return new Uint8Array(0);
      const buf = new Uint8Array(Math.min(max, 65536));
      let n: number;
      try {
        n = readViews(fd, [buf]);
      } catch (e) {
        throw streamFailure(e);
      }
      if (n === 0) {
        ended = true;
        throw CLOSED;
      }
      return buf.subarray(0, n);
    },
  };
}

/** stdout/stderr: every write goes out at once with writeSync, so nothing waits in a buffer. */
export function fdSink(fd: number): ByteSink {
  return {
    readiness: READY,
    capacity: () => 1 << 20,
    write(bytes) {
      try {
        writeFully(fd, bytes, 0, bytes.length);
      } catch (e) {
        throw streamFailure(e);
      }
    },
  };
}

export interface CliConfig {
  args: readonly string[];
  /** KEY=VALUE strings, exactly the container's process.env. */
  env: readonly string[];
  /** The guest's working directory, reported to libc through the environment interface. */
  cwd: string;
}

/** Splits "KEY=VALUE" at the first "="; an entry without one is a key with an empty value. */
export function environmentPairs(env: readonly string[]): Array<[string, string]> {
  return env.map((entry) => {
    const eq = entry.indexOf('=');
    return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
  });
}

export interface Stdio {
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
}

/** The runner's fds 0/1/2 as streams: made once, since the guest may ask for them many times. */
export function processStdio(): Stdio {
  return { stdin: new InputStream(fdSource(0)), stdout: new OutputStream(fdSink(1)), stderr: new OutputStream(fdSink(2)) };
}

export function cliImports(config: CliConfig, { stdin, stdout, stderr }: Stdio) {
  const pairs = environmentPairs(config.env);
  const args = [...config.args];
  const exit = (status: { tag: 'ok' | 'err' }) => {
    throw new GuestExit(status.tag === 'ok' ? 0 : 1);
  };
  class TerminalInput {}
  class TerminalOutput {}
  return {
    'wasi:cli/environment': {
      getEnvironment: () => pairs.map(([k, v]): [string, string] => [k, v]),
      getArguments: () => args.slice(),
      initialCwd: () => config.cwd,
    },
    'wasi:cli/exit': {
      exit,
      exitWithCode: (code: number) => {
        throw new GuestExit(code & 0xff);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    // The container's stdio is a FIFO or a pipe, never a terminal the guest could drive.
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}

