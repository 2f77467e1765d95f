#!/bin/bash
# The i386 packages: Steam and Wine systems have libwayland-client0:i386,
# and Multi-Arch: same packages must have one version on every
# architecture, so amd64 alone would make apt remove it. Cross-builds
# them (dpkg-buildpackage -a i386, nocheck profile: the test suites cannot
# run i386 where the kernel refuses 32-bit programs, as on the machine this
# was written on, a PVM guest whose kernel has IA-32 emulation off) in a
# Debian 12 amd64 chroot with i386 added (a buildd mmdebstrap tarball
# cached in /var/cache/wayland-virtgpu/), runs the symbols gate on them,
# checks that the amd64 and i386 packages install together in one dpkg
# database, then runs tests/debian/i386-run.sh (apt keeps
# libwayland-client0:i386; weston-simple-shm:i386 on our library, under
# qemu-user where the kernel refuses i386). Needs root and Debian's
# archive; not part of tests/debian/ci.sh.
#
# Usage: tests/debian/i386.sh   (.debs in build-debian/debs-i386/)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-debian
mirror=${MIRROR:-http://deb.debian.org/debian}
cache=/var/cache/wayland-virtgpu
tarball=$cache/bookworm-i386-build.tar.gz

mkdir -p "$cache"
if [ -z "$(find "$tarball" -mtime -30 2>/dev/null)" ]; then
	echo "i386: making $tarball"
	mmdebstrap --quiet --architectures=amd64,i386 --variant=buildd --mode=root \
		--include=debhelper,meson,libwayland-bin,fakeroot,crossbuild-essential-i386 \
		--include=pkgconf:i386,libffi-dev:i386,libc6:i386 \
		bookworm "$cache/i386-new.tar.gz" "$mirror"
	mv "$cache/i386-new.tar.gz" "$tarball"
fi

root=$(mktemp -d /tmp/wayland-virtgpu-i386.XXXXXX)
cleanup() {
	umount -l "$root/proc" 2>/dev/null || true
	rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -xzf "$tarball" -C "$root"
mount -t proc proc "$root/proc"
mkdir -p "$root/build/wayland-virtgpu"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$root/build/wayland-virtgpu"

in_chroot() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"
}

echo "i386: dpkg-buildpackage -a i386 (nocheck)"
if ! in_chroot sh -c 'cd /build/wayland-virtgpu &&
		DEB_BUILD_OPTIONS=nocheck DEB_BUILD_PROFILES="nocheck cross" dpkg-buildpackage -us -uc -b -a i386' \
		>"$out/build-i386.log" 2>&1; then
	tail -n 60 "$out/build-i386.log"
	echo "i386: build failed, log: $out/build-i386.log"
	exit 1
fi
rm -rf "$out/debs-i386"
mkdir -p "$out/debs-i386"
cp "$root"/build/*.deb "$out/debs-i386/"
ls "$out/debs-i386"

"$top/tests/debian/symbols-gate.sh" "$out/debs-i386"

# Our amd64 and i386 packages in one dpkg database, as on a Steam system:
# apt installs both architectures' at once.
if [ -d "$out/debs" ]; then
	mkdir -p "$root/both"
	cp "$out"/debs/libwayland-{client0,cursor0,egl1}_*_amd64.deb "$out"/debs-i386/libwayland-{client0,cursor0,egl1}_*_i386.deb "$root/both/"
	in_chroot sh -c 'apt-get install -y -q --no-install-recommends /both/*.deb' >/dev/null
	installed=$(in_chroot dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' \
		libwayland-client0 libwayland-cursor0 libwayland-egl1 | grep ' install ok installed$')
	echo "$installed"
	[ "$(wc -l <<<"$installed")" -eq 6 ] || { echo "i386: amd64 and i386 not both installed"; exit 1; }
	"$top/tests/debian/i386-run.sh"
fi
echo "i386: ok"
