#!/bin/bash
# The i386 packages at run time, on a system with both architectures as
# Steam and Wine make it: a Debian 12 amd64+i386 chroot with Debian's
# libwayland on both and weston-simple-shm:i386.
#  1. apt (simulated): our amd64 packages alone would remove
#     libwayland-client0:i386 (Multi-Arch: same needs one version on every
#     architecture); with our i386 ones beside them nothing is removed.
#  2. weston-simple-shm:i386 runs against a weston on this host (socket
#     bind-mounted in) on Debian's i386 library, then on ours installed by
#     apt beside the amd64 ones: it must map
#     /usr/lib/i386-linux-gnu/libwayland-client.so.0.26.0 of our package,
#     print our library's stats line, and draw like on Debian's.
# Where the kernel runs i386 programs, the client runs natively; where it
# refuses them (execve fails with ENOEXEC), under qemu-user
# (qemu-i386-static, copied into the chroot). The machine this was written
# on is such a one: a PVM guest whose kernel says at boot "IA-32 emulation
# off: the host runs 64-bit user code only (i386 execve returns ENOEXEC,
# ia32_emulation= is overridden)", although CONFIG_IA32_EMULATION=y.
#
# The chroot comes from a tarball cached in /var/cache/wayland-virtgpu/
# (140 MB; its name carries a hash of the package list). Needs root, the
# amd64 .debs (tests/debian/build-packages.sh) and the i386 ones
# (tests/debian/i386.sh).
#
# Usage: tests/debian/i386-run.sh   (.debs from build-debian/debs{,-i386})
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=$top/build-debian/debs
debs_i386=$top/build-debian/debs-i386
pkgs=(libwayland-client0 libwayland-cursor0 libwayland-egl1)

RT_KEEP=${RT_KEEP:-}
. "$top/tests/real/lib.sh"
rt_init debian-i386-run
. "$top/tests/debian/chroot-lib.sh"

for a in amd64 i386; do
	d=$debs
	[ $a = i386 ] && d=$debs_i386
	for p in "${pkgs[@]}"; do
		ls "$d/${p}"_*_$a.deb >/dev/null 2>&1 ||
			rt_die "no $d/${p}_*_$a.deb: run tests/debian/build-packages.sh and tests/debian/i386.sh first"
	done
done
chroot_tarball bookworm-i386-clients --variant=minbase --architectures=amd64,i386 \
	--include=weston:i386,libwayland-client0:amd64,libwayland-cursor0:amd64,libwayland-egl1:amd64 \
	"${CHROOT_SLIM[@]}"
chroot_unpack "$CHROOT_TARBALL"
mkdir -p "$root/run/user/0" "$root/debs"
for p in "${pkgs[@]}"; do
	cp "$debs/${p}"_*_amd64.deb "$debs_i386/${p}"_*_i386.deb "$root/debs/"
done
version=$(dpkg-deb -f "$(ls "$debs_i386"/libwayland-client0_*_i386.deb)" Version)

in_chroot() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		XDG_RUNTIME_DIR=/run/user/0 WAYLAND_DISPLAY="${RT_SOCKET:-}" "$@"
}

# Natively if the kernel runs i386 programs, else under qemu-user.
qemu=
if ! err=$("$root/usr/lib/i386-linux-gnu/ld-linux.so.2" --version 2>&1 >/dev/null); then
	rt_log "this kernel does not run i386 programs (${err##*: }): they run under qemu-user"
	qemu=$(command -v qemu-i386-static) || rt_die "no qemu-i386-static: apt-get install qemu-user-static"
	cp "$qemu" "$root/usr/bin/"
	qemu=/usr/bin/qemu-i386-static
fi

status=0
# 1. What apt would do, before anything is installed.
in_chroot sh -c 'apt-get install -s /debs/*_amd64.deb' >"$RT_WORK/apt-amd64.sim" 2>&1
if grep -q '^Remv libwayland-client0:i386 ' "$RT_WORK/apt-amd64.sim"; then
	rt_log "apt: our amd64 packages alone remove: $(grep '^Remv' "$RT_WORK/apt-amd64.sim" | cut -d' ' -f2 | paste -sd' ')"
else
	# The README says they do; if apt stops doing so, it must be told.
	rt_log "FAIL: our amd64 packages alone no longer remove libwayland-client0:i386:"
	cat "$RT_WORK/apt-amd64.sim" >&2
	status=1
fi
in_chroot sh -c 'apt-get install -s /debs/*.deb' >"$RT_WORK/apt-both.sim" 2>&1
if grep -q '^Remv' "$RT_WORK/apt-both.sim" ||
		[ "$(grep -c "^Inst libwayland-.*($version " "$RT_WORK/apt-both.sim")" -ne 6 ]; then
	rt_log "FAIL: apt would not upgrade both architectures' packages to $version without removing any:"
	cat "$RT_WORK/apt-both.sim" >&2
	status=1
else
	rt_log "apt: amd64 and i386 together: 6 packages to $version, nothing removed"
fi

rt_start_weston headless i386
chroot_mount --bind "$RT_XDG" "$root/run/user/0"

# run_client TAG: weston-simple-shm:i386, three frames into TAG-N.png;
# writes the libwayland files it maps, each with its package and version,
# into TAG.lib and its output into TAG.log.
run_client() {
	local tag=$1 pid i
	(exec chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root XDG_RUNTIME_DIR=/run/user/0 \
		WAYLAND_DISPLAY="$RT_SOCKET" WAYLAND_VIRTGPU_STATS=1 $qemu /usr/bin/weston-simple-shm) \
		>"$RT_WORK/$tag.log" 2>&1 &
	pid=$!
	rt_track "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { cat "$RT_WORK/$tag.log" >&2; rt_log "$tag: weston-simple-shm exited"; return 1; }
		rt_screenshot "$RT_WORK/$tag-1.png" window || return 1
		"$RT_PYTHON" "$RT_DIR/compare.py" window "$RT_WORK/$tag-1.png" "$RT_WORK/desktop-i386.png" \
			>/dev/null && break
		sleep 0.3
	done
	for i in 2 3; do
		sleep 0.25
		rt_screenshot "$RT_WORK/$tag-$i.png" window || return 1
	done
	chroot_libwayland "$pid" "$RT_WORK/$tag.lib"
	rt_log "$tag: weston-simple-shm:i386 (pid $pid) maps: $(paste -sd';' "$RT_WORK/$tag.lib")"
	# SIGINT: it disconnects, and our library prints its stats line.
	kill -INT "$pid"
	rt_wait_gone "$pid" 50
	rt_stop "$pid"
}

frames() {
	seq -f "$RT_WORK/$1-%g.png" 1 3 | paste -sd,
}

debian_version=$(in_chroot dpkg-query -W -f='${Version}' libwayland-client0:i386)
if run_client debian; then
	grep -q "^/usr/lib/i386-linux-gnu/libwayland-client\.so\.[0-9.]* libwayland-client0:i386 $debian_version\$" \
		"$RT_WORK/debian.lib" || { rt_log "FAIL: the first run does not map Debian's i386 library"; status=1; }
else
	rt_die "weston-simple-shm:i386 does not run on Debian's own library here"
fi

# 2. Ours, installed by apt beside the amd64 ones.
in_chroot sh -c 'apt-get install -y -q --no-install-recommends /debs/*.deb' >"$RT_WORK/apt.log" 2>&1 ||
	{ cat "$RT_WORK/apt.log" >&2; rt_die "apt could not install our amd64 and i386 packages"; }
installed=$(in_chroot dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' \
	"${pkgs[@]/%/:amd64}" "${pkgs[@]/%/:i386}" weston:i386 | grep ' install ok installed$')
echo "$installed" >&2
if [ "$(grep -c " $version " <<<"$installed")" -ne 6 ] || ! grep -q '^weston:i386 ' <<<"$installed"; then
	rt_log "FAIL: not all of our six packages installed, or weston:i386 gone"
	status=1
fi

if run_client ours; then
	if ! grep -q "^/usr/lib/i386-linux-gnu/libwayland-client\.so\.0\.26\.0 libwayland-client0:i386 $version\$" \
			"$RT_WORK/ours.lib" || grep -v " $version\$" "$RT_WORK/ours.lib" >&2; then
		rt_log "FAIL: weston-simple-shm:i386 does not map our i386 libwayland-client only"
		status=1
	fi
	stats=$(grep -a '^wayland-virtgpu stats: ' "$RT_WORK/ours.log" | tail -n 1)
	if [ -z "$stats" ]; then
		rt_log "FAIL: no stats line from our i386 library"
		status=1
	else
		rt_log "ours: $stats"
	fi
	if "$RT_PYTHON" "$RT_DIR/compare.py" compare stats "$(frames debian)" "$RT_WORK/desktop-i386.png" \
			"$(frames ours)" "$RT_WORK/desktop-i386.png" --diff "$RT_WORK/diff.png" >&2; then
		rt_log "ours: same pixels as on Debian's i386 library (stats)"
	else
		rt_log "FAIL: weston-simple-shm:i386 draws differently on our library"
		status=1
	fi
else
	status=1
fi

[ $status -eq 0 ] && rt_log "i386 run: ok${qemu:+ (under qemu-user)}"
exit $status
