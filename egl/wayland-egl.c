/*
 * libwayland-egl: the native window object Mesa's EGL draws into. The library
 * only owns the struct and tells the driver about resizes and destruction;
 * all rendering and buffer traffic happens in the driver.
 */
#include <stdlib.h>

#include "wayland-egl-core.h"
#include "wayland-egl-backend.h"

#define EGL_EXPORT __attribute__((visibility("default")))

EGL_EXPORT struct wl_egl_window *
wl_egl_window_create(struct wl_surface *surface, int width, int height)
{
	struct wl_egl_window *egl_window;

	if (width <= 0 || height <= 0)
		return NULL;

	egl_window = calloc(1, sizeof *egl_window);
	if (!egl_window)
		return NULL;

	/* version is const so drivers get a warning if they write it. */
	*(intptr_t *)&egl_window->version = WL_EGL_WINDOW_VERSION;
	egl_window->surface = surface;
	egl_window->width = width;
	egl_window->height = height;

	return egl_window;
}

EGL_EXPORT void
wl_egl_window_destroy(struct wl_egl_window *egl_window)
{
	if (!egl_window)
		return;

	if (egl_window->destroy_window_callback)
		egl_window->destroy_window_callback(egl_window->driver_private);
	free(egl_window);
}

EGL_EXPORT void
wl_egl_window_resize(struct wl_egl_window *egl_window,
		     int width, int height, int dx, int dy)
{
	if (width <= 0 || height <= 0)
		return;

	egl_window->width = width;
	egl_window->height = height;
	egl_window->dx = dx;
	egl_window->dy = dy;

	if (egl_window->resize_callback)
		egl_window->resize_callback(egl_window,
					    egl_window->driver_private);
}

EGL_EXPORT void
wl_egl_window_get_attached_size(struct wl_egl_window *egl_window,
				int *width, int *height)
{
	if (width)
		*width = egl_window->attached_width;
	if (height)
		*height = egl_window->attached_height;
}
