#!/bin/bash
# piuparts on the built packages in a Debian 12 chroot: install + purge,
# and install Debian's own libwayland-client0/-cursor0/-egl1 from the
# archive, upgrade to ours, purge; then install + purge of
# wayland-virtgpu-alongside (beside Debian's). The chroot comes from a minbase
# mmdebstrap tarball cached in /var/cache/wayland-virtgpu/ (remade when a
# week old). Needs root and Debian's archive.
#
# Usage: tests/debian/piuparts.sh [DEBDIR]   (default build-debian/debs)
# Environment: MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=${1:-$top/build-debian/debs}
mirror=${MIRROR:-http://deb.debian.org/debian}
cache=/var/cache/wayland-virtgpu
tarball=$cache/bookworm-minbase.tar.gz

mkdir -p "$cache"
if [ -z "$(find "$tarball" -mtime -7 2>/dev/null)" ]; then
	echo "piuparts: making $tarball"
	mmdebstrap --quiet --variant=minbase --mode=root bookworm "$cache/new.tar.gz" "$mirror"
	mv "$cache/new.tar.gz" "$tarball"
fi

run_piuparts() {
	local log
	log=$(mktemp)
	if piuparts --no-adequate -d bookworm -m "$mirror" -b "$tarball" -l "$log" \
			"$@" >/dev/null 2>&1; then
		grep -E 'PASS:' "$log" | sed 's/^.*PASS/PASS/'
		rm -f "$log"
	else
		tail -n 80 "$log"
		rm -f "$log"
		return 1
	fi
}

packages=()
for pkg in libwayland-client0 libwayland-cursor0 libwayland-egl1; do
	packages+=("$(ls "$debs/${pkg}"_*.deb)")
done
status=0
echo "piuparts: ${packages[*]##*/}"
run_piuparts "${packages[@]}" || status=1
echo "piuparts: wayland-virtgpu-alongside"
run_piuparts "$(ls "$debs"/wayland-virtgpu-alongside_*.deb)" || status=1
if [ $status -eq 0 ]; then
	echo "piuparts: ok"
else
	echo "piuparts: FAILED"
fi
exit $status
