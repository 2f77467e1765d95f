#!/bin/sh
# Our library exports exactly the dynamic symbols the system's does, under the
# same SONAME; libwayland-egl must not pull in libwayland-client.
# usage: check-exports.sh OURS SYSTEM [no-client]
set -u
ours=$1 system=$2 rule=${3:-}
for f in "$ours" "$system"; do
	[ -e "$f" ] || { echo "FAIL: $f does not exist"; exit 1; }
done
command -v nm >/dev/null && command -v readelf >/dev/null ||
	{ echo "FAIL: nm/readelf (binutils) not installed"; exit 1; }

exports() {
	nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' | sort -u
}
soname() {
	readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exports "$ours" >"$tmp/ours"
exports "$system" >"$tmp/system"
status=0
if ! diff -u "$tmp/system" "$tmp/ours"; then
	echo "FAIL: exported symbols of $ours differ from $system"
	status=1
fi
if [ "$(soname "$ours")" != "$(soname "$system")" ]; then
	echo "FAIL: SONAME $(soname "$ours"), system has $(soname "$system")"
	status=1
fi
if [ "$rule" = no-client ] && readelf -d "$ours" | grep -q 'NEEDED.*libwayland-client'; then
	echo "FAIL: $ours links libwayland-client; upstream's does not"
	status=1
fi
[ $status -eq 0 ] && echo "PASS: $(wc -l <"$tmp/ours") symbols and SONAME $(soname "$ours") as $system"
exit $status
