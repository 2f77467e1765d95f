# Shared pieces of the real-compositor tests: private compositors, clients run
# against a chosen libwayland-client, screenshots and the /proc/PID/maps check.
# Sourced by run-client.sh and demo.sh; everything started here is stopped by
# rt_cleanup, which rt_init installs as an EXIT trap.

RT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RT_PYTHON=${RT_PYTHON:-/usr/bin/python3}	# the system python has PIL
RT_SYSTEM_LIB=${RT_SYSTEM_LIB:-/usr/lib/x86_64-linux-gnu/libwayland-client.so.0}
RT_WIDTH=${RT_WIDTH:-1280}
RT_HEIGHT=${RT_HEIGHT:-720}
RT_BG=0xff204060			# desktop colour; nothing a client draws uses it
# weston's shell: desktop-shell, or kiosk-shell (every toplevel fullscreen,
# so the compositor, not the client, sets the window's size; it shows a
# window only once it can give it a seat's focus: x11 backend only).
RT_WESTON_SHELL=${RT_WESTON_SHELL:-desktop-shell}
RT_PIDS=()
RT_WORK=

rt_log()
{
	printf '[%s %s] %s\n' "$(date +%T.%N | cut -c1-12)" "${RT_NAME:-real}" "$*" >&2
}

rt_die()
{
	rt_log "FAIL: $*"
	exit 1
}

# rt_init NAME: private work dir, cleanup on any exit.
rt_init()
{
	RT_NAME=$1
	RT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/wl-real-$RT_NAME.XXXXXX") || exit 1
	chmod 700 "$RT_WORK"
	trap rt_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

rt_cleanup()
{
	local status=$? pid i
	trap - EXIT
	# Newest first: clients before their compositor, the compositor before its X server.
	for ((i = ${#RT_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${RT_PIDS[i]}
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = ${#RT_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${RT_PIDS[i]}
		rt_wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$status" -ne 0 ] && [ "$status" -ne 77 ] && [ -n "$RT_WORK" ]; then
		rt_log "logs kept in $RT_WORK"
	elif [ -n "$RT_WORK" ] && [ -z "$RT_KEEP" ]; then
		rm -rf "$RT_WORK"
	fi
	exit "$status"
}

# rt_wait_gone PID TENTHS: poll until PID has exited.
rt_wait_gone()
{
	local n=0
	while kill -0 "$1" 2>/dev/null; do
		# A zombie child is gone for our purposes.
		[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		((n++ >= $2)) && return 1
		sleep 0.1
	done
	return 0
}

rt_track()
{
	RT_PIDS+=("$1")
}

# rt_stop PID: stop one process started here (TERM, then KILL after 3 s).
rt_stop()
{
	kill -TERM "$1" 2>/dev/null
	rt_wait_gone "$1" 30 || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# Infrastructure (X server, compositor, screenshooter) always uses the system
# library, whatever the caller's environment holds.
rt_infra_env=(env -u LD_LIBRARY_PATH -u LD_PRELOAD -u WAYLAND_DISPLAY -u WAYLAND_SOCKET)

# rt_start_xvfb: own X server on a free display; sets RT_XDISPLAY.
rt_start_xvfb()
{
	local fdfile=$RT_WORK/xvfb.display n=0
	"${rt_infra_env[@]}" Xvfb -displayfd 3 -screen 0 "$((RT_WIDTH + 64))x$((RT_HEIGHT + 64))x24" \
		-nolisten tcp -noreset 3>"$fdfile" >"$RT_WORK/xvfb.log" 2>&1 &
	rt_track $!
	while ! [ -s "$fdfile" ]; do
		kill -0 "${RT_PIDS[-1]}" 2>/dev/null || { cat "$RT_WORK/xvfb.log" >&2; rt_die "Xvfb exited"; }
		((n++ >= 150)) && rt_die "Xvfb did not report a display within 15 s"
		sleep 0.1
	done
	RT_XDISPLAY=:$(head -n1 "$fdfile")
	# Xvfb starts its pointer mid-screen, where windows go, and weston's
	# seat starts at (100,100): a cursor would show (or not) depending on
	# timing. Park it on weston's last pixel, which no window reaches and
	# where only a few pixels of the sprite are on screen.
	"${rt_infra_env[@]}" "$RT_PYTHON" "$RT_DIR/x-pointer-away.py" "$RT_XDISPLAY" \
		$((RT_WIDTH - 1)) $((RT_HEIGHT - 1)) || rt_die "cannot move the X pointer"
	rt_log "Xvfb on $RT_XDISPLAY"
}

# rt_start_weston headless|x11|sway TAG: weston with $RT_WESTON_SHELL on a solid
# background (or, with sway, sway on its headless backend: another
# compositor, wlroots', with windows floating on the same colour), a private
# XDG_RUNTIME_DIR and a unique socket. Sets RT_XDG, RT_SOCKET, RT_WESTON_PID
# and waits until the desktop is drawn.
rt_start_weston()
{
	local backend=$1 tag=$2 n=0 args
	RT_XDG=$RT_WORK/xdg-$tag
	RT_SOCKET=wl-real-$RT_NAME-$tag-$$
	RT_COMPOSITOR=weston
	mkdir -p "$RT_XDG" && chmod 700 "$RT_XDG"
	[ "$backend" = sway ] && { rt_start_sway "$tag"; return; }
	[ "$RT_WESTON_SHELL" != kiosk-shell ] || [ "$backend" = x11 ] ||
		rt_die "kiosk-shell maps no window without a seat: use the x11 backend"
	cat >"$RT_WORK/weston.ini" <<-INI
		[core]
		idle-time=0
		[shell]
		background-color=$RT_BG
		panel-position=none
		locking=false
		animation=none
		startup-animation=none
		close-animation=none
		focus-animation=none
	INI
	args=(--socket="$RT_SOCKET" --idle-time=0 --debug --config="$RT_WORK/weston.ini"
		--shell="$RT_WESTON_SHELL.so" --width="$RT_WIDTH" --height="$RT_HEIGHT"
		--log="$RT_WORK/weston-$tag.log")
	case $backend in
	headless)
		"${rt_infra_env[@]}" -u DISPLAY XDG_RUNTIME_DIR="$RT_XDG" \
			weston --backend=headless-backend.so --use-pixman "${args[@]}" \
			>"$RT_WORK/weston-$tag.out" 2>&1 &
		;;
	x11)
		[ -n "$RT_XDISPLAY" ] || rt_start_xvfb
		"${rt_infra_env[@]}" DISPLAY="$RT_XDISPLAY" XDG_RUNTIME_DIR="$RT_XDG" \
			weston --backend=x11-backend.so --use-pixman "${args[@]}" \
			>"$RT_WORK/weston-$tag.out" 2>&1 &
		;;
	*)
		rt_die "unknown backend $backend"
		;;
	esac
	RT_WESTON_PID=$!
	rt_track "$RT_WESTON_PID"
	while ! [ -S "$RT_XDG/$RT_SOCKET" ]; do
		kill -0 "$RT_WESTON_PID" 2>/dev/null ||
			{ tail -n 20 "$RT_WORK/weston-$tag.log" >&2; rt_die "weston ($backend) exited"; }
		((n++ >= 200)) && rt_die "weston ($backend) socket did not appear within 20 s"
		sleep 0.1
	done
	# The socket comes before desktop-shell has drawn the background: wait for it.
	rt_screenshot "$RT_WORK/desktop-$tag.png" background ||
		rt_die "weston ($backend) never drew its desktop"
	rt_log "weston $backend on $RT_XDG/$RT_SOCKET (pid $RT_WESTON_PID)"
}

# rt_start_sway TAG (from rt_start_weston): sway refuses to run as root, so
# it runs as nobody, in a runtime dir of nobody's; it names its socket itself.
rt_start_sway()
{
	local tag=$1 n=0 bg=${RT_BG#0xff} sock
	command -v sway >/dev/null && command -v grim >/dev/null ||
		rt_die "sway and grim are needed (tools/install-deps.sh)"
	RT_COMPOSITOR=sway
	chmod 711 "$RT_WORK"
	chown nobody "$RT_XDG" || rt_die "cannot give $RT_XDG to nobody"
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$RT_XDG" ||
		rt_die "nobody cannot reach $RT_XDG (a parent directory is closed to others)"
	cat >"$RT_XDG/sway.conf" <<-CONF
		output HEADLESS-1 resolution ${RT_WIDTH}x${RT_HEIGHT} bg #$bg solid_color
		default_border none
		default_floating_border none
		for_window [app_id=".*"] floating enable
		for_window [class=".*"] floating enable
		focus_follows_mouse no
	CONF
	chmod 644 "$RT_XDG/sway.conf"
	"${rt_infra_env[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -u DISPLAY HOME="$RT_XDG" XDG_RUNTIME_DIR="$RT_XDG" WLR_BACKENDS=headless \
		WLR_RENDERER=pixman WLR_HEADLESS_OUTPUTS=1 WLR_LIBINPUT_NO_DEVICES=1 \
		sway -c "$RT_XDG/sway.conf" >"$RT_WORK/sway-$tag.log" 2>&1 &
	RT_WESTON_PID=$!
	rt_track "$RT_WESTON_PID"
	while sock=$(ls "$RT_XDG" | grep -E '^wayland-[0-9]+$' | head -n1); [ -z "$sock" ]; do
		kill -0 "$RT_WESTON_PID" 2>/dev/null ||
			{ tail -n 20 "$RT_WORK/sway-$tag.log" >&2; rt_die "sway exited"; }
		((n++ >= 200)) && rt_die "sway's socket did not appear within 20 s"
		sleep 0.1
	done
	RT_SOCKET=$sock
	rt_screenshot "$RT_WORK/desktop-$tag.png" background ||
		rt_die "sway never drew its background"
	rt_log "sway on $RT_XDG/$RT_SOCKET (pid $RT_WESTON_PID)"
}

# rt_stop_weston: stop the current compositor (and nothing else).
rt_stop_weston()
{
	rt_stop "$RT_WESTON_PID"
}

# rt_screenshot OUT [background]: one screenshot of the current weston into
# OUT, retried while the screenshooter fails. With "background", retried until
# the desktop colour is showing (desktop-shell is ready).
rt_screenshot()
{
	local out=$1 want=$2 dir=$RT_WORK/shot.$$ try f shooter
	for try in $(seq 1 40); do
		rm -rf "$dir" && mkdir -p "$dir"
		if [ "$RT_COMPOSITOR" = sway ]; then
			shooter=(grim "$dir/wayland-screenshot-grim.png")
		else
			shooter=(weston-screenshooter)
		fi
		if (cd "$dir" && timeout 10 "${rt_infra_env[@]}" XDG_RUNTIME_DIR="$RT_XDG" \
			WAYLAND_DISPLAY="$RT_SOCKET" "${shooter[@]}") >"$RT_WORK/shooter.log" 2>&1; then
			f=$(ls "$dir"/wayland-screenshot-*.png 2>/dev/null | head -n1)
			if [ -n "$f" ] && { [ "$want" != background ] ||
				"$RT_PYTHON" "$RT_DIR/compare.py" is-background "$f" "$RT_BG"; }; then
				mv "$f" "$out"
				rm -rf "$dir"
				return 0
			fi
		fi
		sleep 0.25
	done
	rm -rf "$dir"
	cat "$RT_WORK/shooter.log" >&2
	return 1
}

# rt_sanitizer_runtimes LIB: the sanitizer runtimes LIB needs, as an
# LD_PRELOAD value (empty for an ordinary build).
rt_sanitizer_runtimes()
{
	local rt preload=
	for rt in asan ubsan; do
		if readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*lib$rt\.so"; then
			preload=${preload:+$preload:}$(gcc -print-file-name=lib$rt.so)
		fi
	done
	echo "$preload"
}

# rt_client_env LIBDIR...: the environment a client under test runs with.
# LD_LIBRARY_PATH holds every given dir that exists; an ASan/UBSan build of the
# library gets its runtime preloaded (the clients are not instrumented).
rt_client_env()
{
	local d path= lib=$1/libwayland-client.so.0 preload= rt
	for d in "$@"; do
		[ -d "$d" ] && path=${path:+$path:}$(cd "$d" && pwd)
	done
	preload=$(rt_sanitizer_runtimes "$lib")
	RT_LD_PATH=$path
	RT_ENV=(env -u DISPLAY -u WAYLAND_SOCKET XDG_RUNTIME_DIR="$RT_XDG" WAYLAND_DISPLAY="$RT_SOCKET"
		LD_LIBRARY_PATH="$path" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}")
	[ -n "$preload" ] && RT_ENV+=(LD_PRELOAD="$preload")
	return 0
}

# rt_in_vm: the launcher (VIRTGPU_RUN) is tests/vm/vm-run, so the client runs in a
# real guest: its pid, maps and files are the guest's, not this host's.
rt_in_vm()
{
	[ "${VIRTGPU_RUN##*/}" = vm-run ]
}

# rt_maps PID: PID's mappings; with RT_GUEST_MAPS set (a client in a real
# guest, tests/vm/vm-run's VM_RUN_MAPS), the guest's processes' instead.
rt_maps()
{
	if [ -n "${RT_GUEST_MAPS:-}" ]; then
		# The guest renews it every 0.1 s of its (slower) time: wait for it.
		local n=0
		until grep -q '/libwayland-client\.so' "$RT_GUEST_MAPS" 2>/dev/null; do
			((n++ < 50)) || return 1
			sleep 0.1
		done
		cat "$RT_GUEST_MAPS"
	else
		cat "/proc/$1/maps" 2>/dev/null
	fi
}

# rt_check_maps PID WHAT LIBDIR [EXTRA_DIR...]: PID has libwayland-client
# mapped from LIBDIR and no other copy; any libwayland-cursor/-egl it maps
# comes from an extra dir that holds one. WHAT names the process in messages.
rt_check_maps()
{
	local pid=$1 what=$2 libdir=$3 maps lib want got d
	shift 3
	maps=$(rt_maps "$pid") || { rt_log "$what (pid $pid) is not running"; return 1; }
	want=$(readlink -f "$libdir/libwayland-client.so.0")
	got=$(awk '$6 ~ /\/libwayland-client\.so/ { print $6 }' <<<"$maps" | sort -u)
	if [ "$got" != "$want" ]; then
		rt_log "$what (pid $pid) maps libwayland-client from: ${got:-nowhere}; expected $want"
		return 1
	fi
	if [ -z "$RT_EXPECT_SYSTEM" ] && [ "$want" = "$(readlink -f "$RT_SYSTEM_LIB")" ]; then
		rt_log "warning: $libdir/libwayland-client.so.0 is the system library itself"
	fi
	for lib in libwayland-cursor.so.0 libwayland-egl.so.1; do
		for d in "$@"; do
			[ -e "$d/$lib" ] || continue
			got=$(awk -v l="/${lib%%.so*}.so" 'index($6, l) { print $6 }' <<<"$maps" | sort -u)
			want=$(readlink -f "$d/$lib")
			if [ -n "$got" ] && [ "$got" != "$want" ]; then
				rt_log "$what (pid $pid) maps ${lib%%.so*} from $got; expected $want"
				return 1
			fi
		done
	done
	rt_log "$what (pid $pid) runs on $(awk '$6 ~ /\/libwayland-(client|cursor|egl)\.so/ { print $6 }' <<<"$maps" |
		sort -u | paste -sd' ')"
	return 0
}

# rt_find_descendant PID NAME: PID itself or its first descendant (breadth
# first) whose command is NAME; for clients started under a launcher.
rt_find_descendant()
{
	local pid=$1 name=${2:0:15} queue child
	queue=("$pid")
	while [ ${#queue[@]} -gt 0 ]; do
		pid=${queue[0]}
		queue=("${queue[@]:1}")
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && { echo "$pid"; return 0; }
		for child in $(pgrep -P "$pid"); do
			queue+=("$child")
		done
	done
	return 1
}

# rt_wait_descendant PID NAME TENTHS: rt_find_descendant, polled while PID lives.
rt_wait_descendant()
{
	local n=0
	while ! rt_find_descendant "$1" "$2"; do
		kill -0 "$1" 2>/dev/null || return 1
		((n++ >= $3)) && return 1
		sleep 0.1
	done
}

# rt_check_guest PID WHAT: PID runs on the simulated virtio-gpu's fake kernel
# (tests/sim's LD_PRELOAD library), i.e. it is a guest; in a real guest
# (RT_GUEST_MAPS), it maps memory of the virtio-gpu's DRM device.
rt_check_guest()
{
	if [ -n "${RT_GUEST_MAPS:-}" ]; then
		local n=0
		# The guest's next look may be needed (the library maps its rings
		# once it has loaded).
		until grep -Eq ' /dev/dri/(card|renderD)[0-9]+$' "$RT_GUEST_MAPS" 2>/dev/null; do
			((n++ < 50)) || { rt_log "$2 maps nothing of /dev/dri in the guest: not on its virtio-gpu"; return 1; }
			sleep 0.1
		done
		return 0
	fi
	if ! grep -q '/libvirtgpu-sim-kernel\.so$' "/proc/$1/maps" 2>/dev/null; then
		rt_log "$2 (pid $1) does not map libvirtgpu-sim-kernel.so: not a guest of the simulated device"
		return 1
	fi
	return 0
}

# rt_check_stats LOG WHAT: LOG holds the library's stats line for the
# virtgpu transport (WAYLAND_VIRTGPU_STATS=1); prints it.
rt_check_stats()
{
	local line
	line=$(grep -a '^wayland-virtgpu stats: ' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		rt_log "$2: no 'wayland-virtgpu stats:' line in $1"
		return 1
	fi
	rt_log "$2: $line"
	case $line in
	'wayland-virtgpu stats: transport=virtgpu '*) return 0 ;;
	esac
	rt_log "$2: the stats line does not say transport=virtgpu"
	return 1
}
