#!/bin/bash
# The real install: a Debian 12 chroot whose clients (weston-simple-shm and
# foot, from Debian) run against a weston (x11 backend, Xvfb) on this host, its socket
# bind-mounted in. First on Debian's libwayland-client, then on ours,
# installed in the chroot by apt (no LD_LIBRARY_PATH anywhere): each client
# must map /usr/lib/<triplet>/libwayland-client.so.0 from our package
# (/proc/PID/maps, read in the chroot) and show the same pixels as on
# Debian's library. Then the same clients run as guests of the simulated
# virtio-gpu (tests/sim): no compositor socket in the chroot, only the fake
# kernel preloaded and the host device's socket, and must reach the host's
# weston with the packaged library alone.
#
# The chroot comes from a tarball cached in /var/cache/wayland-virtgpu/
# (minbase + weston, foot; made once, about 200 MB of downloads). Needs
# root, tests/debian/build-packages.sh's output, and its build tree for
# the simulator (or SIM_BUILD=a build directory with tests/sim built).
#
# Usage: tests/debian/install-test.sh [DEBDIR]   (default build-debian/debs)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=${1:-$top/build-debian/debs}
sim_build=${SIM_BUILD:-$top/build-debian/src/wayland-virtgpu/build-deb}
mirror=${MIRROR:-http://deb.debian.org/debian}
cache=/var/cache/wayland-virtgpu
tarball=$cache/bookworm-clients.tar.gz
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

RT_KEEP=${RT_KEEP:-}
. "$top/tests/real/lib.sh"
rt_init debian-install

for f in "$sim_build/tests/sim/virtgpu-sim-host" "$sim_build/tests/sim/libvirtgpu-sim-kernel.so"; do
	[ -e "$f" ] || rt_die "no $f: run tests/debian/build-packages.sh first, or set SIM_BUILD"
done

mkdir -p "$cache"
if [ -z "$(find "$tarball" -mtime -30 2>/dev/null)" ]; then
	rt_log "making $tarball"
	mmdebstrap --quiet --variant=minbase --mode=root \
		--include=weston,foot,fonts-dejavu-core bookworm "$cache/clients-new.tar.gz" "$mirror" ||
		rt_die "mmdebstrap failed"
	mv "$cache/clients-new.tar.gz" "$tarball"
fi

root=$RT_WORK/chroot
mkdir -p "$root"
tar -xzf "$tarball" -C "$root" || rt_die "cannot unpack $tarball"
mounts=()
chroot_mount() {
	mount "$@" && mounts+=("${@: -1}")
}
umount_all() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${mounts[i]}"
	done
}
# Unmount before lib.sh's cleanup removes the work directory; rt_cleanup
# exits with the status it finds in $?, the script's, not umount's.
trap 'status=$?; umount_all; (exit $status); rt_cleanup' EXIT
chroot_mount -t proc proc "$root/proc"
# foot opens a pty.
chroot_mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/run/user/0" "$root/run/sim" "$root/opt/sim" "$root/debs"
cp "$debs"/libwayland-{client0,cursor0,egl1}_*.deb "$root/debs/"
alongside=$(basename "$(ls "$debs"/wayland-virtgpu-alongside_*.deb)")
cp "$debs/$alongside" "$root/"
cp "$sim_build/tests/sim/libvirtgpu-sim-kernel.so" "$root/opt/sim/"

# weston's x11 backend (in Xvfb) has a seat, which foot needs.
RT_XDISPLAY=
rt_start_weston x11 inst
chroot_mount --bind "$RT_XDG" "$root/run/user/0"

# in_chroot: the command in the chroot with the clients' environment.
in_chroot() {
	chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh PS1='$ ' ENV= \
		XDG_RUNTIME_DIR=/run/user/0 WAYLAND_DISPLAY="$RT_SOCKET" "$@"
}

client_cmd() {
	case $1 in
	simple-shm) echo weston-simple-shm ;;
	foot) echo "foot /bin/sh" ;;
	esac
}

# run_client NAME TAG [ENV...]: start the client in the chroot, check which
# library it maps, screenshot it into $RT_WORK/TAG-NAME.png.
run_client() {
	local name=$1 tag=$2 pid maps lib owner
	shift 2
	# exec all the way down, so that $! is the client's pid.
	(exec chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh PS1='$ ' ENV= \
		XDG_RUNTIME_DIR=/run/user/0 WAYLAND_DISPLAY="$RT_SOCKET" "$@" $(client_cmd "$name")) \
		>"$RT_WORK/$tag-$name.log" 2>&1 &
	pid=$!
	sleep 3
	kill -0 "$pid" 2>/dev/null || { cat "$RT_WORK/$tag-$name.log" >&2; rt_log "$name exited"; return 1; }
	maps=$(in_chroot cat "/proc/$pid/maps")
	lib=$(awk '$6 ~ /\/libwayland-client\.so/ { print $6 }' <<<"$maps" | sort -u)
	owner=$(in_chroot dpkg-query -S "$lib" 2>/dev/null | cut -d: -f1-2)
	rt_log "$tag $name (pid $pid) maps $lib ($owner $(in_chroot dpkg-query -W -f='${Version}' "$owner"))"
	echo "$lib" >"$RT_WORK/$tag-$name.lib"
	sleep 1
	rt_screenshot "$RT_WORK/$tag-$name.png" window || { rt_stop "$pid"; return 1; }
	# SIGINT first: weston-simple-shm then disconnects, and the library
	# prints its stats line.
	kill -INT "$pid"
	rt_wait_gone "$pid" 30
	rt_stop "$pid"
	return 0
}

status=0
rt_screenshot "$RT_WORK/desktop.png" background || rt_die "no screenshot of the empty desktop"

for c in simple-shm foot; do
	run_client "$c" debian || status=1
done

# wayland-virtgpu-alongside: beside Debian's library, found first; and
# gone again once purged.
in_chroot apt-get install -y -q --no-install-recommends "/$alongside" \
	>"$RT_WORK/apt-alongside.log" 2>&1 || { cat "$RT_WORK/apt-alongside.log"; rt_die "apt could not install it"; }
in_chroot /sbin/ldconfig -p | grep -m 1 'libwayland-client.so.0 ' >&2
run_client simple-shm alongside || status=1
if [ "$(cat "$RT_WORK/alongside-simple-shm.lib")" != "/usr/lib/$multiarch/wayland-virtgpu/libwayland-client.so.0.26.0" ]; then
	rt_log "FAIL: with wayland-virtgpu-alongside, simple-shm does not map its library"
	status=1
fi
in_chroot apt-get purge -y -q wayland-virtgpu-alongside >>"$RT_WORK/apt-alongside.log" 2>&1
if in_chroot /sbin/ldconfig -p | grep -q wayland-virtgpu; then
	rt_log "FAIL: ld.so.cache still lists wayland-virtgpu after the purge"
	status=1
fi

in_chroot sh -c 'apt-get install -y -q --no-install-recommends /debs/*.deb' >"$RT_WORK/apt.log" 2>&1 ||
	{ cat "$RT_WORK/apt.log"; rt_die "apt could not install our packages"; }
in_chroot dpkg-query -W libwayland-client0 libwayland-cursor0 libwayland-egl1 >&2

want=/usr/lib/$multiarch/libwayland-client.so.0.26.0
for c in simple-shm foot; do
	run_client "$c" ours || { status=1; continue; }
	[ "$(cat "$RT_WORK/ours-$c.lib")" = "$want" ] || { rt_log "FAIL: $c does not map $want"; status=1; }
	mode=near
	[ "$c" = simple-shm ] && mode=stats
	if "$RT_PYTHON" "$RT_DIR/compare.py" compare $mode "$RT_WORK/debian-$c.png" "$RT_WORK/desktop.png" \
			"$RT_WORK/ours-$c.png" "$RT_WORK/desktop.png"; then
		rt_log "$c: same pixels as on Debian's library ($mode)"
	else
		rt_log "FAIL: $c: pixels differ from Debian's library"
		status=1
	fi
done

# Guests of the simulated virtio-gpu: the host device on this host talks to
# weston; in the chroot no compositor socket, only the device's.
# The default host-visible window of 1 GiB: foot's 512 MB pools hold host
# memory only where its buffers are.
sock_dir=$RT_WORK/sim
mkdir -p "$sock_dir"
"$sim_build/tests/sim/virtgpu-sim-host" --socket "$sock_dir/device.sock" --profile rutabaga \
	--wayland "$RT_XDG/$RT_SOCKET" </dev/null 2>"$RT_WORK/sim-host.log" &
rt_track $!
for _ in $(seq 1 50); do [ -S "$sock_dir/device.sock" ] && break; sleep 0.1; done
chroot_mount --bind "$sock_dir" "$root/run/sim"
mkdir -p -m 700 "$root/run/user/guest"
for c in simple-shm foot; do
	if ! run_client "$c" guest XDG_RUNTIME_DIR=/run/user/guest WAYLAND_DISPLAY=wayland-0 \
			VIRTGPU_SIM_SOCKET=/run/sim/device.sock LD_PRELOAD=/opt/sim/libvirtgpu-sim-kernel.so \
			WAYLAND_VIRTGPU_STATS=1; then
		status=1
		continue
	fi
	[ "$(cat "$RT_WORK/guest-$c.lib")" = "$want" ] || { rt_log "FAIL: guest $c does not map $want"; status=1; }
	# Its XDG_RUNTIME_DIR has no socket: a window on weston came through
	# the device. The stats line says so too, when the client exits cleanly.
	grep -o 'transport=[a-z]* sent_bytes=[0-9]* recv_bytes=[0-9]*' "$RT_WORK/guest-$c.log" |
		sed "s/^/guest $c: /" >&2
	mode=near
	[ "$c" = simple-shm ] && mode=stats
	"$RT_PYTHON" "$RT_DIR/compare.py" compare $mode "$RT_WORK/debian-$c.png" "$RT_WORK/desktop.png" \
		"$RT_WORK/guest-$c.png" "$RT_WORK/desktop.png" ||
		{ rt_log "FAIL: guest $c: pixels differ from Debian's library on the socket"; status=1; }
done

[ $status -eq 0 ] && rt_log "install test: ok"
exit $status
