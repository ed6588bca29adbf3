#!/bin/sh
# Rebuilds body-scan-wasm.ts, the bytes of body-scan.c built to wasm32, which the runner's bundle
# carries. The output is kept in the repository, so a build needs no wasm toolchain; rerun this
# after changing the source (test/unit/compile-hints.test.ts checks that the two agree where
# clang is installed). Needs Debian's clang and lld.
#
#   build.sh [OUT_DIR]    (default: beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
wasm=$(mktemp)
trap 'rm -f "$wasm"' EXIT
# Only Debian's tools: clang runs any wasm-opt it finds on PATH over its output (npm's binaryen
# puts one in node_modules/.bin), which would make the bytes depend on who calls this.
PATH=/usr/bin:/bin clang --target=wasm32 -Os -nostdlib -fno-builtin -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=4096 -Wl,--initial-memory=131072 \
  -o "$wasm" "$here/body-scan.c"
{
  echo '// Written by build.sh from body-scan.c: the module it builds, in base64. Do not edit.'
  printf "export const BODY_SCAN_WASM_BASE64 =\n  '%s';\n" "$(base64 -w0 "$wasm")"
} > "$out/body-scan-wasm.ts"
