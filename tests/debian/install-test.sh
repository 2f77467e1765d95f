#!/bin/bash
# The real install: a Debian 12 chroot whose clients (weston-simple-shm,
# foot, gtk4-demo and Qt 5's calculator example, all from Debian) run
# against a weston (x11 backend, Xvfb) on this host, its socket bind-mounted
# in. First on Debian's libwayland, then on ours, installed in the chroot by
# apt (no LD_LIBRARY_PATH anywhere): each client must map
# /usr/lib/<triplet>/libwayland-client.so.0 from our package, and any
# libwayland-cursor/-egl it maps from ours too (/proc/PID/maps, read in the
# chroot), and show the same pixels as on Debian's library. Then the same
# clients run as guests of the simulated virtio-gpu (tests/sim): no
# compositor socket in the chroot, only the fake kernel preloaded and the
# host device's socket, and must reach the host's weston with the packaged
# library alone.
#
# The chroot comes from a tarball cached in /var/cache/wayland-virtgpu/
# (minbase + the clients, without docs, man pages and translations: 230 MB,
# about 5 minutes to make here). Its name carries a hash of the package
# list, so a changed list makes a new one. Needs root,
# tests/debian/build-packages.sh's output, and its build tree for the
# simulator (or SIM_BUILD=a build directory with tests/sim built).
#
# Usage: tests/debian/install-test.sh [DEBDIR]   (default build-debian/debs)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=${1:-$top/build-debian/debs}
sim_build=${SIM_BUILD:-$top/build-debian/src/wayland-virtgpu/build-deb}
# The clients and what they need; GTK 4 draws with Mesa's EGL (llvmpipe)
# through libwayland-egl, Qt's widgets through wl_shm.
chroot_packages=weston,foot,fonts-dejavu-core,gtk-4-examples,qtbase5-examples,qtwayland5
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

RT_KEEP=${RT_KEEP:-}
. "$top/tests/real/lib.sh"
rt_init debian-install
. "$top/tests/debian/chroot-lib.sh"

for f in "$sim_build/tests/sim/virtgpu-sim-host" "$sim_build/tests/sim/libvirtgpu-sim-kernel.so" \
		"$sim_build/tests/real/libexit-on-term.so"; do
	[ -e "$f" ] || rt_die "no $f: run tests/debian/build-packages.sh first, or set SIM_BUILD"
done

chroot_tarball bookworm-clients --variant=minbase --include="$chroot_packages" "${CHROOT_SLIM[@]}"
chroot_unpack "$CHROOT_TARBALL"
# foot opens a pty.
chroot_mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/run/user/0" "$root/run/sim" "$root/opt/sim" "$root/debs"
cp "$debs"/libwayland-{client0,cursor0,egl1}_*.deb "$root/debs/"
alongside=$(basename "$(ls "$debs"/wayland-virtgpu-alongside_*.deb)")
cp "$debs/$alongside" "$root/"
cp "$sim_build/tests/sim/libvirtgpu-sim-kernel.so" "$sim_build/tests/real/libexit-on-term.so" "$root/opt/sim/"

# weston's x11 backend (in Xvfb) has a seat, which foot needs.
RT_XDISPLAY=
rt_start_weston x11 inst
chroot_mount --bind "$RT_XDG" "$root/run/user/0"

# The clients' environment in the chroot (as tests/real/run-client.sh's:
# no accessibility bus, Mesa's software drivers).
client_env=(PATH=/usr/bin:/bin HOME=/root SHELL=/bin/sh PS1='$ ' ENV=
	NO_AT_BRIDGE=1 GTK_A11Y=none LIBGL_ALWAYS_SOFTWARE=1)

# in_chroot: the command in the chroot with the clients' environment.
in_chroot() {
	chroot "$root" env -i "${client_env[@]}" \
		XDG_RUNTIME_DIR=/run/user/0 WAYLAND_DISPLAY="$RT_SOCKET" "$@"
}

clients=(simple-shm foot gtk4-demo qt5-calculator)

client_cmd() {
	case $1 in
	simple-shm) echo weston-simple-shm ;;
	foot) echo "foot /bin/sh" ;;
	gtk4-demo) echo "env GDK_BACKEND=wayland gtk4-demo" ;;
	qt5-calculator)
		echo "env QT_QPA_PLATFORM=wayland /usr/lib/$multiarch/qt5/examples/widgets/widgets/calculator/calculator" ;;
	esac
}

# client_mode NAME: how its screenshots compare (tests/real/compare.py):
# weston-simple-shm animates, foot's cursor blinks, the rest is static.
client_mode() {
	case $1 in
	simple-shm) echo stats ;;
	foot) echo near ;;
	*) echo exact ;;
	esac
}

# shoot_settled PID MODE OUT: screenshot once the client's window is up
# and, unless it animates, two shots in a row agree.
shoot_settled() {
	local pid=$1 mode=$2 out=$3 prev=$3.prev try
	rm -f "$prev"
	for try in $(seq 1 80); do
		kill -0 "$pid" 2>/dev/null || { rt_log "the client exited"; return 1; }
		rt_screenshot "$out" window || return 1
		if "$RT_PYTHON" "$RT_DIR/compare.py" window "$out" "$RT_WORK/desktop.png" >/dev/null; then
			[ "$mode" = stats ] && return 0
			if [ -e "$prev" ]; then
				if [ "$mode" = exact ]; then
					cmp -s "$out" "$prev" && return 0
				elif "$RT_PYTHON" "$RT_DIR/compare.py" compare "$mode" "$prev" "$RT_WORK/desktop.png" \
						"$out" "$RT_WORK/desktop.png" >/dev/null; then
					return 0
				fi
			fi
			cp "$out" "$prev"
		fi
		sleep 0.3
	done
	rt_log "no settled window after $try screenshots"
	return 1
}

# run_client NAME TAG [ENV...]: start the client in the chroot, screenshot
# it into $RT_WORK/TAG-NAME.png once settled, and write the libwayland
# files it maps into TAG-NAME.lib, each with its package and version.
run_client() {
	local name=$1 tag=$2 pid cmd
	shift 2
	read -ra cmd <<<"$(client_cmd "$name")"
	# exec all the way down, so that $! is the client's pid.
	(exec chroot "$root" env -i "${client_env[@]}" \
		XDG_RUNTIME_DIR=/run/user/0 WAYLAND_DISPLAY="$RT_SOCKET" "$@" "${cmd[@]}") \
		>"$RT_WORK/$tag-$name.log" 2>&1 &
	pid=$!
	if ! shoot_settled "$pid" "$(client_mode "$name")" "$RT_WORK/$tag-$name.png"; then
		tail -n 20 "$RT_WORK/$tag-$name.log" >&2
		rt_stop "$pid"
		return 1
	fi
	chroot_libwayland "$pid" "$RT_WORK/$tag-$name.lib"
	rt_log "$tag $name (pid $pid) maps: $(paste -sd';' "$RT_WORK/$tag-$name.lib")"
	# SIGTERM first: a guest then exit()s (exit-on-term, preloaded), and
	# the library prints its stats line.
	kill -TERM "$pid"
	rt_wait_gone "$pid" 30
	rt_stop "$pid"
	return 0
}

# check_ours TAG NAME: the client mapped our libwayland-client.so.0 from
# the multiarch directory, and every libwayland library it mapped is one of
# our packages'.
check_ours() {
	local f=$RT_WORK/$1-$2.lib
	if ! grep -q "^/usr/lib/$multiarch/libwayland-client\.so\.0\.26\.0 libwayland-client0:[a-z0-9]* $version\$" "$f"; then
		rt_log "FAIL: $1 $2 does not map /usr/lib/$multiarch/libwayland-client.so.0.26.0 of libwayland-client0 $version"
		return 1
	fi
	if grep -v " $version\$" "$f" >&2; then
		rt_log "FAIL: $1 $2 maps a libwayland library not of our packages (above)"
		return 1
	fi
	return 0
}

# compare_with_debian TAG NAME: same pixels as the client on Debian's library.
compare_with_debian() {
	local mode
	mode=$(client_mode "$2")
	if "$RT_PYTHON" "$RT_DIR/compare.py" compare "$mode" "$RT_WORK/debian-$2.png" "$RT_WORK/desktop.png" \
			"$RT_WORK/$1-$2.png" "$RT_WORK/desktop.png" --diff "$RT_WORK/$1-$2-diff.png" >&2; then
		rt_log "$1 $2: same pixels as on Debian's library ($mode)"
		return 0
	fi
	rt_log "FAIL: $1 $2: pixels differ from Debian's library ($mode; $RT_WORK/$1-$2-diff.png)"
	return 1
}

status=0
rt_screenshot "$RT_WORK/desktop.png" background || rt_die "no screenshot of the empty desktop"
debian_version=$(in_chroot dpkg-query -W -f='${Version}' libwayland-client0)
version=$(dpkg-deb -f "$(ls "$debs"/libwayland-client0_*.deb | head -n 1)" Version)

for c in "${clients[@]}"; do
	run_client "$c" debian || { status=1; continue; }
	grep -q "^/usr/lib/$multiarch/libwayland-client\.so\.[0-9.]* libwayland-client0:[a-z0-9]* $debian_version\$" \
		"$RT_WORK/debian-$c.lib" || { rt_log "FAIL: debian $c does not map Debian's library"; status=1; }
done

# wayland-virtgpu-alongside: beside Debian's library, found first; and
# gone again once purged.
in_chroot apt-get install -y -q --no-install-recommends "/$alongside" \
	>"$RT_WORK/apt-alongside.log" 2>&1 || { cat "$RT_WORK/apt-alongside.log"; rt_die "apt could not install it"; }
in_chroot /sbin/ldconfig -p | grep -m 1 'libwayland-client.so.0 ' >&2
run_client simple-shm alongside || status=1
if ! grep -q "^/usr/lib/$multiarch/wayland-virtgpu/libwayland-client\.so\.0\.26\.0 wayland-virtgpu-alongside:" \
		"$RT_WORK/alongside-simple-shm.lib"; then
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

for c in "${clients[@]}"; do
	run_client "$c" ours || { status=1; continue; }
	check_ours ours "$c" || status=1
	compare_with_debian ours "$c" || status=1
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
for c in "${clients[@]}"; do
	if ! run_client "$c" guest XDG_RUNTIME_DIR=/run/user/guest WAYLAND_DISPLAY=wayland-0 \
			VIRTGPU_SIM_SOCKET=/run/sim/device.sock WAYLAND_VIRTGPU_STATS=1 \
			LD_PRELOAD=/opt/sim/libvirtgpu-sim-kernel.so:/opt/sim/libexit-on-term.so; then
		status=1
		continue
	fi
	check_ours guest "$c" || status=1
	# Its XDG_RUNTIME_DIR has no socket: a window on weston came through
	# the device, as the stats line printed at exit says.
	rt_check_stats "$RT_WORK/guest-$c.log" "guest $c" || status=1
	compare_with_debian guest "$c" || status=1
done

[ $status -eq 0 ] && rt_log "install test: ok"
exit $status
