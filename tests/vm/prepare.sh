#!/bin/bash
# Makes what tests/vm/vm-run needs before the suites run, so that no test's timeout pays
# for it: QEMU from Debian 13's source (tests/vm/build-qemu.sh, about 7 minutes the first
# time) and the guest's Debian 12 root (tests/vm/build-rootfs.sh, about 8 minutes) with
# Debian 12's kernel and Debian 13's (about 10 s), all
# cached in /var/cache/wayland-virtgpu. Needs root and Debian's archive the first time.
# usage: tests/vm/prepare.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
start=$SECONDS
qemu=$("$here/build-qemu.sh" "$build" | tail -n 1)
root=$("$here/build-rootfs.sh" | tail -n 1 | cut -d' ' -f1)
"$here/build-rootfs.sh" --kernel trixie >/dev/null	# Debian 13's kernel, for VM_RUN_KERNEL=trixie
echo "vm prepare: $qemu, $root ($((SECONDS - start)) s)"
