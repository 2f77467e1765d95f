#!/bin/bash
# The real tests can fail: a library that loads but never reaches the
# compositor (make-libdir.sh broken) must make a client test fail, and for
# the right reason (no window), not because of the harness.
# usage: catches-broken.sh [CLIENT]                  (default simple-shm)
#        catches-broken.sh --virtgpu BUILD [CLIENT]  the same through
#            tests/sim/virtgpu-run: BUILD's simulator with the broken library
#            in place of BUILD/src; the stats line must be missed too
dir=$(cd "$(dirname "$0")" && pwd)
build=
if [ "$1" = --virtgpu ]; then
	build=$(cd "$2" && pwd) || exit 2
	shift 2
fi
client=${1:-simple-shm}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wl-real-broken.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 711 "$tmp"	# sway runs as nobody inside it (RT_HOST_COMPOSITOR=sway)
if [ -n "$build" ]; then
	# A build dir whose simulator is BUILD's and whose library is broken.
	mkdir -p "$tmp/build/tests/sim" "$tmp/build/tests/real"
	for f in tests/sim/virtgpu-sim-host tests/sim/libvirtgpu-sim-kernel.so \
		tests/real/libexit-on-term.so tests/real/keymap-dump; do
		ln -s "$build/$f" "$tmp/build/$f"
	done
	"$dir/make-libdir.sh" broken "$tmp/build/src" >/dev/null || exit 1
	TMPDIR=$tmp REAL_FAILURE_DIR=$tmp/failures "$dir/run-client.sh" --virtgpu "$tmp/build" "$client" >"$tmp/log" 2>&1
	status=$?
	expect=('FAIL: no window visible' "no 'wayland-virtgpu stats:' line")
else
	"$dir/make-libdir.sh" broken "$tmp/lib" >/dev/null || exit 1
	TMPDIR=$tmp REAL_FAILURE_DIR=$tmp/failures "$dir/run-client.sh" "$client" "$tmp/lib" >"$tmp/log" 2>&1
	status=$?
	expect=('FAIL: no window visible')
fi
sed 's/^/  | /' "$tmp/log"
missing=
for e in "${expect[@]}"; do
	grep -qF -- "$e" "$tmp/log" || missing="$missing '$e'"
done
if [ $status -eq 1 ] && [ -z "$missing" ]; then
	echo "ok: $client on a library that cannot connect fails with:$(printf " '%s'" "${expect[@]}")"
	exit 0
fi
echo "FAIL: $client on a library that cannot connect gave status $status${missing:+, without$missing}"
exit 1
