#!/bin/sh
# weston-simple-egl (Mesa EGL, llvmpipe) on a headless weston of its own must
# run with our libwayland-egl mapped (checked in /proc/PID/maps) and its
# frames must reach the screen (weston-screenshooter, pixels checked).
# usage: weston-simple-egl-test.sh OUR-EGL-DIR [OUR-CLIENT-DIR]
set -u
ours=$1
libpath=$ours${2:+:$2}
for tool in weston weston-simple-egl weston-screenshooter python3; do
	command -v $tool >/dev/null || { echo "FAIL: $tool not installed (package weston / python3)"; exit 1; }
done

dir=$(mktemp -d /tmp/wv-egl-XXXXXX)
chmod 700 "$dir"
socket=wv-egl-$$
weston_pid= client_pid=
cleanup() {
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
	[ -n "$weston_pid" ] && kill "$weston_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

env -u WAYLAND_DISPLAY -u DISPLAY XDG_RUNTIME_DIR="$dir" weston --backend=headless-backend.so \
	--use-pixman --width=400 --height=300 --socket=$socket --idle-time=0 \
	--debug --log="$dir/weston.log" &
weston_pid=$!
i=0
while [ ! -S "$dir/$socket" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$dir/$socket" ] || { echo "FAIL: weston did not start"; cat "$dir/weston.log"; exit 1; }

env XDG_RUNTIME_DIR="$dir" WAYLAND_DISPLAY=$socket LD_LIBRARY_PATH="$libpath" \
	EGL_PLATFORM=wayland LIBGL_ALWAYS_SOFTWARE=1 weston-simple-egl >"$dir/client.log" 2>&1 &
client_pid=$!
sleep 3

if ! kill -0 $client_pid 2>/dev/null; then
	echo "FAIL: weston-simple-egl exited early"; cat "$dir/client.log"; exit 1
fi
mapped=$(grep -o '/[^ ]*libwayland-egl\.so[^ ]*' /proc/$client_pid/maps | sort -u)
echo "weston-simple-egl maps: $mapped"
case "$mapped" in
"$ours"/libwayland-egl.so*) ;;
*) echo "FAIL: weston-simple-egl did not load our libwayland-egl from $ours"; exit 1 ;;
esac
if [ -n "${2:-}" ]; then
	client=$(grep -o '/[^ ]*libwayland-client\.so[^ ]*' /proc/$client_pid/maps | sort -u)
	echo "weston-simple-egl maps: $client"
	case "$client" in
	"$2"/libwayland-client.so*) ;;
	*) echo "FAIL: weston-simple-egl did not load our libwayland-client from $2"; exit 1 ;;
	esac
fi

# The triangle spins and is sometimes seen edge-on: take three shots.
mkdir "$dir/shots"
for i in 1 2 3; do
	(cd "$dir/shots" && env XDG_RUNTIME_DIR="$dir" WAYLAND_DISPLAY=$socket weston-screenshooter) >>"$dir/shot.log" 2>&1
	sleep 1.1
done
set -- "$dir"/shots/wayland-screenshot-*.png
[ -e "$1" ] || { echo "FAIL: no screenshot"; cat "$dir/shot.log"; exit 1; }
[ -n "${KEEP_SHOT:-}" ] && cp "$1" "$KEEP_SHOT"
kill -0 $client_pid 2>/dev/null || { echo "FAIL: weston-simple-egl died"; cat "$dir/client.log"; exit 1; }

# The triangle is red, green and blue blends; count strongly coloured pixels.
python3 - "$@" <<'PY'
import struct, sys, zlib

def coloured_pixels(path):
  data = open(path, 'rb').read()
  pos, idat, w = 8, b'', 0
  while pos < len(data):
      n, kind = struct.unpack('>I4s', data[pos:pos + 8])
      body = data[pos + 8:pos + 8 + n]
      if kind == b'IHDR':
          w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
      elif kind == b'IDAT':
          idat += body
      pos += 12 + n
  bpp = {2: 3, 6: 4}[ctype]
  raw, stride = zlib.decompress(idat), w * bpp
  rows, prev = [], bytearray(stride)
  for y in range(h):
      f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
      for x in range(stride):
          a = line[x - bpp] if x >= bpp else 0
          b, c = prev[x], prev[x - bpp] if x >= bpp else 0
          if f == 1: line[x] = (line[x] + a) & 255
          elif f == 2: line[x] = (line[x] + b) & 255
          elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
          elif f == 4:
              p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
              line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
      rows.append(line); prev = line
  coloured = 0
  for line in rows:
      for x in range(0, stride, bpp):
          r, g, b = line[x], line[x + 1], line[x + 2]
          if max(r, g, b) - min(r, g, b) > 100:
              coloured += 1
  return w, h, coloured

best = 0
for path in sys.argv[1:]:
    w, h, n = coloured_pixels(path)
    print("screenshot %dx%d: %d strongly coloured pixels" % (w, h, n))
    best = max(best, n)
if best < 100:
    print("FAIL: the triangle is not on screen")
    sys.exit(1)
PY
status=$?
[ $status -eq 0 ] && echo "PASS: weston-simple-egl drew through our libwayland-egl"
exit $status
