/*
 * libwayland-cursor's public API: a theme is a list of named cursors whose
 * frames sit side by side in one shm pool (cursor-pool.c); buffers are made
 * on first use. Themes come from Xcursor files, else from built-in drawings.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include "cursor-pool.h"
#include "cursor-private.h"
#include "xcursor.h"

#define CURSOR_EXPORT __attribute__((visibility("default")))

struct cursor {
	struct wl_cursor cursor;
	uint32_t total_delay;	/* ms of one animation cycle, wrapping as upstream */
};

struct cursor_image {
	struct wl_cursor_image image;
	struct wl_cursor_theme *theme;
	struct wl_buffer *buffer;
	int64_t offset;
};

static void
cursor_destroy(struct cursor *cursor)
{
	struct cursor_image *image;
	unsigned int i;

	for (i = 0; i < cursor->cursor.image_count; i++) {
		image = (struct cursor_image *)cursor->cursor.images[i];
		if (image->buffer)
			wl_buffer_destroy(image->buffer);
		free(image);
	}
	free(cursor->cursor.images);
	free(cursor->cursor.name);
	free(cursor);
}

static int
theme_append(struct wl_cursor_theme *theme, struct wl_cursor *cursor)
{
	struct wl_cursor **cursors;
	unsigned int cap;

	if (theme->cursor_count == theme->cursor_cap) {
		cap = theme->cursor_cap ? theme->cursor_cap * 2 : 64;
		cursors = realloc(theme->cursors, cap * sizeof *cursors);
		if (!cursors)
			return -1;
		theme->cursors = cursors;
		theme->cursor_cap = cap;
	}
	theme->cursors[theme->cursor_count++] = cursor;
	return 0;
}

int
cursor_theme_add(struct wl_cursor_theme *theme, const char *name,
		 const struct cursor_frame *frames, unsigned int count)
{
	struct cursor_image *image;
	struct cursor *cursor;
	size_t len;
	unsigned int i;

	cursor = calloc(1, sizeof *cursor);
	if (!cursor)
		return -1;
	cursor->cursor.name = strdup(name);
	cursor->cursor.images = calloc(count ? count : 1,
				       sizeof *cursor->cursor.images);
	if (!cursor->cursor.name || !cursor->cursor.images)
		goto fail;

	/* Like upstream, keep the frames that fit if the pool runs out. */
	for (i = 0; i < count; i++) {
		len = (size_t)frames[i].width * frames[i].height * 4;
		if (len > INT_MAX)
			break;
		image = calloc(1, sizeof *image);
		if (!image)
			break;
		image->offset = cursor_pool_alloc(theme->pool, len);
		if (image->offset < 0) {
			free(image);
			break;
		}
		memcpy(cursor_pool_data(theme->pool, image->offset),
		       frames[i].pixels, len);
		image->theme = theme;
		image->image.width = frames[i].width;
		image->image.height = frames[i].height;
		image->image.hotspot_x = frames[i].hotspot_x;
		image->image.hotspot_y = frames[i].hotspot_y;
		image->image.delay = frames[i].delay;
		cursor->total_delay += frames[i].delay;
		cursor->cursor.images[i] = &image->image;
		cursor->cursor.image_count = i + 1;
	}
	if (cursor->cursor.image_count == 0 || theme_append(theme,
							    &cursor->cursor) < 0)
		goto fail;
	return 0;

fail:
	cursor_destroy(cursor);
	return -1;
}

static void
theme_load_images(struct xcursor_images *images, void *data)
{
	struct wl_cursor_theme *theme = data;
	struct cursor_frame *frames;
	unsigned int i;

	/* The first theme in the search order that has a name keeps it. */
	if (wl_cursor_theme_get_cursor(theme, images->name)) {
		xcursor_images_destroy(images);
		return;
	}

	frames = calloc(images->count, sizeof *frames);
	if (frames) {
		for (i = 0; i < images->count; i++) {
			frames[i].width = images->images[i].width;
			frames[i].height = images->images[i].height;
			frames[i].hotspot_x = images->images[i].xhot;
			frames[i].hotspot_y = images->images[i].yhot;
			frames[i].delay = images->images[i].delay;
			frames[i].pixels = images->images[i].pixels;
		}
		cursor_theme_add(theme, images->name, frames, images->count);
		free(frames);
	}
	xcursor_images_destroy(images);
}

CURSOR_EXPORT struct wl_cursor_theme *
wl_cursor_theme_load(const char *name, int size, struct wl_shm *shm)
{
	struct wl_cursor_theme *theme;

	if (size < 0 || (size > 0 && INT_MAX / size / 4 < size))
		return NULL;
	if (!name)
		name = "default";

	theme = calloc(1, sizeof *theme);
	if (!theme)
		return NULL;
	theme->size = size;
	/* Room for one frame of the requested size; it grows as cursors load. */
	theme->pool = cursor_pool_create(shm, (size_t)size * size * 4);
	if (!theme->pool) {
		free(theme);
		return NULL;
	}

	xcursor_theme_load(name, size, theme_load_images, theme);
	if (theme->cursor_count == 0)
		xcursor_theme_load(NULL, size, theme_load_images, theme);
	if (theme->cursor_count == 0)
		cursor_load_fallback(theme);

	return theme;
}

CURSOR_EXPORT void
wl_cursor_theme_destroy(struct wl_cursor_theme *theme)
{
	unsigned int i;

	if (!theme)
		return;
	for (i = 0; i < theme->cursor_count; i++)
		cursor_destroy((struct cursor *)theme->cursors[i]);
	free(theme->cursors);
	cursor_pool_destroy(theme->pool);
	free(theme);
}

CURSOR_EXPORT struct wl_cursor *
wl_cursor_theme_get_cursor(struct wl_cursor_theme *theme, const char *name)
{
	unsigned int i;

	for (i = 0; i < theme->cursor_count; i++)
		if (strcmp(name, theme->cursors[i]->name) == 0)
			return theme->cursors[i];
	return NULL;
}

CURSOR_EXPORT struct wl_buffer *
wl_cursor_image_get_buffer(struct wl_cursor_image *_image)
{
	struct cursor_image *image = (struct cursor_image *)_image;

	if (!image->buffer)
		image->buffer = cursor_pool_create_buffer(image->theme->pool,
							  image->offset,
							  image->image.width,
							  image->image.height);
	return image->buffer;
}

CURSOR_EXPORT int
wl_cursor_frame_and_duration(struct wl_cursor *_cursor, uint32_t time,
			     uint32_t *duration)
{
	struct cursor *cursor = (struct cursor *)_cursor;
	struct wl_cursor_image **images = cursor->cursor.images;
	unsigned int last = cursor->cursor.image_count - 1;
	unsigned int i = 0;
	uint32_t t;

	if (cursor->cursor.image_count <= 1 || cursor->total_delay == 0) {
		if (duration)
			*duration = 0;
		return 0;
	}

	/*
	 * Walk the frames until the one that covers t. A frame with delay 0
	 * stops the walk (upstream does the same); the bound on i only matters
	 * when hostile delays made total_delay wrap.
	 */
	t = time % cursor->total_delay;
	while (i < last && images[i]->delay != 0 && t >= images[i]->delay)
		t -= images[i++]->delay;

	if (duration) {
		/* Never 0 for an animated cursor: 0 means "static". */
		if (t >= images[i]->delay)
			*duration = 1;
		else
			*duration = images[i]->delay - t;
	}
	return (int)i;
}

CURSOR_EXPORT int
wl_cursor_frame(struct wl_cursor *cursor, uint32_t time)
{
	return wl_cursor_frame_and_duration(cursor, time, NULL);
}
