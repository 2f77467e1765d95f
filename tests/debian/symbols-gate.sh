#!/bin/bash
# The ABI gate outside the package build, on the built .debs: each
# library's exports against debian/*.symbols with dpkg-gensymbols -c4
# (the strictest level: a disappeared or new export fails). Then the gate
# is shown to bite: a template missing one line, and one with an export
# the library lacks, must both fail.
#
# Usage: tests/debian/symbols-gate.sh [DEBDIR]   (default build-debian/debs)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=${1:-$top/build-debian/debs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

gensymbols() {
	local pkg=$1 lib=$2 template=$3 version=$4
	dpkg-gensymbols -v"$version" -p"$pkg" -e"$lib" -I"$template" -O"$tmp/out.symbols" -c4 >"$tmp/log" 2>&1
}

for pkg in libwayland-client0 libwayland-cursor0 libwayland-egl1; do
	deb=$(ls "$debs/${pkg}"_*.deb | grep -v dbgsym | head -n 1)
	version=$(dpkg-deb -f "$deb" Version)
	dpkg-deb -x "$deb" "$tmp/$pkg"
	lib=$(ls "$tmp/$pkg"/usr/lib/*/lib*.so.*.*)
	template=$top/debian/$pkg.symbols

	if gensymbols "$pkg" "$lib" "$template" "$version"; then
		echo "symbols-gate: $pkg: $(grep -c '@Base' "$template") exports as debian/$pkg.symbols"
	else
		cat "$tmp/log"
		echo "symbols-gate: FAIL $pkg: exports differ from debian/$pkg.symbols"
		status=1
	fi

	# The symbols file the package ships is the template's.
	dpkg-deb -e "$deb" "$tmp/$pkg.ctl"
	if ! diff <(grep '@Base' "$template" | sort) <(grep '@Base' "$tmp/$pkg.ctl/symbols" | sort) >/dev/null; then
		echo "symbols-gate: FAIL $pkg: shipped symbols file differs from the template"
		status=1
	fi

	# Controls: the gate must fail on one export missing and one too many.
	grep -v "$(grep -m 1 '@Base' "$template")" "$template" >"$tmp/fewer"
	{ cat "$template"; echo " wl_no_such_export@Base 1.26.0"; } >"$tmp/more"
	for t in fewer more; do
		if gensymbols "$pkg" "$lib" "$tmp/$t" "$version"; then
			echo "symbols-gate: FAIL $pkg: a template with $t exports than the library passed"
			status=1
		fi
	done
done
[ $status -eq 0 ] && echo "symbols-gate: ok (and it fails on a missing or an extra export)"
exit $status
