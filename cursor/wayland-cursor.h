/*
 * wayland-cursor.h: load Xcursor themes into wl_shm buffers a client can
 * attach to its pointer surface (wayland-virtgpu's libwayland-cursor).
 */
#ifndef WAYLAND_CURSOR_H
#define WAYLAND_CURSOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wl_cursor_theme;
struct wl_buffer;
struct wl_shm;

/* One frame of a cursor. */
struct wl_cursor_image {
	uint32_t width;
	uint32_t height;
	uint32_t hotspot_x;
	uint32_t hotspot_y;
	uint32_t delay;		/* ms to show it before the next frame */
};

struct wl_cursor {
	unsigned int image_count;
	struct wl_cursor_image **images;
	char *name;
};

/* name NULL means the default theme; size is the nominal size in pixels. */
struct wl_cursor_theme *
wl_cursor_theme_load(const char *name, int size, struct wl_shm *shm);

void
wl_cursor_theme_destroy(struct wl_cursor_theme *theme);

struct wl_cursor *
wl_cursor_theme_get_cursor(struct wl_cursor_theme *theme,
			   const char *name);

/* The buffer belongs to the theme: do not destroy it. */
struct wl_buffer *
wl_cursor_image_get_buffer(struct wl_cursor_image *image);

/* Index of the frame to show time ms into the animation. */
int
wl_cursor_frame(struct wl_cursor *cursor, uint32_t time);

/* The same, and in *duration the ms left for that frame (0: never changes). */
int
wl_cursor_frame_and_duration(struct wl_cursor *cursor, uint32_t time,
			     uint32_t *duration);

#ifdef __cplusplus
}
#endif

#endif
