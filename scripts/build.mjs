// Builds the entry points into dist/: the shim, the in-container runner and the CLI.
// The runner is one file, read at every container start (plus one more for components only). The shim is split by action: `start`
// and `delete` run at every `ctr run`, so they load only their own chunks, never the daemon's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/**
 * Node's own modules reach the bundles through process.getBuiltinModule, never through an ESM
 * import. For an ESM import of a built-in, Node builds a facade of all its exports and so reads
 * every lazy getter: node:fs alone then loads fs/promises, readline, the file watchers and more,
 * 17 internal modules that nothing here uses. Measured loading fs, net, child_process and path:
 * 22.6 -> 20.1 ms for a plain Node start, 34.2 -> 26.6 ms with the shim daemon's V8 flags (with
 * any V8 flag, Node compiles its internal modules without their code cache). Each built-in becomes
 * a small module of the bundle with the built-in as its default export and its plain values,
 * listed from the building Node, as named exports.
 */
function builtinModuleSource(name) {
  // Not the accessors (fs.promises, for one): reading one would load what it stands for.
  const names = Object.entries(Object.getOwnPropertyDescriptors(require(name)))
    .filter(([key, descriptor]) => 'value' in descriptor && /^[A-Za-z_$][\w$]*$/.test(key) && key !== 'default')
    .map(([key]) => key);
  return [
    `const m = process.getBuiltinModule(${JSON.stringify(name)});`,
    'export default m;',
    names.length > 0 ? `export const { ${names.join(', ')} } = m;` : '',
  ].join('\n');
}

const builtinsWithoutFacades = {
  name: 'builtins-without-facades',
  setup(b) {
    const bare = new RegExp(`^(${builtinModules.filter((name) => !name.startsWith('_')).join('|')})$`);
    const builtin = (name) => ({ path: name, namespace: 'node-builtin' });
    b.onResolve({ filter: /^node:/ }, (args) => builtin(args.path));
    b.onResolve({ filter: bare }, (args) => builtin(`node:${args.path}`));
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: builtinModuleSource(args.path), loader: 'js' }));
  },
};

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
  plugins: [builtinsWithoutFacades],
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
    plugins: [...common.plugins, withoutPinoStreams],
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
