#!/bin/bash
# A cursor theme loaded by our libwayland-cursor + libwayland-client as a guest of
# the simulated virtio-gpu must look exactly as the system libraries show it over
# a plain socket: every cursor's images, sizes, hotspots, delays and the pixels
# the compositor sees at each commit. And the theme's pool must be zero copy.
#
# usage: compare-through-virtgpu.sh [--expect-corrupt N] DUMPER COMPOSITOR BUILD
#                                   SYSTEM-LIB-DIR THEME SIZE [NAME-DIR...]
#   Both sides: shm-compositor --socket in a private XDG_RUNTIME_DIR, cursor-dump -
#   connecting by name; the compositor's commit lines are merged into the dumper's
#   output in order ("  @commit" placeholders) before comparing.
#   system: cursor-dump on the system libraries, directly on the socket.
#   ours:   XDG_RUNTIME_DIR=... WAYLAND_DISPLAY=... WAYLAND_VIRTGPU_STATS=1
#           tests/sim/virtgpu-run -- cursor-dump ...  (BUILD's src/ and cursor/)
# Checks of the guest's stats line ("wayland-virtgpu stats: ..."):
#   transport=virtgpu, zero_copy_pools >= 1, every pool host memory handed
#   out by the transport (shm_host_pools = shm_pools: the cursor library
#   cooperates with the transport, nothing is remapped), shm_bytes_copied=0.
# --expect-corrupt N: the harness's own test: ours' compositor reports its Nth
#   commit as if one pixel byte differed (SHM_COMPOSITOR_CORRUPT_COMMIT); passes
#   only if exactly that frame is reported as differing and every other check passes.
# env: CURSOR_VIRTGPU_SYSTEM_CURSOR=1  ours runs Debian's libwayland-cursor on our
#        libwayland-client (the pool growth of upstream's library through the transport's
#        remapping); the stats check is then a bound on copies, see below.
#      CURSOR_VIRTGPU_CORRUPT=N  the same corruption in a normal run: it must FAIL
#      CURSOR_VIRTGPU_PROFILE    host profile (default rutabaga; n4 needs
#        WAYLAND_VIRTGPU_IDENTIFIERS=4, libkrun-1.15 WAYLAND_VIRTGPU_INIT=24)
#      VIRTGPU_SIM_HOSTMEM       the guest's host-visible memory, passed to the launcher
#      CURSOR_VIRTGPU_KEEP=1     keep the work directory
set -u
expect_corrupt=0
if [ "${1:-}" = --expect-corrupt ]; then
	expect_corrupt=${2:-}
	[[ "$expect_corrupt" =~ ^[1-9][0-9]*$ ]] || { sed -n '2,26p' "$0" >&2; exit 2; }
	shift 2
fi
[ $# -ge 6 ] || { sed -n '2,26p' "$0" >&2; exit 2; }
dumper=$1 compositor=$2 build=$3 system=$4 theme=$5 size=$6
shift 6
here=$(cd "$(dirname "$0")" && pwd)
launcher=${VIRTGPU_RUN:-$here/../sim/virtgpu-run}
build=$(cd "$build" && pwd) || exit 2
profile=${CURSOR_VIRTGPU_PROFILE:-rutabaga}
name="$theme-$size"

work=$(mktemp -d "${TMPDIR:-/tmp}/cursor-virtgpu.XXXXXX") || exit 1
comp_pid=
cleanup() {
	if [ -n "$comp_pid" ]; then
		kill -TERM "$comp_pid" 2>/dev/null
		wait "$comp_pid" 2>/dev/null
	fi
	if [ "${CURSOR_VIRTGPU_KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$work/home"

fail() {
	echo "FAIL: $name: $*"
	exit 1
}

# side LABEL CMD...: a fresh compositor on a named socket in a private
# XDG_RUNTIME_DIR, CMD run against it with XDG_RUNTIME_DIR/WAYLAND_DISPLAY set;
# writes LABEL.out (dumper, merged with the compositor's commit lines),
# LABEL.comp (compositor), LABEL.err (stderr of all).
side() {
	local label=$1 xdg=$work/xdg-$1 sock=cursor-test-$1 n=0 rc rc_comp
	shift
	mkdir -m 700 "$xdg"
	: >"$work/$label.comp"	# exists before the wait below reads it
	XDG_RUNTIME_DIR=$xdg SHM_COMPOSITOR_CORRUPT_COMMIT=${CORRUPT:-0} \
		"$compositor" --socket "$sock" >"$work/$label.comp" \
		2>"$work/$label.comp-err" &
	comp_pid=$!
	until grep -q '^compositor listening on ' "$work/$label.comp"; do
		if ! kill -0 "$comp_pid" 2>/dev/null || ((n++ >= 500)); then
			cat "$work/$label.comp-err"
			fail "$label: the compositor did not start listening"
		fi
		sleep 0.01
	done
	# An empty HOME keeps the user's own themes out; XCURSOR_PATH passes
	# through when set, otherwise the default search path is used.
	env -u XDG_DATA_HOME HOME="$work/home" XDG_RUNTIME_DIR="$xdg" \
		WAYLAND_DISPLAY="$sock" "$@" >"$work/$label.raw" 2>"$work/$label.err"
	rc=$?
	# It exits when its one client is gone; give it 10 s (1 s when the
	# dumper failed: it may never have connected).
	for ((n = 0; n < (rc == 0 ? 1000 : 100); n++)); do
		kill -0 "$comp_pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$comp_pid" 2>/dev/null; then
		kill -TERM "$comp_pid"
		echo "$label: the compositor did not exit after its client" >>"$work/$label.comp-err"
	fi
	wait "$comp_pid"
	rc_comp=$?
	comp_pid=
	cat "$work/$label.comp-err" >>"$work/$label.err"
	if [ $rc -ne 0 ] || [ $rc_comp -ne 0 ]; then
		sed "s/^/$label: /" "$work/$label.err" | tail -20
		tail -5 "$work/$label.raw" | sed "s/^/$label stdout: /"
		fail "$label: dumper exit status $rc, compositor exit status $rc_comp"
	fi
	# The Nth "  @commit" becomes the compositor's Nth commit line.
	awk -v comp="$work/$label.comp" '
		$0 == "  @commit" {
			do {
				if ((getline line < comp) <= 0) {
					print "  (no commit seen by the compositor)"
					next
				}
			} while (line !~ /^commit /)
			print "  " line
			next
		}
		{ print }
		END {
			while ((getline line < comp) > 0)
				if (line ~ /^commit /)
					print "extra compositor " line
		}' "$work/$label.raw" >"$work/$label.out"
}

CORRUPT=0 side system \
	env -u LD_LIBRARY_PATH -u LD_PRELOAD -u WAYLAND_VIRTGPU_STATS \
	"$dumper" - "$system" "$theme" "$size" "$@"
corrupt=${CURSOR_VIRTGPU_CORRUPT:-0}
[ "$expect_corrupt" -gt 0 ] && corrupt=$expect_corrupt
# CURSOR_VIRTGPU_SYSTEM_CURSOR=1: ours runs Debian's libwayland-cursor on our
# libwayland-client: preloaded into the guest program only (after the launcher's
# fake kernel), so it wins over the launcher's LD_LIBRARY_PATH.
ours_cursor=$build/cursor guest=()
if [ "${CURSOR_VIRTGPU_SYSTEM_CURSOR:-0}" = 1 ]; then
	ours_cursor=$system
	guest=(sh -c 'LD_PRELOAD="$LD_PRELOAD:$0" exec "$@"' \
		"$(realpath "$system/libwayland-cursor.so.0")")
fi
CORRUPT=$corrupt side ours \
	env -u LD_LIBRARY_PATH WAYLAND_VIRTGPU_BUILD="$build" WAYLAND_VIRTGPU_STATS=1 \
	"$launcher" --profile "$profile" -- "${guest[@]}" "$dumper" - "$ours_cursor" "$theme" "$size" "$@"

grep -v '^wayland-virtgpu stats: \|^cursor-dump: libwayland-' "$work/ours.err" | sed 's/^/ours: /'
grep -v '^cursor-dump: libwayland-' "$work/system.err" | sed 's/^/system: /'
for label in system ours; do
	grep '^cursor-dump: libwayland-' "$work/$label.err" | sed "s/^/$label: /"
	echo "$label: $(grep '^compositor pools=' "$work/$label.comp")"
done
# Each side on the libwayland-client it is meant to test.
client_lib() {
	sed -n 's/^cursor-dump: libwayland-client is //p' "$work/$1.err"
}
case "$(client_lib system)" in
"$(realpath "$system")"/*) ;;
*) fail "system: libwayland-client is '$(client_lib system)', not under $system" ;;
esac
case "$(client_lib ours)" in
"$build"/src/*) ;;
*) fail "ours: libwayland-client is '$(client_lib ours)', not under $build/src" ;;
esac

if [ "$expect_corrupt" -gt 0 ]; then
	# Exactly the corrupted frame, nothing else, must be reported.
	diff -u "$work/system.out" "$work/ours.out" >"$work/diff"
	head -20 "$work/diff"
	nthcommit=$(grep '^  commit ' "$work/system.out" | sed -n "${expect_corrupt}p")
	want=$(grep -n '^  commit ' "$work/ours.out" | sed -n "${expect_corrupt}p")
	[ -n "$nthcommit" ] || fail "--expect-corrupt $expect_corrupt: fewer commits than that"
	changed=$(grep -c '^[-+][^-+]' "$work/diff")
	if [ "$changed" -ne 2 ] || ! grep -qxF -- "-$nthcommit" "$work/diff"; then
		fail "--expect-corrupt $expect_corrupt: the comparison did not report exactly that frame ($changed lines changed)"
	fi
	echo "the comparison caught the corrupted frame $expect_corrupt (ours line ${want%%:*})"
	cp "$work/system.out" "$work/ours.out"	# the remaining checks as usual
fi
if ! diff -u "$work/system.out" "$work/ours.out" >"$work/diff"; then
	head -60 "$work/diff"
	# Name the cursor and frame of the first difference.
	first=$(cmp "$work/system.out" "$work/ours.out" 2>/dev/null | sed -n 's/.* line \([0-9]*\).*/\1/p')
	[ -n "$first" ] && awk -v n="$first" 'NR <= n && /^cursor / { cur = $0; img = "" }
		NR <= n && /^  image / { img = $0 } NR == n { print "first difference at line " n ": " cur (img == "" ? "" : "," img) }' \
		"$work/system.out"
	fail "differs from the system library over a socket ($(grep -c '^[-+] ' "$work/diff") lines)"
fi

summary=$(grep '^summary' "$work/ours.out")
case "$summary" in
*"cursors=0 "*|*"frames=0"|"")
	fail "no cursor loaded ($summary)" ;;
esac
commits=$(grep -c '^  commit ' "$work/ours.out")
frames=${summary##*frames=}
[ "$commits" -eq "$frames" ] || fail "$frames frames committed but the compositor reported $commits"
grep -q 'refused_clients=0' "$work/ours.comp" || fail "the compositor saw more than one client"

# The guest's stats line: it went through the device, and zero copy.
stats=$(grep '^wayland-virtgpu stats: ' "$work/ours.err" | tail -1)
[ -n "$stats" ] || fail "ours printed no 'wayland-virtgpu stats:' line (not our libwayland-client?)"
echo "ours: $stats"
stat() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$stats"
}
transport=$(stat transport)
pools=$(stat shm_pools)
zero_copy=$(stat zero_copy_pools)
copied=$(stat shm_bytes_copied)
host_pools=$(stat shm_host_pools)
case "$transport" in
virtgpu*) ;;
*) fail "transport=$transport: not through the virtio-gpu" ;;
esac
[[ "$zero_copy" =~ ^[0-9]+$ && "$copied" =~ ^[0-9]+$ && "$host_pools" =~ ^[0-9]+$ &&
   "$pools" =~ ^[0-9]+$ ]] || fail "unreadable stats line"
# Bytes of every image committed (width x height x 4), as the compositor saw them.
image_bytes=$(awk '/^  commit / { split($3, d, "x"); n += d[1] * d[2] * 4 } END { printf "%d", n }' \
	"$work/ours.out")
# Our libwayland-cursor writes its images straight into host memory the
# transport hands out (cursor/cursor-pool.c): no pool of it is a memfd the
# transport would have to remap or copy, so nothing at all is copied.
echo "ours: stats: shm_pools=$pools shm_host_pools=$host_pools" \
	"zero_copy_pools=$zero_copy shm_bytes_copied=$copied image_bytes=$image_bytes"
[ "$zero_copy" -ge 1 ] || fail "zero_copy_pools=$zero_copy: the cursor pool was not zero copy"
if [ "${CURSOR_VIRTGPU_SYSTEM_CURSOR:-0}" = 1 ]; then
	# Debian's libwayland-cursor knows nothing of host memory: its memfd
	# pool is remapped, and each growth (fallocate, resize, new view) moves
	# it to new host memory, the file refilled for the new view and copied
	# back. That happens while the theme loads, before any commit; the
	# copies add up to about twice the images (measured: 2.05x for
	# Adwaita 48). A copy at each commit would add one more image_bytes.
	[ "$copied" -le $((image_bytes * 5 / 2)) ] ||
		fail "shm_bytes_copied=$copied > 2.5 x the $image_bytes image bytes"
	echo "PASS: Adwaita-$size: Debian's libwayland-cursor on ours through the device," \
		"identical to the system library over a socket"
	exit 0
fi
[ "$host_pools" -eq "$pools" ] ||
	fail "shm_host_pools=$host_pools of shm_pools=$pools: a cursor pool was not the transport's host memory"
[ "$copied" -eq 0 ] || fail "shm_bytes_copied=$copied: the cursor pools are host memory, nothing should be copied"

[ "$expect_corrupt" -gt 0 ] && echo "PASS: a one-byte difference at frame $expect_corrupt fails the comparison"
echo "PASS: $name through the simulated virtio-gpu ($profile) identical to the system library" \
	"over a socket: $summary, $commits buffers compared by pixels;" \
	"zero_copy_pools=$zero_copy shm_bytes_copied=$copied of $image_bytes image bytes"
