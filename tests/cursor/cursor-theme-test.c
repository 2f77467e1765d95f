/*
 * Behaviour of our libwayland-cursor on theme trees made for the test:
 * Inherits loops and chains, broken and odd files next to good ones, nominal
 * size choice, animation timing, the drawn fallback theme, absurd sizes, and
 * pool growth as the test compositor sees it.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wayland-client.h>
#include <wayland-cursor.h>

#include "compositor-launch.h"
#include "xcursor-writer.h"

static const char *compositor_path;
static char root[64];
static unsigned int passed, failed;

static struct wl_display *display;
static struct wl_shm *shm;
static struct wl_compositor *compositor;
static pid_t compositor_pid;
static int compositor_output;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

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

static void
connect_compositor(void)
{
	struct wl_registry *registry;

	display = compositor_launch(compositor_path, "", &compositor_pid,
				    &compositor_output);
	if (!display) {
		fprintf(stderr, "FAIL: cannot start %s\n", compositor_path);
		exit(1);
	}
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, NULL);
	wl_display_roundtrip(display);
	wl_registry_destroy(registry);
	if (!shm || !compositor) {
		fprintf(stderr, "FAIL: test compositor offers no wl_shm\n");
		exit(1);
	}
}

/* Ends the connection and returns what the compositor printed. */
static char *
disconnect_compositor(void)
{
	static char out[1 << 16];
	ssize_t n, total = 0;
	int status;

	check(wl_display_roundtrip(display) >= 0,
	      "protocol error from the compositor: %d",
	      wl_display_get_error(display));
	wl_shm_destroy(shm);
	wl_compositor_destroy(compositor);
	shm = NULL;
	compositor = NULL;
	status = compositor_finish(display, compositor_pid);
	while ((n = read(compositor_output, out + total,
			 sizeof out - 1 - (size_t)total)) > 0)
		total += n;
	out[total] = '\0';
	close(compositor_output);
	check(status == 0, "compositor exit status %d", status);
	return out;
}

static void
make_dir(const char *fmt, const char *arg)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, fmt, root, arg);
	if (mkdir(path, 0755) < 0) {
		perror(path);
		exit(1);
	}
}

static void
write_text(const char *theme, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/index.theme", root, theme);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
write_cursor(const char *theme, const char *name, const uint8_t *data,
	     size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s/cursors/%s", root, theme, name);
	if (xcw_write_file(path, data, len) < 0) {
		perror(path);
		exit(1);
	}
}

static const struct xcw_image animated[] = {
	{ 24, 20, 22, 1, 2, 50, 0xff0000ff },
	{ 24, 20, 22, 1, 2, 60, 0xff00ff00 },
	{ 24, 20, 22, 1, 2, 70, 0xffff0000 },
	{ 24, 20, 22, 1, 2, 80, 0xffffffff },
	{ 48, 40, 44, 2, 4, 100, 0xff000000 },
	{ 48, 40, 44, 2, 4, 100, 0xffffffff },
};

static const struct xcw_image multisize[] = {
	{ 16, 16, 16, 1, 1, 0, 0xff102030 },
	{ 24, 24, 24, 2, 2, 0, 0xff405060 },
	{ 32, 32, 32, 3, 3, 0, 0x80404040 },
};

static void
make_themes(void)
{
	char path[PATH_MAX], target[PATH_MAX];
	uint8_t *file;
	size_t len;
	int i;

	snprintf(root, sizeof root, "/tmp/cursor-theme-test-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	make_dir("%s/%s", "good");
	make_dir("%s/%s/cursors", "good");
	make_dir("%s/%s", "loop-a");
	make_dir("%s/%s", "loop-b");
	make_dir("%s/%s", "self");
	make_dir("%s/%s", "empty");
	make_dir("%s/%s/cursors", "empty");
	write_text("loop-a", "[Icon Theme]\nName=A\nInherits = loop-b\n");
	write_text("loop-b", "[Icon Theme]\nInherits=loop-a, ;;loop-b,good\n");
	write_text("self", "[Icon Theme]\nInherits=self,\tself good\nInherits=nothing\n");

	/* A chain longer than the walk allows; its end is never reached. */
	for (i = 0; i < 100; i++) {
		char name[32], text[64];

		snprintf(name, sizeof name, "chain%d", i);
		make_dir("%s/%s", name);
		snprintf(text, sizeof text, "[Icon Theme]\nInherits=chain%d\n", i + 1);
		write_text(name, text);
	}

	file = xcw_build(animated, 6, &len);
	write_cursor("good", "left_ptr", file, len);
	/* The same file broken in several ways, each under its own name. */
	write_cursor("good", "truncated", file,
		     xcw_chunk_offset(animated, 6, 3) + 40);
	write_cursor("good", "empty-file", file, 0);
	xcw_put32(file, xcw_chunk_offset(animated, 6, 3) + 20, 0x8000);
	xcw_put32(file, xcw_chunk_offset(animated, 6, 4) + 20, 0x8000);
	write_cursor("good", "frame-too-tall", file, len);
	xcw_put32(file, 12, 0xffffffff);
	write_cursor("good", "absurd-count", file, len);
	free(file);

	file = xcw_build(multisize, 3, &len);
	write_cursor("good", "xterm", file, len);
	free(file);

	snprintf(path, sizeof path, "%s/good/cursors/arrow", root);
	check(symlink("left_ptr", path) == 0, "symlink arrow");
	snprintf(path, sizeof path, "%s/good/cursors/dangling", root);
	check(symlink("nowhere", path) == 0, "symlink dangling");
	snprintf(path, sizeof path, "%s/good/cursors/selfloop", root);
	check(symlink("selfloop", path) == 0, "symlink selfloop");
	snprintf(path, sizeof path, "%s/good/cursors/fifo", root);
	check(mkfifo(path, 0644) == 0, "mkfifo");
	snprintf(path, sizeof path, "%s/good/cursors/folder", root);
	check(mkdir(path, 0755) == 0, "mkdir folder");
	snprintf(target, sizeof target, "%s/good/cursors", root);
	snprintf(path, sizeof path, "%s/good/cursors/folder-link", root);
	check(symlink(target, path) == 0, "symlink folder");
}

static void
remove_themes(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

static void
check_frames(struct wl_cursor *cursor, const char *what, unsigned int count,
	     uint32_t width, uint32_t height)
{
	unsigned int i;

	check(cursor != NULL, "%s: missing", what);
	if (!cursor)
		return;
	check(cursor->image_count == count, "%s: %u frames, want %u", what,
	      cursor->image_count, count);
	for (i = 0; i < cursor->image_count; i++) {
		check(cursor->images[i]->width == width &&
		      cursor->images[i]->height == height,
		      "%s: frame %u is %ux%u, want %ux%u", what, i,
		      cursor->images[i]->width, cursor->images[i]->height,
		      width, height);
		check(wl_cursor_image_get_buffer(cursor->images[i]) != NULL,
		      "%s: frame %u has no buffer", what, i);
	}
}

static void
test_hostile_tree(const char *theme, int size)
{
	static const char *refused[] = {
		"truncated", "empty-file", "frame-too-tall", "absurd-count",
		"dangling", "selfloop", "fifo", "folder", "folder-link",
	};
	struct wl_cursor_theme *t;
	struct wl_cursor *c;
	uint32_t duration;
	unsigned int i;
	int frame;

	connect_compositor();
	t = wl_cursor_theme_load(theme, size, shm);
	check(t != NULL, "theme %s size %d: load failed", theme, size);
	if (!t) {
		disconnect_compositor();
		return;
	}
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		check(wl_cursor_theme_get_cursor(t, refused[i]) == NULL,
		      "theme %s: broken cursor '%s' was loaded", theme, refused[i]);

	if (size == 24) {
		check_frames(wl_cursor_theme_get_cursor(t, "left_ptr"),
			     "left_ptr@24", 4, 20, 22);
		check_frames(wl_cursor_theme_get_cursor(t, "arrow"),
			     "arrow@24", 4, 20, 22);
		check_frames(wl_cursor_theme_get_cursor(t, "xterm"),
			     "xterm@24", 1, 24, 24);
		c = wl_cursor_theme_get_cursor(t, "left_ptr");
		if (c) {
			static const uint32_t times[][3] = {
				/* time, frame, ms left */
				{ 0, 0, 50 }, { 49, 0, 1 }, { 50, 1, 60 },
				{ 55, 1, 55 }, { 179, 2, 1 }, { 259, 3, 1 },
				{ 260, 0, 50 }, { 260 * 1000 + 111, 2, 69 },
			};
			for (i = 0; i < sizeof times / sizeof times[0]; i++) {
				frame = wl_cursor_frame_and_duration(c, times[i][0],
								     &duration);
				check(frame == (int)times[i][1] &&
				      duration == times[i][2],
				      "left_ptr at %u ms: frame %d for %u ms, want %u for %u",
				      times[i][0], frame, duration, times[i][1],
				      times[i][2]);
			}
		}
	} else {
		check_frames(wl_cursor_theme_get_cursor(t, "left_ptr"),
			     "left_ptr@40", 2, 40, 44);
		check_frames(wl_cursor_theme_get_cursor(t, "xterm"),
			     "xterm@40", 1, 32, 32);
	}
	wl_cursor_theme_destroy(t);
	disconnect_compositor();
	printf("theme %s size %d: loops, broken files and odd entries handled\n",
	       theme, size);
}

static void
test_fallback(int size, uint32_t want)
{
	static const char *names[] = {
		"bottom_left_corner", "bottom_right_corner", "bottom_side",
		"grabbing", "left_ptr", "left_side", "right_side",
		"top_left_corner", "top_right_corner", "top_side", "xterm",
		"hand1", "watch",
	};
	struct wl_cursor_theme *t;
	struct wl_cursor *c;
	struct wl_surface *surface;
	char *out;
	unsigned int i;

	connect_compositor();
	surface = wl_compositor_create_surface(compositor);
	t = wl_cursor_theme_load("no-such-theme", size, shm);
	check(t != NULL, "fallback theme at size %d: load failed", size);
	for (i = 0; t && i < sizeof names / sizeof names[0]; i++) {
		c = wl_cursor_theme_get_cursor(t, names[i]);
		check_frames(c, names[i], 1, want, want);
		if (!c)
			continue;
		check(c->images[0]->hotspot_x < want &&
		      c->images[0]->hotspot_y < want,
		      "%s: hot spot outside", names[i]);
		wl_surface_attach(surface, wl_cursor_image_get_buffer(c->images[0]),
				  0, 0);
		wl_surface_commit(surface);
	}
	if (t)
		wl_cursor_theme_destroy(t);
	wl_surface_destroy(surface);
	out = disconnect_compositor();
	/* Every drawing has ink: no committed buffer is fully transparent. */
	check(strstr(out, "hash=") != NULL, "fallback: no buffer reached the compositor");
	printf("fallback theme at size %d: %zu drawn cursors of %ux%u\n", size,
	       sizeof names / sizeof names[0], want, want);
}

static void
test_absurd_sizes(void)
{
	static const int sizes[] = { -1, INT_MIN, INT_MAX, 100000, 23171 };
	struct wl_cursor_theme *t;
	unsigned int i;

	connect_compositor();
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		t = wl_cursor_theme_load(NULL, sizes[i], shm);
		check(t == NULL, "size %d accepted", sizes[i]);
		if (t)
			wl_cursor_theme_destroy(t);
	}
	disconnect_compositor();
	printf("absurd sizes refused\n");
}

static void
test_pool_growth(void)
{
	struct wl_cursor_theme *t;
	struct wl_cursor *c;
	unsigned int pools = 0, resizes = 0, n = 0;
	char *out, *line;

	setenv("XCURSOR_PATH", "/usr/share/icons", 1);
	connect_compositor();
	t = wl_cursor_theme_load("Adwaita", 48, shm);
	check(t != NULL, "Adwaita 48 did not load");
	/* Buffers at the end of the pool prove the compositor saw it grow. */
	c = t ? wl_cursor_theme_get_cursor(t, "watch") : NULL;
	check(c != NULL && c->image_count > 1, "Adwaita has no animated watch");
	for (unsigned int i = 0; c && i < c->image_count; i++, n++)
		wl_cursor_image_get_buffer(c->images[i]);
	c = t ? wl_cursor_theme_get_cursor(t, "left_ptr") : NULL;
	if (c && wl_cursor_image_get_buffer(c->images[0]))
		n++;
	if (t)
		wl_cursor_theme_destroy(t);
	out = disconnect_compositor();
	line = strstr(out, "compositor pools=");
	check(line && sscanf(line, "compositor pools=%u resizes=%u", &pools,
			     &resizes) == 2, "no statistics from the compositor");
	check(pools == 1, "theme used %u pools, want 1", pools);
	check(resizes >= 1, "pool never grew (resizes=%u)", resizes);
	printf("Adwaita 48: one pool, grown %u times, %u buffers checked\n",
	       resizes, n);
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SHM-COMPOSITOR\n", argv[0]);
		return 2;
	}
	compositor_path = argv[1];
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/nonexistent", 1);

	make_themes();
	setenv("XCURSOR_PATH", root, 1);
	test_hostile_tree("loop-a", 24);
	test_hostile_tree("loop-a", 40);
	test_hostile_tree("self", 24);
	test_hostile_tree("good:ignored-after-colon", 24);
	/* 100 themes deep, no cursors: the walk stops, fallback drawings come. */
	test_fallback(0, 24);
	setenv("XCURSOR_PATH", "/nonexistent", 1);
	test_fallback(24, 24);
	test_fallback(48, 48);
	test_fallback(4, 8);
	setenv("XCURSOR_PATH", root, 1);
	{
		struct wl_cursor_theme *t;

		connect_compositor();
		t = wl_cursor_theme_load("chain0", 24, shm);
		check(t && wl_cursor_theme_get_cursor(t, "left_ptr") != NULL &&
		      wl_cursor_theme_get_cursor(t, "left_ptr")->image_count == 1,
		      "chain0: expected the drawn fallback left_ptr");
		if (t)
			wl_cursor_theme_destroy(t);
		disconnect_compositor();
		printf("Inherits chain of 100 themes: walk bounded\n");
	}
	test_absurd_sizes();
	test_pool_growth();
	remove_themes();

	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
