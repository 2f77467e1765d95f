# What the chroot tests of tests/debian share (install-test.sh,
# i386-run.sh): a bookworm chroot unpacked from a tarball cached in
# /var/cache/wayland-virtgpu/, the mounts into it, undone at exit before
# tests/real/lib.sh removes the work directory, and which package each
# libwayland library a client maps comes from. Sourced after lib.sh's
# rt_init; needs root and mmdebstrap.

CHROOT_CACHE=/var/cache/wayland-virtgpu
CHROOT_MIRROR=${MIRROR:-http://deb.debian.org/debian}
# Both leave out what no test reads.
CHROOT_SLIM=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*')
root=
mounts=()

# chroot_tarball NAME MMDEBSTRAP-OPTIONS...: sets CHROOT_TARBALL to the
# cached bookworm tarball made with those options, making it when missing
# or older than 30 days. Its name carries a hash of the options, so a
# changed package list makes a new one (and the old ones of NAME go).
chroot_tarball() {
	local name=$1
	shift
	CHROOT_TARBALL=$CHROOT_CACHE/$name-$(printf '%s\n' "$@" | sha256sum | cut -c1-8).tar.gz
	mkdir -p "$CHROOT_CACHE"
	[ -n "$(find "$CHROOT_TARBALL" -mtime -30 2>/dev/null)" ] && return 0
	rt_log "making $CHROOT_TARBALL"
	mmdebstrap --quiet --mode=root "$@" bookworm "$CHROOT_CACHE/$name.new.tar.gz" "$CHROOT_MIRROR" ||
		rt_die "mmdebstrap failed"
	rm -f "$CHROOT_CACHE/$name"-*.tar.gz
	mv "$CHROOT_CACHE/$name.new.tar.gz" "$CHROOT_TARBALL"
}

# chroot_mount MOUNT-ARGUMENTS... TARGET: mounted until the script exits.
chroot_mount() {
	mount "$@" && mounts+=("${@: -1}")
}

chroot_umount_all() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${mounts[i]}"
	done
}

# chroot_unpack TARBALL: the chroot in $RT_WORK/chroot ($root), /proc
# mounted. rt_cleanup exits with the status it finds in $?, the script's,
# not umount's.
chroot_unpack() {
	root=$RT_WORK/chroot
	mkdir -p "$root"
	tar -xzf "$1" -C "$root" || rt_die "cannot unpack $1"
	trap 'status=$?; chroot_umount_all; (exit $status); rt_cleanup' EXIT
	chroot_mount -t proc proc "$root/proc"
}

# chroot_libwayland PID OUT: the libwayland-client, -cursor and -egl files
# PID maps, one a line with the package that owns it and its version
# ("PATH PACKAGE:ARCH VERSION"), into OUT.
chroot_libwayland() {
	local pid=$1 out=$2 lib libs owner
	local run=(chroot "$root" env -i PATH=/usr/bin:/bin)
	mapfile -t libs < <("${run[@]}" cat "/proc/$pid/maps" |
		awk '$6 ~ /\/libwayland-(client|cursor|egl)\.so/ { print $6 }' | sort -u)
	: >"$out"
	for lib in "${libs[@]}"; do
		owner=$("${run[@]}" dpkg-query -S "$lib" 2>/dev/null | cut -d: -f1-2)
		echo "$lib $owner $("${run[@]}" dpkg-query -W -f='${Version}' "$owner")" >>"$out"
	done
}
