#!/bin/bash
# One real-compositor test: run an unmodified client on the system
# libwayland-client and on the one in LIBDIR, each on a fresh weston, and
# compare what a user sees (or, for the clipboard, the bytes received).
#
# usage: run-client.sh CLIENT LIBDIR [EXTRA_LIBDIR...]
#   CLIENT: simple-shm simple-egl terminal gtk4-demo gtk3-widget-factory
#           qt5-analogclock qt5-calculator foot testsprite2 wl-clipboard
#   LIBDIR holds the libwayland-client.so.0 under test; EXTRA_LIBDIRs (e.g.
#   build/cursor, build/egl) join LD_LIBRARY_PATH when they exist.
# env: REAL_FAILURE_DIR  where screenshots of failures go (default ./real-failures)
#      RT_KEEP=1         keep the work dir (logs, screenshots) after success

source "$(dirname "$0")/lib.sh" || exit 1

[ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
CLIENT=$1
LIBDIR=$2
shift 2
EXTRA_DIRS=("$@")
[ -e "$LIBDIR/libwayland-client.so.0" ] || { echo "no $LIBDIR/libwayland-client.so.0" >&2; exit 2; }
FAILURE_DIR=${REAL_FAILURE_DIR:-$PWD/real-failures}

rt_init "$CLIENT"
CONFIG_HOME=$RT_WORK/config		# no user configuration reaches the clients
mkdir -p "$CONFIG_HOME"

# Per client: command, backend (x11 = with a seat), comparison mode, extra env.
BACKEND=headless
MODE=exact
CLIENT_ENV=(XDG_CONFIG_HOME="$CONFIG_HOME" HOME="$RT_WORK" SHELL=/bin/sh PS1='$ ' ENV=
	LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1 GTK_A11Y=none)
case $CLIENT in
simple-shm)
	MODE=stats
	CMD=(weston-simple-shm)
	;;
simple-egl)
	MODE=stats
	CMD=(weston-simple-egl)
	;;
terminal)
	CMD=(weston-terminal)
	;;
gtk4-demo)
	CLIENT_ENV+=(GDK_BACKEND=wayland)
	CMD=(gtk4-demo)
	;;
gtk3-widget-factory)
	# Spinners and progress bars animate; the rest must match.
	MODE=near
	# With libasan preloaded it deadlocks in glibc's gettext lock at start-up,
	# on the system libwayland too.
	NOT_UNDER_SANITIZER=1
	CLIENT_ENV+=(GDK_BACKEND=wayland)
	CMD=(gtk3-widget-factory)
	;;
qt5-analogclock)
	# The hands move once a minute.
	MODE=near
	CLIENT_ENV+=(QT_QPA_PLATFORM=wayland)
	CMD=(/usr/lib/x86_64-linux-gnu/qt5/examples/gui/analogclock/analogclock)
	;;
qt5-calculator)
	# Static Qt widgets: bit-exact.
	CLIENT_ENV+=(QT_QPA_PLATFORM=wayland)
	CMD=(/usr/lib/x86_64-linux-gnu/qt5/examples/widgets/widgets/calculator/calculator)
	;;
foot)
	BACKEND=x11
	CMD=(foot /bin/sh)
	;;
testsprite2)
	BACKEND=x11
	MODE=stats
	CLIENT_ENV+=(SDL_VIDEODRIVER=wayland)
	CMD=(/usr/libexec/installed-tests/SDL2/testsprite2)
	;;
wl-clipboard)
	BACKEND=x11
	MODE=bytes
	;;
*)
	rt_die "unknown client $CLIENT"
	;;
esac

if [ -n "$NOT_UNDER_SANITIZER" ] && [ -n "$(rt_sanitizer_runtimes "$LIBDIR/libwayland-client.so.0")" ]; then
	rt_log "SKIP: $CLIENT cannot run with sanitizer runtimes preloaded"
	exit 77
fi

# start_client LABEL LIBDIR...: start CMD on the current weston; sets CLIENT_PID.
start_client()
{
	local label=$1
	shift
	rt_client_env "$@"
	(cd "$RT_WORK" && exec "${RT_ENV[@]}" "${CLIENT_ENV[@]}" "${CMD[@]}") \
		>"$RT_WORK/client-$label.log" 2>&1 &
	CLIENT_PID=$!
	rt_track "$CLIENT_PID"
}

# shoot_window LABEL: wait for the client's window and screenshot it into
# $RT_WORK/LABEL.png. Static clients are shot once two shots in a row agree.
shoot_window()
{
	local label=$1 shot=$RT_WORK/$1.png prev=$RT_WORK/$1.prev.png try
	local desktop=$RT_WORK/desktop-$1.png
	for try in $(seq 1 60); do
		kill -0 "$CLIENT_PID" 2>/dev/null || { rt_log "$CMD exited early"; break; }
		rt_screenshot "$shot" || rt_die "screenshots fail"
		if "$RT_PYTHON" "$RT_DIR/compare.py" window "$shot" "$desktop" >/dev/null; then
			if [ "$MODE" = stats ]; then
				# Frames spread over about 1.5 s of the animation.
				sleep 0.5
				for i in $(seq 1 $STATS_FRAMES); do
					rt_screenshot "$RT_WORK/$label-$i.png" || rt_die "screenshots fail"
					sleep 0.25
				done
				cp "$RT_WORK/$label-1.png" "$shot"
				return 0
			fi
			# Settled: exact clients repeat a shot bit for bit; near
			# clients (a spinner, a clock) pass their own comparison.
			if [ -e "$prev" ]; then
				if [ "$MODE" = exact ]; then
					cmp -s "$shot" "$prev" && return 0
				elif "$RT_PYTHON" "$RT_DIR/compare.py" compare "$MODE" "$prev" "$desktop" \
					"$shot" "$desktop" >/dev/null; then
					return 0
				fi
			fi
			cp "$shot" "$prev"
		fi
		sleep 0.3
	done
	rt_log "no settled window after $try screenshots"
	[ -e "$shot" ] || cp "$desktop" "$shot"
	return 0
}

# run_shot LABEL LIBDIR...: fresh weston, client, maps check, screenshot, stop.
run_shot()
{
	local label=$1
	rt_start_weston "$BACKEND" "$label"
	start_client "$@"
	shoot_window "$label"
	shift
	rt_check_maps "$CLIENT_PID" "$label: ${CMD[0]##*/}" "$@" || MAPS_FAILED=1
	rt_stop "$CLIENT_PID"
	rt_stop_weston
	sed 's/^/    /' "$RT_WORK/client-$label.log" | tail -n 5 >&2
}

save_failure()
{
	local f dest=$FAILURE_DIR/$CLIENT
	mkdir -p "$dest"
	for f in "$@"; do
		[ -e "$RT_WORK/$f" ] && cp "$RT_WORK/$f" "$dest/$f" && echo "  kept: $dest/$f" >&2
	done
}

# The clipboard: wl-copy --foreground offers a few MiB, wl-paste reads them,
# both on LIBDIR, then once more on the system library; the bytes must arrive
# unchanged.
run_clipboard()
{
	local data=$RT_WORK/clip.bin out=$RT_WORK/clip.out copy_pid paste_pid n=0
	head -c $((3 * 1024 * 1024 + 4321)) /dev/urandom >"$data"
	rt_start_weston x11 test
	rt_client_env "$LIBDIR" "${EXTRA_DIRS[@]}"
	"${RT_ENV[@]}" "${CLIENT_ENV[@]}" timeout 60 wl-copy --foreground \
		--type application/octet-stream <"$data" >"$RT_WORK/wl-copy.log" 2>&1 &
	copy_pid=$!
	rt_track "$copy_pid"
	sleep 0.5
	rt_check_maps "$(pgrep -P "$copy_pid" -x wl-copy || echo "$copy_pid")" wl-copy \
		"$LIBDIR" "${EXTRA_DIRS[@]}" || MAPS_FAILED=1
	# wl-paste blocks on the full pipe until we read, so its maps can be checked.
	while :; do
		coproc PASTE { exec "${RT_ENV[@]}" "${CLIENT_ENV[@]}" wl-paste --no-newline \
			--type application/octet-stream 2>"$RT_WORK/wl-paste.log"; }
		paste_pid=$PASTE_PID
		rt_track "$paste_pid"
		sleep 0.3
		rt_check_maps "$paste_pid" wl-paste "$LIBDIR" "${EXTRA_DIRS[@]}" || MAPS_FAILED=1
		timeout 60 cat <&"${PASTE[0]}" >"$out"
		wait "$paste_pid" 2>/dev/null
		# wl-paste can miss the selection while wl-copy is still taking focus.
		[ -s "$out" ] || [ $((++n)) -ge 5 ] && break
		rt_log "wl-paste got nothing, retrying"
		sleep 0.5
	done
	sed 's/^/    /' "$RT_WORK/wl-paste.log" "$RT_WORK/wl-copy.log" | tail -n 5 >&2
	if ! cmp "$data" "$out"; then
		rt_die "wl-paste delivered $(stat -c %s "$out" 2>/dev/null || echo no) bytes, not the $(stat -c %s "$data") wl-copy offered"
	fi
	# The other side of the pipe on the system library: the two interoperate.
	"${rt_infra_env[@]}" XDG_RUNTIME_DIR="$RT_XDG" WAYLAND_DISPLAY="$RT_SOCKET" "${CLIENT_ENV[@]}" \
		timeout 60 wl-paste --no-newline --type application/octet-stream >"$out.system" 2>>"$RT_WORK/wl-paste.log"
	cmp "$data" "$out.system" ||
		rt_die "wl-paste on the system library got $(stat -c %s "$out.system") bytes from our wl-copy"
	[ -z "$MAPS_FAILED" ] || rt_die "library check failed"
	grep -E 'ERROR: AddressSanitizer|runtime error:' "$RT_WORK/wl-paste.log" "$RT_WORK/wl-copy.log" >&2 &&
		rt_die "sanitizer report from wl-copy or wl-paste"
	rt_log "PASS: $(stat -c %s "$out") bytes moved through the clipboard unchanged"
}

STATS_FRAMES=6
frames()
{
	if [ "$MODE" = stats ] && [ -e "$RT_WORK/$1-1.png" ]; then
		seq -f "$RT_WORK/$1-%g.png" 1 $STATS_FRAMES | paste -sd,
	else
		echo "$RT_WORK/$1.png"
	fi
}

MAPS_FAILED=
if [ "$MODE" = bytes ]; then
	run_clipboard
	exit 0
fi

sysdir=$RT_WORK/system-lib
mkdir -p "$sysdir"
ln -s "$(readlink -f "$RT_SYSTEM_LIB")" "$sysdir/libwayland-client.so.0"
RT_EXPECT_SYSTEM=1 run_shot ref "$sysdir"
REF_MAPS_FAILED=$MAPS_FAILED
MAPS_FAILED=
run_shot test "$LIBDIR" "${EXTRA_DIRS[@]}"

status=0
if ! "$RT_PYTHON" "$RT_DIR/compare.py" compare "$MODE" "$(frames ref)" "$RT_WORK/desktop-ref.png" \
	"$(frames test)" "$RT_WORK/desktop-test.png" --diff "$RT_WORK/diff.png" >&2; then
	rt_log "screenshot differs from the system library's ($MODE comparison)"
	status=1
fi
[ -z "$MAPS_FAILED" ] || { rt_log "the library under test was not the one loaded"; status=1; }
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$RT_WORK/client-test.log" >&2; then
	rt_log "sanitizer report from the client on the library under test: $FAILURE_DIR/$CLIENT/client-test.log"
	status=1
fi
[ -z "$REF_MAPS_FAILED" ] || { rt_log "reference run did not use the system library"; status=1; }
if [ $status -ne 0 ]; then
	save_failure ref.png test.png diff.png client-test.log
	exit 1
fi
rt_log "PASS ($MODE comparison with the system library)"
