#!/usr/bin/python3
"""Does the client's window in a screenshot show exactly the expected frame?

The window is whatever differs from a screenshot of the empty desktop
(tests/real/compare.py's window_box); its crop must equal EXPECTED (a PPM the
client wrote with --expect) pixel for pixel.

Usage: check-window.py SHOT.png DESKTOP.png EXPECTED.ppm [--diff OUT.png]
Exit status 0 when they match, 1 when not, 2 on usage errors.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "real"))
from compare import load, window_box  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402


def main(argv):
	diff_out = None
	if len(argv) == 6 and argv[4] == "--diff":
		diff_out = argv[5]
	elif len(argv) != 4:
		print(__doc__, file=sys.stderr)
		return 2
	shot, desktop, expected = load(argv[1]), load(argv[2]), load(argv[3])
	box = window_box(shot, desktop)
	if box is None:
		print("no window visible")
		return 1
	crop = shot.crop(box)
	if crop.size != expected.size:
		print(f"window is {crop.size[0]}x{crop.size[1]} at {box[:2]}, "
		      f"expected {expected.size[0]}x{expected.size[1]}")
		return 1
	diff = ImageChops.difference(crop, expected).convert("L").point(lambda v: 255 if v else 0)
	bad = diff.histogram()[255]
	if bad == 0:
		print(f"window {crop.size[0]}x{crop.size[1]} at {box[:2]} is the expected frame")
		return 0
	bbox = diff.getbbox()
	x, y = bbox[0], bbox[1]
	for yy in range(bbox[1], bbox[3]):
		if diff.getpixel((bbox[0], yy)):
			x, y = bbox[0], yy
			break
	print(f"window {crop.size[0]}x{crop.size[1]} at {box[:2]}: {bad} of "
	      f"{crop.size[0] * crop.size[1]} pixels differ from the expected frame, "
	      f"within {bbox}; e.g. ({x},{y}) is #{'%02x%02x%02x' % crop.getpixel((x, y))}, "
	      f"expected #{'%02x%02x%02x' % expected.getpixel((x, y))}")
	if diff_out:
		w, h = crop.size
		out = Image.new("RGB", (3 * w + 8, h), (255, 0, 255))
		out.paste(expected, (0, 0))
		out.paste(crop, (w + 4, 0))
		out.paste(ImageChops.difference(crop, expected).point(lambda v: min(255, v * 4)),
		          (2 * w + 8, 0))
		out.save(diff_out)
	return 1


if __name__ == "__main__":
	sys.exit(main(sys.argv))
