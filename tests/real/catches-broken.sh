#!/bin/bash
# The real tests can fail: a library that loads but never reaches the
# compositor (make-libdir.sh broken) must make a client test fail, and for
# the right reason (no window), not because of the harness.
# usage: catches-broken.sh [CLIENT]   (default simple-shm)
dir=$(cd "$(dirname "$0")" && pwd)
client=${1:-simple-shm}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wl-real-broken.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$dir/make-libdir.sh" broken "$tmp/lib" >/dev/null || exit 1
REAL_FAILURE_DIR=$tmp/failures "$dir/run-client.sh" "$client" "$tmp/lib" >"$tmp/log" 2>&1
status=$?
sed 's/^/  | /' "$tmp/log"
if [ $status -eq 1 ] && grep -q 'FAIL: no window visible' "$tmp/log"; then
	echo "ok: $client on a library that cannot connect fails with 'no window visible'"
	exit 0
fi
echo "FAIL: $client on a library that cannot connect gave status $status without 'no window visible'"
exit 1
