#!/bin/bash
# A real guest kernel on the project's host: Debian 12's kernel (from the archive) boots
# under QEMU (tests/vm/build-qemu.sh: Debian 13's source, virtio-gpu-rutabaga over
# host/rutabaga's librutabaga_gfx_ffi), TCG, from an initramfs of busybox, the virtio-gpu
# modules, our libwayland-client and tests/bench's client-bench. The client reaches a
# headless weston on this host through the cross-domain context: round trips and wl_shm
# frames (256x256, 1920x1080).
# Passes when the guest's driver sees capset 5 (cross-domain), the client exits 0 and
# prints the library's stats line with transport=virtgpu and its pools zero-copy.
# Not yet in the suite (issue 17): a first step towards tests/vm/vm-run.
#
# usage: tests/vm/boot-smoke.sh [BUILD_DIR]   (root; default ./build)
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd) || exit 2
cache=${WAYLAND_VIRTGPU_CACHE:-/var/cache/wayland-virtgpu}/vm-boot
log() { echo "boot-smoke: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

qemu=$("$src/tests/vm/build-qemu.sh" "$build" | tail -n 1) || die "no QEMU (tests/vm/build-qemu.sh)"
for f in "$build/host/rutabaga/librutabaga_gfx_ffi.so.0" "$build/src/libwayland-client.so.0" \
	"$build/tests/bench/client-bench"; do
	[ -e "$f" ] || die "no $f (ninja -C $build)"
done

# Debian 12's kernel and busybox, downloaded once.
mkdir -p "$cache" && cd "$cache" || exit 1
if ! ls linux-image-6.1*.deb >/dev/null 2>&1; then
	kernel=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-6[^ ]*\).*/\1/p' | head -n 1)
	[ -n "$kernel" ] || die "no linux-image-amd64 in apt's lists (apt-get update)"
	apt-get download "$kernel" busybox-static >/dev/null 2>&1 || die "cannot download $kernel"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vm-boot.XXXXXX")
weston_pid=
cleanup() {
	[ -z "$weston_pid" ] || kill "$weston_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
dpkg-deb -x linux-image-6.1*.deb "$work/k" && dpkg-deb -x busybox-static*.deb "$work/bb" ||
	die "cannot unpack the kernel or busybox"
kver=$(ls "$work/k/lib/modules")

# The modules virtio-gpu needs, in dependency order (from each module's depends=).
python3 - "$work/k/lib/modules/$kver/kernel" >"$work/order" <<'PY' || die "module order"
import os, re, sys
paths = {}
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith('.ko'):
            paths[f[:-3].replace('-', '_')] = os.path.join(d, f)
order = []
def visit(m):
    if m in order or m not in paths:
        return
    data = open(paths[m], 'rb').read()
    deps = re.search(rb'depends=([^\x00]*)', data)
    for dep in (deps.group(1).split(b',') if deps else []):
        if dep:
            visit(dep.decode().replace('-', '_'))
    order.append(m)
for m in ('virtio_pci', 'virtio_gpu'):
    visit(m)
print('\n'.join(paths[m] for m in order))
PY

ir=$work/ir
mkdir -p "$ir"/{bin,proc,sys,dev,tmp,mods,opt,lib64,lib/x86_64-linux-gnu}
cp "$work/bb/bin/busybox" "$ir/bin/"
while read -r m; do cp "$m" "$ir/mods/"; done <"$work/order"
sed 's|.*/||' "$work/order" >"$ir/order"
cp -L "$build/src/libwayland-client.so.0" "$build/tests/bench/client-bench" "$ir/opt/"
cp /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libffi.so.8 "$ir/lib/x86_64-linux-gnu/"
cp /lib64/ld-linux-x86-64.so.2 "$ir/lib64/"
cat >"$ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for pass in 1 2; do for m in $(cat /order); do insmod /mods/$m 2>/dev/null; done; done
sleep 1
dmesg | grep '\[drm\]'
mkdir -p /tmp/xdg && chmod 700 /tmp/xdg && cd /tmp
XDG_RUNTIME_DIR=/tmp/xdg WAYLAND_DISPLAY=wayland-none WAYLAND_VIRTGPU_STATS=1 \
	LD_LIBRARY_PATH=/opt /lib64/ld-linux-x86-64.so.2 /opt/client-bench \
	-b roundtrip,frame -n 200 -w 20 -f 20 -s 256x256 -s 1920x1080 2>&1
echo "client-exit=$?"
poweroff -f
INIT
chmod +x "$ir/init"
(cd "$ir" && find . | "$work/bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz")

mkdir -m 700 "$work/xdg"
XDG_RUNTIME_DIR=$work/xdg weston --backend=headless-backend.so --socket=wl-vm --use-pixman \
	>"$work/weston.log" 2>&1 &
weston_pid=$!
for _ in $(seq 1 100); do [ -S "$work/xdg/wl-vm" ] && break; sleep 0.1; done
[ -S "$work/xdg/wl-vm" ] || die "weston did not start"

start=$SECONDS
LD_LIBRARY_PATH=$build/host/rutabaga timeout 300 "$qemu" -M q35 -accel tcg -m 1G -nodefaults \
	-display none -serial stdio -no-reboot -kernel "$work/k/boot/vmlinuz-$kver" \
	-initrd "$work/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
	-device "virtio-gpu-rutabaga-pci,cross-domain=on,hostmem=256M,wayland-socket-path=$work/xdg/wl-vm" \
	>"$work/console.log" 2>&1
log "kernel $kver, QEMU $(basename "$(dirname "$(dirname "$qemu")")"), $((SECONDS - start)) s"
grep -a -E '\[drm\] (features|cap set)|^(roundtrip|frame) |^wayland-virtgpu stats' "$work/console.log" >&2
grep -aq 'cap set 0: id 5' "$work/console.log" || die "the guest's driver saw no cross-domain capset"
grep -aq '^client-exit=0' "$work/console.log" || die "the client failed in the guest"
grep -aq '^wayland-virtgpu stats: transport=virtgpu .* zero_copy_pools=[1-9]' "$work/console.log" ||
	die "no stats line with transport=virtgpu and zero-copy pools"
log "PASS"
