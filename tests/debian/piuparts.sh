#!/bin/bash
# piuparts on the built packages in a Debian 12 chroot (or another
# release's, with --dist): install + purge, and install Debian's own
# libwayland-client0/-cursor0/-egl1 from the archive, upgrade to ours,
# purge; then install + purge of wayland-virtgpu-alongside (beside
# Debian's). The chroot comes from a minbase mmdebstrap tarball cached in
# /var/cache/wayland-virtgpu/ (remade when a week old). Needs root and
# Debian's archive.
#
# Usage: tests/debian/piuparts.sh [--dist bookworm|trixie] [DEBDIR]
#        (default bookworm, build-debian/debs)
# Environment: MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
dist=bookworm
if [ "${1:-}" = --dist ]; then
	dist=$2
	shift 2
fi
debs=${1:-$top/build-debian/debs}
mirror=${MIRROR:-http://deb.debian.org/debian}
cache=/var/cache/wayland-virtgpu
tarball=$cache/$dist-minbase.tar.gz

mkdir -p "$cache"
if [ -z "$(find "$tarball" -mtime -7 2>/dev/null)" ]; then
	echo "piuparts: making $tarball"
	mmdebstrap --quiet --variant=minbase --mode=root "$dist" "$cache/new-$dist.tar.gz" "$mirror"
	mv "$cache/new-$dist.tar.gz" "$tarball"
fi

# trixie's debconf leaves /var/cache/debconf/tmp.ci/ behind, which the
# piuparts of Debian 12 does not know yet (trixie's own ignores it).
ignores=()
[ "$dist" = bookworm ] || ignores=(--ignore=/var/cache/debconf/tmp.ci/)

run_piuparts() {
	local log
	log=$(mktemp)
	if piuparts --no-adequate -d "$dist" -m "$mirror" -b "$tarball" -l "$log" "${ignores[@]}" \
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
echo "piuparts ($dist): ${packages[*]##*/}"
run_piuparts "${packages[@]}" || status=1
echo "piuparts ($dist): wayland-virtgpu-alongside"
run_piuparts "$(ls "$debs"/wayland-virtgpu-alongside_*.deb)" || status=1
if [ $status -eq 0 ]; then
	echo "piuparts ($dist): ok"
else
	echo "piuparts ($dist): FAILED"
fi
exit $status
