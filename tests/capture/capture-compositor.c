/*
 * SPDX-License-Identifier: MIT
 * A compositor for the hostile side of screen capture: wl_shm, one
 * wl_output and wlr-screencopy (version 3), whose frames are 64x48 XRGB8888
 * filled with a pattern capture-client --pattern knows. The write and the
 * ready event come 50 ms after the copy request, from a timer, and come
 * even when the client destroyed the buffer meanwhile (a compositor that
 * announces a capture into a buffer that is gone).
 *
 * usage: capture-compositor --socket NAME
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-server.h>
#include "screencopy-server-protocol.h"

#define WIDTH 64
#define HEIGHT 48
#define STRIDE (WIDTH * 4)
#define DELAY_MS 50

struct frame {
	struct wl_resource *resource;
	struct wl_resource *buffer;	/* NULL once the client destroyed it */
	struct wl_listener buffer_destroy;
	struct wl_event_source *timer;
	bool used;
};

static uint32_t
pattern(int x, int y)
{
	return 0xff000000u | (uint32_t) (x * 4) << 16 |
	       (uint32_t) (y * 5) << 8 | (uint32_t) ((x + y) & 0xff);
}

static void
frame_write(struct frame *f)
{
	struct wl_shm_buffer *shm;
	uint8_t *data;
	int x, y;

	if (f->buffer == NULL || !(shm = wl_shm_buffer_get(f->buffer)))
		return;
	wl_shm_buffer_begin_access(shm);
	data = wl_shm_buffer_get_data(shm);
	for (y = 0; y < HEIGHT; y++)
		for (x = 0; x < WIDTH; x++)
			memcpy(data + y * wl_shm_buffer_get_stride(shm) + x * 4,
			       &(uint32_t) { pattern(x, y) }, 4);
	wl_shm_buffer_end_access(shm);
}

static int
frame_timer(void *data)
{
	struct frame *f = data;

	frame_write(f);
	zwlr_screencopy_frame_v1_send_flags(f->resource, 0);
	zwlr_screencopy_frame_v1_send_ready(f->resource, 0, 0, 0);
	return 0;
}

static void
frame_buffer_destroyed(struct wl_listener *listener, void *data)
{
	struct frame *f = wl_container_of(listener, f, buffer_destroy);

	f->buffer = NULL;
	wl_list_remove(&f->buffer_destroy.link);
	wl_list_init(&f->buffer_destroy.link);
}

static void
frame_copy(struct wl_client *client, struct wl_resource *resource,
	   struct wl_resource *buffer)
{
	struct frame *f = wl_resource_get_user_data(resource);
	struct wl_shm_buffer *shm = wl_shm_buffer_get(buffer);

	if (f->used) {
		wl_resource_post_error(resource, ZWLR_SCREENCOPY_FRAME_V1_ERROR_ALREADY_USED,
				       "frame already used");
		return;
	}
	if (shm == NULL || wl_shm_buffer_get_width(shm) != WIDTH ||
	    wl_shm_buffer_get_height(shm) != HEIGHT ||
	    wl_shm_buffer_get_stride(shm) != STRIDE) {
		wl_resource_post_error(resource, ZWLR_SCREENCOPY_FRAME_V1_ERROR_INVALID_BUFFER,
				       "not a %dx%d shm buffer of stride %d",
				       WIDTH, HEIGHT, STRIDE);
		return;
	}
	f->used = true;
	f->buffer = buffer;
	f->buffer_destroy.notify = frame_buffer_destroyed;
	wl_resource_add_destroy_listener(buffer, &f->buffer_destroy);
	f->timer = wl_event_loop_add_timer(
		wl_display_get_event_loop(wl_client_get_display(client)),
		frame_timer, f);
	wl_event_source_timer_update(f->timer, DELAY_MS);
}

static void
frame_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct zwlr_screencopy_frame_v1_interface frame_impl = {
	.copy = frame_copy,
	.destroy = frame_destroy,
	.copy_with_damage = frame_copy,
};

static void
frame_resource_destroy(struct wl_resource *resource)
{
	struct frame *f = wl_resource_get_user_data(resource);

	if (f->timer)
		wl_event_source_remove(f->timer);
	wl_list_remove(&f->buffer_destroy.link);
	free(f);
}

static void
manager_capture(struct wl_client *client, struct wl_resource *resource,
		uint32_t id, int32_t overlay_cursor, struct wl_resource *output)
{
	struct frame *f = calloc(1, sizeof *f);

	if (f == NULL) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_list_init(&f->buffer_destroy.link);
	f->resource = wl_resource_create(client, &zwlr_screencopy_frame_v1_interface,
					 wl_resource_get_version(resource), id);
	if (f->resource == NULL) {
		free(f);
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(f->resource, &frame_impl, f,
				       frame_resource_destroy);
	zwlr_screencopy_frame_v1_send_buffer(f->resource, WL_SHM_FORMAT_XRGB8888,
					     WIDTH, HEIGHT, STRIDE);
	if (wl_resource_get_version(f->resource) >= 3)
		zwlr_screencopy_frame_v1_send_buffer_done(f->resource);
}

static void
manager_capture_region(struct wl_client *client, struct wl_resource *resource,
		       uint32_t id, int32_t overlay_cursor,
		       struct wl_resource *output, int32_t x, int32_t y,
		       int32_t width, int32_t height)
{
	manager_capture(client, resource, id, overlay_cursor, output);
}

static void
manager_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct zwlr_screencopy_manager_v1_interface manager_impl = {
	.capture_output = manager_capture,
	.capture_output_region = manager_capture_region,
	.destroy = manager_destroy,
};

static void
bind_manager(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource =
		wl_resource_create(client, &zwlr_screencopy_manager_v1_interface,
				   (int) version, id);

	if (resource)
		wl_resource_set_implementation(resource, &manager_impl, NULL, NULL);
}

static void
output_release(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct wl_output_interface output_impl = {
	.release = output_release,
};

static void
bind_output(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource =
		wl_resource_create(client, &wl_output_interface, (int) version, id);

	if (resource)
		wl_resource_set_implementation(resource, &output_impl, NULL, NULL);
}

int
main(int argc, char *argv[])
{
	struct wl_display *display;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0) {
		fprintf(stderr, "usage: capture-compositor --socket NAME\n");
		return 2;
	}
	display = wl_display_create();
	if (display == NULL || wl_display_add_socket(display, argv[2]) < 0) {
		fprintf(stderr, "capture-compositor: cannot listen on %s\n", argv[2]);
		return 1;
	}
	wl_display_init_shm(display);
	wl_global_create(display, &wl_output_interface, 1, NULL, bind_output);
	wl_global_create(display, &zwlr_screencopy_manager_v1_interface, 3, NULL,
			 bind_manager);
	wl_display_run(display);
	wl_display_destroy(display);
	return 0;
}
