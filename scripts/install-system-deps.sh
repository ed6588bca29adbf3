#!/bin/sh
# Checks for the system tools nodewasm needs and installs the missing ones with apt-get.
#
#   scripts/install-system-deps.sh [--fixtures] [--bench] [--check] [--dry-run]
#
#   (default)    containerd, ctr, containerd-shim-runc-v2, runc, tini-static, a C compiler and
#                static libc for the shim's per-process supervisor, and for the CRI end-to-end
#                tests the CNI plugins bridge, host-local and loopback (/usr/lib/cni), ip(8) and
#                a registry (docker-registry, run privately on loopback)
#   --fixtures   also what rebuilds the wasm test fixtures: clang, wasm-ld, wasi-libc,
#                the wasm32 compiler runtime, wat2wasm
#   --bench      also what npm run bench needs beyond the default: clang, which builds the compute
#                programs natively with the wasm's own compiler for their second peer
#   --check      only report; exit 1 if something is missing
#   --dry-run    print the apt-get commands instead of running them
#
# Installs with one `apt-get update` and one `apt-get install -y --no-install-recommends`, and
# only when something is missing. Not root: prints the packages and the command, exits 1.
# nodewasm never uses a system containerd (/run/containerd/containerd.sock): the demo and the tests
# start their own. So that installing the containerd package does not start one either, a
# policy-rc.d that refuses service starts is in place while apt-get runs (Debian's
# invoke-rc.d and deb-systemd-invoke both honour it), unless the machine already has one.
set -eu

fixtures=0
bench=0
check_only=0
dry_run=0
for arg in "$@"; do
  case "$arg" in
    --fixtures) fixtures=1 ;;
    --bench) bench=1 ;;
    --check) check_only=1 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-system-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing_packages=""
missing_tools=""

# need <package> <description> <test...>: records the package when the test fails.
need() {
  package=$1 description=$2
  shift 2
  if ! "$@" >/dev/null 2>&1; then
    missing_tools="$missing_tools $description"
    case " $missing_packages " in
      *" $package "*) ;;
      *) missing_packages="$missing_packages $package" ;;
    esac
  fi
}

have_glob() {
  for candidate in "$@"; do
    [ -e "$candidate" ] && return 0
  done
  return 1
}

need containerd containerd command -v containerd
need containerd ctr command -v ctr
need containerd containerd-shim-runc-v2 command -v containerd-shim-runc-v2
need runc runc command -v runc
need tini tini-static test -x /usr/bin/tini-static
# Pod networking in test/e2e/cri.test.ts: a CNI bridge inside a network namespace the test makes.
for plugin in bridge host-local loopback; do
  need containernetworking-plugins "cni-$plugin" test -x "/usr/lib/cni/$plugin"
done
need iproute2 ip command -v ip
# test/e2e/wasm-layers.test.ts pulls images through the CRI from a registry on loopback.
need docker-registry docker-registry test -x /usr/bin/docker-registry
# npm run build compiles the per-process supervisor (src/reaper/reaper.c) statically.
need gcc cc command -v cc
need libc6-dev libc.a have_glob /usr/lib/x86_64-linux-gnu/libc.a /usr/lib/*-linux-gnu/libc.a
if [ "$fixtures" = 1 ] || [ "$bench" = 1 ]; then
  need clang clang command -v clang
fi
if [ "$fixtures" = 1 ]; then
  need lld wasm-ld command -v wasm-ld
  need wasi-libc wasi-libc have_glob /usr/lib/wasm32-wasi/libc.a /usr/lib/wasm32-wasi/*/libc.a
  need libclang-rt-14-dev-wasm32 libclang_rt.builtins-wasm32 \
    have_glob /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a
  need wabt wat2wasm command -v wat2wasm
fi

if [ -z "$missing_packages" ]; then
  echo "install-system-deps: all present"
  exit 0
fi

packages=${missing_packages# }
echo "install-system-deps: missing:$missing_tools" >&2
if [ "$check_only" = 1 ]; then
  echo "install-system-deps: install them with: apt-get update && apt-get install -y --no-install-recommends $packages" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: no apt-get here; install these (Debian package names): $packages" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: not root, so not installing. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $packages" >&2
  exit 1
fi
if [ "$dry_run" = 1 ]; then
  echo "apt-get update"
  echo "apt-get install -y --no-install-recommends $packages"
  exit 0
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  own_policy=1
  trap 'rm -f "$policy"' EXIT INT TERM
  printf '#!/bin/sh\n# Temporary, from nodewasm scripts/install-system-deps.sh: no service starts.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: apt-get install $packages"
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $packages

if [ "$own_policy" = 1 ]; then
  rm -f "$policy"
  trap - EXIT INT TERM
fi
echo "install-system-deps: installed $packages"
case " $packages " in
  *" containerd "*)
    echo "install-system-deps: note: the containerd package was not started as a service; nodewasm starts private instances and never uses /run/containerd/containerd.sock" ;;
esac
