#!/bin/bash
# The guest of tests/vm/vm-run: a Debian 12 root file system made with mmdebstrap (minbase,
# Debian's kernel, busybox for the initramfs, and the real clients the suites run in the
# guest), kept as a directory that QEMU exports read-only over 9p, and the initramfs that
# mounts it (tests/vm/guest-init, the modules it needs from the root's own kernel).
# Cached in /var/cache/wayland-virtgpu/vm-root-KEY/ (KEY: the package list and options),
# so a second run does not rebuild; about 5 minutes and 900 MB the first time.
# Needs root and Debian's archive.
#
# usage: tests/vm/build-rootfs.sh [--kernel bookworm|trixie]
#        prints "ROOT KERNEL INITRD" as its last line. The kernel is the root's own (Debian
#        12's), or Debian 13's (downloaded once, into /var/cache/wayland-virtgpu/vm-kernel-trixie).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${WAYLAND_VIRTGPU_CACHE:-/var/cache/wayland-virtgpu}
mirror=${MIRROR:-http://deb.debian.org/debian}
log() { echo "build-rootfs: $*" >&2; }
kernel=bookworm
case "${1:-}" in
--kernel) kernel=${2:-}; shift 2 ;;
--kernel=*) kernel=${1#--kernel=}; shift ;;
esac
case "$kernel" in
bookworm|trixie) ;;
*) log "--kernel bookworm or trixie, not '$kernel'"; exit 2 ;;
esac

# The clients the VM suites run (tests/vm/meson.build), fonts and cursor themes for them.
# GTK reads its fonts and window buttons from gsettings-desktop-schemas, as on the host that
# takes the reference screenshots; Mesa's drivers are for EGL clients in the guest.
packages=linux-image-amd64,busybox-static,weston,foot,wl-clipboard,fonts-dejavu-core
packages+=,fonts-dejavu-extra,gsettings-desktop-schemas,libgl1-mesa-dri,libegl1
packages+=,gtk-4-examples,dmz-cursor-theme,adwaita-icon-theme
opts=(--variant=minbase --include="$packages"
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
	--essential-hook='echo "do_symlinks = no" >"$1/etc/kernel-img.conf"'
	--customize-hook='chroot "$1" update-initramfs -d -k all >/dev/null 2>&1 || true')
key=$(printf '%s\n' "${opts[@]}" | sha256sum | cut -c1-8)
# One at a time: suites start several vm-runs at once.
mkdir -p "$cache"
exec 9>"$cache/vm-rootfs.lock"
flock 9
root=$cache/vm-root-$key

if [ ! -e "$root/.complete" ]; then
	[ "$(id -u)" = 0 ] || { log "making $root needs root"; exit 1; }
	command -v mmdebstrap >/dev/null || { log "no mmdebstrap (apt-get install mmdebstrap)"; exit 1; }
	log "making $root (Debian 12, about 5 minutes)"
	rm -rf "$root.new"
	mmdebstrap --quiet --mode=root "${opts[@]}" bookworm "$root.new" "$mirror" >&2
	mv "$root.new" "$root"
	ln -sf "$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1 | sed 's|^|boot/|')" "$root/vmlinuz"
	touch "$root/.complete"
fi
# Older lists' roots are of no more use, unless a VM still runs on one: each tests/vm/vm-run
# holds vm-root.inuse shared while its guest lives (it calls this script under that lock, so
# only a call from outside a vm-run, e.g. tests/vm/prepare.sh, removes them).
if flock -xn "$cache/vm-root.inuse" true 2>/dev/null; then
	for old in "$cache"/vm-root-*; do
		case "$old" in "$root"|"$root".*) ;; *) rm -rf "$old" ;; esac
	done
fi

# make_initrd MODULES_DIR OUT: the initramfs for the kernel whose modules are in
# MODULES_DIR: busybox, the modules that reach the root (virtio-pci, 9p, overlay) and
# virtio-gpu not built into the kernel, in dependency order (from each module's depends=;
# xz-compressed ones, as Debian 13 ships them, decompressed), and guest-init. Made again when either changed.
make_initrd()
{
	local moddir=$1 out=$2 stamp work
	stamp=$(cat "$here/guest-init" "$0" | sha256sum | cut -c1-16)
	[ "$(cat "$out.stamp" 2>/dev/null)" != "$stamp" ] || return 0
	work=$(mktemp -d "${TMPDIR:-/tmp}/vm-initrd.XXXXXX")
	mkdir -p "$work"/{bin,proc,sys,dev,root,mods}
	cp "$root/bin/busybox" "$work/bin/"
	python3 - "$moddir" "$work/mods" >"$work/modules" <<'PY' || { rm -rf "$work"; return 1; }
import lzma, os, re, sys
paths = {}
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        for ext in ('.ko', '.ko.xz'):
            if f.endswith(ext):
                paths[f[:-len(ext)].replace('-', '_')] = os.path.join(d, f)
builtin = set()
if os.path.exists(os.path.join(sys.argv[1], 'modules.builtin')):
    for line in open(os.path.join(sys.argv[1], 'modules.builtin')):
        builtin.add(os.path.basename(line.strip())[:-3].replace('-', '_'))
order = []
def visit(m):
    if m in order or m in builtin:
        return
    if m not in paths:
        sys.exit('no module ' + m)
    path = paths[m]
    data = lzma.open(path).read() if path.endswith('.xz') else open(path, 'rb').read()
    deps = re.search(rb'depends=([^\x00]*)', data)
    for dep in (deps.group(1).split(b',') if deps else []):
        if dep:
            visit(dep.decode().replace('-', '_'))
    open(os.path.join(sys.argv[2], m + '.ko'), 'wb').write(data)
    order.append(m)
for m in ('virtio_pci', 'virtio_gpu', '9pnet_virtio', '9p', 'overlay'):
    visit(m)
print('\n'.join(m + '.ko' for m in order))
PY
	cp "$here/guest-init" "$work/init"
	chmod +x "$work/init"
	(cd "$work" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out.new"
	mv "$out.new" "$out"
	echo "$stamp" >"$out.stamp"
	rm -rf "$work"
}

case "$kernel" in
bookworm)
	vmlinuz=$root/vmlinuz
	initrd=$root.initrd.gz
	make_initrd "$root/lib/modules/$(ls "$root/lib/modules" | sort -V | tail -n 1)" "$initrd"
	;;
trixie)
	# Debian 13's kernel, from the lists build-qemu.sh keeps (its private apt state).
	kdir=$cache/vm-kernel-trixie
	apt_state=$cache/qemu/apt
	apt_opts=(-o "Dir::Etc::SourceList=$apt_state/trixie.sources" -o Dir::Etc::SourceParts=/nonexistent
		-o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache"
		-o APT::Sandbox::User=root)
	[ -e "$apt_state/trixie.sources" ] ||
		{ log "no trixie apt state in $apt_state: run tests/vm/build-qemu.sh first"; exit 1; }
	if [ ! -e "$kdir/.complete" ]; then
		apt-get "${apt_opts[@]}" update >&2
		pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
			sed -n 's/.*Depends: \(linux-image-6[^ ]*\).*/\1/p' | head -n 1)
		[ -n "$pkg" ] || { log "no linux-image-amd64 in trixie's lists"; exit 1; }
		rm -rf "$kdir" && mkdir -p "$kdir"
		(cd "$kdir" && apt-get "${apt_opts[@]}" download "$pkg" >&2 && dpkg-deb -x ./*.deb tree && rm ./*.deb) ||
			{ log "cannot download $pkg"; exit 1; }
		touch "$kdir/.complete"
	fi
	vmlinuz=$(ls "$kdir"/tree/boot/vmlinuz-* | sort -V | tail -n 1)
	initrd=$kdir/initrd.gz
	mods=$kdir/tree/usr/lib/modules	# Debian 13 is merged-/usr
	[ -d "$mods" ] || mods=$kdir/tree/lib/modules
	make_initrd "$mods/$(ls "$mods" | sort -V | tail -n 1)" "$initrd"
	;;
esac
echo "$root $vmlinuz $initrd"
