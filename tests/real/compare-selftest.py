#!/usr/bin/python3
"""The screenshot comparison itself: each mode passes what a working library
shows and fails a missing, blank, garbage, resized or sheared window. Images
are synthetic (a desktop and a drawn window), so no compositor is needed."""

import math
import os
import random
import sys

from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

BG = (0x20, 0x40, 0x60)
W, H = 320, 240


def desktop():
	return Image.new("RGB", (640, 480), BG)


def window_content(phase=0.0, w=W, h=H):
	"""A window: title bar, text-like lines and rings that move with phase."""
	img = Image.new("RGB", (w, h), (240, 240, 240))
	d = ImageDraw.Draw(img)
	d.rectangle((0, 0, w - 1, 24), fill=(200, 200, 200))
	for y in range(40, h // 2, 14):
		d.line((10, y, w // 2, y), fill=(30, 30, 30), width=3)
	cx, cy = 3 * w // 4, 3 * h // 4
	for r in range(50, 0, -6):
		c = int(127 + 127 * math.sin(r / 6.0 + phase))
		d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(c, 255 - c, (c * 3) % 256))
	return img


def spinning(degrees, w=W, h=H):
	"""weston-simple-egl's window: a triangle turning about its vertical
	axis on a dark background, edge-on at 90 and 270 degrees."""
	img = Image.new("RGB", (w, h), (20, 20, 20))
	half = abs(math.cos(math.radians(degrees))) * w * 0.4
	if half >= 1:
		ImageDraw.Draw(img).polygon(
			((w / 2 - half, h * 0.8), (w / 2 + half, h * 0.8), (w / 2, h * 0.2)),
			fill=(200, 60, 40))
	return img


def screen(win, at=(100, 80)):
	img = desktop()
	if win is not None:
		img.paste(win, at)
	return img


def sheared(win):
	"""What a wrong stride looks like: rows drift sideways."""
	out = Image.new("RGB", win.size)
	for y in range(win.height):
		row = win.crop((0, y, win.width, y + 1))
		s = (y * 7) % win.width
		out.paste(row.crop((s, 0, win.width, 1)), (0, y))
		out.paste(row.crop((0, 0, s, 1)), (win.width - s, y))
	return out


def noise(w=W, h=H):
	rnd = random.Random(1)
	return Image.frombytes("RGB", (w, h), bytes(rnd.getrandbits(8) for _ in range(w * h * 3)))


def spinner(win):
	out = win.copy()
	ImageDraw.Draw(out).ellipse((20, 200, 34, 214), fill=(0, 90, 200))
	return out


def run(mode, ref, test):
	refs = ref if isinstance(ref, list) else [ref]
	tests = test if isinstance(test, list) else [test]
	fails, _, _ = compare.compare(mode, refs, desktop(), tests, desktop())
	return not fails


def main():
	ref = screen(window_content())
	cases = [
		# (what, mode, test image(s), should pass)
		("same window", "exact", screen(window_content()), True),
		("same window elsewhere", "exact", screen(window_content(), (10, 20)), True),
		("no window", "exact", screen(None), False),
		("blank black window", "exact", screen(Image.new("RGB", (W, H))), False),
		("garbage window", "exact", screen(noise()), False),
		("sheared window", "exact", screen(sheared(window_content())), False),
		("smaller window", "exact", screen(window_content(0, W - 40, H)), False),
		("a spinner", "exact", screen(spinner(window_content())), False),
		("a spinner", "near", screen(spinner(window_content())), True),
		("no window", "near", screen(None), False),
		("garbage window", "near", screen(noise()), False),
		("blank white window", "near", screen(Image.new("RGB", (W, H), (240, 240, 240))), False),
		("sheared window", "near", screen(sheared(window_content())), False),
		("another frame", "stats", [screen(window_content(p)) for p in (1.0, 2.5, 4.0)], True),
		("no window", "stats", screen(None), False),
		("blank black window", "stats", screen(Image.new("RGB", (W, H))), False),
		("blank white window", "stats", screen(Image.new("RGB", (W, H), (240, 240, 240))), False),
		("garbage window", "stats", screen(noise()), False),
		("smaller window", "stats", screen(window_content(0, W - 40, H - 40)), False),
		("missing in one frame", "stats", [screen(window_content()), screen(None)], False),
	]
	# A run that caught the triangle edge-on in most frames against one that
	# caught it face-on: the same animation (seen under load).
	edge_on = [screen(spinning(a)) for a in (85, 95, 80, 100, 30, 90)]
	cases += [
		("triangle caught at other angles", "stats-spin",
		 [screen(spinning(a)) for a in (0, 20, 160, 180, 45, 10)], True),
		("triangle never drawn", "stats-spin", [screen(spinning(90))] * 6, False),
		("garbage window", "stats-spin", [screen(noise())] * 6, False),
	]
	refs = {"stats": [ref, screen(window_content(0.7))], "stats-spin": edge_on}
	bad = 0
	for what, mode, test, want in cases:
		got = run(mode.split("-")[0], refs.get(mode, ref), test)
		ok = got == want
		bad += not ok
		print(f"{'ok  ' if ok else 'BAD '} {mode:5} {what}: {'passes' if got else 'fails'}"
		      f"{'' if ok else ' (expected the opposite)'}")
	return 1 if bad else 0


if __name__ == "__main__":
	sys.exit(main())
