#!/bin/sh
# Entrypoint of the nodewasm node installer (deploy/installer/daemonset.yaml), one pod per node.
#
# With the node's root filesystem at $HOST_ROOT and the node's PID namespace (hostPID), it runs
# `nodewasm install` from the copy of nodewasm in this image (/opt/nodewasm), which
#   - copies the launchers, the built code, the production node_modules and the pinned Node
#     runtime to $NODEWASM_PREFIX on the node (a fresh folder swapped in for the old one),
#   - bundles tini beside the shim, which uses it when the node has no tini package,
#   - writes /usr/local/bin/containerd-shim-nodewasm-v1, a launcher pointing at $NODEWASM_PREFIX,
#   - adds the "nodewasm" runtime handler to containerd's config, idempotently, in the form the
#     config's version needs (/etc/containerd/config.toml; k3s/RKE2: their config templates),
#   - and, only when that config changed, restarts containerd (or k3s/RKE2) with systemctl,
#     through `nsenter --target 1` into the node's namespaces.
# Then it reports ready and waits, so that the DaemonSet shows which nodes are done.
set -eu

HOST_ROOT=${HOST_ROOT:-/host}
NODEWASM_PREFIX=${NODEWASM_PREFIX:-/opt/nodewasm}

if [ ! -d "$HOST_ROOT/etc" ]; then
  echo "nodewasm-node-installer: the node's root filesystem is not mounted at $HOST_ROOT" >&2
  exit 1
fi

set -- --host-root "$HOST_ROOT" --prefix "$NODEWASM_PREFIX" --restart-containerd
if [ -n "${NODEWASM_CONTAINERD_CONFIG:-}" ]; then
  set -- "$@" --containerd-config "$NODEWASM_CONTAINERD_CONFIG"
fi
/opt/nodewasm/bin/nodewasm install "$@"

touch /tmp/nodewasm-installed
echo "nodewasm-node-installer: done; waiting"
# PID 1 ignores SIGTERM unless it has a handler: exit at once when the pod is deleted.
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $! || true
done
