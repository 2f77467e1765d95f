#!/bin/bash
# The main job, shown: weston headless, an unmodified client running through
# our libwayland-client, a screenshot of it saved to a path printed at the end.
#
# usage: demo.sh [LIBDIR] [-- CLIENT [ARGS...]]
#   LIBDIR  holds libwayland-client.so.0 (default: build/src of this checkout);
#           build/cursor and build/egl join LD_LIBRARY_PATH when they exist
#   CLIENT  default weston-simple-shm
# env: DEMO_PREFIX  words put in front of the client command, e.g.
#                   DEMO_PREFIX=tests/sim/virtgpu-run (the client may run as
#                   its child: the library check looks through descendants)
#      DEMO_OUT     where the screenshot goes (default ./wayland-virtgpu-demo.png)

source "$(dirname "$0")/lib.sh" || exit 1

top=$(cd "$RT_DIR/../.." && pwd)
LIBDIR=$top/build/src
if [ $# -gt 0 ] && [ "$1" != -- ]; then
	LIBDIR=$1
	shift
fi
[ "$1" = -- ] && shift
CLIENT=("$@")
[ ${#CLIENT[@]} -gt 0 ] || CLIENT=(weston-simple-shm)
read -r -a PREFIX <<<"${DEMO_PREFIX:-}"
OUT=${DEMO_OUT:-$PWD/wayland-virtgpu-demo.png}
LIBDIR=$(cd "$LIBDIR" 2>/dev/null && pwd) || { echo "demo: no directory $1" >&2; exit 2; }
[ -e "$LIBDIR/libwayland-client.so.0" ] ||
	{ echo "demo: no $LIBDIR/libwayland-client.so.0 (build first: meson setup build && ninja -C build)" >&2; exit 2; }
EXTRA=()
for d in "$(dirname "$LIBDIR")/cursor" "$(dirname "$LIBDIR")/egl"; do
	[ -d "$d" ] && EXTRA+=("$d")
done

rt_init demo
rt_start_weston headless demo
rt_client_env "$LIBDIR" "${EXTRA[@]}"
rt_log "running: ${PREFIX[*]} ${CLIENT[*]} with LD_LIBRARY_PATH=$RT_LD_PATH"
"${RT_ENV[@]}" "${PREFIX[@]}" "${CLIENT[@]}" >"$RT_WORK/client.log" 2>&1 &
launcher=$!
rt_track "$launcher"

name=$(basename "${CLIENT[0]}")
pid=
for _ in $(seq 1 100); do
	pid=$(rt_find_descendant "$launcher" "$name") && break
	kill -0 "$launcher" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$pid" ]; then
	sed 's/^/    /' "$RT_WORK/client.log" >&2
	kill -0 "$launcher" 2>/dev/null || rt_die "${PREFIX[*]} $name exited at once (output above)"
	rt_die "no process named $name among the descendants of ${PREFIX[*]:-the launcher} after 10 s"
fi
rt_track "$pid"

shot=$RT_WORK/shot.png
shown=
for _ in $(seq 1 40); do
	kill -0 "$pid" 2>/dev/null || break
	rt_screenshot "$shot" || rt_die "screenshot failed"
	if box=$("$RT_PYTHON" "$RT_DIR/compare.py" window "$shot" "$RT_WORK/desktop-demo.png"); then
		shown=1
		sleep 0.5	# a few more frames, then the picture to keep
		rt_screenshot "$shot" || rt_die "screenshot failed"
		break
	fi
	sleep 0.25
done
rt_check_maps "$pid" "$name" "$LIBDIR" "${EXTRA[@]}" || rt_die "$name did not run on $LIBDIR"
mkdir -p "$(dirname "$OUT")" && cp "$shot" "$OUT"
[ -n "$shown" ] || { sed 's/^/    /' "$RT_WORK/client.log" >&2; rt_die "no window appeared; screenshot: $OUT"; }
rt_log "$name window at $box (x0, y0, x1, y1)"

# Let the client end the way a user ends it (SIGINT: weston's demo clients
# then disconnect), so the library prints its transport stats line.
kill -INT "$pid" 2>/dev/null
for _ in $(seq 1 50); do
	kill -0 "$launcher" 2>/dev/null || break
	sleep 0.1
done
wait "$launcher" 2>/dev/null
grep -h '^wayland-virtgpu stats:' "$RT_WORK/client.log" || true
grep -h '^virtgpu-sim stats:' "$RT_WORK/client.log" || true
echo "screenshot: $OUT"
