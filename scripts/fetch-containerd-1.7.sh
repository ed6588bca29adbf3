#!/bin/sh
# Unpacks containerd 1.7 from Debian 13 (trixie) into .cache/containerd-1.7/ for the tests that
# run against a second containerd version (the wasm artifact form needs 1.7's image handling).
# Nothing is installed on the system: the package is fetched with apt-get from Debian's archive,
# checked against the archive's signed index (the Debian archive keyring), and unpacked with
# dpkg-deb into this checkout. The system's containerd (bookworm's 1.6) is left as it is.
#
#   scripts/fetch-containerd-1.7.sh          fetch unless already there; prints the folder
#
# Trixie's containerd 1.7 needs only libc6 >= 2.34 (bookworm has 2.36) and a runc, so its
# binaries run on bookworm as they are.
set -eu
cd "$(dirname "$0")/.."
target=.cache/containerd-1.7
if [ -x "$target/usr/bin/containerd" ] && "$target/usr/bin/containerd" --version 2>/dev/null | grep -q ' 1\.7\.'; then
  echo "$PWD/$target"
  exit 0
fi

apt_dir=$PWD/.cache/apt-trixie
rm -rf "$apt_dir" "$target"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n' >"$apt_dir/sources.list"
apt() {
  apt-get -q \
    -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" \
    -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}
echo "fetch-containerd-1.7: reading trixie's package index" >&2
apt update >&2
version=$(apt-cache -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" show containerd 2>/dev/null \
  | sed -n 's/^Version: //p' | grep '^1\.7\.' | head -n 1)
if [ -z "$version" ]; then
  echo "fetch-containerd-1.7: trixie has no containerd 1.7.x package" >&2
  exit 1
fi
(cd "$apt_dir/download" && apt download "containerd=$version" >&2)
mkdir -p "$target"
dpkg-deb -x "$apt_dir"/download/containerd_*.deb "$target"
rm -rf "$apt_dir"
"$target/usr/bin/containerd" --version >&2
echo "$PWD/$target"
