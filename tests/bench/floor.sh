#!/bin/bash
# What one wl_display round trip costs, in counts rather than time (the machines are shared and
# noisy): system calls, context switches and instructions per round trip, in the client and in
# the simulated host device, for
#   socket   the system libwayland-client straight to the compositor's socket,
#   floor    floor-client: the cheapest SEND+POLL round trip the fake kernel allows, no library,
#   virtgpu  our library through the simulated virtio-gpu,
# and how many EXECBUFFERs (VM exits on a real VM) each needs. Each count is the difference
# between a run of N and one of N/5 round trips, divided by 4N/5, so start-up cancels out.
# Everything is pinned to one CPU, as run-bench.sh does.
set -u

usage() {
	cat <<EOF
usage: $0 [--build DIR] [--cpu N] [--count N] [--bench roundtrip|loop] [--configs LIST] [--keep]
  --build DIR     the build directory (default: build)
  --cpu N         the CPU everything runs on (default 0)
  --count N       round trips of the long run (default 5000; the short run makes N/5)
  --bench NAME    client-bench's roundtrip (default), loop (the client polls the display fd)
                  pool (wl_shm.create_pool among 4000 mappings), frame (a 256x256 frame:
                  attach, damage, commit, roundtrip) or marshal (one wl_region.add, a flush
                  every 64; --count counts messages); no floor for these three
  --configs LIST  comma-separated subset of socket,floor,virtgpu (default: all)
  --no-instructions  skip the valgrind (cachegrind) runs that count instructions
  --keep          keep the logs (in the runtime directory)
EOF
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
CPU=0
COUNT=5000
BENCH_NAME=roundtrip
CONFIGS=socket,floor,virtgpu
INSTRUCTIONS=1
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--cpu) CPU=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--bench) BENCH_NAME=$2; shift 2 ;;
	--configs) CONFIGS=$2; shift 2 ;;
	--no-instructions) INSTRUCTIONS=0; shift ;;
	--keep) KEEP=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "floor: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

die() {
	echo "floor: $*" >&2
	exit 1
}

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory"
BENCH=$BUILD/tests/bench/client-bench
FLOOR=$BUILD/tests/bench/floor-client
HOST_BIN=$BUILD/tests/sim/virtgpu-sim-host
KERNEL=$BUILD/tests/sim/libvirtgpu-sim-kernel.so
for f in "$BENCH" "$FLOOR" "$HOST_BIN" "$KERNEL"; do
	[ -e "$f" ] || die "$f is missing: ninja -C $BUILD"
done
case $BENCH_NAME in roundtrip|loop|pool|frame|marshal) ;;
*) die "--bench is roundtrip, loop, pool, frame or marshal" ;;
esac
[ "$COUNT" -ge 50 ] 2>/dev/null || die "--count must be at least 50"
SHORT=$((COUNT / 5))
for tool in weston strace perf; do
	command -v $tool >/dev/null || die "$tool is not installed"
done
[ $INSTRUCTIONS = 0 ] || command -v valgrind >/dev/null || die "valgrind is not installed"
SYSTEM_LIB=$(ldconfig -p | awk '$1 == "libwayland-client.so.0" { print $NF; exit }')
[ -n "$SYSTEM_LIB" ] || die "no system libwayland-client.so.0"
SYSTEM_LIB_DIR=$(dirname "$SYSTEM_LIB")

unset WAYLAND_DISPLAY WAYLAND_SOCKET WAYLAND_DEBUG DISPLAY
RUNTIME_DIR=$(mktemp -d /tmp/wl-floor.XXXXXX) || die "mktemp failed"
chmod 700 "$RUNTIME_DIR"
LOGS=$RUNTIME_DIR/logs
mkdir -p "$LOGS"
SOCKET=wl-floor-$$
WESTON_PID=
HOST_PID=

stop_host() {
	[ -n "$HOST_PID" ] || return 0
	# The wrapper (strace, perf) reports once the host device itself ends.
	local target
	target=$(pgrep -P "$HOST_PID")
	kill -TERM "${target:-$HOST_PID}" 2>/dev/null
	wait "$HOST_PID" 2>/dev/null
	HOST_PID=
}

cleanup() {
	stop_host
	if [ -n "$WESTON_PID" ]; then
		kill "$WESTON_PID" 2>/dev/null
		wait "$WESTON_PID" 2>/dev/null
	fi
	if [ $KEEP = 1 ]; then
		echo "floor: logs kept in $LOGS" >&2
	else
		rm -rf "$RUNTIME_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_socket() {
	local _
	for _ in $(seq 500); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.01
	done
	die "$1 did not appear"
}

taskset -c "$CPU" env XDG_RUNTIME_DIR="$RUNTIME_DIR" weston --backend=headless-backend.so \
	--use-pixman --width=1280 --height=720 --socket="$SOCKET" --idle-time=0 \
	--log="$LOGS/weston.log" >"$LOGS/weston.out" 2>&1 &
WESTON_PID=$!
wait_for_socket "$RUNTIME_DIR/$SOCKET" "$WESTON_PID"
taskset -apc "$CPU" "$WESTON_PID" >/dev/null

# start_host WRAPPER...: a host device as tests/sim/virtgpu-run starts one, under WRAPPER.
DEVICE_SOCKET=$RUNTIME_DIR/device.sock
start_host() {
	rm -f "$DEVICE_SOCKET"
	taskset -c "$CPU" "$@" "$HOST_BIN" --socket "$DEVICE_SOCKET" --profile rutabaga \
		--wayland "$RUNTIME_DIR/$SOCKET" </dev/null 2>>"$LOGS/host.err" &
	HOST_PID=$!
	wait_for_socket "$DEVICE_SOCKET" "$HOST_PID"
}

# client CONFIG N WRAPPER...: one pinned run of the config's program, under WRAPPER.
client() {
	local config=$1 n=$2
	shift 2
	local program=("$BENCH" -b "$BENCH_NAME" -n "$n" -w 100)
	[ "$BENCH_NAME" = pool ] && program=("$BENCH" -b pool -p "$n")
	[ "$BENCH_NAME" = frame ] && program=("$BENCH" -b frame -f "$n" -s 256x256 --no-fill)
	[ "$BENCH_NAME" = marshal ] && program=("$BENCH" -b marshal -m "$n")
	mkdir -p "$RUNTIME_DIR/guest"
	case $config in
	socket)
		env XDG_RUNTIME_DIR="$RUNTIME_DIR" WAYLAND_DISPLAY="$SOCKET" \
			LD_LIBRARY_PATH="$SYSTEM_LIB_DIR" taskset -c "$CPU" "$@" "${program[@]}" ;;
	floor|virtgpu)
		[ "$config" = floor ] && program=("$FLOOR" -n "$n" -w 100)
		env XDG_RUNTIME_DIR="$RUNTIME_DIR/guest" WAYLAND_DISPLAY=wayland-0 \
			VIRTGPU_SIM_SOCKET="$DEVICE_SOCKET" LD_PRELOAD="$KERNEL" \
			LD_LIBRARY_PATH="$BUILD/src" WAYLAND_VIRTGPU_STATS=1 \
			taskset -c "$CPU" "$@" "${program[@]}" ;;
	esac
}

PERF_EVENTS=context-switches,task-clock
# measure CONFIG N KIND: client and host device under KIND's tool; the raw outputs in $LOGS.
measure() {
	local config=$1 n=$2 kind=$3 out=$LOGS/$1.$2.$3
	local -a wrap_client wrap_host
	case $kind in
	strace)
		wrap_client=(strace -f -qq -o "$out.client")
		wrap_host=(strace -f -qq -o "$out.host") ;;
	perf)
		wrap_client=(perf stat -x "," -e "$PERF_EVENTS" -o "$out.client")
		wrap_host=(perf stat -x "," -e "$PERF_EVENTS" -o "$out.host") ;;
	valgrind)
		wrap_client=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null
			--log-file="$out.client")
		wrap_host=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null
			--log-file="$out.host") ;;
	esac
	[ "$config" = socket ] || start_host "${wrap_host[@]}"
	client "$config" "$n" "${wrap_client[@]}" >"$out.out" 2>"$out.err" ||
		{ tail -n 5 "$out.err" >&2; die "$config: the client failed ($kind, $n)"; }
	stop_host
}

# Counts of one raw output, as "NAME VALUE" lines.
counts() {
	local file=$1 kind=$2
	[ -e "$file" ] || return 0
	case $kind in
	strace)
		# Calls (not resumptions); SUBMITs on the fake kernel's link are EXECBUFFERs.
		awk '$2 ~ /^[a-z_0-9]+\(/ {
			name = $2; sub(/\(.*/, "", name); n[name]++; total++
			if (name == "sendmsg" && index($0, "iov_base=\"\\7\\0\\0\\0"))
				exec++
		}
		END {
			print "syscalls", total + 0; print "execbuffers", exec + 0
			for (s in n) print "sys." s, n[s]
		}' "$file" ;;
	perf)
		awk -F, '$3 == "context-switches" { print "context_switches", $1 }
			$3 == "task-clock" { print "cpu_us", $1 * 1000 }' "$file" ;;
	valgrind)
		awk '/I *refs:/ { gsub(",", "", $NF); print "instructions", $NF }' "$file" ;;
	esac
}

# per_roundtrip CONFIG KIND WHO: NAME VALUE per round trip, from the long and the short run.
per_roundtrip() {
	local config=$1 kind=$2 who=$3
	{
		counts "$LOGS/$config.$COUNT.$kind.$who" "$kind" | sed 's/^/long /'
		counts "$LOGS/$config.$SHORT.$kind.$who" "$kind" | sed 's/^/short /'
	} | awk -v n=$((COUNT - SHORT)) '
		{ v[$1, $2] = $3; names[$2] = 1 }
		END { for (k in names) printf "%s %.2f\n", k, (v["long", k] - v["short", k]) / n }'
}

IFS=, read -r -a CONFIG_LIST <<<"$CONFIGS"
if [ "$BENCH_NAME" = pool ] || [ "$BENCH_NAME" = frame ] || [ "$BENCH_NAME" = marshal ]; then
	# No floor for these: the floor is a round trip.
	read -r -a CONFIG_LIST <<<"$(printf '%s\n' "${CONFIG_LIST[@]}" | grep -vx floor | tr '\n' ' ')"
fi
KINDS=(strace perf)
[ $INSTRUCTIONS = 1 ] && KINDS+=(valgrind)
for config in "${CONFIG_LIST[@]}"; do
	case $config in socket|floor|virtgpu) ;; *) die "unknown config '$config'" ;; esac
	for kind in "${KINDS[@]}"; do
		for n in "$SHORT" "$COUNT"; do
			echo "floor: $config: $n round trips under $kind" >&2
			measure "$config" "$n" "$kind"
		done
	done
done

RESULTS=$LOGS/results
: >"$RESULTS"
for config in "${CONFIG_LIST[@]}"; do
	for kind in "${KINDS[@]}"; do
		for who in client host; do
			per_roundtrip "$config" "$kind" "$who" | sed "s/^/$config $who /" >>"$RESULTS"
		done
	done
done

median() {
	awk -v key="$2" '{ for (i = 1; i <= NF; i++) if (index($i, key "=") == 1)
		{ print substr($i, length(key) + 2); exit } }' "$1"
}

echo
echo "per $BENCH_NAME (for the floor: its wl_display.sync), counts: ($COUNT - $SHORT runs) / $((COUNT - SHORT));"
echo "all processes on CPU $CPU; instructions: valgrind cachegrind, user space only;"
echo "cpu_us: task-clock (time, so noisy on a shared machine), client and host"
printf "%-8s %9s %9s %9s %9s %10s %10s %6s %8s %8s %10s\n" config "syscalls" "host sys" \
	"ctx sw" "host cs" "instr" "host instr" "execbuf" "cpu_us" "host_us" "median_us"
for config in "${CONFIG_LIST[@]}"; do
	get() {
		awk -v c="$config" -v w="$1" -v k="$2" '$1 == c && $2 == w && $3 == k { print $4 }' \
			"$RESULTS"
	}
	us=$(median "$LOGS/$config.$COUNT.perf.out" median_us)
	printf "%-8s %9s %9s %9s %9s %10s %10s %6s %8s %8s %10s\n" "$config" \
		"$(get client syscalls)" "$(get host syscalls)" "$(get client context_switches)" \
		"$(get host context_switches)" "$(get client instructions)" \
		"$(get host instructions)" "$(get client execbuffers)" "$(get client cpu_us)" \
		"$(get host cpu_us)" "${us:--}"
done
echo
echo "client system calls per round trip, by name (0.05 and more):"
for config in "${CONFIG_LIST[@]}"; do
	awk -v c="$config" '$1 == c && $2 == "client" && $3 ~ /^sys\./ && $4 >= 0.05 {
		sub("sys.", "", $3); printf " %s=%s", $3, $4 }' "$RESULTS" | tr ' ' '\n' |
		sort -t= -k2 -rn | tr '\n' ' ' | sed "s/^/$config:/"
	echo
done
for config in "${CONFIG_LIST[@]}"; do
	[ "$config" = virtgpu ] || continue
	echo
	echo "virtgpu stats (the long perf run):"
	grep -h "wayland-virtgpu stats" "$LOGS/virtgpu.$COUNT.perf.err" | tr ' ' '\n' |
		grep -E '^(sends|receives|polls|polls_with_send|flush_eagain)=' | tr '\n' ' '
	echo
done
