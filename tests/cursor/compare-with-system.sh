#!/bin/sh
# Runs cursor-dump once with the system libwayland-cursor and once with ours
# (LD_LIBRARY_PATH), in the same clean environment, and fails on any difference.
# usage: compare-with-system.sh DUMPER COMPOSITOR OUR-DIR SYSTEM-DIR THEME SIZE [NAME-DIR...]
# env: CURSOR_CLIENT_DIR  ours runs on the libwayland-client in this directory
#      (our own, over a socket: it has no host memory to give) instead of the
#      system one; the run fails unless that library is the one loaded.
set -u
dumper=$1 compositor=$2 ours=$3 system=$4 theme=$5 size=$6
shift 6

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/home"

# An empty HOME keeps the user's own themes out; XCURSOR_PATH passes through
# when a test sets it, otherwise the default search path is used.
run() {
	env -u XDG_DATA_HOME HOME="$work/home" "$@"
}

run env -u LD_LIBRARY_PATH "$dumper" "$compositor" "$system" "$theme" "$size" "$@" >"$work/system.out" 2>"$work/system.err"
rc_system=$?
run env LD_LIBRARY_PATH="$ours${CURSOR_CLIENT_DIR:+:$CURSOR_CLIENT_DIR}" \
	"$dumper" "$compositor" "$ours" "$theme" "$size" "$@" >"$work/ours.out" 2>"$work/ours.err"
rc_ours=$?
if [ -n "${CURSOR_CLIENT_DIR:-}" ]; then
	client=$(sed -n 's/^cursor-dump: libwayland-client is //p' "$work/ours.err")
	case "$client" in
	"$(realpath "$CURSOR_CLIENT_DIR")"/*) ;;
	*) echo "FAIL: ours ran on libwayland-client '$client', not under $CURSOR_CLIENT_DIR"
	   exit 1 ;;
	esac
fi

cat "$work/system.err" "$work/ours.err"
if [ $rc_system -ne 0 ] || [ $rc_ours -ne 0 ]; then
	echo "FAIL: dumper exit status: system $rc_system, ours $rc_ours"
	tail -5 "$work/ours.out"
	exit 1
fi
# Pool growth policy may differ; everything a client can see must not.
grep -v '^compositor ' "$work/system.out" >"$work/system.cmp"
grep -v '^compositor ' "$work/ours.out" >"$work/ours.cmp"
grep '^compositor ' "$work/system.out" | sed 's/^/system: /'
grep '^compositor ' "$work/ours.out" | sed 's/^/ours:   /'

if ! diff -u "$work/system.cmp" "$work/ours.cmp" >"$work/diff"; then
	head -60 "$work/diff"
	echo "FAIL: theme $theme size $size differs from the system library ($(grep -c '^[-+] ' "$work/diff") lines)"
	exit 1
fi
summary=$(grep '^summary' "$work/ours.out")
case "$summary" in
*"cursors=0 "*|"")
	echo "FAIL: theme $theme size $size: no cursor loaded ($summary)"
	exit 1 ;;
esac
commits=$(grep -c ' commit ' "$work/ours.out")
echo "PASS: theme $theme size $size identical to the system library: $summary, $commits buffers compared by pixels"
