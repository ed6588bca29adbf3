import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Builds the runner as `npm run build` does (scripts/build.mjs): runner.mjs and, beside it, the
 * component host it loads only for components. Returns the path of runner.mjs.
 */
export async function buildRunner(repoRoot: string, outdir: string): Promise<string> {
  await build({
    entryPoints: { runner: join(repoRoot, 'src/wasm/runner.ts'), 'runner-component': join(repoRoot, 'src/wasm/component/run.ts') },
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
  return join(outdir, 'runner.mjs');
}
