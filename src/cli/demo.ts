/**
 * `nodewasm demo`: builds the bundled example image, imports it into containerd and runs it with
 * `ctr run --rm --runtime io.containerd.nodewasm.v1`, printing the guest's output and the time the
 * run took. It uses the containerd at NODEWASM_CONTAINERD_ADDRESS when that is set (and starts
 * nothing); otherwise it starts a private containerd in .nodewasm/demo of the checkout (or a temp
 * dir) and always stops it again: on success, on failure and on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildImage } from './build-image.js';
import { ctrClient, startPrivateContainerd, type CtrClient, type PrivateContainerd } from './private-containerd.js';

export const DEMO_IMAGE = 'docker.io/library/nodewasm-hello:demo';
export const RUNTIME = 'io.containerd.nodewasm.v1';

/** The checkout this code runs from: the nearest folder above with nodewasm's package.json. */
export function checkoutRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'nodewasm') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the nodewasm checkout above ${from}`);
  }
}

const demoUsage = `Usage: nodewasm demo [--dir DIR] [--debug]

Runs examples/hello/hello.wasm as a container through containerd and this shim.
  --dir DIR   folder for the private containerd (default: .nodewasm/demo in the checkout)
  --debug     containerd logs at debug level
Set NODEWASM_CONTAINERD_ADDRESS=/path/to/containerd.sock to use a running containerd instead
(its PATH must find containerd-shim-nodewasm-v1).
`;

function say(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}

async function logTail(path: string, lines = 40): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(demoUsage);
    return 0;
  }

  const root = checkoutRoot();
  const wasmPath = join(root, 'examples', 'hello', 'hello.wasm');
  const externalAddress = process.env['NODEWASM_CONTAINERD_ADDRESS'];

  let interrupted = false;
  let running: ReturnType<CtrClient['ctrSpawn']> | undefined;
  let privateContainerd: PrivateContainerd | undefined;
  let scratch: string | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    if (interrupted) {
      if (running?.exitCode === null) running.kill('SIGKILL');
      return;
    }
    interrupted = true;
    say(`${name}: stopping`);
    // ctr run forwards the signal to the task; if it does not end soon, end ctr itself.
    if (running !== undefined && running.exitCode === null) {
      running.kill(name);
      setTimeout(() => {
        if (running?.exitCode === null) running.kill('SIGKILL');
      }, 5_000).unref();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let client: CtrClient;
    if (externalAddress !== undefined && externalAddress !== '') {
      scratch = await mkdtemp(join(tmpdir(), 'nodewasm-demo-'));
      await mkdir(join(scratch, 'fifo'));
      client = ctrClient(resolve(externalAddress.replace(/^unix:\/\//, '')), join(scratch, 'fifo'));
      say(`using the containerd at ${client.address} (NODEWASM_CONTAINERD_ADDRESS)`);
    } else {
      const dir = values.dir ?? (await writableDemoDir(root));
      const started = Date.now();
      privateContainerd = await startPrivateContainerd({ dir, shimDir: join(root, 'bin'), debug: values.debug });
      client = privateContainerd;
      say(`started a private containerd (pid ${privateContainerd.pid}, socket ${privateContainerd.address}) in ${Date.now() - started} ms`);
    }
    if (interrupted) return 130;

    const image = buildImage({
      files: [{ guestPath: '/hello.wasm', data: await readFile(wasmPath) }],
      reference: DEMO_IMAGE,
      env: ['GREETING=hello from the image config'],
    });
    const tarPath = join(privateContainerd?.dir ?? scratch!, 'hello.tar');
    await writeFile(tarPath, image.archive);
    say(`built ${DEMO_IMAGE} (${image.manifest.digest.slice(0, 19)}…) from ${wasmPath}`);

    say(`ctr images import --platform wasi/wasm ${tarPath}`);
    const imported = await client.ctr(['images', 'import', '--platform', 'wasi/wasm', tarPath]);
    if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr.trim()}`);
    if (interrupted) return 130;

    const id = `nodewasm-demo-${randomBytes(4).toString('hex')}`;
    const runArgs = ['run', '--rm', '--runtime', RUNTIME, '--platform', 'wasi/wasm', DEMO_IMAGE, id];
    say(`ctr ${runArgs.join(' ')}`);
    const started = process.hrtime.bigint();
    running = client.ctrSpawn(runArgs);
    running.stdin?.end();
    running.stdout?.pipe(process.stdout, { end: false });
    running.stderr?.pipe(process.stderr, { end: false });
    const child = running;
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolvePromise({ code: exitCode, signal: exitSignal }));
    });
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (interrupted) return 130;
    if (code === null) {
      say(`ctr was killed by ${signal} after ${elapsedMs.toFixed(0)} ms`);
      return 1;
    }
    say(`the guest exited with code ${code}; ctr run took ${elapsedMs.toFixed(0)} ms`);
    if (code !== 0 && privateContainerd !== undefined) {
      say(`containerd log (last lines):\n${await logTail(privateContainerd.logPath)}`);
    }
    return code;
  } catch (error) {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    if (privateContainerd !== undefined) say(`containerd log (last lines):\n${await logTail(privateContainerd.logPath)}`);
    return 1;
  } finally {
    if (privateContainerd !== undefined) {
      await privateContainerd.stop().then(
        () => say('stopped the private containerd'),
        (error: unknown) => say(`stopping the private containerd failed: ${String(error)}`),
      );
    }
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** .nodewasm/demo in the checkout when writable, else a fresh temp dir. */
async function writableDemoDir(root: string): Promise<string> {
  const dir = join(root, '.nodewasm', 'demo');
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.write-test'), '');
    await rm(join(dir, '.write-test'));
    return dir;
  } catch {
    return mkdtemp(join(tmpdir(), 'nodewasm-demo-'));
  }
}
