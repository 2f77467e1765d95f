#!/bin/bash
# Runs client-bench against its own weston headless (pixman), everything pinned to CPU 0, on the
# system libwayland-client and ours, directly, through waypipe and through the simulated
# virtio-gpu, alternating in one run, and prints absolute numbers with ratios to the system library.
# With virtgpu, the simulator's floor (floor-client: no library) runs in the same rounds and its
# lines follow the table.
set -u

usage() {
	cat <<EOF
usage: $0 [options] [-- client-bench options]
  --lib DIR       our libwayland-client.so.0's directory (default: build/src)
  --bench PATH    the client-bench program (default: build/tests/bench/client-bench,
                  then build-bench/tests/bench/client-bench)
  --rounds N      runs of each configuration, alternating (default 5)
  --configs LIST  comma-separated subset of: system,ours,waypipe,waypipe-ours,virtgpu
                  (default: all that are available)
  --no-fill-only  frame time only without the client's own fill
  --cpu N         the CPU everything is pinned to (default 0)
  --keep          keep the runtime dir with logs and raw outputs
  --smoke         one quick run of system and ours, checking the numbers are sane
Environment: VIRTGPU_RUN overrides the launcher (default tests/sim/virtgpu-run).
With virtgpu, floor-client (next to the program) measures the simulator's floor in the same
rounds: its round trip and its marshalling, printed after the table.
EOF
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB_DIR=$ROOT/build/src
BENCH=
ROUNDS=5
CONFIGS=
CPU=0
KEEP=0
SMOKE=0
NO_FILL_ONLY=0
BENCH_ARGS=()

while [ $# -gt 0 ]; do
	case $1 in
	--lib) LIB_DIR=$2; shift 2 ;;
	--bench) BENCH=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--configs) CONFIGS=$2; shift 2 ;;
	--no-fill-only) NO_FILL_ONLY=1; shift ;;
	--cpu) CPU=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--smoke) SMOKE=1; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; BENCH_ARGS=("$@"); break ;;
	*) echo "run-bench: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

die() {
	echo "run-bench: $*" >&2
	exit 1
}

if [ -z "$BENCH" ]; then
	for candidate in "$ROOT/build/tests/bench/client-bench" "$ROOT/build-bench/tests/bench/client-bench"; do
		if [ -x "$candidate" ]; then
			BENCH=$candidate
			break
		fi
	done
fi
[ -n "$BENCH" ] && [ -x "$BENCH" ] || die "no client-bench program; build it (ninja -C build) or pass --bench PATH"
BENCH=$(realpath "$BENCH")

if ! command -v weston >/dev/null; then
	echo "run-bench: weston is not installed; skipping" >&2
	exit 77
fi

# The system library's directory: LD_LIBRARY_PATH names it explicitly, so a build rpath
# pointing at our library cannot win.
SYSTEM_LIB=$(ldconfig -p | awk '$1 == "libwayland-client.so.0" { print $NF; exit }')
[ -n "$SYSTEM_LIB" ] || die "no system libwayland-client.so.0 (apt-get install libwayland-client0)"
SYSTEM_LIB_DIR=$(dirname "$SYSTEM_LIB")

HAVE_OURS=0
if [ -e "$LIB_DIR/libwayland-client.so.0" ]; then
	LIB_DIR=$(realpath "$LIB_DIR")
	HAVE_OURS=1
fi

VIRTGPU_RUN=${VIRTGPU_RUN:-$ROOT/tests/sim/virtgpu-run}

if [ -z "$CONFIGS" ]; then
	CONFIGS=system
	[ $HAVE_OURS = 1 ] && CONFIGS+=,ours
	if [ $SMOKE = 0 ]; then
		command -v waypipe >/dev/null && CONFIGS+=,waypipe
		[ $HAVE_OURS = 1 ] && [ -x "$VIRTGPU_RUN" ] && CONFIGS+=,virtgpu
	fi
fi
IFS=, read -r -a CONFIG_LIST <<<"$CONFIGS"
for config in "${CONFIG_LIST[@]}"; do
	case $config in
	system) ;;
	ours|waypipe-ours|virtgpu)
		[ $HAVE_OURS = 1 ] || die "config '$config' needs our library: no $LIB_DIR/libwayland-client.so.0" ;;&
	virtgpu) [ -x "$VIRTGPU_RUN" ] || die "config 'virtgpu' needs $VIRTGPU_RUN" ;;&
	waypipe*) command -v waypipe >/dev/null || die "config '$config' needs waypipe" ;;
	ours|virtgpu) ;;
	*) die "unknown config '$config'" ;;
	esac
done
[ $HAVE_OURS = 1 ] || echo "run-bench: no $LIB_DIR/libwayland-client.so.0 yet: system library only" >&2

# The simulator's floor beside virtgpu: floor-client is built next to client-bench.
FLOOR=$(dirname "$BENCH")/floor-client
HAVE_FLOOR=0
case ,$CONFIGS, in
*,virtgpu,*)
	if [ -x "$FLOOR" ]; then
		HAVE_FLOOR=1
	else
		echo "run-bench: no $FLOOR: no floor lines" >&2
	fi
	;;
esac

if [ $SMOKE = 1 ]; then
	ROUNDS=1
	[ ${#BENCH_ARGS[@]} -gt 0 ] || BENCH_ARGS=(--quick)
fi

unset WAYLAND_DISPLAY WAYLAND_SOCKET WAYLAND_DEBUG DISPLAY
RUNTIME_DIR=$(mktemp -d /tmp/wl-bench.XXXXXX) || die "mktemp failed"
chmod 700 "$RUNTIME_DIR"
SOCKET=wl-bench-$$
LOG_DIR=$RUNTIME_DIR/logs
mkdir -p "$LOG_DIR"
STARTED_PIDS=()

cleanup() {
	local pid
	for pid in "${STARTED_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${STARTED_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ $KEEP = 1 ]; then
		echo "run-bench: logs kept in $RUNTIME_DIR" >&2
	else
		rm -rf "$RUNTIME_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_socket() {
	local path=$1 pid=$2 log=$3 i
	for i in $(seq 100); do
		[ -S "$path" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	die "$path did not appear"
}

taskset -c "$CPU" env XDG_RUNTIME_DIR="$RUNTIME_DIR" weston --backend=headless-backend.so \
	--use-pixman --width=1280 --height=720 --socket="$SOCKET" --idle-time=0 \
	--log="$LOG_DIR/weston.log" >"$LOG_DIR/weston.out" 2>&1 &
WESTON_PID=$!
STARTED_PIDS+=("$WESTON_PID")
wait_for_socket "$RUNTIME_DIR/$SOCKET" "$WESTON_PID" "$LOG_DIR/weston.log"
taskset -apc "$CPU" "$WESTON_PID" >/dev/null

WAYPIPE_SOCKET=$RUNTIME_DIR/waypipe.sock
case ,$CONFIGS, in
*,waypipe*)
	# The half near the compositor; each connection gets a child that inherits the pinning.
	taskset -c "$CPU" env XDG_RUNTIME_DIR="$RUNTIME_DIR" WAYLAND_DISPLAY="$SOCKET" \
		waypipe -s "$WAYPIPE_SOCKET" -c none -n client >"$LOG_DIR/waypipe-client.log" 2>&1 &
	WAYPIPE_PID=$!
	STARTED_PIDS+=("$WAYPIPE_PID")
	wait_for_socket "$WAYPIPE_SOCKET" "$WAYPIPE_PID" "$LOG_DIR/waypipe-client.log"
	taskset -apc "$CPU" "$WAYPIPE_PID" >/dev/null
	;;
esac

# Which directory the program must report its library from, per config.
expected_lib_dir() {
	case $1 in
	system|waypipe) realpath "$SYSTEM_LIB_DIR" ;;
	*) echo "$LIB_DIR" ;;
	esac
}

# run_config CONFIG OUTPUT ARGS...: one pinned run of the program.
run_config() {
	local config=$1 out=$2
	shift 2
	local common=(timeout --kill-after=5 600 taskset -c "$CPU")
	# What client-bench needs to split the other processes' CPU into compositor and transport.
	export CLIENT_BENCH_CPU_ROOT=$$ CLIENT_BENCH_COMPOSITOR_PID=$WESTON_PID
	case $config in
	system|ours)
		local lib=$SYSTEM_LIB_DIR
		[ "$config" = ours ] && lib=$LIB_DIR
		env XDG_RUNTIME_DIR="$RUNTIME_DIR" WAYLAND_DISPLAY="$SOCKET" LD_LIBRARY_PATH="$lib" \
			"${common[@]}" "$BENCH" "$@"
		;;
	waypipe|waypipe-ours)
		local lib=$SYSTEM_LIB_DIR
		[ "$config" = waypipe-ours ] && lib=$LIB_DIR
		env XDG_RUNTIME_DIR="$RUNTIME_DIR" "${common[@]}" \
			waypipe -s "$WAYPIPE_SOCKET" -c none -n --display "wl-bench-app-$$" server -- \
			env LD_LIBRARY_PATH="$lib" "$BENCH" "$@"
		;;
	virtgpu)
		env XDG_RUNTIME_DIR="$RUNTIME_DIR" WAYLAND_DISPLAY="$SOCKET" \
			WAYLAND_VIRTGPU_BUILD="$(dirname "$LIB_DIR")" \
			"${common[@]}" "$VIRTGPU_RUN" -- "$BENCH" "$@"
		;;
	floor)
		env XDG_RUNTIME_DIR="$RUNTIME_DIR" WAYLAND_DISPLAY="$SOCKET" \
			WAYLAND_VIRTGPU_BUILD="$(dirname "$LIB_DIR")" \
			"${common[@]}" "$VIRTGPU_RUN" -- "$FLOOR" "$@"
		;;
	esac >"$out" 2>"$out.err"
	local status=$?
	if [ $status != 0 ]; then
		echo "run-bench: $config: $([ "$config" = floor ] && echo floor-client || echo client-bench) $* exited with $status" >&2
		tail -n 20 "$out.err" >&2
		return 1
	fi
	[ "$config" = floor ] && return 0	# no library to check
	local reported want
	reported=$(awk '$1 == "library" { sub("path=", "", $2); print $2 }' "$out")
	want=$(expected_lib_dir "$config")
	if [ -z "$reported" ] || [ "$(realpath "$(dirname "$reported")" 2>/dev/null)" != "$want" ]; then
		echo "run-bench: $config: the program ran on '$reported', not on $want" >&2
		return 1
	fi
}

# field(NAME): the value of NAME=VALUE on the line; emit(KEY, NAME, DIV): one record
# "CONFIG KEY VALUE" per field present, scaled by DIV (config: awk's -v).
AWK_RECORDS='
function field(name,   i) {
	for (i = 2; i <= NF; i++)
		if (index($i, name "=") == 1)
			return substr($i, length(name) + 2)
	return ""
}
function emit(key, name, div) {
	if (field(name) != "")
		print config, key, field(name) / div
}
'

# Turns client-bench lines into "CONFIG KEY VALUE" records.
RESULTS=$RUNTIME_DIR/results
: >"$RESULTS"
collect() {
	awk -v config="$1" "$AWK_RECORDS"'
	$1 == "roundtrip" || $1 == "loop" {
		emit($1 ".median_us", "median_us", 1)
		emit($1 ".p90_us", "p90_us", 1)
		emit($1 ".client_cpu_us", "client_cpu_us", 1)
		emit($1 ".compositor_cpu_us", "compositor_cpu_us", 1)
		emit($1 ".transport_cpu_us", "transport_cpu_us", 1)
	}
	$1 == "pool" {
		emit("pool.median_us", "median_us", 1)
		emit("pool.p90_us", "p90_us", 1)
		emit("pool.client_cpu_us", "client_cpu_us", 1)
		emit("pool.transport_cpu_us", "transport_cpu_us", 1)
	}
	$1 == "marshal" {
		emit("marshal.mmsgs_per_s", "msgs_per_s", 1e6)
		emit("marshal.mb_per_s", "mb_per_s", 1)
		emit("marshal.client_cpu_ns_per_msg", "client_cpu_ns_per_msg", 1)
		emit("marshal.compositor_cpu_ns_per_msg", "compositor_cpu_ns_per_msg", 1)
		emit("marshal.transport_cpu_ns_per_msg", "transport_cpu_ns_per_msg", 1)
	}
	$1 == "frame" {
		key = "frame." field("size") "." (field("fill") == 1 ? "fill" : "nofill")
		emit(key ".median_ms", "median_us", 1000)
		emit(key ".p90_ms", "p90_us", 1000)
		emit(key ".client_cpu_ms", "client_cpu_us", 1000)
		emit(key ".compositor_cpu_ms", "compositor_cpu_us", 1000)
		emit(key ".transport_cpu_ms", "transport_cpu_us", 1000)
	}' "$2" >>"$RESULTS"
}

# The floor's lines as "floor KEY VALUE" records, keys as client-bench's.
FLOOR_RESULTS=$RUNTIME_DIR/floor-results
: >"$FLOOR_RESULTS"
collect_floor() {
	awk -v config=floor "$AWK_RECORDS"'
	$1 == "floor" {
		emit("roundtrip.median_us", "median_us", 1)
		emit("roundtrip.p90_us", "p90_us", 1)
		emit("roundtrip.client_cpu_us", "client_cpu_us", 1)
	}
	$1 == "floor-marshal" {
		emit("marshal.mmsgs_per_s", "msgs_per_s", 1e6)
		emit("marshal.client_cpu_ns_per_msg", "client_cpu_ns_per_msg", 1)
	}' "$1" >>"$FLOOR_RESULTS"
}
# floor-client's runs: client-bench's default counts (roundtrip -n 20000 -w 1000, marshal
# -m 2000000), fewer for a smoke run or --quick.
FLOOR_ROUNDTRIP=(-n 20000 -w 1000)
FLOOR_MARSHAL=(-m 2000000)
if [ $SMOKE = 1 ] || printf '%s\n' "${BENCH_ARGS[@]}" | grep -qx -e --quick -e -q; then
	FLOOR_ROUNDTRIP=(-n 500 -w 50)
	FLOOR_MARSHAL=(-m 20000)
fi

# The invocations of one run: everything with fill, then frames without it.
INVOCATIONS=("all" "nofill")
[ $NO_FILL_ONLY = 1 ] && INVOCATIONS=("roundtrip,loop,marshal,pool" "nofill")
[ $SMOKE = 1 ] && INVOCATIONS=("all")

FAILED=0
# An untimed run first: weston's first client pays for its start-up (shell, caches).
run_config "${CONFIG_LIST[0]}" "$LOG_DIR/warmup.out" --quick || FAILED=1

ROUND_LIST=("${CONFIG_LIST[@]}")
[ $HAVE_FLOOR = 1 ] && ROUND_LIST+=(floor)
for round in $(seq "$ROUNDS"); do
	order=("${ROUND_LIST[@]}")
	# Every other round runs the configs in reverse, so none always comes first.
	if [ $((round % 2)) = 0 ]; then
		order=()
		for ((i = ${#ROUND_LIST[@]} - 1; i >= 0; i--)); do
			order+=("${ROUND_LIST[$i]}")
		done
	fi
	for config in "${order[@]}"; do
		if [ "$config" = floor ]; then
			for floor_kind in roundtrip marshal; do
				out=$LOG_DIR/floor.$round.$floor_kind.out
				echo "run-bench: round $round/$ROUNDS: floor-client $floor_kind" >&2
				if [ $floor_kind = roundtrip ]; then
					set -- "${FLOOR_ROUNDTRIP[@]}"
				else
					set -- "${FLOOR_MARSHAL[@]}"
				fi
				if run_config floor "$out" "$@"; then
					collect_floor "$out"
				else
					FAILED=1
				fi
			done
			continue
		fi
		for invocation in "${INVOCATIONS[@]}"; do
			case $invocation in
			all) args=() ;;
			nofill) args=(--bench frame --no-fill) ;;
			*) args=(--bench "$invocation") ;;
			esac
			out=$LOG_DIR/$config.$round.$invocation.out
			echo "run-bench: round $round/$ROUNDS: $config ${args[*]}" >&2
			if run_config "$config" "$out" "${args[@]}" "${BENCH_ARGS[@]}"; then
				collect "$config" "$out"
			else
				FAILED=1
			fi
		done
	done
done

echo
echo "client-bench: weston headless pixman, all processes on CPU $CPU, $ROUNDS round(s); median over rounds"
echo "system: $SYSTEM_LIB_DIR   ours: $([ $HAVE_OURS = 1 ] && echo "$LIB_DIR" || echo "not built")"
echo "ratio = config / system (times: > 1 is slower; throughput: > 1 is faster)"
# median(key): the median of v[key, 1..n[key]], for both tables below.
AWK_MEDIAN='
function median(key,   i, j, t, a, c) {
	c = n[key]
	for (i = 1; i <= c; i++)
		a[i] = v[key, i]
	for (i = 2; i <= c; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
'
awk -v configs="$CONFIGS" "$AWK_MEDIAN"'
{
	key = $1 SUBSEP $2
	n[key]++
	v[key, n[key]] = $3
	if (!($2 in seen)) {
		seen[$2] = 1
		metrics[++nmetrics] = $2
	}
}
END {
	nc = split(configs, cl, ",")
	printf "%-34s", "metric"
	for (c = 1; c <= nc; c++)
		printf " %20s", cl[c]
	printf "\n"
	for (m = 1; m <= nmetrics; m++) {
		metric = metrics[m]
		printf "%-34s", metric
		base = (("system" SUBSEP metric) in n) ? median("system" SUBSEP metric) : 0
		for (c = 1; c <= nc; c++) {
			key = cl[c] SUBSEP metric
			if (!(key in n)) {
				printf " %20s", "-"
				continue
			}
			val = median(key)
			if (cl[c] != "system" && base > 0)
				cell = sprintf("%.3g (%.2fx)", val, val / base)
			else
				cell = sprintf("%.3g", val)
			printf " %20s", cell
		}
		printf "\n"
	}
}' "$RESULTS"

if [ $HAVE_FLOOR = 1 ]; then
	# The floor beside the table: its median, its ratio to the system library and how much
	# of the virtgpu config's figure is the library's (virtgpu / floor).
	echo
	echo "simulator floor (floor-client through $(basename "$VIRTGPU_RUN"), no library; $ROUNDS round(s); median over rounds)"
	echo "ratio = floor / system; virtgpu/floor = the virtgpu config over the floor (throughput: floor over virtgpu)"
	cat "$RESULTS" "$FLOOR_RESULTS" | awk "$AWK_MEDIAN"'
	{
		key = $1 SUBSEP $2
		n[key]++
		v[key, n[key]] = $3
		if ($1 == "floor" && !($2 in seen)) {
			seen[$2] = 1
			metrics[++nmetrics] = $2
		}
	}
	END {
		printf "%-34s %20s %20s\n", "metric", "floor", "virtgpu/floor"
		for (m = 1; m <= nmetrics; m++) {
			metric = metrics[m]
			val = median("floor" SUBSEP metric)
			cell = sprintf("%.3g", val)
			if ((("system" SUBSEP metric) in n) && median("system" SUBSEP metric) > 0)
				cell = sprintf("%.3g (%.2fx)", val, val / median("system" SUBSEP metric))
			over = "-"
			if ((("virtgpu" SUBSEP metric) in n) && val > 0) {
				vg = median("virtgpu" SUBSEP metric)
				over = sprintf("%.2fx", metric ~ /per_s$/ ? (vg > 0 ? val / vg : 0) : vg / val)
			}
			printf "floor %-28s %20s %20s\n", metric, cell, over
		}
	}'
fi

if [ $SMOKE = 1 ]; then
	# Sane: every config produced every metric, times positive and below a second.
	awk -v configs="$CONFIGS" '
	{ have[$1] = have[$1] " " $2 }
	$2 ~ /(median|p90)_(us|ms)$/ && !($3 > 0 && (($2 ~ /_us$/ && $3 < 1e6) || ($2 ~ /_ms$/ && $3 < 1e3))) {
		print "run-bench: insane " $1 " " $2 "=" $3 > "/dev/stderr"; bad = 1
	}
	$2 ~ /per_s$/ && !($3 > 0) { print "run-bench: insane " $1 " " $2 "=" $3 > "/dev/stderr"; bad = 1 }
	END {
		nc = split(configs, cl, ",")
		for (c = 1; c <= nc; c++)
			if (split(have[cl[c]], k, " ") < 10 + 3 * 5) {
				print "run-bench: " cl[c] " is missing results" > "/dev/stderr"; bad = 1
			}
		exit bad
	}' "$RESULTS" || FAILED=1
fi
exit $FAILED
