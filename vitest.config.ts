import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** End-to-end files that also run against containerd 1.7 (scripts/fetch-containerd-1.7.sh). */
const ALSO_ON_CONTAINERD_17 = ['wasm-ctr', 'lifecycle', 'component-ctr', 'http-ctr', 'shim-process', 'cri'].map((name) => `test/e2e/${name}.test.ts`);

// End-to-end tests start private containerds (and containers), so they run one file at a time in
// a single fork, with timeouts for real process work. vitest runs the groups one after another:
// unit tests (in parallel), the containerd 1.7 pass (groupOrder 1), then the e2e files (a
// single-worker project of the default order gets a group of its own, last), so two private
// containerds never run tests at the same time.
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
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], ...e2e },
      },
      {
        extends: true,
        test: {
          name: 'e2e-containerd-1.7',
          include: ALSO_ON_CONTAINERD_17,
          env: { NODEWASM_TEST_CONTAINERD_BIN: fileURLToPath(new URL('.cache/containerd-1.7/usr/bin', import.meta.url)) },
          sequence: { groupOrder: 1 },
          ...e2e,
        },
      },
    ],
  },
});
