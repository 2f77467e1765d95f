/*
 * wayland-egl-backend.h: the layout of struct wl_egl_window that EGL drivers
 * (Mesa) read and write directly. It is ABI: fields are only ever appended,
 * and WL_EGL_WINDOW_VERSION says which ones exist.
 */
#ifndef WAYLAND_EGL_BACKEND_H
#define WAYLAND_EGL_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 3: the surface field exists and version is the first field (drivers that
 * find a pointer-looking value there know they face a pre-versioning library).
 */
#define WL_EGL_WINDOW_VERSION 3

struct wl_surface;

struct wl_egl_window {
	/* Set once by the library; drivers must not write it. */
	const intptr_t version;

	/* Size the application asked for, and the offset of the next attach. */
	int width;
	int height;
	int dx;
	int dy;

	/* Size of the buffer the driver attached last; written by the driver. */
	int attached_width;
	int attached_height;

	/* Owned by the driver: its state and its notification callbacks. */
	void *driver_private;
	void (*resize_callback)(struct wl_egl_window *, void *);
	void (*destroy_window_callback)(void *);

	struct wl_surface *surface;
};

#ifdef __cplusplus
}
#endif

#endif
