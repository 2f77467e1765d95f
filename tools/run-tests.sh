#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds (gcc), runs every suite (each test starts the
# compositors, X servers and simulated hosts it needs), runs the
# non-GUI suites again under ASan+UBSan, and runs each libFuzzer target
# for a bounded time. Ends with one "N passed, N failed" line.
#
# Environment: FUZZ_SECONDS (default 45 per target), SKIP_ASAN=1 to skip
# the sanitizer build (for quick local runs only; CI runs it).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then
	tools/install-deps.sh || exit 1
else
	tools/install-deps.sh || echo "run-tests: continuing without installing (not root)"
fi

fuzz_seconds=${FUZZ_SECONDS:-45}
passed=0
failed=0
failures=()

step() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "=== FAILED: $name"
	fi
}

# meson test prints its own summary; count its tests into ours.
meson_suites() {
	local builddir=$1
	shift
	local log out ok fail
	log=$(mktemp)
	meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
	ok=$(awk '/^Ok:/ { print $2 }' "$log")
	fail=$(awk '/^(Fail|Timeout|Unexpected Pass):/ { s += $NF } END { print s + 0 }' "$log")
	skipped=$(awk '/^Skipped:/ { print $2 }' "$log")
	rm -f "$log"
	passed=$((passed + ${ok:-0}))
	failed=$((failed + fail))
	if [ "${skipped:-0}" -gt 0 ]; then
		# A skipped test is not a pass.
		failed=$((failed + skipped))
		failures+=("$builddir: $skipped skipped tests")
	fi
	[ "$fail" -eq 0 ] && [ -n "$ok" ] || failures+=("$builddir: meson test $*")
}

build() {
	local builddir=$1
	shift
	if [ ! -f "$builddir/build.ninja" ]; then
		meson setup "$builddir" "$@" || return 1
	fi
	ninja -C "$builddir"
}

step "build (gcc, -Werror)" build build || { echo "0 passed, 1 failed"; exit 1; }
# The real guest (tests/vm): QEMU and its root made once, cached, before any test times it.
step "real guest for suite vm (QEMU from Debian 13's source, Debian 12 root; cached)" tests/vm/prepare.sh build
meson_suites build

if [ "${SKIP_ASAN:-0}" != 1 ]; then
	step "build (ASan+UBSan)" build build-asan -Db_sanitize=address,undefined -Db_lundef=false
	# Our code under the sanitizers; tests that load the system's
	# libwayland or Mesa for comparison would report their leaks, not ours.
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	meson_suites build-asan --suite unit --suite behaviour --suite fuzz --suite sim \
		--suite virt --suite behaviour-virtgpu --suite gpu --suite capture
	meson_suites build-asan theme-tree-loops-broken-files-fallback-growth \
		xcursor-parser-corpus-replay wl-egl-window-abi-and-callbacks \
		theme-matches-system-through-virtgpu-Adwaita-48 \
		theme-matches-system-through-virtgpu-system-cursor-Adwaita-48 \
		theme-matches-system-on-our-client-Adwaita-24
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# The Debian packages: build, symbols gate, lintian, piuparts (README.md,
# "Installing as the system library"); needs root and Debian's archive.
step "debian packages (build, symbols gate, lintian, piuparts)" tests/debian/ci.sh

build_fuzzers() {
	CC=clang build build-fuzz -Dfuzzers=true -Db_lundef=false
}
step "build (clang, libFuzzer targets)" build_fuzzers
# Each target starts from its corpus in the repository and from the one this machine keeps
# (a clean clone, as CI's, loses what it merges into the repository's), and merges back what it
# found, so each run builds on the last; a crash is kept as a replay case (tests/fuzz/README.md).
fuzz_keep=${WAYLAND_VIRTGPU_CACHE:-/var/cache/wayland-virtgpu}/fuzz
mkdir -p "$fuzz_keep" 2>/dev/null && [ -w "$fuzz_keep" ] || fuzz_keep=
for target in event-fuzz host-message-fuzz fixups-fuzz xcursor-fuzzer host-fuzzer; do
	step "libFuzzer $target (${fuzz_seconds}s, corpus merged back)" \
		tests/fuzz/run-fuzzers --build build-fuzz --seconds "$fuzz_seconds" \
		${fuzz_keep:+--keep "$fuzz_keep"} "$target"
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
