#!/bin/bash
# compositor-spawner against what a guest may write (its input is untrusted):
#   spawner-test.sh COMPOSITOR
# A good request starts the compositor (its socket listens, its pid is answered, kill-PID
# ends it and status-PID says 137); bad options, a symlinked request (its target's bytes
# never printed), a FIFO, a request name out of pattern and a kill of a process the
# spawner did not start are all refused or ignored, and the spawner goes on serving.
set -u
compositor=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/beh-spawner-test.XXXXXX) || exit 1
spawner_pid= victim_pid=
cleanup() {
	[ -z "$spawner_pid" ] || { kill -TERM "$spawner_pid" 2>/dev/null; wait "$spawner_pid" 2>/dev/null; }
	[ -z "$victim_pid" ] || { kill -KILL "$victim_pid" 2>/dev/null; wait "$victim_pid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
pass() { echo "ok   $*"; }

dir=$tmp/spawner host=$tmp/host
mkdir -m 700 "$dir" "$host"
"$here/compositor-spawner" "$dir" "$host" "$compositor" 2>"$tmp/stderr" &
spawner_pid=$!

ask() {	# ask NAME [CONTENT]: the request made whole by a rename
	printf '%s' "${2:-}" >"$dir/.$1" && mv "$dir/.$1" "$dir/$1"
}
answer() {	# answer NAME: its first line once it exists (10 s at most)
	for _ in $(seq 1 1000); do
		[ -e "$dir/$1" ] && { head -n 1 "$dir/$1"; rm -f "$dir/$1"; return 0; }
		sleep 0.01
	done
	echo "(none)"
}

# A good request, with an option.
ask spawn-1-0 $'BEH_COMPOSITOR_SHM=1\n'
pid=$(answer spawned-1-0)
if [[ $pid =~ ^[0-9]+$ ]] && [ -S "$host/beh-1-0" ] &&
		tr '\0' '\n' <"/proc/$pid/environ" | grep -qx BEH_COMPOSITOR_SHM=1; then
	pass "spawn: pid $pid, listening on beh-1-0, its option set"
else
	fail "spawn: answer '$pid', socket $(ls "$host")"
fi
ask "kill-$pid"
status=$(answer "status-$pid")
[ "$status" = 137 ] && pass "kill: status 137" || fail "kill: status '$status'"

# Options that are not BEH_COMPOSITOR_NAME=VALUE (the last line without its newline too).
n=0
for bad in 'LD_PRELOAD=/tmp/x.so' $'BEH_COMPOSITOR_SHM=1\nLD_PRELOAD=/tmp/x.so' \
		'BEH_COMPOSITOR_SHM=$(reboot)' 'BEH_COMPOSITOR_X=a b'; do
	n=$((n + 1))
	ask "spawn-2-$n" "$bad"
	got=$(answer "spawned-2-$n")
	if [ "$got" = failed ] && [ ! -e "$host/beh-2-$n" ]; then
		pass "refused option '${bad//$'\n'/\\n}'"
	else
		fail "option '${bad//$'\n'/\\n}': answer '$got'"
		[[ $got =~ ^[0-9]+$ ]] && ask "kill-$got"
	fi
done

# A request that is a symlink to a host file: refused, its bytes never echoed.
echo "secret-bytes-of-the-host" >"$tmp/secret"
ln -s "$tmp/secret" "$dir/spawn-3-0"
got=$(answer spawned-3-0)
if [ "$got" = failed ] && ! grep -q secret-bytes "$tmp/stderr"; then
	pass "symlinked request refused, target not read"
else
	fail "symlinked request: answer '$got'"
fi
mkfifo "$dir/spawn-4-0"
got=$(answer spawned-4-0)
[ "$got" = failed ] && pass "FIFO request refused" || fail "FIFO request: answer '$got'"

# A request name out of pattern: ignored, left where it is.
ask "spawn-1-2-3"
sleep 0.3
[ -e "$dir/spawn-1-2-3" ] && [ ! -e "$dir/spawned-1-2-3" ] && pass "request name out of pattern ignored" ||
	fail "request name out of pattern answered"

# kill of a process the spawner did not start.
sleep 60 &
victim_pid=$!
ask "kill-$victim_pid"
sleep 0.3
kill -0 "$victim_pid" 2>/dev/null && pass "kill of another process ignored" ||
	fail "the spawner killed a process it did not start"

# Still serving.
ask spawn-5-0
pid=$(answer spawned-5-0)
if [[ $pid =~ ^[0-9]+$ ]]; then
	pass "still serving after the bad requests"
	ask "kill-$pid"
	answer "status-$pid" >/dev/null
else
	fail "no longer serving: answer '$pid'"
fi
echo "# $failures failed"
[ "$failures" -eq 0 ]
