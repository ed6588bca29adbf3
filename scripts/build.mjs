// Builds the entry points into dist/: the shim, the in-container runner and the CLI.
// The runner is one file, read at every container start (plus one more for components only). The shim is split by action: `start`
// and `delete` run at every `ctr run`, so they load only their own chunks, never the daemon's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // Whitespace and syntax only: names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  // pino and its transports are loaded at run time from node_modules by the shim and the CLI.
  banner: { js: "import { createRequire as __nodewasmRequire } from 'node:module'; const require = __nodewasmRequire(import.meta.url);" },
};

// Chunks of an earlier build would otherwise pile up.
fs.mkdirSync('dist', { recursive: true });
for (const file of fs.readdirSync('dist')) {
  if (/^shim-[A-Z0-9]+\.mjs(\.map)?$/i.test(file)) fs.rmSync(`dist/${file}`);
}

/** pino's file destination and worker-thread transports, which the shim never uses (see the stub). */
const withoutPinoStreams = {
  name: 'without-pino-streams',
  setup(b) {
    b.onResolve({ filter: /^(sonic-boom|thread-stream)$/ }, () => ({ path: new URL('../src/shim/pino-unused-stream.cjs', import.meta.url).pathname }));
  },
};

await Promise.all([
  build({
    ...common,
    plugins: [withoutPinoStreams],
    entryPoints: { shim: 'src/shim/main.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    // In dist/ itself: the container layer finds runner.mjs beside the module that asks.
    chunkNames: 'shim-[hash]',
  }),
  // The runner, and beside it the component host that it imports only for components.
  build({
    ...common,
    entryPoints: { runner: 'src/wasm/runner.ts', 'runner-component': 'src/wasm/component/run.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    banner: {},
  }),
  build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' } }),
]);

// The per-process supervisor (src/reaper/reaper.c): static, so it needs nothing from the node.
const reaper = 'dist/nodewasm-reaper';
try {
  execFileSync(process.env.CC || 'cc', ['-static', '-Os', '-Wall', '-Wextra', '-Werror', '-o', `${reaper}.tmp`, 'src/reaper/reaper.c'], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.renameSync(`${reaper}.tmp`, reaper);
} catch (err) {
  fs.rmSync(`${reaper}.tmp`, { force: true });
  console.error(`build: cannot compile src/reaper/reaper.c (${err.message}); scripts/install-system-deps.sh installs gcc and libc6-dev`);
  process.exit(1);
}
