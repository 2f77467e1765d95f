#!/bin/bash
# One real-compositor test: run an unmodified client on the system
# libwayland-client and on the one under test, each on a fresh weston, and
# compare what a user sees (or, for the clipboard, the bytes received).
#
# usage: run-client.sh CLIENT LIBDIR [EXTRA_LIBDIR...]
#        run-client.sh --virtgpu BUILD CLIENT
#   CLIENT: simple-shm simple-egl terminal gtk4-demo gtk3-widget-factory
#           qt5-analogclock qt5-calculator foot foot-scroll testsprite2 mpv
#           vkcube sdl-testgl2 wl-clipboard;
#           with --virtgpu also clipboard-64m keymap, and on sway wtype
#   LIBDIR holds the libwayland-client.so.0 under test; EXTRA_LIBDIRs (e.g.
#   build/cursor, build/egl) join LD_LIBRARY_PATH when they exist.
#   --virtgpu: the client under test runs as a guest of the simulated
#   virtio-gpu (tests/sim/virtgpu-run) on BUILD's libraries; it must also map
#   the fake kernel and print the stats line with transport=virtgpu.
# env: REAL_FAILURE_DIR  where screenshots of failures go (default ./real-failures)
#      RT_KEEP=1         keep the work dir (logs, screenshots) after success
#      RT_VIRTGPU_PROFILE  host profile of the simulated device (default rutabaga)
#      RT_HOST_COMPOSITOR  weston (default) or sway (headless, windows floating)

source "$(dirname "$0")/lib.sh" || exit 1

usage()
{
	sed -n '2,20p' "$0" >&2
	exit 2
}

IN_VM=
VIRTGPU_BUILD=
if [ "$1" = --virtgpu ]; then
	[ $# -eq 3 ] || usage
	VIRTGPU_BUILD=$(cd "$2" 2>/dev/null && pwd) || { echo "no directory $2" >&2; exit 2; }
	CLIENT=$3
	LIBDIR=$VIRTGPU_BUILD/src
	EXTRA_DIRS=("$VIRTGPU_BUILD/cursor" "$VIRTGPU_BUILD/egl")
	TEST_NAME=virtgpu-$CLIENT
	# VIRTGPU_RUN=tests/vm/vm-run: the client runs in a real guest kernel.
	! rt_in_vm || IN_VM=1
	VIRTGPU_RUN=(env WAYLAND_VIRTGPU_BUILD="$VIRTGPU_BUILD" WAYLAND_VIRTGPU_STATS=1
		VIRTGPU_SIM_STATS=- "${VIRTGPU_RUN:-$RT_DIR/../sim/virtgpu-run}"
		--profile "${RT_VIRTGPU_PROFILE:-rutabaga}" --)
	# SIGTERM becomes exit(), so clients print the stats line when stopped.
	EXIT_ON_TERM=$VIRTGPU_BUILD/tests/real/libexit-on-term.so
	[ -e "$EXIT_ON_TERM" ] || { echo "no $EXIT_ON_TERM (ninja -C $2)" >&2; exit 2; }
else
	[ $# -ge 2 ] || usage
	CLIENT=$1
	LIBDIR=$2
	shift 2
	EXTRA_DIRS=("$@")
	TEST_NAME=$CLIENT
fi
[ -e "$LIBDIR/libwayland-client.so.0" ] || { echo "no $LIBDIR/libwayland-client.so.0" >&2; exit 2; }
FAILURE_DIR=${REAL_FAILURE_DIR:-$PWD/real-failures}
case ${RT_HOST_COMPOSITOR:-weston} in
weston) ;;
sway) TEST_NAME=$TEST_NAME-sway ;;
*) echo "RT_HOST_COMPOSITOR: weston or sway, not $RT_HOST_COMPOSITOR" >&2; exit 2 ;;
esac

rt_init "$TEST_NAME"
CONFIG_HOME=$RT_WORK/config		# no user configuration reaches the clients
mkdir -p "$CONFIG_HOME"

# A terminal's shell reads $ENV as it starts, just before its first prompt:
# there it writes $DONE_FILE, so that the window is not shot (and taken as
# settled) while the terminal still waits for its shell.
shell_says_ready()
{
	DONE_FILE=$RT_WORK/shell-ready
	printf ': >"%s"\n' "$DONE_FILE" >"$RT_WORK/shell-env"
	CLIENT_ENV+=(ENV="$RT_WORK/shell-env")
}

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
	shell_says_ready
	CMD=(weston-terminal)
	;;
gtk4-demo)
	CLIENT_ENV+=(GDK_BACKEND=wayland)
	# The guest's root has no Mesa drivers: GTK there draws with cairo (its GL
	# renderer's window is 2 pixels larger), so the reference does too.
	[ -z "$IN_VM" ] || CLIENT_ENV+=(GSK_RENDERER=cairo)
	CMD=(gtk4-demo)
	;;
gtk3-widget-factory)
	# Spinners and progress bars animate; the rest must match.
	MODE=near
	# The window's width is not the client's to choose. The factory's
	# minimum (and natural) width includes page 3's tree view, hidden and
	# never realized: GTK measures it by laying out as many rows as fit in
	# a time slice per size request, so a busy CPU gives a narrower
	# tree and a narrower window (1230-1415 px) with another layout, on
	# any library. kiosk-shell makes the window fullscreen on an output
	# wider than the widest minimum: every run lays out at one size.
	# (kiosk-shell shows windows only with a seat: x11 backend.)
	BACKEND=x11
	RT_WESTON_SHELL=kiosk-shell
	RT_WIDTH=1600
	RT_HEIGHT=900
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
	shell_says_ready
	CMD=(foot /bin/sh)
	;;
foot-scroll)
	# 400 lines, a few milliseconds apart, so that foot draws many
	# frames, each scrolling its buffer inside its wl_shm pools (foot's
	# shm scrolling); then the prompt. Through virtio-gpu the pixels
	# must come without copies.
	# The shell says when the lines are out ($DONE_FILE), so the window
	# is shot then and not while foot still waits for the first.
	BACKEND=x11
	ZERO_COPY=1
	DONE_FILE=$RT_WORK/scrolled
	CMD=(foot sh -c 'i=0; while [ $i -lt 400 ]; do i=$((i + 1)); echo "line $i"; sleep 0.004; done; : >"$HOME/scrolled"; exec sh')
	;;
vkcube)
	# Vulkan (Mesa's lavapipe): its WSI finds no GPU on the host's
	# compositor and presents through wl_shm; through virtio-gpu the
	# stats line says which path (shm_pools, or gpu_sync other than none).
	MODE=stats
	CLIENT_ENV+=(VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json)
	CMD=(vkcube-wayland)
	;;
sdl-testgl2)
	# SDL's OpenGL test: Mesa EGL on the Wayland platform.
	BACKEND=x11
	MODE=stats
	CLIENT_ENV+=(SDL_VIDEODRIVER=wayland)
	CMD=(/usr/libexec/installed-tests/SDL2/testgl2)
	;;
testsprite2)
	BACKEND=x11
	MODE=stats
	CLIENT_ENV+=(SDL_VIDEODRIVER=wayland)
	CMD=(/usr/libexec/installed-tests/SDL2/testsprite2)
	;;
xwayland)
	# Rootful Xwayland (a Wayland client that makes a wl_shm pool per
	# pixmap) showing an X client: Qt's calculator through xcb, static,
	# no window manager. The X client itself runs the same in both runs.
	XDISPLAY=:$((40 + $$ % 40))
	CMD=(Xwayland "$XDISPLAY" -br -noreset -nolisten tcp)
	X_CLIENT=(env -u WAYLAND_DISPLAY -u LD_LIBRARY_PATH -u LD_PRELOAD
		QT_QPA_PLATFORM=xcb DISPLAY="$XDISPLAY"
		/usr/lib/x86_64-linux-gnu/qt5/examples/widgets/widgets/calculator/calculator)
	X_CLIENT_WINDOW=Calculator
	;;
mpv)
	# A paused test pattern through wl_shm (mpv's own buffer pools).
	CMD=(mpv --no-config --vo=wlshm --pause --osd-level=0 --no-audio
		--really-quiet "av://lavfi:testsrc2=size=320x240")
	;;
wl-clipboard)
	BACKEND=x11
	MODE=bytes
	;;
clipboard-64m)
	# 64 MiB each way between a guest and a host client.
	BACKEND=x11
	MODE=bytes-virtgpu
	;;
keymap)
	# wl_keyboard.keymap as a guest receives it, next to a direct run's.
	BACKEND=x11
	MODE=keymap
	;;
wtype)
	# A virtual keyboard's keymap, a memfd in a request, as a guest.
	MODE=keys-virtgpu
	;;
*)
	rt_die "unknown client $CLIENT"
	;;
esac

case $MODE in
bytes-virtgpu|keymap|keys-virtgpu)
	[ -n "$VIRTGPU_BUILD" ] || rt_die "$CLIENT runs only with --virtgpu"
	;;
esac
[ "$MODE" != keys-virtgpu ] || [ "${RT_HOST_COMPOSITOR:-weston}" = sway ] ||
	rt_die "$CLIENT needs zwp_virtual_keyboard_manager_v1: RT_HOST_COMPOSITOR=sway"

# On sway (wlroots) windows float on the background, and wl-clipboard uses
# wlr-data-control, a protocol the library knows nothing of, with its fds.
if [ "${RT_HOST_COMPOSITOR:-weston}" = sway ]; then
	[ "$MODE" != keymap ] || rt_die "sway's seat has no keyboard here: no keymap to compare"
	BACKEND=sway
fi

if [ -n "$NOT_UNDER_SANITIZER" ] && [ -n "$(rt_sanitizer_runtimes "$LIBDIR/libwayland-client.so.0")" ]; then
	rt_log "SKIP: $CLIENT cannot run with sanitizer runtimes preloaded"
	exit 77
fi

# start_client LABEL LIBDIR...: start CMD on the current weston; sets
# CLIENT_PID. The "test" run of --virtgpu goes through the launcher
# (LAUNCHER_PID), and CLIENT_PID is the client among its descendants.
start_client()
{
	local label=$1 prefix=()
	shift
	rt_client_env "$@"
	LAUNCHER_PID=
	RT_GUEST_MAPS=
	if [ -n "$VIRTGPU_BUILD" ] && [ "$label" = test ] && [ -n "$IN_VM" ]; then
		RT_GUEST_MAPS=$RT_WORK/guest-maps-$label
		rm -f "$RT_GUEST_MAPS"
		CLIENT_ENV+=(VM_RUN_MAPS="$RT_GUEST_MAPS")
	fi
	if [ -n "$VIRTGPU_BUILD" ] && [ "$label" = test ]; then
		# The launcher, a bash script, drops PS1 (bash unsets it when
		# not interactive): the shells of terminals get it back here.
		prefix=("${VIRTGPU_RUN[@]}" "$BASH" -c
			'export LD_PRELOAD=$LD_PRELOAD:$0; exec "$@"' "$EXIT_ON_TERM"
			env PS1='$ ')
	fi
	(cd "$RT_WORK" && exec "${RT_ENV[@]}" "${CLIENT_ENV[@]}" "${prefix[@]}" "${CMD[@]}") \
		>"$RT_WORK/client-$label.log" 2>&1 &
	CLIENT_PID=$!
	rt_track "$CLIENT_PID"
	[ ${#prefix[@]} -gt 0 ] || { start_x_client "$label"; return 0; }
	LAUNCHER_PID=$CLIENT_PID
	if [ -n "${RT_GUEST_MAPS:-}" ]; then
		# A real guest (tests/vm/vm-run): no process here to look at; the
		# guest writes its processes' maps once the client runs.
		local n=0
		until grep -q '/libwayland-client\.so' "$RT_GUEST_MAPS" 2>/dev/null; do
			kill -0 "$LAUNCHER_PID" 2>/dev/null && ((n++ < 900)) || break
			sleep 0.1
		done
	elif CLIENT_PID=$(rt_wait_descendant "$LAUNCHER_PID" "${CMD[0]##*/}" 100); then
		rt_track "$CLIENT_PID"
	else
		# Exited at once, or never started: the comparison says what is missing.
		rt_log "no ${CMD[0]##*/} among the descendants of tests/sim/virtgpu-run"
		CLIENT_PID=$LAUNCHER_PID
	fi
	start_x_client "$label"
}

# start_x_client LABEL: for an X server under test (Xwayland), its X client,
# once the server's socket is there.
start_x_client()
{
	local n
	X_CLIENT_PID=
	[ ${#X_CLIENT[@]} -gt 0 ] || return 0
	for n in $(seq 1 100); do
		[ -S "/tmp/.X11-unix/X${XDISPLAY#:}" ] && break
		sleep 0.1
	done
	(cd "$RT_WORK" && exec env "${CLIENT_ENV[@]}" "${X_CLIENT[@]}") \
		>"$RT_WORK/x-client-$1.log" 2>&1 &
	X_CLIENT_PID=$!
	rt_track "$X_CLIENT_PID"
	# The server's root settles at once: shoot only once the client's
	# window is viewable (and give it a moment to draw).
	for n in $(seq 1 100); do
		xwininfo -display "$XDISPLAY" -name "$X_CLIENT_WINDOW" 2>/dev/null |
			grep -q 'Map State: IsViewable' && { sleep 1; return 0; }
		sleep 0.1
	done
	rt_log "no viewable '$X_CLIENT_WINDOW' window on $XDISPLAY"
}

# stop_client: stop the client; a guest with SIGTERM (exit() through
# exit-on-term, or its own handler), so it prints the stats line, then
# its launcher.
stop_client()
{
	if [ -n "${X_CLIENT_PID:-}" ]; then
		# It must have been on screen all along, or the shot shows
		# only the X server's empty root.
		if ! kill -0 "$X_CLIENT_PID" 2>/dev/null; then
			rt_log "the X client ${X_CLIENT[-1]##*/} was gone before the end"
			MAPS_FAILED=1
		fi
		rt_stop "$X_CLIENT_PID"
	fi
	rt_stop "$CLIENT_PID"
	if [ -n "$LAUNCHER_PID" ]; then
		rt_wait_gone "$LAUNCHER_PID" 50
		rt_stop "$LAUNCHER_PID"
	fi
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
				# Frames spread over about 2 s of the animation
				# (compare.py takes the frame with the most drawn).
				sleep 0.5
				for i in $(seq 1 $STATS_FRAMES); do
					rt_screenshot "$RT_WORK/$label-$i.png" || rt_die "screenshots fail"
					sleep 0.23
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
	[ -z "${DONE_FILE:-}" ] || rm -f "$DONE_FILE"
	start_client "$@"
	if [ -n "${DONE_FILE:-}" ]; then
		local n=0
		until [ -e "$DONE_FILE" ]; do
			((n++ < 300)) || rt_die "$label: the client did not say it was ready ($DONE_FILE) within 60 s"
			sleep 0.2
		done
	fi
	shoot_window "$label"
	shift
	rt_check_maps "$CLIENT_PID" "$label: ${CMD[0]##*/}" "$@" || MAPS_FAILED=1
	if [ -n "$LAUNCHER_PID" ]; then
		rt_check_guest "$CLIENT_PID" "$label: ${CMD[0]##*/}" || MAPS_FAILED=1
	fi
	stop_client
	rt_stop_weston
	sed 's/^/    /' "$RT_WORK/client-$label.log" | tail -n 5 >&2
}

save_failure()
{
	local f dest=$FAILURE_DIR/$TEST_NAME
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
	local data=$RT_WORK/clip.bin out=$RT_WORK/clip.out copy_pid paste_pid n=0 attempt_failed=
	head -c $((3 * 1024 * 1024 + 4321)) /dev/urandom >"$data"
	rt_start_weston "$BACKEND" test
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
		# Only the attempt that ends the loop counts: one that got nothing
		# may have ended before its maps were read.
		attempt_failed=
		rt_check_maps "$paste_pid" wl-paste "$LIBDIR" "${EXTRA_DIRS[@]}" || attempt_failed=1
		timeout 60 cat <&"${PASTE[0]}" >"$out"
		wait "$paste_pid" 2>/dev/null
		# wl-paste can miss the selection while wl-copy is still taking focus.
		[ -s "$out" ] || [ $((++n)) -ge 5 ] && break
		rt_log "wl-paste got nothing, retrying"
		sleep 0.5
	done
	[ -z "$attempt_failed" ] || MAPS_FAILED=1
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

# report_library_errors LOG...: the library's and the simulated host's own
# error lines, for the diagnosis of a failure.
report_library_errors()
{
	grep -ah -e '^wayland-virtgpu: ' -e '^virtgpu-sim host: ' -e '^virtgpu-run: ' "$@" |
		sort | uniq -c | sort -rn | head -n 10 | sed 's/^/    /' >&2
	return 0
}

# guest ARGS...: run ARGS as a guest of the simulated virtio-gpu, on the
# current weston, in the environment of a client under test.
guest()
{
	rt_client_env "$LIBDIR" "${EXTRA_DIRS[@]}"
	[ -z "${RT_GUEST_MAPS:-}" ] || CLIENT_ENV+=(VM_RUN_MAPS="$RT_GUEST_MAPS")
	"${RT_ENV[@]}" "${CLIENT_ENV[@]}" "${VIRTGPU_RUN[@]}" "$@"
}

# guest_client LAUNCHER_PID NAME: the guest's NAME among the launcher's
# descendants (the simulator), or the launcher itself once the real guest's
# maps show it running (tests/vm/vm-run: RT_GUEST_MAPS); fails if neither.
guest_client()
{
	local n=0
	if [ -z "${RT_GUEST_MAPS:-}" ]; then
		rt_wait_descendant "$1" "$2" 100
		return
	fi
	until grep -q '/libwayland-client\.so' "$RT_GUEST_MAPS" 2>/dev/null; do
		kill -0 "$1" 2>/dev/null && ((n++ < 900)) || return 1
		sleep 0.1
	done
	echo "$1"
}

# host ARGS...: run ARGS directly on the current weston, on the system library.
host()
{
	"${rt_infra_env[@]}" XDG_RUNTIME_DIR="$RT_XDG" WAYLAND_DISPLAY="$RT_SOCKET" \
		"${CLIENT_ENV[@]}" "$@"
}

# 64 MiB of random bytes through the clipboard, both ways between a guest
# and a host client (both on the same weston): guest wl-copy -> host
# wl-paste, then host wl-copy -> guest wl-paste. Bytes compared with cmp.
run_clipboard_virtgpu()
{
	local data=$RT_WORK/clip.bin out=$RT_WORK/clip.out copy_pid paste_pid pid n t0 rc status=0 attempt_failed=
	local type=application/octet-stream
	# RT_CLIP_BYTES: fewer bytes where the guest is slow (a real guest under TCG).
	head -c "${RT_CLIP_BYTES:-$((64 * 1024 * 1024))}" /dev/urandom >"$data"
	RT_GUEST_MAPS=
	[ -z "$IN_VM" ] || RT_GUEST_MAPS=$RT_WORK/guest-maps-copy
	rt_start_weston "$BACKEND" test

	# Guest copies, host pastes. Not --paste-once: wl-copy then replaces
	# itself with rm(1) the moment its writer is done, and what still sits
	# in the library's local pipe dies with the process image (README.md,
	# where the virtio-gpu transport differs). It keeps serving instead,
	# and is stopped once the paste is complete.
	guest wl-copy --foreground --type "$type" <"$data" >"$RT_WORK/guest-copy.log" 2>&1 &
	copy_pid=$!
	rt_track "$copy_pid"
	pid=$(guest_client "$copy_pid" wl-copy) || {
		cat "$RT_WORK/guest-copy.log" >&2
		rt_die "no wl-copy under tests/sim/virtgpu-run"
	}
	sleep 0.5
	rt_check_maps "$pid" "guest wl-copy" "$LIBDIR" "${EXTRA_DIRS[@]}" || MAPS_FAILED=1
	rt_check_guest "$pid" "guest wl-copy" || MAPS_FAILED=1
	for n in 1 2 3 4 5; do
		t0=$(date +%s.%N)
		host timeout 45 wl-paste --no-newline --type "$type" >"$out" 2>>"$RT_WORK/host-paste.log"
		rc=$?
		# 64 MiB take 1-2 s (11 s seen under load): a timeout is a stall, not a miss.
		[ -s "$out" ] || [ $rc -eq 124 ] && break
		# wl-paste can miss the selection while wl-copy is still taking focus.
		rt_log "host wl-paste got nothing, retrying"
		sleep 0.5
	done
	[ $rc -ne 124 ] || rt_log "guest -> host: the host's wl-paste was still running after 45 s"
	rt_log "guest -> host: $(stat -c %s "$out") bytes in $(echo "$(date +%s.%N) - $t0" | bc) s"
	rt_stop "$copy_pid"
	sed 's/^/    guest wl-copy: /' "$RT_WORK/guest-copy.log" | grep -v ' stats: ' | tail -n 5 >&2
	report_library_errors "$RT_WORK/guest-copy.log"
	if ! cmp "$data" "$out" >&2; then
		rt_log "guest -> host: host wl-paste got $(stat -c %s "$out") bytes, not the $(stat -c %s "$data") the guest's wl-copy offered"
		status=1
	fi
	# wl-copy closes its stderr before exit(), so the library's stats line
	# cannot appear: the host device's line shows the 64 MiB went through it.
	# (wl-copy keeps serving until stopped: a second request, from the
	# compositor or a retry, may have been served too. The host device
	# writes its line as the launcher stops it.)
	for n in $(seq 1 30); do
		grep -aq '^virtgpu-sim stats: ' "$RT_WORK/guest-copy.log" && break
		sleep 0.1
	done
	written=$(grep -a '^virtgpu-sim stats: .* contexts=1 ' "$RT_WORK/guest-copy.log" |
		sed -n 's/.* write_bytes=\([0-9]*\) .*/\1/p' | tail -n 1)
	# Stopped by a signal, the launcher may take the host device down
	# before its line: then the bytes (cmp above) and the guest checks
	# (our library and the fake kernel mapped, no compositor socket in the
	# guest) are what shows the path.
	if [ -z "$written" ]; then
		rt_log "guest wl-copy: no host device stats line (the launcher was stopped)"
	elif [ "$written" -lt "$(stat -c %s "$data")" ]; then
		rt_log "guest wl-copy: the host device did not report one context writing $(stat -c %s "$data") bytes to the compositor's pipe:"
		grep -a '^virtgpu-sim stats: ' "$RT_WORK/guest-copy.log" >&2
		status=1
	fi

	# Host copies, guest pastes. The guest's wl-paste blocks on the full
	# pipe until it is read, so its maps can be checked first.
	host timeout 120 wl-copy --foreground --paste-once --type "$type" <"$data" \
		>"$RT_WORK/host-copy.log" 2>&1 &
	copy_pid=$!
	rt_track "$copy_pid"
	sleep 0.5
	rm -f "$out"
	[ -z "$IN_VM" ] || RT_GUEST_MAPS=$RT_WORK/guest-maps-paste
	for n in 1 2 3 4 5; do
		t0=$(date +%s.%N)
		# stdin: not the coproc's pipe (tests/vm/vm-run reads a piped stdin to its end).
		coproc PASTE { guest timeout 45 wl-paste --no-newline --type "$type" \
			2>"$RT_WORK/guest-paste.log" </dev/null; }
		paste_pid=$PASTE_PID
		rt_track "$paste_pid"
		[ -z "$RT_GUEST_MAPS" ] || rm -f "$RT_GUEST_MAPS"
		# Only the attempt that ends the loop counts (as above).
		attempt_failed=
		if pid=$(guest_client "$paste_pid" wl-paste); then
			sleep 0.3
			rt_check_maps "$pid" "guest wl-paste" "$LIBDIR" "${EXTRA_DIRS[@]}" || attempt_failed=1
			rt_check_guest "$pid" "guest wl-paste" || attempt_failed=1
		else
			rt_log "no wl-paste under tests/sim/virtgpu-run"
			attempt_failed=1
		fi
		timeout 55 cat <&"${PASTE[0]}" >"$out"
		wait "$paste_pid" 2>/dev/null
		rc=$?
		[ -s "$out" ] || [ $rc -eq 124 ] && break
		rt_log "guest wl-paste got nothing, retrying"
		sleep 0.5
	done
	[ -z "$attempt_failed" ] || MAPS_FAILED=1
	[ $rc -ne 124 ] || rt_log "host -> guest: the guest's wl-paste was still running after 45 s"
	rt_log "host -> guest: $(stat -c %s "$out") bytes in $(echo "$(date +%s.%N) - $t0" | bc) s"
	rt_stop "$copy_pid"
	sed 's/^/    guest wl-paste: /' "$RT_WORK/guest-paste.log" | grep -v ' stats: ' | tail -n 5 >&2
	report_library_errors "$RT_WORK/guest-paste.log"
	if ! cmp "$data" "$out" >&2; then
		rt_log "host -> guest: the guest's wl-paste got $(stat -c %s "$out") bytes, not the $(stat -c %s "$data") the host's wl-copy offered"
		status=1
	fi
	rt_check_stats "$RT_WORK/guest-paste.log" "guest wl-paste" || status=1

	[ -z "$MAPS_FAILED" ] || { rt_log "the library under test was not the one loaded, or not as a guest"; status=1; }
	[ $status -eq 0 ] || { save_failure guest-copy.log guest-paste.log host-paste.log host-copy.log; rt_die "clipboard through the simulated virtio-gpu"; }
	rt_log "PASS: $(stat -c %s "$data") bytes moved unchanged guest -> host and host -> guest"
}

# The keymap: keymap-dump (size, hash, head of wl_keyboard.keymap read
# through a MAP_PRIVATE mapping) as a guest and directly on the system
# library, on the same weston: the lines must be equal.
run_keymap()
{
	local dump=$VIRTGPU_BUILD/tests/real/keymap-dump status=0 ref got got_maps want_maps
	[ -x "$dump" ] || rt_die "no $dump (ninja -C $VIRTGPU_BUILD)"
	rt_start_weston "$BACKEND" test
	host env LD_LIBRARY_PATH="$sysdir" timeout 20 "$dump" >"$RT_WORK/keymap-ref.out" 2>&1 ||
		{ cat "$RT_WORK/keymap-ref.out" >&2; rt_die "keymap-dump failed on the system library"; }
	guest timeout 20 "$dump" >"$RT_WORK/keymap-test.out" 2>&1 || status=1
	sed 's/^/    direct: /' "$RT_WORK/keymap-ref.out" >&2
	sed 's/^/    guest:  /' "$RT_WORK/keymap-test.out" >&2
	ref=$(grep '^keymap ' "$RT_WORK/keymap-ref.out")
	got=$(grep '^keymap ' "$RT_WORK/keymap-test.out")
	grep -q "^maps: $(readlink -f "$RT_SYSTEM_LIB")\$" "$RT_WORK/keymap-ref.out" ||
		rt_die "the direct run did not use the system library only"
	case $ref in
	*" tail_nul=1") ;;
	*) rt_die "the direct run's keymap is not a NUL-terminated xkb keymap: $ref" ;;
	esac
	[ $status -eq 0 ] || rt_log "keymap-dump failed as a guest"
	if [ "$got" != "$ref" ]; then
		rt_log "the guest's keymap differs from the direct run's"
		status=1
	fi
	got_maps=$(sed -n 's/^maps: //p' "$RT_WORK/keymap-test.out" | tr ' ' '\n' | sort | paste -sd' ')
	want_maps=$(printf '%s\n' "$(readlink -f "$LIBDIR/libwayland-client.so.0")" \
		"$(readlink -f "$VIRTGPU_BUILD/tests/sim/libvirtgpu-sim-kernel.so")" | sort | paste -sd' ')
	if [ "$got_maps" != "$want_maps" ]; then
		rt_log "the guest mapped '$got_maps', not '$want_maps'"
		status=1
	fi
	report_library_errors "$RT_WORK/keymap-test.out"
	rt_check_stats "$RT_WORK/keymap-test.out" "guest keymap-dump" || status=1
	[ $status -eq 0 ] || rt_die "keymap through the simulated virtio-gpu"
	rt_log "PASS: the guest received the keymap intact (${ref#keymap })"
}

# typed_texts LOG: what wev (LOG) was typed, one line per keyboard that
# came and went (each wtype run makes its own).
typed_texts()
{
	awk '/capabilities:  *none/ { if (t != "") print t; t = "" }
	     /utf8: \047.+\047$/ { sub(/.*utf8: \047/, ""); sub(/\047$/, ""); t = t $0 }
	     END { if (t != "") print t }' "$1"
}

# wtype types with a virtual keyboard whose keymap (a memfd in
# zwp_virtual_keyboard_v1.keymap, with a keysym for each character not on
# a keyboard) sway compiles: directly on the system library, then as a
# guest; wev, a host client with the focus, must see both texts. On a
# library that cannot send the memfd the guest's wtype still exits 0, but
# sway has no keymap and nothing is typed.
run_keys_virtgpu()
{
	local direct='direct-Ü→ß' typed_guest='guest-Ü→ß' n=0 status=0 got want stats
	{ command -v wtype && command -v wev; } >/dev/null ||
		rt_die "wtype and wev are needed (tools/install-deps.sh)"
	rt_start_weston sway test
	host env LD_LIBRARY_PATH="$sysdir" timeout 30 stdbuf -oL wev >"$RT_WORK/wev.log" 2>&1 &
	rt_track $!
	until grep -q 'capabilities:' "$RT_WORK/wev.log"; do
		((n++ >= 100)) && { cat "$RT_WORK/wev.log" >&2; rt_die "wev did not start"; }
		sleep 0.1
	done
	sleep 0.5	# its window mapped and focused
	host env LD_LIBRARY_PATH="$sysdir" timeout 20 wtype -s 500 "$direct" \
		>"$RT_WORK/wtype-ref.log" 2>&1 || rt_die "wtype failed on the system library"
	sleep 0.5
	guest timeout 20 wtype -s 500 "$typed_guest" >"$RT_WORK/wtype-test.log" 2>&1 || status=1
	sleep 1
	sed 's/^/    guest wtype: /' "$RT_WORK/wtype-test.log" >&2
	got=$(typed_texts "$RT_WORK/wev.log" | paste -sd'|')
	want="$direct|$typed_guest"
	rt_log "wev saw: $got"
	[ "$got" = "$want" ] || { rt_log "expected: $want"; status=1; }
	report_library_errors "$RT_WORK/wtype-test.log"
	rt_check_stats "$RT_WORK/wtype-test.log" "guest wtype" || status=1
	stats=$(grep -a '^wayland-virtgpu stats: ' "$RT_WORK/wtype-test.log" | tail -n 1)
	case $stats in
	*" memory_fds=1 "*) ;;
	*) rt_log "the keymap was not counted as a memory fd (memory_fds=1)"; status=1 ;;
	esac
	[ $status -eq 0 ] || { save_failure wev.log wtype-ref.log wtype-test.log; rt_die "wtype through the simulated virtio-gpu"; }
	rt_log "PASS: sway compiled the guest's keymap and typed '$typed_guest'"
}

STATS_FRAMES=8
frames()
{
	if [ "$MODE" = stats ] && [ -e "$RT_WORK/$1-1.png" ]; then
		seq -f "$RT_WORK/$1-%g.png" 1 $STATS_FRAMES | paste -sd,
	else
		echo "$RT_WORK/$1.png"
	fi
}

MAPS_FAILED=
sysdir=$RT_WORK/system-lib
mkdir -p "$sysdir"
ln -s "$(readlink -f "$RT_SYSTEM_LIB")" "$sysdir/libwayland-client.so.0"

case $MODE in
bytes)
	run_clipboard
	exit 0
	;;
bytes-virtgpu)
	run_clipboard_virtgpu
	exit 0
	;;
keymap)
	run_keymap
	exit 0
	;;
keys-virtgpu)
	run_keys_virtgpu
	exit 0
	;;
esac

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
	rt_log "sanitizer report from the client on the library under test: $FAILURE_DIR/$TEST_NAME/client-test.log"
	status=1
fi
[ -z "$REF_MAPS_FAILED" ] || { rt_log "reference run did not use the system library"; status=1; }
if [ -n "$VIRTGPU_BUILD" ]; then
	report_library_errors "$RT_WORK/client-test.log"
	rt_check_stats "$RT_WORK/client-test.log" "test: ${CMD[0]##*/}" || status=1
	# None of these programs grows pool mappings with mremap(): the library
	# must keep each connection's pools zero-copy (mremap-scan.c).
	want=${WAYLAND_VIRTGPU_SHM:-zero-copy}
	while read -r mode; do
		if [ "$mode" != "$want" ]; then
			rt_log "shm_mode=$mode in a stats line, expected $want"
			status=1
		fi
	done < <(grep -a '^wayland-virtgpu stats: ' "$RT_WORK/client-test.log" |
		 sed 's/.* shm_mode=\([a-z-]*\).*/\1/')
	# (WAYLAND_VIRTGPU_SHM=copy asks for copies: then only the pixels count.)
	if [ -n "${ZERO_COPY:-}" ] && [ "${WAYLAND_VIRTGPU_SHM:-}" != copy ]; then
		stats=$(grep -a '^wayland-virtgpu stats: ' "$RT_WORK/client-test.log" | tail -n 1)
		pools=$(sed -n 's/.* shm_pools=\([0-9]*\).*/\1/p' <<<"$stats")
		zero=$(sed -n 's/.* zero_copy_pools=\([0-9]*\).*/\1/p' <<<"$stats")
		copied=$(sed -n 's/.* shm_bytes_copied=\([0-9]*\).*/\1/p' <<<"$stats")
		if [ -z "$pools" ] || [ "$pools" -lt 1 ] || [ "$zero" != "$pools" ] || [ "$copied" != 0 ]; then
			rt_log "not zero-copy: shm_pools=$pools zero_copy_pools=$zero shm_bytes_copied=$copied"
			status=1
		fi
	fi
fi
if [ $status -ne 0 ]; then
	save_failure ref.png test.png diff.png client-test.log
	exit 1
fi
rt_log "PASS ($MODE comparison with the system library${VIRTGPU_BUILD:+, the client a guest of the simulated virtio-gpu})"
