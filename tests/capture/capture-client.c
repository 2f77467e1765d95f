/*
 * SPDX-License-Identifier: MIT
 * A screen capture client (wlr-screencopy) that reads what the compositor
 * wrote into its wl_shm buffer the ways real programs do, including ways
 * the library cannot remap onto host memory, and writes it as a PPM:
 *
 *   shared   a MAP_SHARED view made before create_pool (zero-copy)
 *   private  a read-only MAP_PRIVATE view (cannot be remapped)
 *   pread    no view at all: the bytes are read from the fd
 *   damage   as shared, with copy_with_damage
 *
 * usage: capture-client [--pattern] [--destroy-buffer|--truncate-half|--oversize]
 *                       MODE OUT.ppm|-
 * --pattern: the pixels must be capture-compositor's pattern (all of them,
 * or the rows left after --truncate-half).
 * Against a hostile compositor (capture-compositor):
 *   --destroy-buffer  the buffer is destroyed right after the copy request;
 *                     the ready event must still come, and nothing else
 *   --truncate-half   the file is cut to half after the copy request; the
 *                     half left must hold the capture
 *   --oversize        the pool is half the buffer: the compositor's
 *                     wl_shm_pool invalid_stride error must be what fails
 * Exit status 0 when all holds; 1 with a line otherwise (the compositor's
 * failed event included).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>
#include "screencopy-client-protocol.h"

/* capture-compositor's pattern. */
static uint32_t
pattern(uint32_t x, uint32_t y)
{
	return 0xff000000u | (x * 4) << 16 | (y * 5) << 8 | ((x + y) & 0xff);
}

struct capture {
	struct wl_shm *shm;
	struct wl_output *output;
	struct zwlr_screencopy_manager_v1 *manager;
	uint32_t manager_version;
	uint32_t format, width, height, stride;
	bool have_buffer, buffer_done, ready, failed, y_invert;
};

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "capture-client: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
registry_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version)
{
	struct capture *c = data;

	if (strcmp(interface, "wl_shm") == 0)
		c->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	else if (strcmp(interface, "wl_output") == 0 && !c->output)
		c->output = wl_registry_bind(registry, name, &wl_output_interface, 1);
	else if (strcmp(interface, zwlr_screencopy_manager_v1_interface.name) == 0) {
		c->manager_version = version < 3 ? version : 3;
		c->manager = wl_registry_bind(registry, name,
					      &zwlr_screencopy_manager_v1_interface,
					      c->manager_version);
	}
}

static void
registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	registry_global, registry_global_remove,
};

static void
frame_buffer(void *data, struct zwlr_screencopy_frame_v1 *frame,
	     uint32_t format, uint32_t width, uint32_t height, uint32_t stride)
{
	struct capture *c = data;

	c->format = format;
	c->width = width;
	c->height = height;
	c->stride = stride;
	c->have_buffer = true;
}

static void
frame_flags(void *data, struct zwlr_screencopy_frame_v1 *frame, uint32_t flags)
{
	struct capture *c = data;

	c->y_invert = flags & ZWLR_SCREENCOPY_FRAME_V1_FLAGS_Y_INVERT;
}

static void
frame_ready(void *data, struct zwlr_screencopy_frame_v1 *frame,
	    uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec)
{
	((struct capture *) data)->ready = true;
}

static void
frame_failed(void *data, struct zwlr_screencopy_frame_v1 *frame)
{
	((struct capture *) data)->failed = true;
}

static void
frame_damage(void *data, struct zwlr_screencopy_frame_v1 *frame,
	     uint32_t x, uint32_t y, uint32_t width, uint32_t height)
{
}

static void
frame_linux_dmabuf(void *data, struct zwlr_screencopy_frame_v1 *frame,
		   uint32_t format, uint32_t width, uint32_t height)
{
}

static void
frame_buffer_done(void *data, struct zwlr_screencopy_frame_v1 *frame)
{
	((struct capture *) data)->buffer_done = true;
}

static const struct zwlr_screencopy_frame_v1_listener frame_listener = {
	frame_buffer, frame_flags, frame_ready, frame_failed, frame_damage,
	frame_linux_dmabuf, frame_buffer_done,
};

/* One pixel of a 32-bit wl_shm format as R, G, B. */
static void
pixel_rgb(uint32_t format, uint32_t px, unsigned char rgb[3])
{
	switch (format) {
	case WL_SHM_FORMAT_ARGB8888:
	case WL_SHM_FORMAT_XRGB8888:
		rgb[0] = px >> 16; rgb[1] = px >> 8; rgb[2] = px;
		break;
	case WL_SHM_FORMAT_ABGR8888:
	case WL_SHM_FORMAT_XBGR8888:
		rgb[0] = px; rgb[1] = px >> 8; rgb[2] = px >> 16;
		break;
	default:
		die("the compositor offers format 0x%08x, which this client "
		    "does not convert", format);
	}
}

static void
write_ppm(const struct capture *c, const unsigned char *pixels, const char *out)
{
	FILE *f = fopen(out, "wb");
	unsigned char rgb[3];
	uint32_t x, y, row, px;

	if (f == NULL)
		die("%s: %s", out, strerror(errno));
	fprintf(f, "P6\n%u %u\n255\n", c->width, c->height);
	for (y = 0; y < c->height; y++) {
		row = c->y_invert ? c->height - 1 - y : y;
		for (x = 0; x < c->width; x++) {
			memcpy(&px, pixels + (size_t) row * c->stride + x * 4, 4);
			pixel_rgb(c->format, px, rgb);
			fwrite(rgb, 1, 3, f);
		}
	}
	if (fclose(f) != 0)
		die("%s: %s", out, strerror(errno));
}

static void
check_pattern(const struct capture *c, const unsigned char *pixels,
	      uint32_t rows)
{
	uint32_t x, y, px;

	for (y = 0; y < rows; y++) {
		for (x = 0; x < c->width; x++) {
			memcpy(&px, pixels + (size_t) y * c->stride + x * 4, 4);
			if ((px & 0xffffff) != (pattern(x, y) & 0xffffff))
				die("pixel (%u, %u) is 0x%08x, not the compositor's "
				    "0x%08x", x, y, px, pattern(x, y));
		}
	}
	printf("capture-client: %u rows of the pattern\n", rows);
}

static void
capture_end(struct capture *c, struct wl_registry *registry,
	    struct wl_display *display)
{
	wl_shm_destroy(c->shm);
	wl_output_destroy(c->output);
	zwlr_screencopy_manager_v1_destroy(c->manager);
	wl_registry_destroy(registry);
	wl_display_disconnect(display);
}

/* --oversize: the compositor's error must be the one that ends it. */
static int
expect_invalid_stride(struct wl_display *display)
{
	const struct wl_interface *interface = NULL;
	uint32_t id, code;

	while (wl_display_dispatch(display) >= 0)
		;
	code = wl_display_get_protocol_error(display, &interface, &id);
	if (interface == NULL || strcmp(interface->name, "wl_shm_pool") != 0 ||
	    code != WL_SHM_ERROR_INVALID_STRIDE)
		die("expected the compositor's wl_shm_pool invalid_stride error, "
		    "got %s (%s code %u)", strerror(wl_display_get_error(display)),
		    interface ? interface->name : "no interface", code);
	printf("capture-client: the compositor refused the buffer larger "
	       "than its pool\n");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct capture c = { 0 };
	struct wl_display *display;
	struct wl_registry *registry;
	struct zwlr_screencopy_frame_v1 *frame;
	struct wl_shm_pool *pool;
	struct wl_buffer *buffer;
	const char *mode, *out, *hostile = "";
	unsigned char *view = NULL, *pixels;
	bool check = false;
	uint32_t rows;
	size_t size;
	int fd, i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--pattern") == 0)
			check = true;
		else if (strcmp(argv[i], "--destroy-buffer") == 0 ||
			 strcmp(argv[i], "--truncate-half") == 0 ||
			 strcmp(argv[i], "--oversize") == 0)
			hostile = argv[i] + 2;
		else
			die("unknown option %s", argv[i]);
	}
	if (argc - i != 2)
		die("usage: capture-client [--pattern] [--destroy-buffer|"
		    "--truncate-half|--oversize] shared|private|pread|damage "
		    "OUT.ppm|-");
	mode = argv[i];
	out = argv[i + 1];
	if (strcmp(mode, "shared") && strcmp(mode, "private") &&
	    strcmp(mode, "pread") && strcmp(mode, "damage"))
		die("unknown mode %s", mode);

	display = wl_display_connect(NULL);
	if (display == NULL)
		die("cannot connect: %s", strerror(errno));
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, &c);
	wl_display_roundtrip(display);
	if (!c.shm || !c.output || !c.manager)
		die("the compositor lacks wl_shm, wl_output or "
		    "zwlr_screencopy_manager_v1");
	if (strcmp(mode, "damage") == 0 && c.manager_version < 2)
		die("copy_with_damage needs version 2");

	frame = zwlr_screencopy_manager_v1_capture_output(c.manager, 0, c.output);
	zwlr_screencopy_frame_v1_add_listener(frame, &frame_listener, &c);
	while (!c.failed && !(c.have_buffer &&
			      (c.manager_version < 3 || c.buffer_done)))
		if (wl_display_dispatch(display) < 0)
			die("connection lost: %s", strerror(errno));
	if (c.failed)
		die("the compositor failed the capture before a buffer");
	if (c.width == 0 || c.height == 0 || c.stride < c.width * 4)
		die("the compositor asks for a buffer of %ux%u, stride %u",
		    c.width, c.height, c.stride);

	size = (size_t) c.stride * c.height;
	fd = memfd_create("capture", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
		die("memfd: %s", strerror(errno));
	if (strcmp(mode, "private") == 0)
		view = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	else if (strcmp(mode, "pread") != 0)
		view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (view == MAP_FAILED)
		die("mmap: %s", strerror(errno));

	pool = wl_shm_create_pool(c.shm, fd, (int32_t) (strcmp(hostile, "oversize") ?
							 size : size / 2));
	buffer = wl_shm_pool_create_buffer(pool, 0, (int32_t) c.width,
					   (int32_t) c.height,
					   (int32_t) c.stride, c.format);
	if (strcmp(hostile, "oversize") != 0)
		wl_shm_pool_destroy(pool);	/* else the error names it */
	if (strcmp(mode, "damage") == 0)
		zwlr_screencopy_frame_v1_copy_with_damage(frame, buffer);
	else
		zwlr_screencopy_frame_v1_copy(frame, buffer);
	if (strcmp(hostile, "oversize") == 0) {
		expect_invalid_stride(display);
		zwlr_screencopy_frame_v1_destroy(frame);
		wl_buffer_destroy(buffer);
		wl_shm_pool_destroy(pool);
		capture_end(&c, registry, display);
		return 0;
	}
	rows = c.height;
	if (strcmp(hostile, "destroy-buffer") == 0) {
		wl_buffer_destroy(buffer);
		buffer = NULL;
	} else if (strcmp(hostile, "truncate-half") == 0) {
		rows = c.height / 2;
		if (ftruncate(fd, (off_t) rows * c.stride) < 0)
			die("ftruncate: %s", strerror(errno));
	}
	while (!c.ready && !c.failed)
		if (wl_display_dispatch(display) < 0)
			die("connection lost: %s", strerror(errno));
	if (c.failed)
		die("the compositor failed the capture");

	if (buffer) {
		pixels = view;
		if (view == NULL) {
			pixels = malloc(size);
			if (pixels == NULL ||
			    pread(fd, pixels, (size_t) rows * c.stride, 0) !=
			    (ssize_t) rows * c.stride)
				die("pread: %s", strerror(errno));
		}
		if (check)
			check_pattern(&c, pixels, rows);
		if (strcmp(out, "-") != 0)
			write_ppm(&c, pixels, out);
		if (pixels != view)
			free(pixels);
		wl_buffer_destroy(buffer);
	} else {
		printf("capture-client: ready came for the destroyed buffer\n");
	}

	zwlr_screencopy_frame_v1_destroy(frame);
	wl_display_roundtrip(display);
	capture_end(&c, registry, display);
	return 0;
}
