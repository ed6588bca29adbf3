// Builds the three entry points into dist/: the shim, the in-container runner and the CLI.
// Each is a single ESM file so a process start reads one file.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // pino and its transports are loaded at run time from node_modules by the shim and the CLI.
  banner: { js: "import { createRequire as __nodewasmRequire } from 'node:module'; const require = __nodewasmRequire(import.meta.url);" },
};

await Promise.all([
  build({ ...common, entryPoints: { shim: 'src/shim/main.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' } }),
  build({ ...common, entryPoints: { runner: 'src/wasm/runner.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' }, banner: {} }),
  build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' } }),
]);
