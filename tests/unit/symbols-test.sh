#!/bin/bash
# Our libwayland-client exports exactly upstream 1.26's 86 symbols: the 75
# of Debian 12's system library plus the 11 that 1.22-1.26 added, with
# functions as functions and interfaces as data; and besides them only the
# one function of this package's own, outside upstream's wl_ namespace, that
# our libwayland-cursor looks up with dlsym() (README.md, "Libraries of this
# package only").
set -euo pipefail

ours=$1
system=/usr/lib/x86_64-linux-gnu/libwayland-client.so.0

exports() {
	nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ && $3 !~ /^__/ { print $2 == "T" ? "func " $3 : "data " $3 }' | sort
}

added="func wl_display_create_queue_with_name
func wl_display_dispatch_pending_single
func wl_display_dispatch_queue_pending_single
func wl_display_dispatch_queue_timeout
func wl_display_dispatch_timeout
func wl_display_set_max_buffer_size
func wl_event_queue_get_name
func wl_proxy_get_display
func wl_proxy_get_interface
func wl_proxy_get_queue
data wl_fixes_interface"
private="func wayland_virtgpu_shm_memory_create"

expected=$( { exports "$system"; echo "$added"; echo "$private"; } | sort)
actual=$(exports "$ours")

if [ "$expected" != "$actual" ]; then
	echo "exported symbols differ from libwayland 1.26 (< expected, > ours):"
	diff <(echo "$expected") <(echo "$actual") || true
	exit 1
fi

count=$(echo "$actual" | wc -l)
if [ "$count" -ne 87 ]; then
	echo "expected 86 + 1 exported symbols, found $count"
	exit 1
fi

soname=$(objdump -p "$ours" | awk '/SONAME/ { print $2 }')
if [ "$soname" != "libwayland-client.so.0" ]; then
	echo "SONAME is '$soname', expected libwayland-client.so.0"
	exit 1
fi

echo "86 symbols as libwayland 1.26 + $private, SONAME $soname"
