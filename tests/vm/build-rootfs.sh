#!/bin/bash
# The guest of tests/vm/vm-run: a Debian 12 root file system made with mmdebstrap (minbase,
# Debian's kernel, busybox for the initramfs, and the real clients the suites run in the
# guest), kept as a directory that QEMU exports read-only over 9p, and the initramfs that
# mounts it (tests/vm/guest-init, the modules it needs from the root's own kernel).
# Cached in /var/cache/wayland-virtgpu/vm-root-KEY/ (KEY: the package list and options),
# so a second run does not rebuild; about 5 minutes and 900 MB the first time.
# Needs root and Debian's archive.
#
# usage: tests/vm/build-rootfs.sh      prints the root's directory as its last line;
#        the kernel is ROOT/vmlinuz, the initramfs ROOT.initrd.gz.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${WAYLAND_VIRTGPU_CACHE:-/var/cache/wayland-virtgpu}
mirror=${MIRROR:-http://deb.debian.org/debian}
log() { echo "build-rootfs: $*" >&2; }

# The clients the VM suites run (tests/vm/meson.build), fonts and cursor themes for them.
packages=linux-image-amd64,busybox-static,weston,foot,wl-clipboard,fonts-dejavu-core
packages+=,gtk-4-examples,dmz-cursor-theme,adwaita-icon-theme
opts=(--variant=minbase --include="$packages"
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
	--essential-hook='echo "do_symlinks = no" >"$1/etc/kernel-img.conf"'
	--customize-hook='chroot "$1" update-initramfs -d -k all >/dev/null 2>&1 || true')
key=$(printf '%s\n' "${opts[@]}" | sha256sum | cut -c1-8)
root=$cache/vm-root-$key

if [ ! -e "$root/.complete" ]; then
	[ "$(id -u)" = 0 ] || { log "making $root needs root"; exit 1; }
	command -v mmdebstrap >/dev/null || { log "no mmdebstrap (apt-get install mmdebstrap)"; exit 1; }
	log "making $root (Debian 12, about 5 minutes)"
	rm -rf "$root.new"
	mmdebstrap --quiet --mode=root "${opts[@]}" bookworm "$root.new" "$mirror" >&2
	# Older lists' roots are of no more use.
	for old in "$cache"/vm-root-*; do
		case "$old" in "$root.new") ;; *) rm -rf "$old" ;; esac
	done
	mv "$root.new" "$root"
	ln -sf "$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1 | sed 's|^|boot/|')" "$root/vmlinuz"
	touch "$root/.complete"
fi

# The initramfs: busybox, the modules that reach the root (virtio-pci, 9p, overlay) and
# virtio-gpu, in dependency order (from each module's depends=), and guest-init.
initrd=$root.initrd.gz
stamp=$(cat "$here/guest-init" "$0" | sha256sum | cut -c1-16)
if [ "$(cat "$initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/vm-initrd.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
	mkdir -p "$work"/{bin,proc,sys,dev,root,mods}
	cp "$root/bin/busybox" "$work/bin/"
	python3 - "$root/lib/modules/$kver/kernel" >"$work/order" <<'PY'
import os, re, sys
paths = {}
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith('.ko'):
            paths[f[:-3].replace('-', '_')] = os.path.join(d, f)
order = []
def visit(m):
    if m in order:
        return
    if m not in paths:
        sys.exit('no module ' + m)
    deps = re.search(rb'depends=([^\x00]*)', open(paths[m], 'rb').read())
    for dep in (deps.group(1).split(b',') if deps else []):
        if dep:
            visit(dep.decode().replace('-', '_'))
    order.append(m)
for m in ('virtio_pci', 'virtio_gpu', '9pnet_virtio', '9p', 'overlay'):
    visit(m)
print('\n'.join(paths[m] for m in order))
PY
	while read -r m; do cp "$m" "$work/mods/"; done <"$work/order"
	sed 's|.*/||' "$work/order" >"$work/modules"
	rm "$work/order"
	cp "$here/guest-init" "$work/init"
	chmod +x "$work/init"
	(cd "$work" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$initrd.new"
	mv "$initrd.new" "$initrd"
	echo "$stamp" >"$initrd.stamp"
fi
echo "$root"
