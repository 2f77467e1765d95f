#!/bin/bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds, starts a headless compositor and runs an unmodified client
# (weston-simple-shm) through our libwayland-client, then prints the
# screenshot's path. Until the virtio-gpu transport lands, the client
# reaches the compositor over the ordinary Unix socket.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then
	tools/install-deps.sh
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build

exec tests/real/demo.sh "$@"
