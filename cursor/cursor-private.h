/*
 * cursor-private.h: what wayland-cursor.c and the built-in fallback cursors
 * share: the theme, and how a cursor is added to it.
 */
#ifndef CURSOR_PRIVATE_H
#define CURSOR_PRIVATE_H

#include <stdint.h>

#include "wayland-cursor.h"

struct cursor_pool;

struct wl_cursor_theme {
	struct cursor_pool *pool;
	int size;
	unsigned int cursor_count;
	unsigned int cursor_cap;
	struct wl_cursor **cursors;
};

/* A frame as it comes from a file or from the built-in drawings. */
struct cursor_frame {
	uint32_t width;
	uint32_t height;
	uint32_t hotspot_x;
	uint32_t hotspot_y;
	uint32_t delay;
	const uint32_t *pixels;	/* premultiplied ARGB, stride width * 4 */
};

/* Copies the frames into the pool; 0, or -1 if nothing could be added. */
int
cursor_theme_add(struct wl_cursor_theme *theme, const char *name,
		 const struct cursor_frame *frames, unsigned int count);

void
cursor_load_fallback(struct wl_cursor_theme *theme);

#endif
