#!/bin/bash
# Installs everything the build, the tests, the demo and the benchmarks
# need on Debian 12 (run as root; a no-op when all is installed).
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc clang libffi-dev
	libwayland-dev libwayland-bin wayland-protocols
	# compositors, X server and screenshots
	weston sway cage grim xvfb x11-xkb-utils xwayland imagemagick python3-pil
	# real clients
	wayland-utils wev wl-clipboard foot gtk-4-examples gtk-3-examples
	qtwayland5 qtbase5-examples libsdl2-tests mpv imv wtype waypipe
	# Mesa EGL on llvmpipe, Vulkan on lavapipe
	libgl1-mesa-dri libegl-mesa0 libegl1 libgles2 mesa-vulkan-drivers vulkan-tools
	# cursor themes the cursor tests compare
	adwaita-icon-theme dmz-cursor-theme
	# sanitizers and libFuzzer
	libclang-rt-14-dev
	# EGL/GLES headers for the EGL tests
	libegl-dev libgles-dev
	# tools the tests use
	procps psmisc util-linux valgrind python3 binutils strace
	# the Debian packages (tests/debian)
	dpkg-dev debhelper fakeroot lintian piuparts mmdebstrap
	# i386 programs where the kernel refuses them (tests/debian/i386-run.sh)
	qemu-user-static
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
