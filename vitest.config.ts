import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * End-to-end files that run again against containerd 1.7 and 2 (Debian's packages, unpacked by
 * scripts/fetch-containerd.sh into .cache/), plus the one that needs 1.7 or later.
 */
const ON_NEWER_CONTAINERD = ['wasm-ctr', 'lifecycle', 'component-ctr', 'http-ctr', 'shim-process', 'cri', 'wasm-layers'].map((name) => `test/e2e/${name}.test.ts`);
const cacheBin = (series: string): string => fileURLToPath(new URL(`.cache/containerd-${series}/usr/bin`, import.meta.url));

// End-to-end tests start private containerds (and containers), so they run one file at a time in
// a single fork, with timeouts for real process work. vitest runs the groups one after another:
// unit tests (in parallel), the containerd 1.7 and 2 passes (groupOrder 1 and 2), then the e2e
// files against the system's containerd (a single-worker project of the default order gets a
// group of its own, last), so two private containerds never run tests at the same time.
const e2e = {
  pool: 'forks',
  maxWorkers: 1,
  fileParallelism: false,
  testTimeout: 120_000,
  hookTimeout: 120_000,
} as const;

export default defineConfig({
  test: {
    reporters: ['default'],
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: ['test/e2e/wasm-layers.test.ts'], ...e2e },
      },
      ...(['1.7', '2'] as const).map((series, index) => ({
        extends: true,
        test: {
          name: `e2e-containerd-${series}`,
          include: ON_NEWER_CONTAINERD,
          env: { NODEWASM_TEST_CONTAINERD_BIN: cacheBin(series) },
          sequence: { groupOrder: index + 1 },
          ...e2e,
        },
      })),
    ],
  },
});
