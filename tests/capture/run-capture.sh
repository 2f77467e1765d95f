#!/bin/bash
# Screen capture into wl_shm buffers (issue 14, point 1): the compositor
# writes into the client's buffer and says so with an event. On a headless
# sway showing a client's pattern, grim (Debian's, wlr-screencopy) captures
# the screen directly on the system library: the reference. Then, as guests
# of the simulated virtio-gpu on BUILD's library, each must capture the same
# pixels exactly:
#   grim, zero-copy pools (the stats line says shm_mode=zero-copy)
#   grim, WAYLAND_VIRTGPU_SHM=copy (every pool copied: the compositor's
#     write must come back, shm_bytes_copied_back > 0)
#   capture-client private|pread|damage: the project's own client reading
#     through a view the library cannot remap (MAP_PRIVATE), through no view
#     (pread), and with copy_with_damage
#
# usage: run-capture.sh BUILD
# env: CAPTURE_FAILURE_DIR  where images and logs of failures go
#      RT_KEEP=1            keep the work directory after success

source "$(dirname "$0")/../real/lib.sh" || exit 1
CAP_DIR=$(cd "$(dirname "$0")" && pwd)

[ $# -eq 1 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "no directory $1" >&2; exit 2; }
CAPTURE=$BUILD/tests/capture/capture-client
SCENE=$BUILD/tests/zerocopy/zerocopy-client
for f in "$CAPTURE" "$SCENE" "$BUILD/src/libwayland-client.so.0"; do
	[ -e "$f" ] || { echo "no $f (ninja -C $1)" >&2; exit 2; }
done
command -v grim >/dev/null || { echo "grim is needed (tools/install-deps.sh)" >&2; exit 2; }

rt_init capture
FAILURE_DIR=${CAPTURE_FAILURE_DIR:-${TMPDIR:-/tmp}/capture-failures}
FAILED=0

fail()
{
	rt_log "FAIL: $*"
	FAILED=1
}

# same REF TEST: the two images are the same size and equal pixel for pixel.
same()
{
	"$RT_PYTHON" - "$1" "$2" <<-'PY'
		import sys
		from PIL import Image, ImageChops
		a = Image.open(sys.argv[1]).convert("RGB")
		b = Image.open(sys.argv[2]).convert("RGB")
		if a.size != b.size:
		    sys.exit(f"sizes differ: {a.size} vs {b.size}")
		box = ImageChops.difference(a, b).getbbox()
		if box:
		    n = sum(1 for p in ImageChops.difference(a, b).convert("L").getdata() if p)
		    sys.exit(f"{n} pixels differ, within {box}")
	PY
}

# colours IMG: how many colours the image has (a blank capture has one).
colours()
{
	"$RT_PYTHON" -c 'import sys; from PIL import Image
print(len(Image.open(sys.argv[1]).convert("RGB").getcolors(1 << 24)))' "$1"
}

rt_start_weston sway s

# The scene: a client of the system library holding a frame of its
# pattern, with sway's background around it.
rt_client_env "$(dirname "$RT_SYSTEM_LIB")"
(exec "${RT_ENV[@]}" "$SCENE" --frames 3 --timeout 120 map-before-create) \
	>"$RT_WORK/scene.log" 2>&1 &
SCENE_PID=$!
rt_track "$SCENE_PID"
n=0
until grep -q '^zerocopy-client: held ' "$RT_WORK/scene.log" 2>/dev/null; do
	kill -0 "$SCENE_PID" 2>/dev/null || { cat "$RT_WORK/scene.log" >&2; rt_die "the scene client exited"; }
	((n++ < 200)) || rt_die "the scene client did not draw within 20 s"
	sleep 0.1
done
sleep 0.5

# The reference: grim directly, twice (the screen must be still).
(cd "$RT_WORK" && exec "${RT_ENV[@]}" grim "$RT_WORK/reference.png") >"$RT_WORK/grim-direct.log" 2>&1 ||
	{ cat "$RT_WORK/grim-direct.log" >&2; rt_die "grim fails on the system library"; }
(cd "$RT_WORK" && exec "${RT_ENV[@]}" grim "$RT_WORK/reference2.png") >>"$RT_WORK/grim-direct.log" 2>&1
same "$RT_WORK/reference.png" "$RT_WORK/reference2.png" ||
	rt_die "the screen changes between two direct captures: no reference"
[ "$(colours "$RT_WORK/reference.png")" -gt 16 ] ||
	rt_die "the reference capture shows no pattern ($(colours "$RT_WORK/reference.png") colours)"

# guest LABEL SHM_MODE PROGRAM ARGS...: PROGRAM as a guest, its stats line
# checked for shm_mode=SHM_MODE; sets STATS.
guest()
{
	local label=$1 mode=$2 log=$RT_WORK/$1.log env=()
	shift 2
	[ "$mode" = copy ] && env=(WAYLAND_VIRTGPU_SHM=copy)
	rt_client_env "$BUILD/src"
	STATS=
	if ! (cd "$RT_WORK" && exec "${RT_ENV[@]}" "${env[@]}" WAYLAND_VIRTGPU_BUILD="$BUILD" \
		WAYLAND_VIRTGPU_STATS=1 VIRTGPU_SIM_STATS="$RT_WORK/host-$label.log" \
		timeout 60 "$CAP_DIR/../sim/virtgpu-run" -- "$@") >"$log" 2>&1; then
		sed 's/^/    /' "$log" | tail -n 10 >&2
		fail "$label: exited with an error"
		return 1
	fi
	STATS=$(grep -a '^wayland-virtgpu stats: transport=virtgpu ' "$log" | tail -n 1)
	if [ -z "$STATS" ]; then
		fail "$label: no stats line of the virtgpu transport"
		return 1
	fi
	rt_log "$label: $STATS"
	case " $STATS " in
	*" shm_mode=$mode "*) ;;
	*) fail "$label: shm_mode is not $mode"; return 1 ;;
	esac
	return 0
}

# stat_of KEY: the value of KEY in STATS.
stat_of()
{
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$STATS"
}

check()
{
	local label=$1 image=$2 why
	if ! why=$(same "$RT_WORK/reference.png" "$image" 2>&1); then
		fail "$label: the capture differs from grim's on the system library: $why"
		return 1
	fi
	rt_log "$label: same pixels as the direct capture"
}

if guest grim-zero-copy zero-copy grim "$RT_WORK/grim-zero-copy.png"; then
	check grim-zero-copy "$RT_WORK/grim-zero-copy.png"
	[ "$(stat_of shm_bytes_copied_back)" = 0 ] ||
		fail "grim-zero-copy: bytes were copied back into a zero-copy pool"
fi
if guest grim-copy copy grim "$RT_WORK/grim-copy.png"; then
	check grim-copy "$RT_WORK/grim-copy.png"
	[ "${STATS_BACK:=$(stat_of shm_bytes_copied_back)}" -gt 0 ] ||
		fail "grim-copy: shm_bytes_copied_back is $STATS_BACK"
fi
for mode in private pread damage; do
	for shm in zero-copy copy; do
		label=capture-$mode-$shm
		guest "$label" "$shm" "$CAPTURE" "$mode" "$RT_WORK/$label.ppm" &&
			check "$label" "$RT_WORK/$label.ppm"
	done
done

if [ "$FAILED" -ne 0 ]; then
	mkdir -p "$FAILURE_DIR"
	cp "$RT_WORK"/*.png "$RT_WORK"/*.ppm "$RT_WORK"/*.log "$FAILURE_DIR"/ 2>/dev/null
	rt_log "images and logs in $FAILURE_DIR"
	exit 1
fi
rt_log "PASS"
