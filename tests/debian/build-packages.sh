#!/bin/bash
# Builds the Debian packages (debian/) from the working tree, committed or
# not, in a copy under build-debian/ so that dpkg-buildpackage's output
# (written next to the source) stays out of the repository; the .debs end
# in build-debian/debs/. Needs the build dependencies (as root it installs
# them with apt-get build-dep).
#
# Usage: tests/debian/build-packages.sh [OUTDIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build-debian}
src=$out/src/wayland-virtgpu

if [ "$(id -u)" -eq 0 ]; then
	# dpkg-checkbuilddeps says what is missing; only then go to the archive.
	if ! (cd "$top" && dpkg-checkbuilddeps) 2>/dev/null; then
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q "$top"
	fi
fi

rm -rf "$out/src" "$out/debs"
mkdir -p "$src" "$out/debs"
# Tracked and new files, not what .gitignore names (build trees).
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$src"

# The source package first, from the clean copy, for lintian.
(cd "$out/src" && dpkg-source -b wayland-virtgpu) > "$out/build.log" 2>&1 || {
	cat "$out/build.log"
	exit 1
}
(cd "$src" && dpkg-buildpackage -us -uc -b) >> "$out/build.log" 2>&1 || {
	tail -n 60 "$out/build.log"
	echo "build-packages: dpkg-buildpackage failed, log: $out/build.log" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/src/*.dsc \
	"$out"/src/*.tar.xz "$out/debs/"
ls "$out/debs"
