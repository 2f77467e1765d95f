#!/usr/bin/python3
"""Compare what a user sees of one client on two libraries.

Both screenshots come from fresh, identically configured weston instances with
a solid desktop. The client's window is whatever differs from a screenshot of
that empty desktop; its bounding box is the window. Modes:

  exact  the window crops are pixel-identical (static clients)
  near   same window size; at most --near-frac of its pixels differ visibly
         (mostly static clients with a clock, spinner or caret)
  stats  same window size, similar share of drawn pixels, similar coarse
         colour histogram, similar pixel-to-pixel roughness (means over the
         frames) and a similar largest share of pixels unlike the window's
         main colour (animated clients: frames differ, but a blank, garbage
         or missing window fails at least one of these)

Usage:
  compare.py is-background IMG 0xAARRGGBB
  compare.py compare MODE REF.png[,REF2.png...] REF_DESKTOP.png TEST.png[,...] TEST_DESKTOP.png
             [--diff OUT.png]
  (several frames per side: "stats" takes its statistics over them)
  compare.py window IMG DESKTOP.png
Exit status 0 when the check passes, 1 when it fails, 2 on usage errors.
"""

import sys

from PIL import Image, ImageChops

POINTER_CORNER = 32      # bottom-right square ignored (see changed_mask)
MIN_WINDOW = 24          # a window smaller than this in both sides is "missing"
SIZE_TOL = {"exact": 0, "near": 2, "stats": 4}
NEAR_FRAC = 0.02         # share of window pixels allowed to differ in "near"
NEAR_LEVEL = 48          # a channel difference above this is visible
COVER_TOL = 0.15         # absolute difference of drawn share in "stats"
HIST_TOL = 0.6           # L1 distance of 64-bin colour histograms (max 2.0)
ROUGH_RATIO = 2.0        # allowed ratio of mean neighbour differences
DETAIL_ABS = 0.03        # detail share may differ by this much, or by
DETAIL_REL = 0.4         # this fraction of the reference's share


def load(path):
	return Image.open(path).convert("RGB")


def changed_mask(img, desktop, pointer_corner=False):
	"""L-mode mask, 255 where img differs from the empty desktop."""
	if img.size != desktop.size:
		raise SystemExit(f"screenshot sizes differ: {img.size} vs {desktop.size}")
	diff = ImageChops.difference(img, desktop).convert("L")
	mask = diff.point(lambda v: 255 if v > 0 else 0)
	# The x11 runs park the pointer on the last pixel; its sprite may come
	# and go there, and no window is placed that far. Weston sometimes
	# shows it at the origin instead before the park takes: blanking that
	# corner too cannot shrink a window's box (its other pixels remain).
	if pointer_corner:
		mask.paste(0, (mask.width - POINTER_CORNER, mask.height - POINTER_CORNER,
		               mask.width, mask.height))
		mask.paste(0, (0, 0, POINTER_CORNER, POINTER_CORNER))
	return mask


def window_box(img, desktop):
	"""Bounding box of the client's window, or None when nothing is shown."""
	box = changed_mask(img, desktop, pointer_corner=True).getbbox()
	if box is None:
		return None
	w, h = box[2] - box[0], box[3] - box[1]
	if w < MIN_WINDOW or h < MIN_WINDOW:
		return None
	return box


def coverage(img, desktop, box):
	mask = changed_mask(img.crop(box), desktop.crop(box))
	return mask.histogram()[255] / (mask.width * mask.height)


def colour_histogram(crop):
	"""64 bins: two bits per channel, normalised to sum 1."""
	q = crop.point(lambda v: v >> 6)
	counts = [0] * 64
	for n, (r, g, b) in q.getcolors(crop.width * crop.height):
		counts[(r << 4) | (g << 2) | b] += n
	total = crop.width * crop.height
	return [c / total for c in counts]


def roughness(crop):
	"""Mean absolute difference between horizontal neighbours (0..255)."""
	if crop.width < 2:
		return 0.0
	left = crop.crop((0, 0, crop.width - 1, crop.height)).convert("L")
	right = crop.crop((1, 0, crop.width, crop.height)).convert("L")
	h = ImageChops.difference(left, right).histogram()
	return sum(i * n for i, n in enumerate(h)) / max(1, sum(h))


def detail_share(crop):
	"""Share of pixels clearly unlike the window's most common colour: the
	drawing on top of the window's own background (a triangle, sprites)."""
	n, mode = max(crop.getcolors(crop.width * crop.height))
	flat = Image.new("RGB", crop.size, mode)
	d = ImageChops.difference(crop, flat).convert("L").point(lambda v: 255 if v > 16 else 0)
	return d.histogram()[255] / (crop.width * crop.height)


def write_diff(path, ref, test, box_ref, box_test):
	"""Side by side: reference window | test window | amplified difference."""
	a = ref.crop(box_ref) if box_ref else Image.new("RGB", (MIN_WINDOW, MIN_WINDOW))
	b = test.crop(box_test) if box_test else Image.new("RGB", (MIN_WINDOW, MIN_WINDOW))
	w, h = max(a.width, b.width), max(a.height, b.height)
	pa, pb = Image.new("RGB", (w, h)), Image.new("RGB", (w, h))
	pa.paste(a, (0, 0))
	pb.paste(b, (0, 0))
	d = ImageChops.difference(pa, pb).point(lambda v: min(255, v * 4))
	out = Image.new("RGB", (3 * w + 8, h), (255, 0, 255))
	out.paste(pa, (0, 0))
	out.paste(pb, (w + 4, 0))
	out.paste(d, (2 * w + 8, 0))
	out.save(path)


def frame_stats(frames, desk, box, w, h):
	"""Statistics of a side's frames, each cropped to its window: means, but
	the detail share is the largest of any frame. An animation's drawing
	can shrink to nothing in some frames (weston-simple-egl's triangle turns
	about its vertical axis and is edge-on twice a turn), and which frames a
	run catches is chance: its mean over a few frames varies by far more
	than a library could change it, while one frame seen face-on is likely
	on each side."""
	n = len(frames)
	cov = rough = detail = 0.0
	hist = [0.0] * 64
	for img, b in zip(frames, box):
		crop = img.crop((b[0], b[1], b[0] + w, b[1] + h))
		cov += coverage(img, desk, b) / n
		rough += roughness(crop) / n
		detail = max(detail, detail_share(crop))
		hist = [a + c / n for a, c in zip(hist, colour_histogram(crop))]
	return cov, hist, rough, detail


def compare(mode, refs, ref_desk, tests, test_desk):
	"""Returns a list of failure reasons (empty: pass) and the first frames' boxes.
	refs and tests are lists of frames; only "stats" uses more than the first."""
	boxes_r = [window_box(img, ref_desk) for img in refs]
	boxes_t = [window_box(img, test_desk) for img in tests]
	box_r, box_t = boxes_r[0], boxes_t[0]
	if None in boxes_r:
		return ["reference: no window visible (the system library run is broken)"], box_r, box_t
	if None in boxes_t:
		return ["no window visible"], box_r, box_t
	fails = []
	tol = SIZE_TOL[mode]
	wr, hr = box_r[2] - box_r[0], box_r[3] - box_r[1]
	print(f"window: reference {wr}x{hr} at {box_r[:2]}, test " +
	      ", ".join(f"{b[2] - b[0]}x{b[3] - b[1]} at {b[:2]}" for b in boxes_t))
	for b in boxes_r[1:] + boxes_t:
		wt, ht = b[2] - b[0], b[3] - b[1]
		if abs(wr - wt) > tol or abs(hr - ht) > tol:
			fails.append(f"window size {wt}x{ht} differs from reference {wr}x{hr} (tolerance {tol})")
			return fails, box_r, b
	w = min(b[2] - b[0] for b in boxes_r + boxes_t)
	h = min(b[3] - b[1] for b in boxes_r + boxes_t)
	cr = refs[0].crop((box_r[0], box_r[1], box_r[0] + w, box_r[1] + h))
	ct = tests[0].crop((box_t[0], box_t[1], box_t[0] + w, box_t[1] + h))
	diff = ImageChops.difference(cr, ct)
	if mode == "exact":
		if diff.getbbox() is not None:
			n = diff.convert("L").point(lambda v: 255 if v else 0).histogram()[255]
			fails.append(f"{n} of {w * h} window pixels differ (exact mode), first in {diff.getbbox()}")
	elif mode == "near":
		n = diff.convert("L").point(lambda v: 255 if v > NEAR_LEVEL else 0).histogram()[255]
		frac = n / (w * h)
		print(f"near: {frac:.4f} of window pixels differ visibly (limit {NEAR_FRAC})")
		if frac > NEAR_FRAC:
			fails.append(f"{frac:.1%} of window pixels differ visibly (limit {NEAR_FRAC:.0%})")
	elif mode == "stats":
		cov_r, hist_r, rr, dr = frame_stats(refs, ref_desk, boxes_r, w, h)
		cov_t, hist_t, rt, dt = frame_stats(tests, test_desk, boxes_t, w, h)
		hist = sum(abs(a - b) for a, b in zip(hist_r, hist_t))
		ratio = max(rr, rt, 0.5) / max(min(rr, rt), 0.5)
		print(f"stats over {len(refs)}/{len(tests)} frames: drawn share {cov_r:.3f}/{cov_t:.3f}, "
		      f"histogram L1 {hist:.3f}, roughness {rr:.2f}/{rt:.2f}, "
		      f"detail share {dr:.3f}/{dt:.3f}")
		if abs(cov_r - cov_t) > COVER_TOL:
			fails.append(f"drawn share {cov_t:.2f} vs reference {cov_r:.2f}")
		if hist > HIST_TOL:
			fails.append(f"colour histogram distance {hist:.2f} > {HIST_TOL}")
		if abs(dr - dt) > max(DETAIL_ABS, DETAIL_REL * dr):
			fails.append(f"detail share {dt:.3f} vs reference {dr:.3f}")
		if ratio > ROUGH_RATIO:
			fails.append(f"roughness {rt:.1f} vs reference {rr:.1f}")
	else:
		raise SystemExit(f"unknown mode {mode}")
	return fails, box_r, box_t


def main(argv):
	if len(argv) >= 3 and argv[0] == "is-background":
		img = load(argv[1])
		c = int(argv[2], 16)
		rgb = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
		n = dict((v, k) for k, v in img.getcolors(img.width * img.height)).get(rgb, 0)
		return 0 if n >= 0.9 * img.width * img.height else 1
	if len(argv) == 3 and argv[0] == "window":
		box = window_box(load(argv[1]), load(argv[2]))
		print(box)
		return 0 if box else 1
	if len(argv) in (6, 8) and argv[0] == "compare":
		mode = argv[1]
		refs = [load(p) for p in argv[2].split(",")]
		tests = [load(p) for p in argv[4].split(",")]
		ref_desk, test_desk = load(argv[3]), load(argv[5])
		ref, test = refs[0], tests[0]
		fails, box_r, box_t = compare(mode, refs, ref_desk, tests, test_desk)
		if fails:
			for f in fails:
				print(f"FAIL: {f}")
			if len(argv) == 8 and argv[6] == "--diff":
				write_diff(argv[7], ref, test, box_r, box_t)
				print(f"diff (reference | test | difference x4): {argv[7]}")
			return 1
		print(f"ok ({mode})")
		return 0
	print(__doc__, file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
