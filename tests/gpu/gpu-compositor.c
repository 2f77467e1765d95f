/*
 * The host compositor of the GPU-path tests, on the system's libwayland-server: linux-dmabuf
 * (offered at v5) with default feedback naming a device only the host has and a format table
 * in a memfd, wl_drm v2 naming that device's path, and the globals whose fds cannot cross
 * the virtio-gpu channel (by name), and wl_compositor whose surfaces check at each commit
 * that the attached dma-buf holds exactly what the client drew (gpu_word). Binding wl_drm
 * removes two of those globals again, so that global_remove is seen too. --mode makes the feedback wrong on purpose (gpu-test.h).
 *   gpu-compositor --socket NAME [--mode MODE]   (in $XDG_RUNTIME_DIR; SIGTERM ends it)
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-server.h>

#include "gpu-test.h"
#include "linux-dmabuf-unstable-v1-server-protocol.h"
#include "wl-drm-server-protocol.h"

static enum gpu_mode mode;
static struct wl_global *fd_globals[GPU_FD_GLOBALS];
static struct wl_interface fd_interfaces[GPU_FD_GLOBALS];

static void
destroy_request(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
send_array(struct wl_resource *resource,
	   void (*send)(struct wl_resource *, struct wl_array *),
	   const void *data, size_t size)
{
	struct wl_array array;

	wl_array_init(&array);
	memcpy(wl_array_add(&array, size), data, size);
	send(resource, &array);
	wl_array_release(&array);
}

static void
send_format_table(struct wl_resource *feedback)
{
	uint32_t size = sizeof gpu_table;
	int fd = memfd_create("gpu-format-table", MFD_CLOEXEC);

	if (mode == GPU_MODE_ODD_TABLE)
		size = 40;
	if (fd < 0 || ftruncate(fd, sizeof gpu_table) < 0 ||
	    pwrite(fd, gpu_table, sizeof gpu_table, 0) != (ssize_t) sizeof gpu_table) {
		perror("gpu-compositor: format table");
		exit(1);
	}
	zwp_linux_dmabuf_feedback_v1_send_format_table(feedback, fd, size);
	close(fd);
}

/* One feedback round: the table, the (host's) device, one tranche. */
static void
send_feedback(struct wl_resource *feedback)
{
	dev_t device = GPU_HOST_DEVICE;
	uint16_t indices[] = { 0, 1, 2, 7, 300 };
	size_t nindices = GPU_TABLE_ENTRIES;

	send_format_table(feedback);
	send_array(feedback, zwp_linux_dmabuf_feedback_v1_send_main_device, &device,
		   mode == GPU_MODE_SHORT_DEVICE ? 4 : sizeof device);
	send_array(feedback, zwp_linux_dmabuf_feedback_v1_send_tranche_target_device,
		   &device, sizeof device);
	if (mode == GPU_MODE_BAD_INDICES)
		nindices = 5;
	send_array(feedback, zwp_linux_dmabuf_feedback_v1_send_tranche_formats, indices,
		   mode == GPU_MODE_ODD_TRANCHE ? 3 : nindices * sizeof indices[0]);
	zwp_linux_dmabuf_feedback_v1_send_tranche_flags(feedback, 0);
	zwp_linux_dmabuf_feedback_v1_send_tranche_done(feedback);
	zwp_linux_dmabuf_feedback_v1_send_done(feedback);
}

static const struct zwp_linux_dmabuf_feedback_v1_interface feedback_impl = {
	.destroy = destroy_request,
};

static void
get_feedback(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct wl_resource *feedback = wl_resource_create(client,
		&zwp_linux_dmabuf_feedback_v1_interface,
		wl_resource_get_version(resource), id);

	if (feedback == NULL) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(feedback, &feedback_impl, NULL, NULL);
	send_feedback(feedback);
}

static void
get_surface_feedback(struct wl_client *client, struct wl_resource *resource, uint32_t id,
		     struct wl_resource *surface)
{
	get_feedback(client, resource, id);
}

/* --- dma-buf buffers: pixels checked at commit ------------------------------------------ */

struct gpu_buffer {
	int fd;
	int32_t width, height;
	uint32_t stride, offset, format;
	uint32_t number;	/* the client's nth buffer: what it must hold (gpu_word) */
};

/* Buffers made so far (the tests run one client). */
static uint32_t buffers_made;

/* Planes as linux-dmabuf allows (4); the buffers here use plane 0 only, the others are
 * checked as upstream compositors check them. */
#define GPU_MAX_PLANES 4

struct gpu_params {
	int fd;			/* plane 0 */
	uint32_t stride, offset;
	int other_fds[GPU_MAX_PLANES];	/* planes 1-3 */
	bool used;
};

static void
buffer_free(struct wl_resource *resource)
{
	struct gpu_buffer *buffer = wl_resource_get_user_data(resource);

	close(buffer->fd);
	free(buffer);
}

static const struct wl_buffer_interface buffer_impl = {
	.destroy = destroy_request,
};

static void
params_free(struct wl_resource *resource)
{
	struct gpu_params *params = wl_resource_get_user_data(resource);
	int i;

	if (params->fd >= 0)
		close(params->fd);
	for (i = 1; i < GPU_MAX_PLANES; i++) {
		if (params->other_fds[i] >= 0)
			close(params->other_fds[i]);
	}
	free(params);
}

/* As weston and wlroots answer: an index past the last plane, a plane given twice. */
static void
params_add(struct wl_client *client, struct wl_resource *resource, int32_t fd,
	   uint32_t plane, uint32_t offset, uint32_t stride, uint32_t modifier_hi,
	   uint32_t modifier_lo)
{
	struct gpu_params *params = wl_resource_get_user_data(resource);
	int *slot;

	if (params->used) {
		close(fd);
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_ALREADY_USED,
				       "gpu-compositor: params already used");
		return;
	}
	if (plane >= GPU_MAX_PLANES) {
		close(fd);
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_IDX,
				       "gpu-compositor: plane index %u is too high", plane);
		return;
	}
	slot = plane == 0 ? &params->fd : &params->other_fds[plane];
	if (*slot >= 0) {
		close(fd);
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_SET,
				       "gpu-compositor: a dmabuf was already added for plane %u",
				       plane);
		return;
	}
	*slot = fd;
	if (plane == 0) {
		params->stride = stride;
		params->offset = offset;
	}
}

/* A buffer of the params' plane, or NULL after an error posted. */
static struct wl_resource *
params_buffer(struct wl_client *client, struct wl_resource *resource, uint32_t id,
	      int32_t width, int32_t height, uint32_t format)
{
	struct gpu_params *params = wl_resource_get_user_data(resource);
	struct gpu_buffer *buffer;
	struct wl_resource *buffer_resource;

	if (params->fd < 0 && !params->used) {
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE,
				       "gpu-compositor: no dmabuf was added for plane 0");
		return NULL;
	}
	if (params->used || params->fd < 0 || width <= 0 || height <= 0 ||
	    params->stride < (uint32_t) width * 4 || params->stride % 4 || params->offset % 4) {
		wl_resource_post_error(resource, ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE,
				       "gpu-compositor: bad params");
		return NULL;
	}
	buffer = calloc(1, sizeof *buffer);
	buffer_resource = wl_resource_create(client, &wl_buffer_interface, 1, id);
	if (buffer == NULL || buffer_resource == NULL) {
		free(buffer);
		wl_client_post_no_memory(client);
		return NULL;
	}
	*buffer = (struct gpu_buffer) { params->fd, width, height, params->stride,
					params->offset, format, buffers_made++ };
	params->fd = -1;
	params->used = true;
	wl_resource_set_implementation(buffer_resource, &buffer_impl, buffer, buffer_free);
	return buffer_resource;
}

static void
params_create(struct wl_client *client, struct wl_resource *resource, int32_t width,
	      int32_t height, uint32_t format, uint32_t flags)
{
	struct wl_resource *buffer = params_buffer(client, resource, 0, width, height, format);

	if (buffer)
		zwp_linux_buffer_params_v1_send_created(resource, buffer);
}

static void
params_create_immed(struct wl_client *client, struct wl_resource *resource, uint32_t id,
		    int32_t width, int32_t height, uint32_t format, uint32_t flags)
{
	params_buffer(client, resource, id, width, height, format);
}

static const struct zwp_linux_buffer_params_v1_interface params_impl = {
	.destroy = destroy_request,
	.add = params_add,
	.create = params_create,
	.create_immed = params_create_immed,
};

static void
create_params(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct gpu_params *params = calloc(1, sizeof *params);
	struct wl_resource *params_resource = wl_resource_create(client,
		&zwp_linux_buffer_params_v1_interface, wl_resource_get_version(resource), id);

	if (params == NULL || params_resource == NULL) {
		free(params);
		wl_client_post_no_memory(client);
		return;
	}
	params->fd = -1;
	for (int i = 0; i < GPU_MAX_PLANES; i++)
		params->other_fds[i] = -1;
	wl_resource_set_implementation(params_resource, &params_impl, params, params_free);
}

/* A committed buffer must hold exactly what the client drew (gpu_word): the first word that
 * differs is described in why. A buffer committed before its rendering ended shows zeros. */
static bool
buffer_drawn(const struct gpu_buffer *buffer, char *why, size_t why_size)
{
	size_t size = (size_t) buffer->offset + (size_t) buffer->stride * buffer->height;
	const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_SHARED, buffer->fd, 0);
	bool drawn = map != MAP_FAILED;
	int32_t x, y;

	if (!drawn)
		snprintf(why, why_size, "buffer %u cannot be mapped", buffer->number);
	if (buffer->offset != gpu_offset_rows(buffer->number) * buffer->stride) {
		snprintf(why, why_size, "buffer %u at offset %u, not %u", buffer->number,
			 buffer->offset, gpu_offset_rows(buffer->number) * buffer->stride);
		drawn = false;
	}
	for (y = 0; drawn && y < buffer->height; y++) {
		size_t first = (buffer->offset + (size_t) y * buffer->stride) / 4;
		const uint32_t *row = (const uint32_t *) map + first;

		for (x = 0; drawn && x < buffer->width; x++) {
			uint32_t want = gpu_word(buffer->number, first + (size_t) x);

			if (row[x] != want) {
				snprintf(why, why_size, "buffer %u: pixel (%d,%d) is 0x%08x, "
					 "not 0x%08x", buffer->number, x, y, row[x], want);
				drawn = false;
			}
		}
	}
	if (map != MAP_FAILED)
		munmap((void *) map, size);
	return drawn;
}

static void
surface_attach(struct wl_client *client, struct wl_resource *resource,
	       struct wl_resource *buffer, int32_t x, int32_t y)
{
	wl_resource_set_user_data(resource, buffer);
}

static void
surface_commit(struct wl_client *client, struct wl_resource *resource)
{
	struct wl_resource *buffer_resource = wl_resource_get_user_data(resource);
	struct gpu_buffer *buffer;
	char why[128];

	if (buffer_resource == NULL)
		return;
	wl_resource_set_user_data(resource, NULL);
	buffer = wl_resource_get_user_data(buffer_resource);
	if (!buffer_drawn(buffer, why, sizeof why)) {
		fprintf(stderr, "gpu-compositor: %s\n", why);
		wl_resource_post_error(resource, WL_SURFACE_ERROR_INVALID_SIZE,
				       "gpu-compositor: %s", why);
	} else {
		wl_buffer_send_release(buffer_resource);
	}
}

static void
surface_noop4(struct wl_client *client, struct wl_resource *resource, int32_t x, int32_t y,
	      int32_t w, int32_t h)
{
}

static const struct wl_surface_interface surface_impl = {
	.destroy = destroy_request,
	.attach = surface_attach,
	.damage = surface_noop4,
	.commit = surface_commit,
	.damage_buffer = surface_noop4,
};

static void
compositor_create_surface(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct wl_resource *surface = wl_resource_create(client, &wl_surface_interface,
							 wl_resource_get_version(resource), id);

	if (surface)
		wl_resource_set_implementation(surface, &surface_impl, NULL, NULL);
}

static const struct wl_compositor_interface compositor_impl = {
	.create_surface = compositor_create_surface,
};

static void
bind_compositor(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource = wl_resource_create(client, &wl_compositor_interface,
							  (int) version, id);

	if (resource)
		wl_resource_set_implementation(resource, &compositor_impl, NULL, NULL);
}

static const struct zwp_linux_dmabuf_v1_interface dmabuf_impl = {
	.destroy = destroy_request,
	.create_params = create_params,
	.get_default_feedback = get_feedback,
	.get_surface_feedback = get_surface_feedback,
};

static void
bind_dmabuf(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource = wl_resource_create(client,
		&zwp_linux_dmabuf_v1_interface, (int) version, id);

	if (resource)
		wl_resource_set_implementation(resource, &dmabuf_impl, NULL, NULL);
}

static void
drm_authenticate(struct wl_client *client, struct wl_resource *resource, uint32_t magic)
{
	wl_drm_send_authenticated(resource);
}

static const struct wl_drm_interface drm_impl = {
	.authenticate = drm_authenticate,
};

/* Binding wl_drm also removes the first two fd globals: global_remove for names the
 * guest was never told of must not reach it. */
static void
bind_drm(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource = wl_resource_create(client, &wl_drm_interface,
							  (int) version, id);
	int i;

	if (resource == NULL)
		return;
	wl_resource_set_implementation(resource, &drm_impl, NULL, NULL);
	wl_drm_send_device(resource, GPU_HOST_DEVICE_PATH);
	wl_drm_send_format(resource, gpu_table[0].format);
	if (version >= 2)
		wl_drm_send_capabilities(resource, 1);	/* PRIME */
	for (i = 0; i < 2; i++) {
		if (fd_globals[i]) {
			wl_global_destroy(fd_globals[i]);
			fd_globals[i] = NULL;
		}
	}
}

static void
bind_nothing(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	wl_client_post_implementation_error(client, "gpu-compositor: %s is offered by name only",
					    (const char *) data);
}

static int
on_term(int signal, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct wl_interface dmabuf_v5;
	const char *socket = NULL;
	struct wl_event_source *term;
	struct wl_display *display;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc &&
			 gpu_mode_parse(argv[i + 1]) >= 0)
			mode = (enum gpu_mode) gpu_mode_parse(argv[++i]);
		else {
			fprintf(stderr, "usage: gpu-compositor --socket NAME [--mode MODE]\n");
			return 2;
		}
	}
	display = wl_display_create();
	if (display == NULL || socket == NULL || wl_display_add_socket(display, socket) < 0) {
		fprintf(stderr, "gpu-compositor: cannot listen on %s\n", socket ? socket : "?");
		return 1;
	}
	term = wl_event_loop_add_signal(wl_display_get_event_loop(display), SIGTERM, on_term,
					display);

	/* The protocol header says v4; the host offers v5, as newer compositors do. */
	dmabuf_v5 = zwp_linux_dmabuf_v1_interface;
	dmabuf_v5.version = GPU_DMABUF_VERSION;
	wl_global_create(display, &dmabuf_v5, GPU_DMABUF_VERSION, NULL, bind_dmabuf);
	wl_global_create(display, &wl_drm_interface, 2, NULL, bind_drm);
	wl_global_create(display, &wl_compositor_interface, 4, NULL, bind_compositor);
	for (i = 0; i < GPU_FD_GLOBALS; i++) {
		fd_interfaces[i] = (struct wl_interface) { .name = gpu_fd_globals[i], .version = 1 };
		fd_globals[i] = wl_global_create(display, &fd_interfaces[i], 1,
						 (void *) gpu_fd_globals[i], bind_nothing);
	}

	wl_display_run(display);
	wl_event_source_remove(term);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	return 0;
}
