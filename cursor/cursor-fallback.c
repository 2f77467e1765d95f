/*
 * Built-in cursors for machines with no cursor theme installed: the names
 * upstream's fallback theme offers, drawn here at the theme's size from a few
 * shapes (black with a white outline, anti-aliased).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cursor-private.h"

enum shape_kind { SHAPE_POLYGON, SHAPE_RECT, SHAPE_DISC, SHAPE_RING, SHAPE_LINE };

/* Coordinates are in units of the cursor size, y down. */
struct shape {
	enum shape_kind kind;
	int npoints;
	float p[8][2];	/* polygon corners; rect: 2 corners; disc/ring: centre; line: ends */
	float r;	/* disc, ring (outer), line half-width */
	float r2;	/* ring inner radius */
};

struct drawing {
	const char *name;
	const struct shape *shapes;
	int nshapes;
	float hot_x, hot_y;
	bool flip_x, flip_y, swap;	/* reuse one drawing for its mirror images */
};

static const struct shape arrow[] = {
	{ SHAPE_POLYGON, 7, { { .12f, .06f }, { .12f, .78f }, { .29f, .62f },
			      { .41f, .88f }, { .52f, .83f }, { .40f, .58f },
			      { .63f, .58f } }, 0, 0 },
};

static const struct shape ibeam[] = {
	{ SHAPE_RECT, 2, { { .46f, .14f }, { .54f, .86f } }, 0, 0 },
	{ SHAPE_RECT, 2, { { .32f, .10f }, { .68f, .18f } }, 0, 0 },
	{ SHAPE_RECT, 2, { { .32f, .82f }, { .68f, .90f } }, 0, 0 },
};

static const struct shape pointing_hand[] = {
	{ SHAPE_RECT, 2, { { .38f, .12f }, { .50f, .55f } }, 0, 0 },
	{ SHAPE_DISC, 1, { { .44f, .12f } }, .06f, 0 },
	{ SHAPE_RECT, 2, { { .28f, .45f }, { .76f, .80f } }, 0, 0 },
	{ SHAPE_DISC, 1, { { .56f, .47f } }, .06f, 0 },
	{ SHAPE_DISC, 1, { { .68f, .49f } }, .06f, 0 },
	{ SHAPE_RECT, 2, { { .32f, .80f }, { .72f, .90f } }, 0, 0 },
};

static const struct shape fist[] = {
	{ SHAPE_RECT, 2, { { .26f, .36f }, { .74f, .80f } }, 0, 0 },
	{ SHAPE_DISC, 1, { { .32f, .36f } }, .07f, 0 },
	{ SHAPE_DISC, 1, { { .45f, .34f } }, .07f, 0 },
	{ SHAPE_DISC, 1, { { .58f, .34f } }, .07f, 0 },
	{ SHAPE_DISC, 1, { { .70f, .36f } }, .07f, 0 },
};

static const struct shape clock[] = {
	{ SHAPE_RING, 1, { { .5f, .5f } }, .40f, .30f },
	{ SHAPE_LINE, 2, { { .5f, .5f }, { .5f, .27f } }, .04f, 0 },
	{ SHAPE_LINE, 2, { { .5f, .5f }, { .66f, .5f } }, .04f, 0 },
};

/* An arrow to the top edge; the other edges are its mirror images. */
static const struct shape edge_arrow[] = {
	{ SHAPE_RECT, 2, { { .15f, .08f }, { .85f, .15f } }, 0, 0 },
	{ SHAPE_LINE, 2, { { .5f, .30f }, { .5f, .85f } }, .05f, 0 },
	{ SHAPE_POLYGON, 3, { { .5f, .18f }, { .32f, .40f }, { .68f, .40f } }, 0, 0 },
};

/* An arrow to the top-left corner; the other corners mirror it. */
static const struct shape corner_arrow[] = {
	{ SHAPE_RECT, 2, { { .08f, .08f }, { .60f, .15f } }, 0, 0 },
	{ SHAPE_RECT, 2, { { .08f, .08f }, { .15f, .60f } }, 0, 0 },
	{ SHAPE_LINE, 2, { { .30f, .30f }, { .80f, .80f } }, .05f, 0 },
	{ SHAPE_POLYGON, 3, { { .21f, .21f }, { .50f, .28f }, { .28f, .50f } }, 0, 0 },
};

#define SHAPES(s) s, (int)(sizeof(s) / sizeof((s)[0]))

static const struct drawing drawings[] = {
	{ "bottom_left_corner", SHAPES(corner_arrow), .08f, .08f, false, true, false },
	{ "bottom_right_corner", SHAPES(corner_arrow), .08f, .08f, true, true, false },
	{ "bottom_side", SHAPES(edge_arrow), .5f, .08f, false, true, false },
	{ "grabbing", SHAPES(fist), .5f, .5f, false, false, false },
	{ "left_ptr", SHAPES(arrow), .12f, .06f, false, false, false },
	{ "left_side", SHAPES(edge_arrow), .5f, .08f, false, false, true },
	{ "right_side", SHAPES(edge_arrow), .5f, .08f, true, false, true },
	{ "top_left_corner", SHAPES(corner_arrow), .08f, .08f, false, false, false },
	{ "top_right_corner", SHAPES(corner_arrow), .08f, .08f, true, false, false },
	{ "top_side", SHAPES(edge_arrow), .5f, .08f, false, false, false },
	{ "xterm", SHAPES(ibeam), .5f, .5f, false, false, false },
	{ "hand1", SHAPES(pointing_hand), .44f, .07f, false, false, false },
	{ "watch", SHAPES(clock), .5f, .5f, false, false, false },
};

static bool
in_polygon(const struct shape *s, float x, float y)
{
	bool inside = false;
	int i, j;

	for (i = 0, j = s->npoints - 1; i < s->npoints; j = i++) {
		const float *a = s->p[i], *b = s->p[j];

		if ((a[1] > y) != (b[1] > y) &&
		    x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0])
			inside = !inside;
	}
	return inside;
}

static float
segment_distance(const float *a, const float *b, float x, float y)
{
	float dx = b[0] - a[0], dy = b[1] - a[1];
	float t = ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy);

	if (t < 0)
		t = 0;
	if (t > 1)
		t = 1;
	return hypotf(x - (a[0] + t * dx), y - (a[1] + t * dy));
}

static bool
in_shape(const struct shape *s, float x, float y)
{
	float d;

	switch (s->kind) {
	case SHAPE_POLYGON:
		return in_polygon(s, x, y);
	case SHAPE_RECT:
		return x >= s->p[0][0] && x <= s->p[1][0] &&
		       y >= s->p[0][1] && y <= s->p[1][1];
	case SHAPE_DISC:
		return hypotf(x - s->p[0][0], y - s->p[0][1]) <= s->r;
	case SHAPE_RING:
		d = hypotf(x - s->p[0][0], y - s->p[0][1]);
		return d <= s->r && d >= s->r2;
	case SHAPE_LINE:
		return segment_distance(s->p[0], s->p[1], x, y) <= s->r;
	}
	return false;
}

static bool
in_drawing(const struct drawing *d, float x, float y)
{
	float t;
	int i;

	/* Undo the mirroring to find the point in the drawing. */
	if (d->flip_x)
		x = 1.0f - x;
	if (d->flip_y)
		y = 1.0f - y;
	if (d->swap) {
		t = x;
		x = y;
		y = t;
	}
	for (i = 0; i < d->nshapes; i++)
		if (in_shape(&d->shapes[i], x, y))
			return true;
	return false;
}

/* The outline is the shape grown by about one pixel in eight directions. */
static bool
in_outline(const struct drawing *d, float x, float y, float grow)
{
	static const float dirs[8][2] = {
		{ 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 },
		{ .7071f, .7071f }, { -.7071f, .7071f },
		{ .7071f, -.7071f }, { -.7071f, -.7071f },
	};
	int i;

	for (i = 0; i < 8; i++)
		if (in_drawing(d, x + dirs[i][0] * grow, y + dirs[i][1] * grow))
			return true;
	return false;
}

static void
render(const struct drawing *d, int size, uint32_t *pixels)
{
	const int ss = 4;	/* samples per pixel per axis */
	float grow = 1.2f / (float)size;
	int x, y, sx, sy, fill, outline;
	float fx, fy;
	uint32_t a, white;

	for (y = 0; y < size; y++) {
		for (x = 0; x < size; x++) {
			fill = outline = 0;
			for (sy = 0; sy < ss; sy++) {
				for (sx = 0; sx < ss; sx++) {
					fx = (x + (sx + 0.5f) / ss) / size;
					fy = (y + (sy + 0.5f) / ss) / size;
					if (in_drawing(d, fx, fy))
						fill++;
					else if (in_outline(d, fx, fy, grow))
						outline++;
				}
			}
			/* Premultiplied: black adds alpha only, white adds both. */
			a = (uint32_t)((fill + outline) * 255 / (ss * ss));
			white = (uint32_t)(outline * 255 / (ss * ss));
			pixels[y * size + x] = a << 24 | white << 16 |
					       white << 8 | white;
		}
	}
}

static uint32_t
hotspot(float h, int size)
{
	int v = (int)(h * size);

	return (uint32_t)(v < 0 ? 0 : v >= size ? size - 1 : v);
}

void
cursor_load_fallback(struct wl_cursor_theme *theme)
{
	struct cursor_frame frame;
	const struct drawing *d;
	uint32_t *pixels;
	float hx, hy, t;
	size_t i;
	int size;

	size = theme->size > 0 ? theme->size : 24;
	if (size < 8)
		size = 8;
	if (size > 256)
		size = 256;

	pixels = malloc((size_t)size * size * sizeof *pixels);
	if (!pixels)
		return;

	for (i = 0; i < sizeof drawings / sizeof drawings[0]; i++) {
		d = &drawings[i];
		render(d, size, pixels);

		/* The hot spot moves with the drawing: swap, then mirror. */
		hx = d->hot_x;
		hy = d->hot_y;
		if (d->swap) {
			t = hx;
			hx = hy;
			hy = t;
		}
		if (d->flip_x)
			hx = 1.0f - hx;
		if (d->flip_y)
			hy = 1.0f - hy;

		frame = (struct cursor_frame) {
			.width = (uint32_t)size,
			.height = (uint32_t)size,
			.hotspot_x = hotspot(hx, size),
			.hotspot_y = hotspot(hy, size),
			.delay = 0,
			.pixels = pixels,
		};
		cursor_theme_add(theme, d->name, &frame, 1);
	}
	free(pixels);
}
