/*
 * A test compositor on the system's libwayland-server that offers its own
 * wl_shm and wl_compositor, checks every pool and buffer request, and prints
 * what each wl_surface.commit shows (size, format, pixel hash) for tests.
 *
 * Two ways to meet its one client:
 *   shm-compositor CLIENT-FD [LINE-PREFIX]
 *	the client's end of a socketpair (compositor-launch.c);
 *   shm-compositor --socket NAME [LINE-PREFIX]
 *	a listening socket NAME in $XDG_RUNTIME_DIR (wl_display_add_socket),
 *	for clients that connect by name, e.g. guests of the simulated
 *	virtio-gpu whose host device connects here. It prints
 *	"compositor listening on NAME" once clients can connect, serves the
 *	first client only (later ones are refused and counted) and exits when
 *	that client is gone, or after 300 s without one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-server.h>

struct pool {
	struct wl_resource *resource;
	int refs;
	void *data;
	size_t size;
};

struct buffer {
	struct wl_resource *resource;
	struct pool *pool;
	int32_t offset, width, height, stride;
	uint32_t format;
};

struct surface {
	struct wl_resource *resource;
	struct wl_resource *pending;
	struct wl_list frames;	/* wl_resource links of wl_callback */
	unsigned int id;
};

static struct wl_display *display;
static unsigned int n_pools, n_resizes, n_commits, n_surfaces;
static unsigned int n_refused;
static uint64_t pool_bytes;	/* sizes at create_pool plus growth */
static uint64_t mapped_bytes, mapped_peak;	/* of pools alive */

static void
mapped_add(int64_t delta)
{
	mapped_bytes += delta;
	if (mapped_bytes > mapped_peak)
		mapped_peak = mapped_bytes;
}
static const char *prefix = "";
static struct wl_client *the_client;
static struct wl_event_source *no_client_timer;

static void
pool_unref(struct pool *pool)
{
	if (--pool->refs > 0)
		return;
	munmap(pool->data, pool->size);
	mapped_add(-(int64_t)pool->size);
	free(pool);
}

static void
buffer_destroy_resource(struct wl_resource *resource)
{
	struct buffer *buffer = wl_resource_get_user_data(resource);

	pool_unref(buffer->pool);
	free(buffer);
}

static void
handle_buffer_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct wl_buffer_interface buffer_impl = {
	.destroy = handle_buffer_destroy,
};

static void
handle_pool_create_buffer(struct wl_client *client, struct wl_resource *resource,
			  uint32_t id, int32_t offset, int32_t width,
			  int32_t height, int32_t stride, uint32_t format)
{
	struct pool *pool = wl_resource_get_user_data(resource);
	struct buffer *buffer;

	if (format != WL_SHM_FORMAT_ARGB8888 && format != WL_SHM_FORMAT_XRGB8888) {
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_FORMAT,
				       "format %u", format);
		return;
	}
	if (offset < 0 || width <= 0 || height <= 0 || stride < width * 4 ||
	    (int64_t)offset + (int64_t)stride * height > (int64_t)pool->size) {
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_STRIDE,
				       "buffer %d+%dx%d stride %d outside pool of %zu",
				       offset, width, height, stride, pool->size);
		return;
	}
	buffer = calloc(1, sizeof *buffer);
	buffer->resource = wl_resource_create(client, &wl_buffer_interface, 1, id);
	buffer->pool = pool;
	pool->refs++;
	buffer->offset = offset;
	buffer->width = width;
	buffer->height = height;
	buffer->stride = stride;
	buffer->format = format;
	wl_resource_set_implementation(buffer->resource, &buffer_impl, buffer,
				       buffer_destroy_resource);
}

static void
handle_pool_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
handle_pool_resize(struct wl_client *client, struct wl_resource *resource,
		   int32_t size)
{
	struct pool *pool = wl_resource_get_user_data(resource);
	void *data;

	if (size < (int64_t)pool->size) {
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_FD,
				       "pool shrinks from %zu to %d", pool->size, size);
		return;
	}
	/* As real compositors: grow our mapping of the first fd only. */
	data = mremap(pool->data, pool->size, (size_t)size, MREMAP_MAYMOVE);
	if (data == MAP_FAILED) {
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_FD,
				       "mremap: %s", strerror(errno));
		return;
	}
	pool_bytes += (size_t)size - pool->size;
	mapped_add((int64_t)size - (int64_t)pool->size);
	pool->data = data;
	pool->size = (size_t)size;
	n_resizes++;
}

static const struct wl_shm_pool_interface pool_impl = {
	.create_buffer = handle_pool_create_buffer,
	.destroy = handle_pool_destroy,
	.resize = handle_pool_resize,
};

static void
pool_destroy_resource(struct wl_resource *resource)
{
	pool_unref(wl_resource_get_user_data(resource));
}

static void
handle_shm_create_pool(struct wl_client *client, struct wl_resource *resource,
		       uint32_t id, int32_t fd, int32_t size)
{
	struct pool *pool;

	if (size <= 0) {
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_STRIDE,
				       "pool size %d", size);
		close(fd);
		return;
	}
	pool = calloc(1, sizeof *pool);
	pool->data = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (pool->data == MAP_FAILED) {
		free(pool);
		wl_resource_post_error(resource, WL_SHM_ERROR_INVALID_FD,
				       "mmap: %s", strerror(errno));
		return;
	}
	pool->size = (size_t)size;
	pool_bytes += (size_t)size;
	mapped_add(size);
	pool->refs = 1;
	pool->resource = wl_resource_create(client, &wl_shm_pool_interface, 1, id);
	wl_resource_set_implementation(pool->resource, &pool_impl, pool,
				       pool_destroy_resource);
	n_pools++;
}

static const struct wl_shm_interface shm_impl = {
	.create_pool = handle_shm_create_pool,
};

static void
bind_shm(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource;

	resource = wl_resource_create(client, &wl_shm_interface, 1, id);
	wl_resource_set_implementation(resource, &shm_impl, NULL, NULL);
	wl_shm_send_format(resource, WL_SHM_FORMAT_ARGB8888);
	wl_shm_send_format(resource, WL_SHM_FORMAT_XRGB8888);
}

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* SHM_COMPOSITOR_CORRUPT_COMMIT=N: the Nth commit is reported as if the
 * first byte of its centre pixel differed (tests that must fail use it). */
static unsigned int corrupt_commit;

static void
report_buffer(struct surface *surface, struct buffer *buffer)
{
	const char *base = (const char *)buffer->pool->data + buffer->offset;
	size_t row = (size_t)buffer->width * 4;
	size_t at = (size_t)(buffer->height / 2) * buffer->stride +
		    (size_t)(buffer->width / 2) * 4;
	uint64_t hash = 0xcbf29ce484222325ull;
	char *copy = NULL;
	uint32_t centre;
	int32_t y;

	if (corrupt_commit && n_commits == corrupt_commit) {
		size_t len = (size_t)(buffer->height - 1) * buffer->stride + row;

		copy = malloc(len);
		memcpy(copy, base, len);
		copy[at] ^= 0x01;
		base = copy;
		fprintf(stderr, "shm-compositor: commit %u reported with one byte "
			"changed (SHM_COMPOSITOR_CORRUPT_COMMIT)\n", n_commits);
	}
	/* Hash only the visible bytes of each row, not the stride padding. */
	for (y = 0; y < buffer->height; y++)
		hash = fnv1a(hash, base + (size_t)y * buffer->stride, row);
	memcpy(&centre, base + at, 4);
	free(copy);
	printf("%scommit surface=%u %dx%d format=%s hash=%016llx centre=%08x\n",
	       prefix, surface->id, buffer->width, buffer->height,
	       buffer->format == WL_SHM_FORMAT_ARGB8888 ? "argb8888" : "xrgb8888",
	       (unsigned long long)hash, centre);
	fflush(stdout);
}

static void
handle_surface_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
handle_surface_attach(struct wl_client *client, struct wl_resource *resource,
		      struct wl_resource *buffer, int32_t x, int32_t y)
{
	struct surface *surface = wl_resource_get_user_data(resource);

	surface->pending = buffer;
}

static void
handle_surface_damage(struct wl_client *client, struct wl_resource *resource,
		      int32_t x, int32_t y, int32_t width, int32_t height)
{
}

static void
handle_surface_frame(struct wl_client *client, struct wl_resource *resource,
		     uint32_t id)
{
	struct surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb;

	cb = wl_resource_create(client, &wl_callback_interface, 1, id);
	wl_resource_set_implementation(cb, NULL, NULL, NULL);
	wl_list_insert(surface->frames.prev, wl_resource_get_link(cb));
}

static void
handle_surface_region(struct wl_client *client, struct wl_resource *resource,
		      struct wl_resource *region)
{
}

static void
handle_surface_commit(struct wl_client *client, struct wl_resource *resource)
{
	struct surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb, *tmp;

	n_commits++;
	if (surface->pending) {
		report_buffer(surface, wl_resource_get_user_data(surface->pending));
		wl_buffer_send_release(surface->pending);
		surface->pending = NULL;
	}
	wl_resource_for_each_safe(cb, tmp, &surface->frames) {
		wl_callback_send_done(cb, n_commits);
		wl_resource_destroy(cb);
	}
}

static void
handle_surface_int(struct wl_client *client, struct wl_resource *resource,
		   int32_t value)
{
}

static void
handle_surface_offset(struct wl_client *client, struct wl_resource *resource,
		      int32_t x, int32_t y)
{
}

static const struct wl_surface_interface surface_impl = {
	.destroy = handle_surface_destroy,
	.attach = handle_surface_attach,
	.damage = handle_surface_damage,
	.frame = handle_surface_frame,
	.set_opaque_region = handle_surface_region,
	.set_input_region = handle_surface_region,
	.commit = handle_surface_commit,
	.set_buffer_transform = handle_surface_int,
	.set_buffer_scale = handle_surface_int,
	.damage_buffer = handle_surface_damage,
	.offset = handle_surface_offset,
};

static void
surface_destroy_resource(struct wl_resource *resource)
{
	struct surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb, *tmp;

	wl_resource_for_each_safe(cb, tmp, &surface->frames)
		wl_resource_destroy(cb);
	free(surface);
}

static void
handle_create_surface(struct wl_client *client, struct wl_resource *resource,
		      uint32_t id)
{
	struct surface *surface = calloc(1, sizeof *surface);

	wl_list_init(&surface->frames);
	surface->id = ++n_surfaces;
	surface->resource = wl_resource_create(client, &wl_surface_interface,
					       wl_resource_get_version(resource), id);
	wl_resource_set_implementation(surface->resource, &surface_impl, surface,
				       surface_destroy_resource);
}

static void
handle_region_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
handle_region_rect(struct wl_client *client, struct wl_resource *resource,
		   int32_t x, int32_t y, int32_t width, int32_t height)
{
}

static const struct wl_region_interface region_impl = {
	.destroy = handle_region_destroy,
	.add = handle_region_rect,
	.subtract = handle_region_rect,
};

static void
handle_create_region(struct wl_client *client, struct wl_resource *resource,
		     uint32_t id)
{
	struct wl_resource *region;

	region = wl_resource_create(client, &wl_region_interface, 1, id);
	wl_resource_set_implementation(region, &region_impl, NULL, NULL);
}

static const struct wl_compositor_interface compositor_impl = {
	.create_surface = handle_create_surface,
	.create_region = handle_create_region,
};

static void
bind_compositor(struct wl_client *client, void *data, uint32_t version,
		uint32_t id)
{
	struct wl_resource *resource;

	resource = wl_resource_create(client, &wl_compositor_interface,
				      version, id);
	wl_resource_set_implementation(resource, &compositor_impl, NULL, NULL);
}

static struct wl_listener client_destroyed;

static void
handle_client_destroyed(struct wl_listener *listener, void *data)
{
	wl_display_terminate(display);
}

/* --socket: the first client is the one; any other is refused. */
static void
handle_client_created(struct wl_listener *listener, void *data)
{
	struct wl_client *client = data;

	if (the_client) {
		n_refused++;
		fprintf(stderr, "shm-compositor: refusing a second client\n");
		wl_client_destroy(client);
		return;
	}
	the_client = client;
	wl_event_source_timer_update(no_client_timer, 0);
	client_destroyed.notify = handle_client_destroyed;
	wl_client_add_destroy_listener(client, &client_destroyed);
}

static int
handle_no_client(void *data)
{
	fprintf(stderr, "shm-compositor: no client within %d s\n", *(int *)data);
	wl_display_terminate(display);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct wl_listener client_created = { .notify = handle_client_created };
	const char *socket_name = NULL;
	static int wait_s = 300;
	int fd = -1, arg = 1;

	if (argc >= 3 && strcmp(argv[1], "--socket") == 0) {
		socket_name = argv[2];
		arg = 3;
	} else if (argc >= 2 && argv[1][0] != '-') {
		fd = atoi(argv[1]);
		arg = 2;
	} else {
		fprintf(stderr, "usage: %s CLIENT-FD [LINE-PREFIX]\n"
			"       %s --socket NAME [LINE-PREFIX]\n", argv[0], argv[0]);
		return 2;
	}
	if (argc > arg)
		prefix = argv[arg];
	if (getenv("SHM_COMPOSITOR_CORRUPT_COMMIT"))
		corrupt_commit = (unsigned int)atoi(getenv("SHM_COMPOSITOR_CORRUPT_COMMIT"));

	display = wl_display_create();
	wl_global_create(display, &wl_compositor_interface, 4, NULL,
			 bind_compositor);
	wl_global_create(display, &wl_shm_interface, 1, NULL, bind_shm);

	if (socket_name) {
		wl_display_add_client_created_listener(display, &client_created);
		if (wl_display_add_socket(display, socket_name) < 0) {
			fprintf(stderr, "shm-compositor: cannot listen on %s in "
				"XDG_RUNTIME_DIR=%s: %s\n", socket_name,
				getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "(unset)",
				strerror(errno));
			return 1;
		}
		no_client_timer = wl_event_loop_add_timer(
			wl_display_get_event_loop(display), handle_no_client, &wait_s);
		wl_event_source_timer_update(no_client_timer, wait_s * 1000);
		printf("%scompositor listening on %s\n", prefix, socket_name);
		fflush(stdout);
	} else {
		the_client = wl_client_create(display, fd);
		if (!the_client) {
			fprintf(stderr, "shm-compositor: fd %d: %s\n", fd, strerror(errno));
			return 1;
		}
		client_destroyed.notify = handle_client_destroyed;
		wl_client_add_destroy_listener(the_client, &client_destroyed);
	}
	wl_display_run(display);
	if (no_client_timer)
		wl_event_source_remove(no_client_timer);

	printf("%scompositor pools=%u resizes=%u commits=%u pool_bytes=%llu "
	       "mapped_peak=%llu refused_clients=%u\n", prefix, n_pools, n_resizes,
	       n_commits, (unsigned long long)pool_bytes,
	       (unsigned long long)mapped_peak, n_refused);
	fflush(stdout);
	wl_display_destroy(display);
	return 0;
}
