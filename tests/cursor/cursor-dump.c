/*
 * Prints everything a client can learn from libwayland-cursor about a theme:
 * per cursor its frames, hot spots, delays, animation timing, and (through
 * the test compositor) the pixels of each buffer. Run once with the system
 * library and once with ours; the outputs must be identical.
 *
 * COMPOSITOR "-" connects with wl_display_connect(NULL) instead of starting
 * tests/cursor/shm-compositor on a socketpair: the compositor then runs on
 * its own (shm-compositor --socket) and its "commit" lines go to its own
 * output; here each committed buffer prints a line "  @commit" that
 * compare-through-virtgpu.sh replaces, in order, with the compositor's line.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>
#include <wayland-cursor.h>

#include "compositor-launch.h"

static struct wl_shm *shm;
static struct wl_compositor *compositor;

static void
handle_global(void *data, struct wl_registry *registry, uint32_t name,
	      const char *interface, uint32_t version)
{
	if (strcmp(interface, "wl_shm") == 0)
		shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	else if (strcmp(interface, "wl_compositor") == 0)
		compositor = wl_registry_bind(registry, name,
					      &wl_compositor_interface, 1);
}

static void
handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	handle_global,
	handle_global_remove,
};

/* Names to ask for: every file in the given folders plus a few extras. */
static char **names;
static size_t nnames, capnames;

static void
add_name(const char *name)
{
	if (nnames == capnames) {
		capnames = capnames ? capnames * 2 : 256;
		names = realloc(names, capnames * sizeof *names);
	}
	names[nnames++] = strdup(name);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
collect_names(const char *path)
{
	struct dirent *ent;
	DIR *dir = opendir(path);

	if (!dir) {
		fprintf(stderr, "cursor-dump: cannot list %s\n", path);
		exit(1);
	}
	while ((ent = readdir(dir)))
		if (ent->d_name[0] != '.')
			add_name(ent->d_name);
	closedir(dir);
}

/* Why the connection is gone: errno, or the protocol error the compositor sent. */
static void
report_connection_lost(struct wl_display *display, const char *where,
		       const char *what, unsigned int frame)
{
	const struct wl_interface *interface = NULL;
	uint32_t id = 0, code;
	int err = wl_display_get_error(display);

	if (err == EPROTO) {
		code = wl_display_get_protocol_error(display, &interface, &id);
		fprintf(stderr, "cursor-dump: connection lost at %s '%s' image %u: "
			"protocol error %u on %s#%u\n", where, what, frame, code,
			interface ? interface->name : "?", id);
	} else {
		fprintf(stderr, "cursor-dump: connection lost at %s '%s' image %u: %s\n",
			where, what, frame, strerror(err));
	}
}

static int
check_library(const char *expect)
{
	char real_lib[PATH_MAX], real_expect[PATH_MAX], real_client[PATH_MAX];
	Dl_info info;

	if (!dladdr((void *)wl_cursor_theme_load, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, real_lib) ||
	    !realpath(expect, real_expect)) {
		fprintf(stderr, "cursor-dump: cannot tell which libwayland-cursor is loaded\n");
		return -1;
	}
	fprintf(stderr, "cursor-dump: libwayland-cursor is %s\n", real_lib);
	/* Which client library carries it, for scripts to check. */
	if (dladdr((void *)wl_display_connect, &info) && info.dli_fname &&
	    realpath(info.dli_fname, real_client))
		fprintf(stderr, "cursor-dump: libwayland-client is %s\n", real_client);
	if (strncmp(real_lib, real_expect, strlen(real_expect)) != 0) {
		fprintf(stderr, "cursor-dump: expected a library under %s\n",
			real_expect);
		return -1;
	}
	return 0;
}

static void
dump_timing(struct wl_cursor *cursor)
{
	uint32_t total = 0, t, duration, times[64];
	unsigned int i, n = 0;
	int frame;

	for (i = 0; i < cursor->image_count; i++)
		total += cursor->images[i]->delay;

	times[n++] = 0;
	times[n++] = 1;
	for (i = 0, t = 0; i < cursor->image_count && n < 60; i++) {
		t += cursor->images[i]->delay;
		times[n++] = t - 1;
		times[n++] = t;
	}
	times[n++] = total * 3 + 7;
	times[n++] = UINT32_MAX - 5;

	printf("  timing");
	for (i = 0; i < n; i++) {
		frame = wl_cursor_frame_and_duration(cursor, times[i], &duration);
		printf(" %u:%d/%u", times[i], frame, duration);
		if (wl_cursor_frame(cursor, times[i]) != frame)
			printf("(frame differs)");
	}
	printf("\n");
}

int
main(int argc, char *argv[])
{
	struct wl_cursor_theme *theme;
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_surface *surface;
	struct wl_cursor *cursor;
	struct wl_cursor_image *image;
	struct wl_buffer *buffer;
	unsigned int i, present = 0, frames = 0;
	const char *theme_name;
	size_t n;
	pid_t pid = -1;
	int size, status;
	bool by_name;
	static const char *extra[] = {
		"left_ptr", "xterm", "hand1", "watch", "grabbing",
		"top_side", "bottom_side", "left_side", "right_side",
		"top_left_corner", "top_right_corner", "bottom_left_corner",
		"bottom_right_corner", "default", "text", "pointer",
		"no-such-cursor", "",
	};

	if (argc < 5) {
		fprintf(stderr, "usage: %s COMPOSITOR|- EXPECT-LIB-DIR THEME|- SIZE [NAME-DIR...]\n",
			argv[0]);
		return 2;
	}
	if (check_library(argv[2]) < 0)
		return 1;
	theme_name = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
	size = atoi(argv[4]);
	for (i = 5; i < (unsigned int)argc; i++)
		collect_names(argv[i]);
	for (i = 0; i < sizeof extra / sizeof extra[0]; i++)
		add_name(extra[i]);
	qsort(names, nnames, sizeof *names, compare_names);

	by_name = strcmp(argv[1], "-") == 0;
	if (by_name) {
		display = wl_display_connect(NULL);
		if (!display) {
			fprintf(stderr, "cursor-dump: cannot connect to %s\n",
				getenv("WAYLAND_DISPLAY") ? getenv("WAYLAND_DISPLAY") : "wayland-0");
			return 1;
		}
	} else {
		display = compositor_launch(argv[1], "", &pid, NULL);
		if (!display) {
			fprintf(stderr, "cursor-dump: cannot start %s\n", argv[1]);
			return 1;
		}
	}
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, NULL);
	wl_display_roundtrip(display);
	if (!shm || !compositor) {
		fprintf(stderr, "cursor-dump: compositor lacks wl_shm or wl_compositor\n");
		return 1;
	}
	surface = wl_compositor_create_surface(compositor);

	theme = wl_cursor_theme_load(theme_name, size, shm);
	if (!theme) {
		printf("theme %s size %d: load failed\n", argv[3], size);
		return 0;
	}
	printf("theme %s size %d\n", argv[3], size);

	for (n = 0; n < nnames; n++) {
		if (n > 0 && strcmp(names[n], names[n - 1]) == 0)
			continue;
		cursor = wl_cursor_theme_get_cursor(theme, names[n]);
		if (!cursor) {
			printf("cursor '%s' absent\n", names[n]);
			continue;
		}
		present++;
		printf("cursor '%s' name='%s' images=%u\n", names[n],
		       cursor->name, cursor->image_count);
		for (i = 0; i < cursor->image_count; i++) {
			image = cursor->images[i];
			printf("  image %u %ux%u hot=%u,%u delay=%u\n", i,
			       image->width, image->height, image->hotspot_x,
			       image->hotspot_y, image->delay);
			buffer = wl_cursor_image_get_buffer(image);
			if (!buffer || wl_cursor_image_get_buffer(image) != buffer) {
				printf("  image %u: no stable buffer\n", i);
				continue;
			}
			fflush(stdout);
			/* The compositor prints the pixels it sees on commit. */
			printf(by_name ? "  @commit\n" : "  ");
			fflush(stdout);
			wl_surface_attach(surface, buffer, 0, 0);
			wl_surface_commit(surface);
			if (wl_display_roundtrip(display) < 0) {
				report_connection_lost(display, "cursor", names[n], i);
				return 1;
			}
			frames++;
		}
		dump_timing(cursor);
	}

	wl_cursor_theme_destroy(theme);
	wl_surface_destroy(surface);
	/* Nothing of ours left behind: the sanitizer run counts leaks. */
	wl_shm_destroy(shm);
	wl_compositor_destroy(compositor);
	wl_registry_destroy(registry);
	if (wl_display_roundtrip(display) < 0) {
		report_connection_lost(display, "the", "end", 0);
		return 1;
	}
	if (by_name) {
		fflush(stdout);
		wl_display_disconnect(display);
		status = 0;
	} else {
		status = compositor_finish(display, pid);
	}
	printf("summary cursors=%u frames=%u\n", present, frames);
	fprintf(stderr, "cursor-dump: theme %s size %d: %u cursors, %u frames\n",
		argv[3], size, present, frames);
	for (n = 0; n < nnames; n++)
		free(names[n]);
	free(names);
	return status == 0 ? 0 : 1;
}
