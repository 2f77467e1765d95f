#!/bin/bash
# One zero-copy case: zerocopy-client MODE on a private headless weston, once
# directly on the system libwayland-client (the reference) and once as a guest
# of the simulated virtio-gpu on BUILD's libraries, each screenshot while the
# client holds its last frame. Both windows must equal the frame the client
# says it drew last (--expect), hence each other, and both clients must exit 0.
#
# usage: run-zerocopy.sh CLIENT BUILD [OPTION] MODE
#   (none)             the comparison above; the guest's stats line is printed
#   --expect-mismatch  the guest draws the frame before the last (--sabotage):
#                      passes only when that is caught and nothing else fails
#   --stats            guest only: the stats line shows zero_copy_pools >= 1 and
#                      shm_bytes_copied <= the pool's size (issue 5, point 5)
#   --memory           a 4 MiB pool: the guest's resident memory grows by at most
#                      1.5x the pool's size (no shadow copy; issue 5, point 4)
# env: ZEROCOPY_FAILURE_DIR  where screenshots and logs of failures go
#      ZEROCOPY_SHM_MODE     the shm_mode the guest's stats line must show
#      ZEROCOPY_COPY_WHY     the shm_copy_why it must show (pools copied on
#                            commit by reason, e.g. private-view:1, or none)
#      ZEROCOPY_HOST_BYTES_MAX  the most host memory wl_shm may hold at its
#                            peak (the stats line's host_bytes=now/peak)
#                            (default: WAYLAND_VIRTGPU_SHM, else zero-copy)
#      ZEROCOPY_PROFILE      host profile of the simulated device (default rutabaga)
#      RT_KEEP=1             keep the work directory after success

source "$(dirname "$0")/../real/lib.sh" || exit 1
ZC_DIR=$(cd "$(dirname "$0")" && pwd)

usage()
{
	sed -n '2,21p' "$0" >&2
	exit 2
}

[ $# -ge 3 ] || usage
CLIENT=$(readlink -f "$1")
BUILD=$(cd "$2" 2>/dev/null && pwd) || usage
shift 2
CHECK=compare
case $1 in
--expect-mismatch) CHECK=mismatch; shift ;;
--stats) CHECK=stats; shift ;;
--memory) CHECK=memory; shift ;;
-*) usage ;;
esac
[ $# -eq 1 ] || usage
MODE=$1
[ -x "$CLIENT" ] || { echo "no client $CLIENT" >&2; exit 2; }
[ -e "$BUILD/src/libwayland-client.so.0" ] || { echo "no $BUILD/src/libwayland-client.so.0" >&2; exit 2; }
PROFILE=${ZEROCOPY_PROFILE:-rutabaga}
CLIENT_ARGS=()
case $CHECK in
memory) CLIENT_ARGS+=(--memory --size 1024x512) ;;
esac

case $CHECK in
compare) rt_init "zc-$MODE" ;;
mismatch) rt_init "zc-$MODE-stale" ;;
*) rt_init "zc-$MODE-$CHECK" ;;
esac
FAILURE_DIR=${ZEROCOPY_FAILURE_DIR:-${TMPDIR:-/tmp}/zerocopy-failures}/$RT_NAME
FAILED=0

fail()
{
	rt_log "FAIL: $*"
	FAILED=1
}

# Keep what shows the failure, then exit 1.
finish()
{
	if [ "$FAILED" -ne 0 ]; then
		mkdir -p "$FAILURE_DIR"
		cp "$RT_WORK"/*.png "$RT_WORK"/*.log "$RT_WORK"/expected.ppm "$FAILURE_DIR"/ 2>/dev/null
		rt_log "screenshots and logs in $FAILURE_DIR"
		exit 1
	fi
	rt_log "PASS"
	exit 0
}

"$CLIENT" "${CLIENT_ARGS[@]}" --expect "$RT_WORK/expected.ppm" "$MODE" ||
	rt_die "$CLIENT cannot write the expected frame of $MODE"
rt_start_weston headless w

# run LABEL: run the client (direct or guest) until it holds its last
# frame, screenshot it into LABEL.png, stop it with SIGINT; sets STATUS
# (its exit status) and HELD (its "held" line).
run()
{
	local label=$1 log=$RT_WORK/$1.log pid client_pid n=0 prefix=() args=("${CLIENT_ARGS[@]}")
	RT_GUEST_MAPS=
	if [ "$label" = direct ]; then
		RT_EXPECT_SYSTEM=1
		rt_client_env "$(dirname "$RT_SYSTEM_LIB")"
	else
		RT_EXPECT_SYSTEM=
		rt_client_env "$BUILD/src"
		prefix=(env WAYLAND_VIRTGPU_BUILD="$BUILD" WAYLAND_VIRTGPU_STATS=1
			VIRTGPU_SIM_STATS="$RT_WORK/host-stats.log"
			"${VIRTGPU_RUN:-$ZC_DIR/../sim/virtgpu-run}" --profile "$PROFILE" --)
		# In a real guest (tests/vm/vm-run) the client's pid and maps are the
		# guest's: its maps come through VM_RUN_MAPS, SIGINT through vm-run.
		if rt_in_vm; then
			RT_GUEST_MAPS=$RT_WORK/guest-maps
			prefix=("${prefix[0]}" VM_RUN_MAPS="$RT_GUEST_MAPS" "${prefix[@]:1}")
		fi
		# --expect-mismatch: the guest, and only it, draws a stale last frame.
		[ "$CHECK" != mismatch ] || args+=(--sabotage)
	fi
	(cd "$RT_WORK" && exec "${RT_ENV[@]}" "${prefix[@]}" "$CLIENT" "${args[@]}" \
		--timeout 60 "$MODE") >"$log" 2>&1 &
	pid=$!
	rt_track "$pid"
	STATUS=
	HELD=
	while ! HELD=$(grep -a -m1 '^zerocopy-client: held ' "$log" 2>/dev/null); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			STATUS=$?
			sed 's/^/    /' "$log" | tail -n 20 >&2
			fail "$label: the client exited with status $STATUS before holding its last frame"
			return 1
		fi
		if ((n++ >= 400)); then
			sed 's/^/    /' "$log" | tail -n 20 >&2
			fail "$label: the client did not reach its last frame within 40 s"
			return 1
		fi
		sleep 0.1
	done
	client_pid=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' <<<"$HELD")
	rt_log "$label: $HELD"
	if [ "$label" = direct ]; then
		rt_check_maps "$client_pid" "$label client" "$(dirname "$RT_SYSTEM_LIB")" ||
			fail "$label: not on the system library"
	else
		{ rt_check_maps "$client_pid" "$label client" "$BUILD/src" &&
			rt_check_guest "$client_pid" "$label client"; } ||
			fail "$label: not a guest on $BUILD/src"
	fi
	rt_screenshot "$RT_WORK/$label.png" || fail "$label: no screenshot"
	# The shot shows the held frame only if the client still held it then.
	if ! kill -0 "$pid" 2>/dev/null || grep -aq '^zerocopy-client: timeout' "$log"; then
		fail "$label: the client stopped holding before its window was shot" \
			"$(grep -a '^zerocopy-client: timeout' "$log")"
	fi
	kill -INT "$([ -n "${RT_GUEST_MAPS:-}" ] && echo "$pid" || echo "$client_pid")"
	# A real guest under TCG on a loaded host may take a while (vm-run gives it 30 s).
	if ! rt_wait_gone "$pid" "$([ -n "${RT_GUEST_MAPS:-}" ] && echo 400 || echo 100)"; then
		fail "$label: the client did not exit after SIGINT"
		rt_stop "$client_pid"
	fi
	wait "$pid"
	STATUS=$?
	grep -a '^zerocopy-client: \(memory\|grow\|punch\|thread\|seals\|private\)' "$log" |
		sed "s/^/    $label: /" >&2
	grep -a -v '^zerocopy-client: \|^wayland-virtgpu stats: \|^virtgpu-sim' "$log" |
		sed "s/^/    $label: /" | head -n 20 >&2
	if [ "$STATUS" -ne 0 ]; then
		fail "$label: the client exited with status $STATUS"
	fi
	return 0
}

# check_expected LABEL: LABEL.png shows the expected frame.
check_expected()
{
	local out
	out=$("$RT_PYTHON" "$ZC_DIR/check-window.py" "$RT_WORK/$1.png" "$RT_WORK/desktop-w.png" \
		"$RT_WORK/expected.ppm" --diff "$RT_WORK/$1-expected-diff.png")
	local status=$?
	rt_log "$1: $out"
	return $status
}

# stat_value KEY: the value of KEY in the guest's stats line.
stat_value()
{
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$STATS"
}

guest_stats()
{
	STATS=$(grep -a '^wayland-virtgpu stats: ' "$RT_WORK/guest.log" | tail -n 1)
	if [ -z "$STATS" ]; then
		fail "guest: no 'wayland-virtgpu stats:' line"
		return 1
	fi
	rt_log "guest: $STATS"
	case $STATS in
	'wayland-virtgpu stats: transport=virtgpu '*) ;;
	*) fail "guest: the stats line does not say transport=virtgpu"; return 1 ;;
	esac
	[ -s "$RT_WORK/host-stats.log" ] && rt_log "guest: $(tail -n 1 "$RT_WORK/host-stats.log")"
	# How the library chose to treat the pools: zero-copy unless asked
	# (WAYLAND_VIRTGPU_SHM) or expected otherwise (ZEROCOPY_SHM_MODE).
	local want=${ZEROCOPY_SHM_MODE:-${WAYLAND_VIRTGPU_SHM:-zero-copy}}
	local mode
	mode=$(sed -n 's/.* shm_mode=\([a-z-]*\).*/\1/p' <<<"$STATS")
	[ "$mode" = "$want" ] || fail "guest: shm_mode=$mode, expected $want"
	# Which pools were copied on commit, and why (ZEROCOPY_COPY_WHY).
	local why
	why=$(sed -n 's/.* shm_copy_why=\([a-z:,0-9-]*\).*/\1/p' <<<"$STATS")
	if [ -n "${ZEROCOPY_COPY_WHY:-}" ] && [ "$why" != "$ZEROCOPY_COPY_WHY" ]; then
		fail "guest: shm_copy_why=$why, expected $ZEROCOPY_COPY_WHY"
	fi
	# The host memory wl_shm held at its peak (ZEROCOPY_HOST_BYTES_MAX).
	local peak
	peak=$(sed -n 's/.* host_bytes=[0-9]*\/\([0-9]*\).*/\1/p' <<<"$STATS")
	if [ -n "${ZEROCOPY_HOST_BYTES_MAX:-}" ] &&
		! [ "${peak:-999999999999}" -le "$ZEROCOPY_HOST_BYTES_MAX" ]; then
		fail "guest: host memory peaked at ${peak:-?} bytes, more than $ZEROCOPY_HOST_BYTES_MAX"
	fi
	return 0
}

case $CHECK in
compare|mismatch)
	run direct && [ -e "$RT_WORK/direct.png" ] && {
		check_expected direct || fail "direct: the window is not the expected frame"
	}
	run guest && [ -e "$RT_WORK/guest.png" ] && {
		check_expected guest
		GUEST_EXPECTED=$?
	}
	guest_stats
	if [ -e "$RT_WORK/direct.png" ] && [ -e "$RT_WORK/guest.png" ]; then
		"$RT_PYTHON" "$RT_DIR/compare.py" compare exact "$RT_WORK/direct.png" \
			"$RT_WORK/desktop-w.png" "$RT_WORK/guest.png" "$RT_WORK/desktop-w.png" \
			--diff "$RT_WORK/diff.png" >"$RT_WORK/compare.log" 2>&1
		COMPARED=$?
		sed 's/^/    compare: /' "$RT_WORK/compare.log" >&2
	fi
	if [ "$MODE" = thread ]; then
		# Lost writes can only show when some were made during create_pool
		# and the first commit (where the library remaps).
		RACED=$(sed -n 's/^zerocopy-client: thread: raced_bands=\([0-9]*\) .*/\1/p' "$RT_WORK/guest.log")
		[ "${RACED:-0}" -ge 1 ] ||
			fail "guest: no band was drawn during its create_pool and first commit: the race was not exercised"
	fi
	if [ "$CHECK" = compare ]; then
		[ "${GUEST_EXPECTED:-1}" -eq 0 ] || fail "guest: the window is not the expected frame"
		[ "${COMPARED:-1}" -eq 0 ] || fail "the guest's window differs from the direct run's"
	else
		# Everything ran, and both checks saw the stale frame.
		[ "${GUEST_EXPECTED:-0}" -eq 1 ] ||
			fail "the guest's stale frame was not caught by the expected-frame check"
		[ "${COMPARED:-0}" -eq 1 ] ||
			fail "the guest's stale frame was not caught by the direct/guest comparison"
		[ "$FAILED" -eq 0 ] && rt_log "the stale frame was caught, as it must be"
	fi
	;;
stats)
	run guest && [ -e "$RT_WORK/guest.png" ] && {
		check_expected guest || fail "guest: the window is not the expected frame"
	}
	guest_stats && {
		POOL=$(sed -n 's/.* pool_size=\([0-9]*\) .*/\1/p' <<<"$HELD")
		ZC=$(stat_value zero_copy_pools)
		COPIED=$(stat_value shm_bytes_copied)
		rt_log "stats: pool_size=$POOL zero_copy_pools=$ZC shm_bytes_copied=$COPIED"
		[ -n "$ZC" ] && [ "$ZC" -ge 1 ] ||
			fail "zero_copy_pools=$ZC: the $MODE pool is not zero-copy"
		[ -n "$COPIED" ] && [ -n "$POOL" ] && [ "$COPIED" -le "$POOL" ] ||
			fail "shm_bytes_copied=$COPIED is more than the pool's $POOL bytes"
	}
	;;
memory)
	run direct
	run guest && [ -e "$RT_WORK/guest.png" ] && {
		check_expected guest || fail "guest: the window is not the expected frame"
	}
	guest_stats
	MEM=$(grep -a '^zerocopy-client: memory pool_size' "$RT_WORK/guest.log")
	POOL=$(sed -n 's/.* pool_size=\([0-9]*\) .*/\1/p' <<<"$MEM")
	USED=$(sed -n 's/.* pool_memory=\(-\?[0-9]*\) .*/\1/p' <<<"$MEM")
	if [ -z "$POOL" ] || [ -z "$USED" ]; then
		fail "guest: no memory report"
	elif [ "$USED" -lt 0 ]; then
		fail "guest: page frame numbers are hidden (/proc/self/pagemap needs CAP_SYS_ADMIN)"
	else
		rt_log "memory: direct $(grep -a '^zerocopy-client: memory pool_size' "$RT_WORK/direct.log" |
			cut -d' ' -f3-)"
		rt_log "memory: guest  $(cut -d' ' -f3- <<<"$MEM")"
		rt_log "memory: guest pool_memory=$USED = $((USED * 100 / POOL))% of the pool (at most 150%)"
		[ "$USED" -le $((POOL * 3 / 2)) ] ||
			fail "the guest holds $USED bytes for a pool of $POOL: a shadow copy"
	fi
	;;
esac
finish
