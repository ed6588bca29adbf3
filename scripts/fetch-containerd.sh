#!/bin/sh
# Unpacks another containerd series from Debian's archive into .cache/containerd-<series>/, for
# the end-to-end tests that run against more than the system's containerd (bookworm's 1.6):
#
#   scripts/fetch-containerd.sh 1.7     Debian 13 (trixie)'s containerd 1.7
#   scripts/fetch-containerd.sh 2       Debian testing (forky)'s containerd 2.x
#
# Nothing is installed on the system: the package is fetched with apt-get from Debian's archive
# (a private package list, checked against the archive's signed index with the Debian archive
# keyring) and unpacked with dpkg-deb into this checkout. Prints the folder of the binaries. Does
# nothing when they are already there.
#
# These packages need only libc6 >= 2.34 (bookworm has 2.36) and a runc, so their binaries run on
# bookworm as they are.
set -eu
cd "$(dirname "$0")/.."
series=${1:?usage: scripts/fetch-containerd.sh 1.7|2}
case "$series" in
  1.7) suite=trixie; pattern='^1\.7\.' ;;
  2) suite=forky; pattern='^2\.' ;;
  *) echo "fetch-containerd: unknown series $series (1.7 or 2)" >&2; exit 2 ;;
esac
target=.cache/containerd-$series
version_line() { "$target/usr/bin/containerd" --version 2>/dev/null | awk '{print $3}'; }
if [ -x "$target/usr/bin/containerd" ] && version_line | grep -q "$pattern"; then
  echo "$PWD/$target/usr/bin"
  exit 0
fi

apt_dir=$PWD/.cache/apt-$suite
rm -rf "$apt_dir" "$target"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' "$suite" >"$apt_dir/sources.list"
private_apt() {
  tool=$1
  shift
  "$tool" -q \
    -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" \
    -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}
echo "fetch-containerd: reading $suite's package index" >&2
private_apt apt-get update >&2
version=$(private_apt apt-cache show containerd 2>/dev/null | sed -n 's/^Version: //p' | grep "$pattern" | head -n 1)
if [ -z "$version" ]; then
  echo "fetch-containerd: $suite has no containerd $series package" >&2
  exit 1
fi
(cd "$apt_dir/download" && private_apt apt-get download "containerd=$version" >&2)
mkdir -p "$target"
dpkg-deb -x "$apt_dir"/download/containerd_*.deb "$target"
rm -rf "$apt_dir"
"$target/usr/bin/containerd" --version >&2
echo "$PWD/$target/usr/bin"
