#!/bin/bash
# Library dirs for developing and checking the harness without our library:
#   make-libdir.sh system DIR   DIR/libwayland-client.so.0 is a copy of the
#                               system library (a copy, so /proc/PID/maps
#                               shows DIR and the maps check is meaningful)
#   make-libdir.sh broken DIR   the same copy patched to read WAYLAND_DISPLAX
#                               and WAYLAND_SOCKEX: every client fails to
#                               connect, so every real test must fail on it
set -e
[ $# -eq 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
lib=$(readlink -f "${RT_SYSTEM_LIB:-/usr/lib/x86_64-linux-gnu/libwayland-client.so.0}")
mkdir -p "$2"
case $1 in
system)
	cp "$lib" "$2/libwayland-client.so.0"
	;;
broken)
	/usr/bin/python3 - "$lib" "$2/libwayland-client.so.0" <<-'PY'
		import sys
		data = open(sys.argv[1], "rb").read()
		for name in (b"WAYLAND_DISPLAY\0", b"WAYLAND_SOCKET\0"):
		    assert data.count(name) == 1, name
		    data = data.replace(name, name[:-2] + b"X\0")
		open(sys.argv[2], "wb").write(data)
	PY
	;;
*)
	echo "unknown kind $1" >&2
	exit 2
	;;
esac
echo "$2/libwayland-client.so.0 ($1)"
