/*
 * The host compositor of the virt tests, on the system's libwayland-server: a seat with a
 * keyboard (a memfd keymap), wl_shm whose committed pixels it checks, a working clipboard
 * (wl_data_device selection, offer.receive -> source.send), and filler globals so that the
 * registry alone takes several RECEIVEs.
 *   virt-compositor --socket NAME [--filler N]   (in $XDG_RUNTIME_DIR; SIGTERM ends it)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-server.h>

#include "virt-test.h"

struct vc_surface {
	struct wl_resource *resource;
	struct wl_resource *pending_buffer;
	struct wl_list frames;		/* wl_resource links of pending wl_callbacks */
};

static struct wl_list vc_data_devices;	/* wl_resource links */
static struct wl_resource *vc_selection;	/* the current wl_data_source */

static void
vc_destroy_request(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

/* --- wl_surface: pixels checked at commit ---------------------------------------------- */

static void
vc_surface_attach(struct wl_client *client, struct wl_resource *resource,
		  struct wl_resource *buffer, int32_t x, int32_t y)
{
	struct vc_surface *surface = wl_resource_get_user_data(resource);

	surface->pending_buffer = buffer;
}

static void
vc_surface_noop4(struct wl_client *client, struct wl_resource *resource, int32_t x, int32_t y,
		 int32_t w, int32_t h)
{
}

static void
vc_frame_free(struct wl_resource *resource)
{
	wl_list_remove(wl_resource_get_link(resource));
}

static void
vc_surface_frame(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct vc_surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb = wl_resource_create(client, &wl_callback_interface, 1, id);

	if (!cb) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(cb, NULL, NULL, vc_frame_free);
	wl_list_insert(surface->frames.prev, wl_resource_get_link(cb));
}

static void
vc_surface_commit(struct wl_client *client, struct wl_resource *resource)
{
	struct vc_surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb, *tmp;
	struct wl_shm_buffer *shm;

	if (surface->pending_buffer) {
		shm = wl_shm_buffer_get(surface->pending_buffer);
		if (shm) {
			int32_t w = wl_shm_buffer_get_width(shm), h = wl_shm_buffer_get_height(shm);
			int32_t stride = wl_shm_buffer_get_stride(shm);
			const uint8_t *data;
			int bad_x = -1, bad_y = -1;

			wl_shm_buffer_begin_access(shm);
			data = wl_shm_buffer_get_data(shm);
			for (int32_t y = 0; y < h && bad_x < 0; y++)
				for (int32_t x = 0; x < w; x++) {
					uint32_t px;
					memcpy(&px, data + (size_t)y * stride + 4 * x, 4);
					if (px != virt_test_pixel(x, y)) {
						bad_x = x;
						bad_y = y;
						break;
					}
				}
			wl_shm_buffer_end_access(shm);
			if (bad_x >= 0) {
				wl_resource_post_error(resource, 0, "wrong pixel at %d,%d",
						       bad_x, bad_y);
				return;
			}
		}
		wl_buffer_send_release(surface->pending_buffer);
		surface->pending_buffer = NULL;
	}
	wl_resource_for_each_safe(cb, tmp, &surface->frames) {
		wl_callback_send_done(cb, 1);
		wl_resource_destroy(cb);
	}
}

static void
vc_surface_noop_region(struct wl_client *client, struct wl_resource *resource,
		       struct wl_resource *region)
{
}

static void
vc_surface_noop_int(struct wl_client *client, struct wl_resource *resource, int32_t v)
{
}

static void
vc_surface_offset(struct wl_client *client, struct wl_resource *resource, int32_t x, int32_t y)
{
}

static const struct wl_surface_interface vc_surface_impl = {
	.destroy = vc_destroy_request,
	.attach = vc_surface_attach,
	.damage = vc_surface_noop4,
	.frame = vc_surface_frame,
	.set_opaque_region = vc_surface_noop_region,
	.set_input_region = vc_surface_noop_region,
	.commit = vc_surface_commit,
	.set_buffer_transform = vc_surface_noop_int,
	.set_buffer_scale = vc_surface_noop_int,
	.damage_buffer = vc_surface_noop4,
	.offset = vc_surface_offset,
};

static void
vc_surface_free(struct wl_resource *resource)
{
	struct vc_surface *surface = wl_resource_get_user_data(resource);
	struct wl_resource *cb, *tmp;

	wl_resource_for_each_safe(cb, tmp, &surface->frames)
		wl_resource_destroy(cb);
	free(surface);
}

static void
vc_compositor_create_surface(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct vc_surface *surface = calloc(1, sizeof *surface);

	if (!surface) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_list_init(&surface->frames);
	surface->resource = wl_resource_create(client, &wl_surface_interface,
					       wl_resource_get_version(resource), id);
	if (!surface->resource) {
		free(surface);
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(surface->resource, &vc_surface_impl, surface,
				       vc_surface_free);
}

static void
vc_compositor_create_region(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	wl_client_post_implementation_error(client, "regions are not implemented");
}

static const struct wl_compositor_interface vc_compositor_impl = {
	.create_surface = vc_compositor_create_surface,
	.create_region = vc_compositor_create_region,
};

static void
vc_compositor_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_compositor_interface, version, id);

	if (r)
		wl_resource_set_implementation(r, &vc_compositor_impl, NULL, NULL);
}

/* --- wl_seat with a keyboard ------------------------------------------------------------ */

static void
vc_keyboard_release(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct wl_keyboard_interface vc_keyboard_impl = {
	.release = vc_keyboard_release,
};

static void
vc_seat_get_keyboard(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct wl_resource *kb = wl_resource_create(client, &wl_keyboard_interface,
						    wl_resource_get_version(resource), id);
	char *keymap;
	int fd;

	if (!kb) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(kb, &vc_keyboard_impl, NULL, NULL);
	fd = memfd_create("virt-keymap", MFD_CLOEXEC);
	keymap = malloc(VIRT_TEST_KEYMAP_SIZE);
	if (fd < 0 || !keymap) {
		free(keymap);
		if (fd >= 0)
			close(fd);
		wl_client_post_no_memory(client);
		return;
	}
	virt_test_fill(keymap, VIRT_TEST_KEYMAP_SIZE, 0);
	if (write(fd, keymap, VIRT_TEST_KEYMAP_SIZE) != VIRT_TEST_KEYMAP_SIZE) {
		free(keymap);
		close(fd);
		wl_client_post_no_memory(client);
		return;
	}
	free(keymap);
	wl_keyboard_send_keymap(kb, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, fd, VIRT_TEST_KEYMAP_SIZE);
	close(fd);
	if (wl_resource_get_version(kb) >= 4)
		wl_keyboard_send_repeat_info(kb, 25, 600);
}

static void
vc_seat_get_none(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	wl_resource_post_error(resource, WL_SEAT_ERROR_MISSING_CAPABILITY, "keyboard only");
}

static const struct wl_seat_interface vc_seat_impl = {
	.get_pointer = vc_seat_get_none,
	.get_keyboard = vc_seat_get_keyboard,
	.get_touch = vc_seat_get_none,
	.release = vc_destroy_request,
};

static void
vc_seat_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_seat_interface, version, id);

	if (!r)
		return;
	wl_resource_set_implementation(r, &vc_seat_impl, NULL, NULL);
	wl_seat_send_capabilities(r, WL_SEAT_CAPABILITY_KEYBOARD);
	if (version >= 2)
		wl_seat_send_name(r, "virt-seat");
}

/* --- clipboard -------------------------------------------------------------------------- */

static void
vc_offer_accept(struct wl_client *client, struct wl_resource *resource, uint32_t serial,
		const char *mime)
{
}

static void
vc_offer_receive(struct wl_client *client, struct wl_resource *resource, const char *mime,
		 int32_t fd)
{
	/* The offer's data comes from the selection's source, whichever client owns it. */
	if (vc_selection)
		wl_data_source_send_send(vc_selection, mime, fd);
	close(fd);
}

static void
vc_offer_finish(struct wl_client *client, struct wl_resource *resource)
{
}

static void
vc_offer_set_actions(struct wl_client *client, struct wl_resource *resource, uint32_t actions,
		     uint32_t preferred)
{
}

static const struct wl_data_offer_interface vc_offer_impl = {
	.accept = vc_offer_accept,
	.receive = vc_offer_receive,
	.destroy = vc_destroy_request,
	.finish = vc_offer_finish,
	.set_actions = vc_offer_set_actions,
};

struct vc_source {
	char mimes[8][64];
	int num_mimes;
};

static void
vc_source_offer(struct wl_client *client, struct wl_resource *resource, const char *mime)
{
	struct vc_source *source = wl_resource_get_user_data(resource);

	if (source->num_mimes < 8)
		snprintf(source->mimes[source->num_mimes++], sizeof source->mimes[0], "%s", mime);
}

static void
vc_source_set_actions(struct wl_client *client, struct wl_resource *resource, uint32_t actions)
{
}

static const struct wl_data_source_interface vc_source_impl = {
	.offer = vc_source_offer,
	.destroy = vc_destroy_request,
	.set_actions = vc_source_set_actions,
};

static void
vc_source_free(struct wl_resource *resource)
{
	if (vc_selection == resource)
		vc_selection = NULL;
	free(wl_resource_get_user_data(resource));
}

static void
vc_device_start_drag(struct wl_client *client, struct wl_resource *resource,
		     struct wl_resource *source, struct wl_resource *origin,
		     struct wl_resource *icon, uint32_t serial)
{
}

static void
vc_device_set_selection(struct wl_client *client, struct wl_resource *resource,
			struct wl_resource *source, uint32_t serial)
{
	struct vc_source *src = source ? wl_resource_get_user_data(source) : NULL;
	struct wl_resource *device;

	vc_selection = source;
	/* Every data device learns of the new selection (as a focused client would). */
	wl_resource_for_each(device, &vc_data_devices) {
		struct wl_client *owner = wl_resource_get_client(device);
		struct wl_resource *offer = NULL;

		if (src) {
			offer = wl_resource_create(owner, &wl_data_offer_interface,
						   wl_resource_get_version(device), 0);
			if (!offer) {
				wl_client_post_no_memory(owner);
				continue;
			}
			wl_resource_set_implementation(offer, &vc_offer_impl, NULL, NULL);
			wl_data_device_send_data_offer(device, offer);
			for (int i = 0; i < src->num_mimes; i++)
				wl_data_offer_send_offer(offer, src->mimes[i]);
		}
		wl_data_device_send_selection(device, offer);
	}
}

static const struct wl_data_device_interface vc_device_impl = {
	.start_drag = vc_device_start_drag,
	.set_selection = vc_device_set_selection,
	.release = vc_destroy_request,
};

static void
vc_device_free(struct wl_resource *resource)
{
	wl_list_remove(wl_resource_get_link(resource));
}

static void
vc_manager_create_source(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
	struct vc_source *source = calloc(1, sizeof *source);
	struct wl_resource *r;

	r = source ? wl_resource_create(client, &wl_data_source_interface,
					wl_resource_get_version(resource), id) : NULL;
	if (!r) {
		free(source);
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(r, &vc_source_impl, source, vc_source_free);
}

static void
vc_manager_get_device(struct wl_client *client, struct wl_resource *resource, uint32_t id,
		      struct wl_resource *seat)
{
	struct wl_resource *r = wl_resource_create(client, &wl_data_device_interface,
						   wl_resource_get_version(resource), id);

	if (!r) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(r, &vc_device_impl, NULL, vc_device_free);
	wl_list_insert(&vc_data_devices, wl_resource_get_link(r));
}

static const struct wl_data_device_manager_interface vc_manager_impl = {
	.create_data_source = vc_manager_create_source,
	.get_data_device = vc_manager_get_device,
};

static void
vc_manager_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_data_device_manager_interface,
						   version, id);

	if (r)
		wl_resource_set_implementation(r, &vc_manager_impl, NULL, NULL);
}

/* --- filler globals: wl_output, bound by nobody ---------------------------------------- */

static void
vc_output_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_output_interface, version, id);

	if (r)
		wl_resource_set_implementation(r, NULL, NULL, NULL);
}

static int
vc_handle_term(int signal, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *socket_name = NULL;
	int filler = 0;
	struct wl_display *display;
	struct wl_event_loop *loop;
	struct wl_event_source *term, *intr;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_name = argv[++i];
		else if (strcmp(argv[i], "--filler") == 0 && i + 1 < argc)
			filler = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: virt-compositor --socket NAME [--filler N]\n");
			return 2;
		}
	}
	if (!socket_name) {
		fprintf(stderr, "virt-compositor: --socket NAME needed\n");
		return 2;
	}
	wl_list_init(&vc_data_devices);
	display = wl_display_create();
	if (!display || wl_display_add_socket(display, socket_name) < 0) {
		fprintf(stderr, "virt-compositor: cannot listen on %s: %s\n", socket_name,
			strerror(errno));
		return 1;
	}
	wl_display_init_shm(display);
	wl_global_create(display, &wl_compositor_interface, 4, NULL, vc_compositor_bind);
	wl_global_create(display, &wl_seat_interface, 5, NULL, vc_seat_bind);
	wl_global_create(display, &wl_data_device_manager_interface, 3, NULL, vc_manager_bind);
	for (int i = 0; i < filler; i++)
		wl_global_create(display, &wl_output_interface, 2, NULL, vc_output_bind);

	loop = wl_display_get_event_loop(display);
	term = wl_event_loop_add_signal(loop, SIGTERM, vc_handle_term, display);
	intr = wl_event_loop_add_signal(loop, SIGINT, vc_handle_term, display);
	signal(SIGPIPE, SIG_IGN);
	wl_display_run(display);
	wl_event_source_remove(term);
	wl_event_source_remove(intr);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	return 0;
}
