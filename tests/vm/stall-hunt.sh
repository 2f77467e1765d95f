#!/bin/bash
# Runs a program (or one case of it) in the real guest RUNS times and catches a stall with
# the state of all three sides: QEMU's trace of fenced commands and gdb's view of its queue
# (qemu-fenceq.gdb), our host library's trace and held fences (WAYLAND_VIRTGPU_HOST_TRACE),
# and the guest kernel's (stall-watch). Keeps each failed run's directory.
#   tests/vm/stall-hunt.sh BUILD RUNS PROGRAM [CASE]
# A stall: stall-watch's dump in the guest, QEMU's trace idle for IDLE seconds (default 40;
# the guest's clock is no help on a starved host: TCG's guest time races ahead of its work),
# or LIMIT seconds (default 200; above the whole run's with STALL_WATCH_REPEAT). KEEP=1 keeps
# the directories of runs that passed too. POKE=1: after the dump, QEMU handles its control
# queue as if notified (qemu-notify.gdb), which ends a stall of a lost notification.
set -u
build=$(cd "$1" && pwd) || exit 2
runs=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(mktemp -d /tmp/stall-hunt.XXXXXX)
limit=${LIMIT:-200}
pass=0 fail=0

descendants()
{
	local p
	for p in $(ps -o pid= --ppid "$1"); do
		echo "$p"
		descendants "$p"
	done
}

for i in $(seq 1 "$runs"); do
	dir=$top/run$i
	mkdir -p "$dir"
	start=$(date +%s)
	WAYLAND_VIRTGPU_HOST_TRACE=$dir/host-trace VM_RUN_QEMU_LOG=$dir/qemu.log \
	VM_RUN_QEMU_TRACE=${QEMU_TRACE:-virtio_gpu_fence*,virtio_gpu_cmd_ctx*} \
	VM_RUN_CONSOLE=$dir/console STALL_WATCH_OUT=$dir/guest-dump \
	VIRTGPU_RUN=$here/stall-vm-run "$here/../behaviour/run-virtgpu" "$build" "$@" \
		>"$dir/out" 2>&1 &
	run=$!
	dumped=
	size=0 since=$start
	while kill -0 "$run" 2>/dev/null; do
		sleep 2
		now=$(date +%s)
		new=$(stat -c %s "$dir/qemu.log" 2>/dev/null || echo 0)
		[ "$new" = "$size" ] || { size=$new; since=$now; }
		if [ -z "$dumped" ] && { [ -s "$dir/guest-dump" ] || [ $((now - start)) -ge "$limit" ] ||
				{ [ "$size" -gt 0 ] && [ $((now - since)) -ge "${IDLE:-40}" ]; }; }; then
			dumped=1
			for p in $(descendants "$run"); do
				if [ "$(cat /proc/$p/comm 2>/dev/null)" = qemu-system-x86 ]; then
					gdb -p "$p" -batch -x "$here/qemu-fenceq.gdb" >"$dir/gdb" 2>&1
					[ -z "${POKE:-}" ] ||
						gdb -p "$p" -batch -x "$here/qemu-notify.gdb" >"$dir/gdb-poke" 2>&1
				fi
			done
			echo "run $i: stalled after $((now - start)) s; state in $dir"
			sleep 20
			[ $((now - start)) -ge "$limit" ] && kill -TERM "$run"
		fi
	done
	wait "$run"
	status=$?
	if [ "$status" = 0 ] && [ -z "$dumped" ] && [ -z "${KEEP:-}" ]; then
		pass=$((pass + 1))
		rm -rf "$dir"
	else
		fail=$((fail + 1))
		echo "run $i: exit $status in $(( $(date +%s) - start )) s; kept $dir"
	fi
	echo "run $i done: $pass passed, $fail failed"
done
echo "stall-hunt: $pass of $runs passed ($top)"
[ "$fail" = 0 ]
