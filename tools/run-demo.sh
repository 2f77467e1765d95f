#!/bin/bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds, starts a headless compositor and runs an unmodified client
# (weston-simple-shm) through our libwayland-client and the simulated
# virtio-gpu, then prints the transport's stats line and the screenshot's
# path.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then
	tools/install-deps.sh
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build

# The client runs as a guest of the simulated virtio-gpu (tests/sim): its
# own XDG_RUNTIME_DIR holds no compositor socket, so our library probes the
# (fake) render node and reaches weston through the cross-domain channel.
export DEMO_PREFIX="tests/sim/virtgpu-run --"
export WAYLAND_VIRTGPU_STATS=1
export VIRTGPU_SIM_STATS=-
exec tests/real/demo.sh "$@"
