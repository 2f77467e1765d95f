/*
 * The struct wl_egl_window ABI that Mesa compiles against (version 3, LP64
 * offsets) and the four functions' upstream behaviour: size checks, driver
 * callbacks, attached size.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wayland-egl-core.h"
#include "wayland-egl-backend.h"

static unsigned int passed, failed;

#define CHECK(cond) do { \
	if (cond) { \
		passed++; \
	} else { \
		failed++; \
		fprintf(stderr, "FAIL: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

static int resize_calls, destroy_calls;
static void *seen_private;
static struct wl_egl_window *seen_window;

static void
handle_resize(struct wl_egl_window *window, void *private)
{
	resize_calls++;
	seen_window = window;
	seen_private = private;
}

static void
handle_destroy(void *private)
{
	destroy_calls++;
	seen_private = private;
}

static void
test_layout(void)
{
	/* Fixed by Mesa's and every driver's compiled code. */
	CHECK(WL_EGL_WINDOW_VERSION == 3);
	CHECK(offsetof(struct wl_egl_window, version) == 0);
	CHECK(offsetof(struct wl_egl_window, width) == sizeof(intptr_t));
	CHECK(offsetof(struct wl_egl_window, height) == sizeof(intptr_t) + 4);
	CHECK(offsetof(struct wl_egl_window, dx) == sizeof(intptr_t) + 8);
	CHECK(offsetof(struct wl_egl_window, dy) == sizeof(intptr_t) + 12);
	CHECK(offsetof(struct wl_egl_window, attached_width) == sizeof(intptr_t) + 16);
	CHECK(offsetof(struct wl_egl_window, attached_height) == sizeof(intptr_t) + 20);
#if UINTPTR_MAX == 0xffffffffffffffffu
	CHECK(offsetof(struct wl_egl_window, driver_private) == 32);
	CHECK(offsetof(struct wl_egl_window, resize_callback) == 40);
	CHECK(offsetof(struct wl_egl_window, destroy_window_callback) == 48);
	CHECK(offsetof(struct wl_egl_window, surface) == 56);
	CHECK(sizeof(struct wl_egl_window) == 64);
#else
	CHECK(offsetof(struct wl_egl_window, driver_private) == 28);
	CHECK(offsetof(struct wl_egl_window, surface) == 40);
	CHECK(sizeof(struct wl_egl_window) == 44);
#endif
	CHECK(sizeof(((struct wl_egl_window *)0)->version) == sizeof(intptr_t));
}

static void
test_behaviour(void)
{
	struct wl_surface *surface = (struct wl_surface *)&passed;
	struct wl_egl_window *w;
	int width = -1, height = -1;
	int private;

	CHECK(wl_egl_window_create(surface, 0, 10) == NULL);
	CHECK(wl_egl_window_create(surface, 10, -1) == NULL);

	w = wl_egl_window_create(surface, 320, 240);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK(w->version == 3);
	CHECK(w->surface == surface);
	CHECK(w->width == 320 && w->height == 240);
	CHECK(w->dx == 0 && w->dy == 0);
	CHECK(w->attached_width == 0 && w->attached_height == 0);
	CHECK(w->driver_private == NULL && w->resize_callback == NULL &&
	      w->destroy_window_callback == NULL);

	/* Without a driver attached, resize still records the new size. */
	wl_egl_window_resize(w, 100, 50, 3, 4);
	CHECK(w->width == 100 && w->height == 50 && w->dx == 3 && w->dy == 4);

	w->driver_private = &private;
	w->resize_callback = handle_resize;
	w->destroy_window_callback = handle_destroy;

	wl_egl_window_resize(w, 640, 480, -5, 7);
	CHECK(resize_calls == 1 && seen_window == w && seen_private == &private);
	CHECK(w->width == 640 && w->height == 480 && w->dx == -5 && w->dy == 7);

	/* Invalid sizes change nothing and tell the driver nothing. */
	wl_egl_window_resize(w, 0, 480, 1, 1);
	wl_egl_window_resize(w, 640, -480, 1, 1);
	CHECK(resize_calls == 1);
	CHECK(w->width == 640 && w->height == 480 && w->dx == -5 && w->dy == 7);

	/* The driver writes the attached size; the library reports it. */
	w->attached_width = 630;
	w->attached_height = 470;
	wl_egl_window_get_attached_size(w, &width, &height);
	CHECK(width == 630 && height == 470);
	width = height = -1;
	wl_egl_window_get_attached_size(w, NULL, &height);
	CHECK(height == 470);
	wl_egl_window_get_attached_size(w, &width, NULL);
	CHECK(width == 630);

	seen_private = NULL;
	wl_egl_window_destroy(w);
	CHECK(destroy_calls == 1 && seen_private == &private);
}

int
main(void)
{
	test_layout();
	test_behaviour();
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
