/*
 * The guest client of the virt tests, run under tests/sim/virtgpu-run: registry, seat and
 * keymap, a committed wl_shm buffer, a clipboard round trip through its own selection, and a
 * last roundtrip. It checks that what arrives arrives exactly once, and, when the host
 * misbehaves, that the library fails cleanly: -1 with a sensible errno, one
 * 'wayland-virtgpu:' line on stderr, no fd left open after wl_display_disconnect.
 *   virt-client [--expect ok|error|any] [--errno E1,E2] [--filler N] [--clip-bytes N]
 *               [--no-clipboard] [--idle] [--idle-roundtrips] [--error-lines N] [--timeout S]
 *               [--protocol-error CODE@INTERFACE#ID] [--frames N] [--pool-gpu-buffer]
 * --idle: after the run, dispatch until the compositor goes away (the test kills it).
 * --idle-roundtrips: the same, with a roundtrip every half second.
 * --protocol-error: after the error, wl_display_get_protocol_error must say this
 *   (e.g. 2@wl_display#1, the no_memory error).
 * --frames N: after the first frame, N more, each drawn again, committed, its frame
 *   callback awaited and followed by a roundtrip (the compositor checks every one).
 * --pool-gpu-buffer: the wl_shm pool is a GPU buffer of the device (a dma-buf, from the
 *   fake kernel's test API) instead of a memfd: it must reach the compositor as it is, so
 *   after the first frame a new mapping of the dma-buf still shows the pixels (a library
 *   that took it for a memfd moves them to host memory of its own and empties the file).
 * Prints one "virt-client: ..." result line; exit 0 when the expectations hold, else 1.
 */
#include <errno.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include "virt-test.h"
#include "../sim/virtgpu-sim.h"

#define VT_MAX_GLOBALS	1024
#define VT_WIDTH	64
#define VT_HEIGHT	48

enum vt_expect { VT_EXPECT_OK, VT_EXPECT_ERROR, VT_EXPECT_ANY };

static struct {
	/* options */
	enum vt_expect expect;
	char errnos[256];
	char got_protocol_error[64];	/* what wl_display_get_protocol_error said */
	int filler;
	int frames;
	size_t clip_bytes;
	bool clipboard;
	bool idle;
	bool idle_roundtrips;
	bool pool_gpu_buffer;
	int error_lines;	/* 'wayland-virtgpu:' lines wanted after an error */
	char protocol_error[64];	/* "CODE@INTERFACE" wanted after an error, or "" */

	/* state */
	const char *phase;
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct wl_seat *seat;
	struct wl_data_device_manager *manager;
	struct wl_keyboard *keyboard;
	struct wl_surface *surface;
	struct wl_shm_pool *pool;
	struct wl_buffer *buffer;
	struct wl_callback *frame;
	uint32_t *pixels;		/* the pool's pixels, mapped while the run lasts */
	size_t pool_size;
	struct wl_data_device *device;
	struct wl_data_source *source;
	struct wl_data_offer *offer;
	int pipe_rd;

	pthread_t writer;
	bool writer_started;
	int writer_fd;

	/* what arrived */
	uint32_t global_names[VT_MAX_GLOBALS];
	int globals, duplicate_globals;
	int seat_caps, keymaps, keymap_bad;
	int frames_done, commits, releases;
	int offers, offer_mimes, selections, sends;
	size_t clip_received;
	bool clip_bad, clip_eof;

	/* how it ended */
	bool failed;
	int error;
	const char *error_call;
	const char *error_phase;
	char check_failure[256];
} vt = { .expect = VT_EXPECT_OK, .error_lines = 1, .clip_bytes = 300000, .clipboard = true, .pipe_rd = -1,
	 .writer_fd = -1 };

static void
vt_check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
vt_check_fail(const char *fmt, ...)
{
	va_list ap;

	if (vt.check_failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(vt.check_failure, sizeof vt.check_failure, fmt, ap);
	va_end(ap);
}

static int
vt_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;	/* the DIR's own fd */
}

/* A library call failed: remember the first failure. */
static void
vt_failed(const char *call)
{
	if (vt.failed)
		return;
	vt.failed = true;
	vt.error = errno;
	vt.error_call = call;
	vt.error_phase = vt.phase;
	if (vt.display) {
		const struct wl_interface *interface = NULL;
		uint32_t id = 0;
		uint32_t code = wl_display_get_protocol_error(vt.display, &interface, &id);

		snprintf(vt.got_protocol_error, sizeof vt.got_protocol_error, "%u@%s#%u",
			 code, interface ? interface->name : "-", id);
	}
}

/* --- listeners ---------------------------------------------------------------------------- */

static void
vt_keyboard_keymap(void *data, struct wl_keyboard *keyboard, uint32_t format, int32_t fd,
		   uint32_t size)
{
	uint8_t *map, *want;

	vt.keymaps++;
	if (vt.keymaps > 1)
		vt_check_fail("wl_keyboard.keymap delivered %d times", vt.keymaps);
	if (size != VIRT_TEST_KEYMAP_SIZE) {
		vt.keymap_bad++;
		vt_check_fail("keymap size %u, %u sent", size, VIRT_TEST_KEYMAP_SIZE);
		close(fd);
		return;
	}
	/* As xkbcommon clients do. */
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	want = malloc(size);
	if (map == MAP_FAILED || !want) {
		vt.keymap_bad++;
		vt_check_fail("keymap: mmap MAP_PRIVATE: %s", strerror(errno));
	} else {
		virt_test_fill(want, size, 0);
		if (memcmp(map, want, size) != 0) {
			vt.keymap_bad++;
			vt_check_fail("keymap content differs from what the compositor sent");
		}
	}
	if (map != MAP_FAILED)
		munmap(map, size);
	free(want);
	close(fd);
}

static void
vt_keyboard_enter(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		  struct wl_surface *surface, struct wl_array *keys)
{
}

static void
vt_keyboard_leave(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		  struct wl_surface *surface)
{
}

static void
vt_keyboard_key(void *data, struct wl_keyboard *keyboard, uint32_t serial, uint32_t time,
		uint32_t key, uint32_t state)
{
}

static void
vt_keyboard_modifiers(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		      uint32_t depressed, uint32_t latched, uint32_t locked, uint32_t group)
{
}

static void
vt_keyboard_repeat_info(void *data, struct wl_keyboard *keyboard, int32_t rate, int32_t delay)
{
}

static const struct wl_keyboard_listener vt_keyboard_listener = {
	.keymap = vt_keyboard_keymap,
	.enter = vt_keyboard_enter,
	.leave = vt_keyboard_leave,
	.key = vt_keyboard_key,
	.modifiers = vt_keyboard_modifiers,
	.repeat_info = vt_keyboard_repeat_info,
};

static void
vt_seat_capabilities(void *data, struct wl_seat *seat, uint32_t caps)
{
	vt.seat_caps++;
	if (vt.seat_caps > 1)
		vt_check_fail("wl_seat.capabilities delivered %d times", vt.seat_caps);
}

static void
vt_seat_name(void *data, struct wl_seat *seat, const char *name)
{
}

static const struct wl_seat_listener vt_seat_listener = {
	.capabilities = vt_seat_capabilities,
	.name = vt_seat_name,
};

static void
vt_registry_global(void *data, struct wl_registry *registry, uint32_t name,
		   const char *interface, uint32_t version)
{
	for (int i = 0; i < vt.globals && i < VT_MAX_GLOBALS; i++) {
		if (vt.global_names[i] == name) {
			vt.duplicate_globals++;
			vt_check_fail("wl_registry.global %u (%s) delivered twice", name, interface);
			return;
		}
	}
	if (vt.globals < VT_MAX_GLOBALS)
		vt.global_names[vt.globals] = name;
	vt.globals++;

	if (strcmp(interface, "wl_compositor") == 0 && !vt.compositor)
		vt.compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	else if (strcmp(interface, "wl_shm") == 0 && !vt.shm)
		vt.shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	else if (strcmp(interface, "wl_seat") == 0 && !vt.seat) {
		vt.seat = wl_registry_bind(registry, name, &wl_seat_interface, 5);
		wl_seat_add_listener(vt.seat, &vt_seat_listener, NULL);
	} else if (strcmp(interface, "wl_data_device_manager") == 0 && !vt.manager)
		vt.manager = wl_registry_bind(registry, name, &wl_data_device_manager_interface, 3);
}

static void
vt_registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener vt_registry_listener = {
	.global = vt_registry_global,
	.global_remove = vt_registry_global_remove,
};

static void
vt_frame_done(void *data, struct wl_callback *callback, uint32_t time)
{
	vt.frames_done++;
	wl_callback_destroy(callback);
	vt.frame = NULL;
}

static const struct wl_callback_listener vt_frame_listener = { .done = vt_frame_done };

static void
vt_buffer_release(void *data, struct wl_buffer *buffer)
{
	vt.releases++;
	if (vt.releases > vt.commits)
		vt_check_fail("wl_buffer.release delivered %d times for %d commits", vt.releases,
			      vt.commits);
}

static const struct wl_buffer_listener vt_buffer_listener = { .release = vt_buffer_release };

/* --- clipboard ------------------------------------------------------------------------- */

static void *
vt_writer_main(void *data)
{
	uint8_t buf[8192];
	size_t done = 0;

	while (done < vt.clip_bytes) {
		size_t n = vt.clip_bytes - done < sizeof buf ? vt.clip_bytes - done : sizeof buf;
		ssize_t w;

		virt_test_fill(buf, n, done);
		w = write(vt.writer_fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* the reader is gone: a failed transfer */
		done += (size_t)w;
	}
	close(vt.writer_fd);
	return NULL;
}

static void
vt_source_target(void *data, struct wl_data_source *source, const char *mime)
{
}

static void
vt_source_send(void *data, struct wl_data_source *source, const char *mime, int32_t fd)
{
	vt.sends++;
	if (vt.sends > 1 || vt.writer_started) {
		vt_check_fail("wl_data_source.send delivered %d times", vt.sends);
		close(fd);
		return;
	}
	if (strcmp(mime, VIRT_TEST_MIME) != 0)
		vt_check_fail("wl_data_source.send for '%s'", mime);
	vt.writer_fd = fd;
	if (pthread_create(&vt.writer, NULL, vt_writer_main, NULL) == 0)
		vt.writer_started = true;
	else
		close(fd);
}

static void
vt_source_cancelled(void *data, struct wl_data_source *source)
{
}

static const struct wl_data_source_listener vt_source_listener = {
	.target = vt_source_target,
	.send = vt_source_send,
	.cancelled = vt_source_cancelled,
};

static void
vt_offer_offer(void *data, struct wl_data_offer *offer, const char *mime)
{
	vt.offer_mimes++;
	if (strcmp(mime, VIRT_TEST_MIME) != 0)
		vt_check_fail("wl_data_offer.offer '%s'", mime);
}

static const struct wl_data_offer_listener vt_offer_listener = { .offer = vt_offer_offer };

static void
vt_device_data_offer(void *data, struct wl_data_device *device, struct wl_data_offer *offer)
{
	vt.offers++;
	wl_data_offer_add_listener(offer, &vt_offer_listener, NULL);
	if (vt.offer)
		wl_data_offer_destroy(vt.offer);
	vt.offer = offer;
}

static void
vt_device_enter(void *data, struct wl_data_device *device, uint32_t serial,
		struct wl_surface *surface, wl_fixed_t x, wl_fixed_t y, struct wl_data_offer *offer)
{
}

static void
vt_device_leave(void *data, struct wl_data_device *device)
{
}

static void
vt_device_motion(void *data, struct wl_data_device *device, uint32_t time, wl_fixed_t x,
		 wl_fixed_t y)
{
}

static void
vt_device_drop(void *data, struct wl_data_device *device)
{
}

static void
vt_device_selection(void *data, struct wl_data_device *device, struct wl_data_offer *offer)
{
	vt.selections++;
	if (vt.selections > 1)
		vt_check_fail("wl_data_device.selection delivered %d times", vt.selections);
}

static const struct wl_data_device_listener vt_device_listener = {
	.data_offer = vt_device_data_offer,
	.enter = vt_device_enter,
	.leave = vt_device_leave,
	.motion = vt_device_motion,
	.drop = vt_device_drop,
	.selection = vt_device_selection,
};

/* --- the run --------------------------------------------------------------------------- */

static int
vt_roundtrip(void)
{
	if (wl_display_roundtrip(vt.display) < 0) {
		vt_failed("wl_display_roundtrip");
		return -1;
	}
	return 0;
}

static int vt_frame(void);

/* The pool's memory as a GPU driver's buffer of the simulated device: a dma-buf. */
static int
vt_gpu_buffer(size_t *size)
{
	virtgpu_sim_gpu_buffer_create_t create = (virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	uint32_t stride;
	uint64_t bytes;
	int fd;

	if (!create) {
		vt_check_fail("--pool-gpu-buffer: no %s (not under the simulator)",
			      VIRTGPU_SIM_GPU_BUFFER_CREATE);
		return -1;
	}
	fd = create(VT_WIDTH, VT_HEIGHT, 0x34325258 /* XRGB8888 */, 0, &stride, &bytes);
	if (fd < 0) {
		vt_check_fail("GPU buffer: %s", strerror(-fd));
		return -1;
	}
	if (stride != VT_WIDTH * 4 || bytes < *size) {
		vt_check_fail("GPU buffer: stride %u, %llu bytes", stride,
			      (unsigned long long)bytes);
		close(fd);
		return -1;
	}
	*size = (size_t)bytes;
	return fd;
}

/* After the first frame: a new mapping of the dma-buf shows what was drawn. */
static void
vt_check_gpu_buffer(int fd)
{
	const uint32_t *view = mmap(NULL, vt.pool_size, PROT_READ, MAP_SHARED, fd, 0);

	if (view == MAP_FAILED) {
		vt_check_fail("mmap of the GPU buffer: %s", strerror(errno));
		return;
	}
	for (int y = 0; y < VT_HEIGHT; y++)
		for (int x = 0; x < VT_WIDTH; x++)
			if (view[y * VT_WIDTH + x] != virt_test_pixel(x, y)) {
				vt_check_fail("the GPU buffer given to wl_shm holds 0x%08x at "
					      "(%d, %d) after the frame, not the pixel drawn: "
					      "the library did not send it as it is",
					      view[y * VT_WIDTH + x], x, y);
				y = VT_HEIGHT;
				break;
			}
	munmap((void *)view, vt.pool_size);
}

static int
vt_shm_phase(void)
{
	size_t size = (size_t)VT_WIDTH * VT_HEIGHT * 4;
	uint32_t *pixels;
	int fd, ret;

	vt.phase = "shm";
	if (vt.pool_gpu_buffer) {
		fd = vt_gpu_buffer(&size);
		if (fd < 0)
			return -1;
	} else {
		fd = memfd_create("virt-client-pool", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, size) < 0) {
			vt_check_fail("memfd: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		vt_check_fail("mmap: %s", strerror(errno));
		close(fd);
		return -1;
	}
	vt.pixels = pixels;
	vt.pool_size = size;

	vt.surface = wl_compositor_create_surface(vt.compositor);
	vt.pool = wl_shm_create_pool(vt.shm, fd, (int32_t)size);
	vt.buffer = wl_shm_pool_create_buffer(vt.pool, 0, VT_WIDTH, VT_HEIGHT, VT_WIDTH * 4,
					      WL_SHM_FORMAT_XRGB8888);
	wl_buffer_add_listener(vt.buffer, &vt_buffer_listener, NULL);
	ret = vt_frame();
	if (ret == 0 && vt.pool_gpu_buffer)
		vt_check_gpu_buffer(fd);
	close(fd);
	return ret;
}

/* Draws the pattern (again: a copying transport must see every frame's damage), commits it
 * and waits for the frame callback. */
static int
vt_frame(void)
{
	int done = vt.frames_done;

	for (int y = 0; y < VT_HEIGHT; y++)
		for (int x = 0; x < VT_WIDTH; x++)
			vt.pixels[y * VT_WIDTH + x] = virt_test_pixel(x, y);
	wl_surface_attach(vt.surface, vt.buffer, 0, 0);
	wl_surface_damage(vt.surface, 0, 0, VT_WIDTH, VT_HEIGHT);
	vt.frame = wl_surface_frame(vt.surface);
	wl_callback_add_listener(vt.frame, &vt_frame_listener, NULL);
	vt.commits++;
	wl_surface_commit(vt.surface);
	while (vt.frames_done == done) {
		if (wl_display_dispatch(vt.display) < 0) {
			vt_failed("wl_display_dispatch");
			return -1;
		}
	}
	return 0;
}

/* --frames: many frames and roundtrips, as a client that animates. */
static int
vt_frames_phase(void)
{
	vt.phase = "frames";
	for (int i = 0; i < vt.frames; i++)
		if (vt_frame() < 0 || vt_roundtrip() < 0)
			return -1;
	if (vt.frames_done != 1 + vt.frames)
		vt_check_fail("%d frame callbacks for %d frames", vt.frames_done, 1 + vt.frames);
	return 0;
}

static int
vt_clip_read(void)
{
	uint8_t buf[16384];
	ssize_t n = read(vt.pipe_rd, buf, sizeof buf);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		vt.clip_eof = true;
		return 0;
	}
	for (ssize_t i = 0; i < n && !vt.clip_bad; i++) {
		if (buf[i] != virt_test_byte(vt.clip_received + i, 7)) {
			vt.clip_bad = true;
			vt_check_fail("clipboard byte %zu differs (lost, repeated or reordered "
				      "data)", vt.clip_received + i);
		}
	}
	vt.clip_received += (size_t)n;
	if (vt.clip_received > vt.clip_bytes)
		vt_check_fail("clipboard: %zu bytes arrived, %zu sent", vt.clip_received,
			      vt.clip_bytes);
	return 0;
}

static int
vt_clipboard_phase(void)
{
	int fds[2];

	vt.phase = "clipboard-offer";
	vt.device = wl_data_device_manager_get_data_device(vt.manager, vt.seat);
	wl_data_device_add_listener(vt.device, &vt_device_listener, NULL);
	vt.source = wl_data_device_manager_create_data_source(vt.manager);
	wl_data_source_add_listener(vt.source, &vt_source_listener, NULL);
	wl_data_source_offer(vt.source, VIRT_TEST_MIME);
	wl_data_device_set_selection(vt.device, vt.source, 0);
	if (vt_roundtrip() < 0)
		return -1;
	if (!vt.offer || vt.selections != 1 || vt.offer_mimes != 1) {
		vt_check_fail("selection: %d offers, %d mimes, %d selection events", vt.offers,
			      vt.offer_mimes, vt.selections);
		return -1;
	}

	/* As wl-paste: the read end is ours, the write end goes to the compositor. */
	vt.phase = "clipboard-transfer";
	if (pipe2(fds, O_CLOEXEC) < 0) {
		vt_check_fail("pipe: %s", strerror(errno));
		return -1;
	}
	vt.pipe_rd = fds[0];
	wl_data_offer_receive(vt.offer, VIRT_TEST_MIME, fds[1]);
	close(fds[1]);
	while (!vt.clip_eof) {
		struct pollfd pfds[2] = {
			{ wl_display_get_fd(vt.display), POLLIN, 0 },
			{ vt.pipe_rd, POLLIN, 0 },
		};

		while (wl_display_prepare_read(vt.display) != 0) {
			if (wl_display_dispatch_pending(vt.display) < 0) {
				vt_failed("wl_display_dispatch_pending");
				return -1;
			}
		}
		if (wl_display_flush(vt.display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(vt.display);
			vt_failed("wl_display_flush");
			return -1;
		}
		if (poll(pfds, 2, -1) < 0 && errno != EINTR) {
			wl_display_cancel_read(vt.display);
			vt_check_fail("poll: %s", strerror(errno));
			return -1;
		}
		if (pfds[0].revents) {
			if (wl_display_read_events(vt.display) < 0) {
				vt_failed("wl_display_read_events");
				return -1;
			}
		} else {
			wl_display_cancel_read(vt.display);
		}
		if (wl_display_dispatch_pending(vt.display) < 0) {
			vt_failed("wl_display_dispatch_pending");
			return -1;
		}
		if (pfds[1].revents && vt_clip_read() < 0) {
			vt_check_fail("read from the clipboard pipe: %s", strerror(errno));
			return -1;
		}
	}
	if (vt.clip_received != vt.clip_bytes)
		vt_check_fail("clipboard: %zu bytes arrived, %zu sent", vt.clip_received,
			      vt.clip_bytes);
	return 0;
}

static void
vt_run(void)
{
	vt.phase = "connect";
	vt.display = wl_display_connect(NULL);
	if (!vt.display) {
		vt_failed("wl_display_connect");
		return;
	}

	vt.phase = "registry";
	vt.registry = wl_display_get_registry(vt.display);
	wl_registry_add_listener(vt.registry, &vt_registry_listener, NULL);
	if (vt_roundtrip() < 0)
		return;
	if (vt.globals != 4 + vt.filler)
		vt_check_fail("%d globals, the compositor has %d", vt.globals, 4 + vt.filler);
	if (!vt.compositor || !vt.shm || !vt.seat || !vt.manager) {
		vt_check_fail("a global is missing");
		return;
	}

	vt.phase = "seat";
	if (vt_roundtrip() < 0)
		return;
	if (vt.seat_caps != 1)
		vt_check_fail("%d wl_seat.capabilities events", vt.seat_caps);

	vt.phase = "keymap";
	vt.keyboard = wl_seat_get_keyboard(vt.seat);
	wl_keyboard_add_listener(vt.keyboard, &vt_keyboard_listener, NULL);
	if (vt_roundtrip() < 0)
		return;
	if (vt.keymaps != 1)
		vt_check_fail("%d keymap events", vt.keymaps);

	if (vt_shm_phase() < 0 || vt_frames_phase() < 0)
		return;
	if (vt.clipboard && vt_clipboard_phase() < 0)
		return;

	vt.phase = "final-roundtrip";
	if (vt_roundtrip() < 0 || !vt.idle)
		return;

	/* Until the compositor goes away (the test kills it). */
	vt.phase = "idle";
	if (vt.idle_roundtrips) {
		/* A client that keeps talking (a roundtrip a second): on a
		 * host that never reports the end, only the missing reply
		 * can tell. */
		while (wl_display_roundtrip(vt.display) >= 0)
			usleep(500000);
		vt_failed("wl_display_roundtrip");
		return;
	}
	while (wl_display_dispatch(vt.display) >= 0)
		;
	vt_failed("wl_display_dispatch");
}

static void
vt_teardown(void)
{
	if (!vt.display)
		return;
	if (vt.offer)
		wl_data_offer_destroy(vt.offer);
	if (vt.source)
		wl_data_source_destroy(vt.source);
	if (vt.device)
		wl_data_device_destroy(vt.device);
	if (vt.frame)
		wl_callback_destroy(vt.frame);
	if (vt.buffer)
		wl_buffer_destroy(vt.buffer);
	if (vt.pool)
		wl_shm_pool_destroy(vt.pool);
	if (vt.pixels)
		munmap(vt.pixels, vt.pool_size);
	vt.pixels = NULL;
	if (vt.surface)
		wl_surface_destroy(vt.surface);
	if (vt.keyboard)
		wl_keyboard_destroy(vt.keyboard);
	if (vt.manager)
		wl_data_device_manager_destroy(vt.manager);
	if (vt.seat)
		wl_seat_destroy(vt.seat);
	if (vt.shm)
		wl_shm_destroy(vt.shm);
	if (vt.compositor)
		wl_compositor_destroy(vt.compositor);
	if (vt.registry)
		wl_registry_destroy(vt.registry);
	wl_display_disconnect(vt.display);
	vt.display = NULL;
}

static bool
vt_errno_allowed(int error)
{
	char list[256], *save = NULL;

	snprintf(list, sizeof list, "%s", vt.errnos);
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		static const struct { const char *name; int value; } known[] = {
			{ "EPROTO", EPROTO }, { "EPIPE", EPIPE }, { "ECONNRESET", ECONNRESET },
			{ "EIO", EIO }, { "ENOMEM", ENOMEM }, { "EINVAL", EINVAL },
			{ "ENOSPC", ENOSPC }, { "ENODEV", ENODEV }, { "ECONNREFUSED", ECONNREFUSED },
			{ "EBADMSG", EBADMSG }, { "ENOENT", ENOENT },
		};
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strcmp(known[i].name, name) == 0 && known[i].value == error)
				return true;
	}
	return false;
}

static int vt_log_fd = -1, vt_real_stderr = -1;

static void
vt_handle_alarm(int sig)
{
	static const char msg[] = "virt-client: FAIL: timed out (hang) in phase ";
	char buf[4096];
	off_t off = 0;
	ssize_t n, ignored;

	/* What the library said so far, then the verdict. */
	while (vt_log_fd >= 0 && (n = pread(vt_log_fd, buf, sizeof buf, off)) > 0) {
		ignored = write(vt_real_stderr, buf, n);
		off += n;
	}
	ignored = write(STDOUT_FILENO, msg, sizeof msg - 1);
	ignored = write(STDOUT_FILENO, vt.phase, strlen(vt.phase));
	ignored = write(STDOUT_FILENO, "\n", 1);
	(void)ignored;
	_exit(3);
}

/* Lines of the captured stderr that start with the library's prefix. */
static int
vt_count_lines(FILE *log, int real_stderr)
{
	char line[1024];
	int lines = 0;

	rewind(log);
	while (fgets(line, sizeof line, log)) {
		if (strncmp(line, "wayland-virtgpu:", 16) == 0)
			lines++;
		dprintf(real_stderr, "%s", line);
	}
	return lines;
}

int
main(int argc, char *argv[])
{
	int timeout = 20, fds_before, fds_after, lines, real_stderr;
	FILE *log;
	bool ok = true;

	snprintf(vt.errnos, sizeof vt.errnos, "EPROTO,EPIPE,ECONNRESET");
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--expect") == 0 && next) {
			vt.expect = strcmp(next, "ok") == 0 ? VT_EXPECT_OK :
				strcmp(next, "error") == 0 ? VT_EXPECT_ERROR : VT_EXPECT_ANY;
			i++;
		} else if (strcmp(arg, "--errno") == 0 && next) {
			snprintf(vt.errnos, sizeof vt.errnos, "%s", next);
			i++;
		} else if (strcmp(arg, "--frames") == 0 && next) {
			vt.frames = atoi(next);
			i++;
		} else if (strcmp(arg, "--filler") == 0 && next) {
			vt.filler = atoi(next);
			i++;
		} else if (strcmp(arg, "--clip-bytes") == 0 && next) {
			vt.clip_bytes = strtoul(next, NULL, 0);
			i++;
		} else if (strcmp(arg, "--timeout") == 0 && next) {
			timeout = atoi(next);
			i++;
		} else if (strcmp(arg, "--error-lines") == 0 && next) {
			vt.error_lines = atoi(next);
			i++;
		} else if (strcmp(arg, "--idle") == 0) {
			vt.idle = true;
		} else if (strcmp(arg, "--idle-roundtrips") == 0) {
			vt.idle = true;
			vt.idle_roundtrips = true;
		} else if (strcmp(arg, "--pool-gpu-buffer") == 0) {
			vt.pool_gpu_buffer = true;
		} else if (strcmp(arg, "--no-clipboard") == 0) {
			vt.clipboard = false;
		} else if (strcmp(arg, "--protocol-error") == 0 && next) {
			snprintf(vt.protocol_error, sizeof vt.protocol_error, "%s", next);
			i++;
		} else {
			fprintf(stderr, "virt-client: unknown argument %s\n", arg);
			return 2;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, vt_handle_alarm);
	vt.phase = "start";
	alarm(timeout);

	/* The library's lines go to a file we count, then to the real stderr. */
	log = tmpfile();
	real_stderr = dup(STDERR_FILENO);
	if (!log || real_stderr < 0 || dup2(fileno(log), STDERR_FILENO) < 0) {
		perror("virt-client: capturing stderr");
		return 2;
	}

	vt_log_fd = fileno(log);
	vt_real_stderr = real_stderr;
	fds_before = vt_fd_count();
	vt_run();
	vt.phase = "disconnect";
	vt_teardown();
	if (vt.writer_started)
		pthread_join(vt.writer, NULL);
	if (vt.pipe_rd >= 0)
		close(vt.pipe_rd);
	fds_after = vt_fd_count();
	alarm(0);

	fflush(stderr);
	dup2(real_stderr, STDERR_FILENO);
	lines = vt_count_lines(log, real_stderr);
	close(real_stderr);
	fclose(log);

	if (vt.check_failure[0])
		ok = false;
	if (fds_after != fds_before) {
		ok = false;
		vt_check_fail("%d fds open before connect, %d after disconnect", fds_before,
			      fds_after);
	}
	if (vt.failed) {
		if (vt.expect == VT_EXPECT_OK) {
			ok = false;
			vt_check_fail("%s failed (%s) in phase %s", vt.error_call,
				      strerror(vt.error), vt.error_phase);
		} else if (!vt_errno_allowed(vt.error)) {
			ok = false;
			vt_check_fail("%s failed with %s, not one of %s", vt.error_call,
				      strerror(vt.error), vt.errnos);
		}
		if (lines != vt.error_lines) {
			ok = false;
			vt_check_fail("%d 'wayland-virtgpu:' lines on stderr, %d wanted", lines,
				      vt.error_lines);
		}
		if (vt.protocol_error[0] &&
		    strcmp(vt.got_protocol_error, vt.protocol_error) != 0) {
			ok = false;
			vt_check_fail("protocol error %s, %s wanted", vt.got_protocol_error,
				      vt.protocol_error);
		}
	} else {
		if (vt.expect == VT_EXPECT_ERROR) {
			ok = false;
			vt_check_fail("no error: the fault went unnoticed");
		}
		if (lines != 0) {
			ok = false;
			vt_check_fail("%d 'wayland-virtgpu:' lines on stderr, none wanted", lines);
		}
	}

	printf("virt-client: %s result=%s errno=%s call=%s phase=%s globals=%d seat_caps=%d "
	       "keymaps=%d frames=%d releases=%d selections=%d sends=%d clip_bytes=%zu "
	       "lines=%d fds=%d/%d%s%s\n",
	       ok ? "PASS" : "FAIL", vt.failed ? "error" : "ok",
	       vt.failed ? strerrorname_np(vt.error) : "-", vt.failed ? vt.error_call : "-",
	       vt.failed ? vt.error_phase : "-", vt.globals, vt.seat_caps, vt.keymaps,
	       vt.frames_done, vt.releases, vt.selections, vt.sends, vt.clip_received, lines,
	       fds_before, fds_after, vt.check_failure[0] ? ": " : "", vt.check_failure);
	return ok ? 0 : 1;
}
