#!/bin/sh
# npm run demo: from a fresh clone to a WebAssembly guest run by containerd through this shim.
# Installs what is missing (npm ci; containerd, runc, tini with apt-get when root), builds, and
# runs `nodewasm demo` (a private containerd unless NODEWASM_CONTAINERD_ADDRESS is set).
set -eu
cd "$(dirname "$0")/.."

scripts/npm-ci-if-stale.sh demo

scripts/install-system-deps.sh
npm run --silent build
exec bin/nodewasm demo "$@"
