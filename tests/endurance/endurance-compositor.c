/*
 * The host compositor of the endurance tests, on the system's libwayland-server: wl_compositor
 * and wl_shm only, frame callbacks paced by a timer as by a display's refresh, the last
 * committed buffer held until the next one (as weston does), and each frame's pixels sampled.
 *   endurance-compositor --socket NAME [--hz N]   (in $XDG_RUNTIME_DIR; SIGTERM ends it)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <wayland-server.h>

#include "endurance.h"

struct ec_surface {
	struct wl_resource *resource;
	struct wl_resource *pending_buffer;
	struct wl_resource *current_buffer;	/* held, released when replaced */
	struct wl_listener current_destroy;
	struct wl_list pending_frames;		/* wl_callbacks of commits not yet shown */
	struct wl_list due_frames;		/* committed: done at the next refresh */
	struct wl_list link;			/* ec_surfaces */
	uint32_t last_seq;
	int committed;
};

static struct wl_list ec_surfaces;

static void
ec_destroy_request(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
ec_callback_free(struct wl_resource *resource)
{
	wl_list_remove(wl_resource_get_link(resource));
}

/* A sample of rows and columns is enough to see a wrong, stale or torn frame, and keeps
 * 32 clients' checks cheap. Returns 0, or -1 with the first bad pixel in *bad_x, *bad_y. */
static int
ec_check_pixels(struct wl_shm_buffer *shm, uint32_t *seq, int32_t *bad_x, int32_t *bad_y)
{
	int32_t w = wl_shm_buffer_get_width(shm), h = wl_shm_buffer_get_height(shm);
	int32_t stride = wl_shm_buffer_get_stride(shm);
	const uint8_t *data;
	uint32_t px;
	int ret = 0;

	wl_shm_buffer_begin_access(shm);
	data = wl_shm_buffer_get_data(shm);
	memcpy(&px, data, 4);
	*seq = px & 0xffffff;
	for (int32_t i = 0; i < 17 && ret == 0; i++) {
		int32_t y = i == 16 ? h - 1 : (int32_t)((int64_t)h * i / 16);

		for (int32_t j = 0; j < 9; j++) {
			int32_t x = j == 8 ? w - 1 : (int32_t)((int64_t)w * j / 8) + (i & 3);

			if (x == 0 && y == 0)
				continue;
			memcpy(&px, data + (size_t)y * stride + 4 * (size_t)x, 4);
			if (px != endurance_pixel(x, y, *seq)) {
				*bad_x = x;
				*bad_y = y;
				ret = -1;
				break;
			}
		}
	}
	wl_shm_buffer_end_access(shm);
	return ret;
}

static void
ec_surface_attach(struct wl_client *client, struct wl_resource *resource,
		  struct wl_resource *buffer, int32_t x, int32_t y)
{
	struct ec_surface *surface = wl_resource_get_user_data(resource);

	surface->pending_buffer = buffer;
}

static void
ec_surface_damage(struct wl_client *client, struct wl_resource *resource, int32_t x, int32_t y,
		  int32_t w, int32_t h)
{
}

static void
ec_surface_frame(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct ec_surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb = wl_resource_create(client, &wl_callback_interface, 1, id);

	if (!cb) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(cb, NULL, NULL, ec_callback_free);
	wl_list_insert(surface->pending_frames.prev, wl_resource_get_link(cb));
}

static void
ec_release_current(struct ec_surface *surface)
{
	if (!surface->current_buffer)
		return;
	wl_buffer_send_release(surface->current_buffer);
	wl_list_remove(&surface->current_destroy.link);
	surface->current_buffer = NULL;
}

static void
ec_handle_current_destroy(struct wl_listener *listener, void *data)
{
	struct ec_surface *surface = wl_container_of(listener, surface, current_destroy);

	wl_list_remove(&surface->current_destroy.link);
	surface->current_buffer = NULL;
}

/* Takes the pending buffer as the one on screen; 0, or -1 after posting an error. */
static int
ec_surface_take_buffer(struct ec_surface *surface)
{
	struct wl_resource *buffer = surface->pending_buffer;
	struct wl_shm_buffer *shm = wl_shm_buffer_get(buffer);
	int32_t bad_x = 0, bad_y = 0;
	uint32_t seq;

	surface->pending_buffer = NULL;
	if (!shm) {
		wl_resource_post_error(surface->resource, 0, "only wl_shm buffers here");
		return -1;
	}
	if (ec_check_pixels(shm, &seq, &bad_x, &bad_y) < 0) {
		wl_resource_post_error(surface->resource, 0, "frame %u: wrong pixel at %d,%d",
				       seq, bad_x, bad_y);
		return -1;
	}
	if (surface->committed && seq != ((surface->last_seq + 1) & 0xffffff)) {
		wl_resource_post_error(surface->resource, 0, "frame %u after frame %u", seq,
				       surface->last_seq);
		return -1;
	}
	surface->last_seq = seq;
	surface->committed = 1;
	if (buffer == surface->current_buffer)
		return 0;
	ec_release_current(surface);
	surface->current_buffer = buffer;
	surface->current_destroy.notify = ec_handle_current_destroy;
	wl_resource_add_destroy_listener(buffer, &surface->current_destroy);
	return 0;
}

static void
ec_surface_commit(struct wl_client *client, struct wl_resource *resource)
{
	struct ec_surface *surface = wl_resource_get_user_data(resource);

	if (surface->pending_buffer && ec_surface_take_buffer(surface) < 0)
		return;
	wl_list_insert_list(surface->due_frames.prev, &surface->pending_frames);
	wl_list_init(&surface->pending_frames);
}

static void
ec_surface_region(struct wl_client *client, struct wl_resource *resource,
		  struct wl_resource *region)
{
}

static void
ec_surface_int(struct wl_client *client, struct wl_resource *resource, int32_t v)
{
}

static void
ec_surface_offset(struct wl_client *client, struct wl_resource *resource, int32_t x, int32_t y)
{
}

static const struct wl_surface_interface ec_surface_impl = {
	.destroy = ec_destroy_request,
	.attach = ec_surface_attach,
	.damage = ec_surface_damage,
	.frame = ec_surface_frame,
	.set_opaque_region = ec_surface_region,
	.set_input_region = ec_surface_region,
	.commit = ec_surface_commit,
	.set_buffer_transform = ec_surface_int,
	.set_buffer_scale = ec_surface_int,
	.damage_buffer = ec_surface_damage,
	.offset = ec_surface_offset,
};

static void
ec_surface_free(struct wl_resource *resource)
{
	struct ec_surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb, *tmp;

	wl_resource_for_each_safe(cb, tmp, &surface->pending_frames)
		wl_resource_destroy(cb);
	wl_resource_for_each_safe(cb, tmp, &surface->due_frames)
		wl_resource_destroy(cb);
	if (surface->current_buffer)
		wl_list_remove(&surface->current_destroy.link);
	wl_list_remove(&surface->link);
	free(surface);
}

static void
ec_compositor_create_surface(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct ec_surface *surface = calloc(1, sizeof *surface);

	if (!surface) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_list_init(&surface->pending_frames);
	wl_list_init(&surface->due_frames);
	surface->resource = wl_resource_create(client, &wl_surface_interface,
					       wl_resource_get_version(resource), id);
	if (!surface->resource) {
		free(surface);
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(surface->resource, &ec_surface_impl, surface,
				       ec_surface_free);
	wl_list_insert(&ec_surfaces, &surface->link);
}

static void
ec_compositor_create_region(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	wl_client_post_implementation_error(client, "regions are not implemented");
}

static const struct wl_compositor_interface ec_compositor_impl = {
	.create_surface = ec_compositor_create_surface,
	.create_region = ec_compositor_create_region,
};

static void
ec_compositor_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_compositor_interface, version, id);

	if (r)
		wl_resource_set_implementation(r, &ec_compositor_impl, NULL, NULL);
}

/* The display's refresh: every surface's committed frame callbacks are done. */
static int
ec_handle_refresh(int fd, uint32_t mask, void *data)
{
	struct ec_surface *surface;
	struct wl_resource *cb, *tmp;
	struct timespec now;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof ticks) != sizeof ticks)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	wl_list_for_each(surface, &ec_surfaces, link) {
		wl_resource_for_each_safe(cb, tmp, &surface->due_frames) {
			wl_callback_send_done(cb, (uint32_t)(now.tv_sec * 1000 +
							     now.tv_nsec / 1000000));
			wl_resource_destroy(cb);
		}
	}
	return 0;
}

static int
ec_handle_term(int signal, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *socket_name = NULL;
	int hz = 60, timer;
	struct wl_display *display;
	struct wl_event_loop *loop;
	struct wl_event_source *term, *intr, *refresh;
	struct itimerspec period = { 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_name = argv[++i];
		else if (strcmp(argv[i], "--hz") == 0 && i + 1 < argc)
			hz = atoi(argv[++i]);
		else
			socket_name = NULL, i = argc;
	}
	if (!socket_name || hz < 2) {
		fprintf(stderr, "usage: endurance-compositor --socket NAME [--hz N]\n");
		return 2;
	}
	wl_list_init(&ec_surfaces);
	display = wl_display_create();
	if (!display || wl_display_add_socket(display, socket_name) < 0) {
		fprintf(stderr, "endurance-compositor: cannot listen on %s: %s\n", socket_name,
			strerror(errno));
		return 1;
	}
	wl_display_init_shm(display);
	wl_global_create(display, &wl_compositor_interface, 4, NULL, ec_compositor_bind);

	timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	period.it_interval.tv_nsec = 1000000000L / hz;
	period.it_value = period.it_interval;
	if (timer < 0 || timerfd_settime(timer, 0, &period, NULL) < 0) {
		fprintf(stderr, "endurance-compositor: timerfd: %s\n", strerror(errno));
		return 1;
	}
	loop = wl_display_get_event_loop(display);
	refresh = wl_event_loop_add_fd(loop, timer, WL_EVENT_READABLE, ec_handle_refresh, NULL);
	term = wl_event_loop_add_signal(loop, SIGTERM, ec_handle_term, display);
	intr = wl_event_loop_add_signal(loop, SIGINT, ec_handle_term, display);
	signal(SIGPIPE, SIG_IGN);
	wl_display_run(display);
	wl_event_source_remove(refresh);
	wl_event_source_remove(term);
	wl_event_source_remove(intr);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	close(timer);
	return 0;
}
