/*
 * The host compositor of the GPU-path tests, on the system's libwayland-server: linux-dmabuf
 * (offered at v5) with default feedback naming a device only the host has and a format table
 * in a memfd, wl_drm v2 naming that device's path, and the globals whose fds cannot cross
 * the virtio-gpu channel (by name). Binding wl_drm removes two of those globals again, so
 * that global_remove is seen too. --mode makes the feedback wrong on purpose (gpu-test.h).
 *   gpu-compositor --socket NAME [--mode MODE]   (in $XDG_RUNTIME_DIR; SIGTERM ends it)
 */
#include <signal.h>
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

static void
create_params(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	wl_resource_post_error(resource, 0, "gpu-compositor: buffers are not tested here");
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
	wl_event_loop_add_signal(wl_display_get_event_loop(display), SIGTERM, on_term, display);

	/* The protocol header says v4; the host offers v5, as newer compositors do. */
	dmabuf_v5 = zwp_linux_dmabuf_v1_interface;
	dmabuf_v5.version = GPU_DMABUF_VERSION;
	wl_global_create(display, &dmabuf_v5, GPU_DMABUF_VERSION, NULL, bind_dmabuf);
	wl_global_create(display, &wl_drm_interface, 2, NULL, bind_drm);
	for (i = 0; i < GPU_FD_GLOBALS; i++) {
		fd_interfaces[i] = (struct wl_interface) { .name = gpu_fd_globals[i], .version = 1 };
		fd_globals[i] = wl_global_create(display, &fd_interfaces[i], 1,
						 (void *) gpu_fd_globals[i], bind_nothing);
	}

	wl_display_run(display);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	return 0;
}
