/*
 * keymap-dump: binds the first wl_seat, waits for wl_keyboard.keymap and
 * reads the keymap the way xkbcommon does (mmap MAP_PRIVATE of the fd), then
 * prints one line: "keymap format=F size=N fnv1a64=H head=... tail_nul=0|1",
 * then "maps: PATH..." with the libwayland-client (and simulated kernel) it
 * runs on. The virtgpu tests compare the first line from a guest with a
 * direct run's; the second stands in for /proc/PID/maps of a short life.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wayland-client.h"
#include "wayland-client-protocol.h"

struct keymap_dump {
	struct wl_seat *seat;
	struct wl_keyboard *keyboard;
	uint32_t capabilities;
	int done;
	int status;
};

static uint64_t
fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The files this process maps whose path contains one of the names. */
static void
print_maps(void)
{
	static const char *const names[] = {
		"/libwayland-client.so", "/libvirtgpu-sim-kernel.so",
	};
	char line[4096], seen[8][1024];
	int nseen = 0, i, j;
	FILE *f = fopen("/proc/self/maps", "r");

	printf("maps:");
	while (f && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (path == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		for (i = 0; i < 2; i++) {
			if (strstr(path, names[i]) == NULL)
				continue;
			for (j = 0; j < nseen && strcmp(seen[j], path) != 0; j++)
				;
			if (j == nseen && nseen < 8) {
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", path);
				printf(" %s", path);
			}
		}
	}
	printf("\n");
	if (f)
		fclose(f);
}

static void
handle_keymap(void *data, struct wl_keyboard *keyboard, uint32_t format,
	      int32_t fd, uint32_t size)
{
	struct keymap_dump *d = data;
	char head[17];
	unsigned char *map;
	size_t i;

	d->done = 1;
	if (size == 0) {
		fprintf(stderr, "keymap-dump: keymap of size 0 (format %u)\n", format);
		d->status = 1;
		close(fd);
		return;
	}
	/* As xkbcommon's users do: a private, read-only mapping of the fd. */
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "keymap-dump: mmap(MAP_PRIVATE) of the keymap fd "
			"(size %u) failed: %s\n", size, strerror(errno));
		d->status = 1;
		close(fd);
		return;
	}
	for (i = 0; i < sizeof(head) - 1 && i < size; i++)
		head[i] = (map[i] >= 0x20 && map[i] < 0x7f) ? (char)map[i] : '.';
	head[i] = '\0';
	printf("keymap format=%u size=%u fnv1a64=%016" PRIx64 " head=%s tail_nul=%d\n",
	       format, size, fnv1a64(map, size), head, map[size - 1] == '\0');
	fflush(stdout);
	munmap(map, size);
	close(fd);
}

static void
handle_enter(void *data, struct wl_keyboard *keyboard, uint32_t serial,
	     struct wl_surface *surface, struct wl_array *keys)
{
}

static void
handle_leave(void *data, struct wl_keyboard *keyboard, uint32_t serial,
	     struct wl_surface *surface)
{
}

static void
handle_key(void *data, struct wl_keyboard *keyboard, uint32_t serial,
	   uint32_t time, uint32_t key, uint32_t state)
{
}

static void
handle_modifiers(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		 uint32_t depressed, uint32_t latched, uint32_t locked,
		 uint32_t group)
{
}

static void
handle_repeat_info(void *data, struct wl_keyboard *keyboard, int32_t rate,
		   int32_t delay)
{
}

static const struct wl_keyboard_listener keyboard_listener = {
	.keymap = handle_keymap,
	.enter = handle_enter,
	.leave = handle_leave,
	.key = handle_key,
	.modifiers = handle_modifiers,
	.repeat_info = handle_repeat_info,
};

static void
handle_capabilities(void *data, struct wl_seat *seat, uint32_t caps)
{
	struct keymap_dump *d = data;

	d->capabilities = caps;
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && d->keyboard == NULL) {
		d->keyboard = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(d->keyboard, &keyboard_listener, d);
	}
}

static void
handle_name(void *data, struct wl_seat *seat, const char *name)
{
}

static const struct wl_seat_listener seat_listener = {
	.capabilities = handle_capabilities,
	.name = handle_name,
};

static void
handle_global(void *data, struct wl_registry *registry, uint32_t name,
	      const char *interface, uint32_t version)
{
	struct keymap_dump *d = data;

	if (strcmp(interface, wl_seat_interface.name) == 0 && d->seat == NULL) {
		d->seat = wl_registry_bind(registry, name, &wl_seat_interface,
					   version < 5 ? version : 5);
		wl_seat_add_listener(d->seat, &seat_listener, d);
	}
}

static void
handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

int
main(void)
{
	struct keymap_dump d = { 0 };
	struct wl_display *display;
	struct wl_registry *registry;
	int i;

	display = wl_display_connect(NULL);
	if (display == NULL) {
		fprintf(stderr, "keymap-dump: cannot connect: %s\n", strerror(errno));
		return 1;
	}
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, &d);
	/* globals, then capabilities, then the keymap: a few roundtrips. */
	for (i = 0; i < 4 && !d.done; i++) {
		if (wl_display_roundtrip(display) < 0) {
			fprintf(stderr, "keymap-dump: roundtrip failed: %s\n",
				strerror(errno));
			return 1;
		}
	}
	if (!d.done) {
		fprintf(stderr, "keymap-dump: no keymap (seat %s, capabilities 0x%x)\n",
			d.seat ? "bound" : "missing", d.capabilities);
		return 1;
	}
	print_maps();
	if (d.keyboard)
		wl_keyboard_release(d.keyboard);
	if (d.seat)
		wl_seat_release(d.seat);
	wl_registry_destroy(registry);
	wl_display_disconnect(display);
	return d.status;
}
