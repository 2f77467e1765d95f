#!/bin/bash
# Builds QEMU from Debian 13's own source package with virtio-gpu-rutabaga served by this
# project's librutabaga_gfx_ffi (host/rutabaga): the x86_64 system emulator only (TCG), no
# tools, no UI, with virtio-gpu, 9p, virtio-blk and virtio-serial. Cached by the source
# version and this recipe in /var/cache/wayland-virtgpu/qemu/, so a second run does not
# rebuild. Needs root (build dependencies) and Debian's archive. Our own patches
# (tests/vm/qemu-*.patch) are applied to Debian's tree: see tests/vm/README.md.
#
# usage: tests/vm/build-qemu.sh [BUILD_DIR]     (default ./build, with host/rutabaga built)
# Prints the emulator's path as its last line. The emulator finds the library through
# LD_LIBRARY_PATH=BUILD_DIR/host/rutabaga (tests/vm/vm-run sets it), so the library can
# change without a rebuild as long as its header does not.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
cache=${WAYLAND_VIRTGPU_CACHE:-/var/cache/wayland-virtgpu}/qemu
suite=trixie
header=$src/host/rutabaga/include/rutabaga_gfx/rutabaga_gfx_ffi.h
patches=("$src"/tests/vm/qemu-*.patch)

log() { echo "build-qemu: $*" >&2; }

[ -e "$build/host/rutabaga/librutabaga_gfx_ffi.so" ] ||
	{ log "no $build/host/rutabaga/librutabaga_gfx_ffi.so: build the project first"; exit 1; }

# Debian 13's lists in a private apt state: the machine's own sources stay as they are.
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
cat > "$cache/apt/trixie.sources" <<SOURCES
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_opts=(-o "Dir::Etc::SourceList=$cache/apt/trixie.sources" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
	-o APT::Sandbox::User=root)

if apt-get "${apt_opts[@]}" update >"$cache/apt/update.log" 2>&1; then
	version=$(apt-cache "${apt_opts[@]}" showsrc qemu | sed -n 's/^Version: //p' | sort -V | tail -1)
else
	log "cannot reach Debian's archive (see $cache/apt/update.log); using the newest cached build"
	version=
fi

# tests/vm/vm-run computes the same key to find the build.
key=$(cat "$0" "$header" "${patches[@]}" | sha256sum | cut -c1-12)
if [ -z "$version" ]; then
	dest=$(ls -d "$cache"/qemu-*-"$key" 2>/dev/null | sort -V | tail -1)
	[ -n "$dest" ] && [ -x "$dest/bin/qemu-system-x86_64" ] || { log "no cached build"; exit 1; }
	echo "$dest/bin/qemu-system-x86_64"
	exit 0
fi
dest=$cache/qemu-${version//:/_}-$key
if [ -x "$dest/bin/qemu-system-x86_64" ]; then
	log "cached: $dest (Debian qemu $version)"
	echo "$dest/bin/qemu-system-x86_64"
	exit 0
fi

# Build dependencies from Debian 12: the subset of Debian's Build-Depends these options use.
deps=(build-essential dpkg-dev ninja-build pkg-config python3-venv flex bison
	libglib2.0-dev libpixman-1-dev libattr1-dev zlib1g-dev)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

work=$cache/work-$key
rm -rf "$work"
mkdir -p "$work"
cd "$work"
log "Debian qemu $version: source"
apt-get "${apt_opts[@]}" source --download-only "qemu=$version" >&2
dpkg-source --no-check -x qemu_*.dsc qemu >&2	# applies Debian's patches
for p in "${patches[@]}"; do
	log "patch: ${p##*/}"
	patch -d qemu -p1 --forward <"$p" >&2
done
# QEMU 10 needs meson >= 1.5 (its own copy is not in the +ds source): trixie's, unpacked
# beside the tree, never installed.
apt-get "${apt_opts[@]}" download "meson/$suite" >&2
dpkg-deb -x meson_*.deb meson-pkg
# The +ds source carries no firmware and this configuration builds no option ROMs: SeaBIOS
# and the ROMs -kernel needs come from trixie's packages of them, unpacked, not installed.
apt-get "${apt_opts[@]}" download "seabios/$suite" "qemu-system-data/$suite" >&2
dpkg-deb -x seabios_*.deb firmware
dpkg-deb -x qemu-system-data_*.deb firmware

mkdir -p pkgconfig
cat > pkgconfig/rutabaga_gfx_ffi.pc <<PC
Name: rutabaga_gfx_ffi
Description: wayland-virtgpu's rutabaga_gfx_ffi (host/rutabaga)
Version: 0.1.2
Libs: -L$build/host/rutabaga -lrutabaga_gfx_ffi
Cflags: -I$src/host/rutabaga/include
PC

cd qemu
log "configure"
# Both configure and make run meson (from the venv configure makes): it must see trixie's.
export PKG_CONFIG_PATH=$work/pkgconfig
export PYTHONPATH=$work/meson-pkg/usr/lib/python3/dist-packages
./configure --prefix="$dest" --target-list=x86_64-softmmu --python=/usr/bin/python3 \
	--without-default-features --disable-download --disable-docs --disable-werror \
	--disable-tools --disable-guest-agent --enable-tcg --enable-kvm \
	--enable-pixman --enable-rutabaga-gfx --enable-virtfs --enable-attr \
	--disable-install-blobs >&2
log "make (logs in $work/make.log)"
start=$(date +%s)
# The emulator alone: "all" would build QEMU's own tests too, twice the work.
make -j"$(nproc)" qemu-system-x86_64 >"$work/make.log" 2>&1 ||
	{ tail -30 "$work/make.log" >&2; exit 1; }
mkdir -p "$dest/bin" "$dest/share/qemu"
cp build/qemu-system-x86_64 "$dest/bin/"
for f in bios-256k.bin linuxboot_dma.bin linuxboot.bin kvmvapic.bin multiboot_dma.bin pvh.bin; do
	cp "$(find "$work/firmware" -name "$f" -type f | head -1)" "$dest/share/qemu/$f"
done
log "built in $(( $(date +%s) - start )) s: $dest"
cd /
rm -rf "$work"
echo "$dest/bin/qemu-system-x86_64"
