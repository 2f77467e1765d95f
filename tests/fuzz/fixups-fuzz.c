/*
 * SPDX-License-Identifier: MIT
 * Feeds arbitrary events to the virtgpu transport's fix-ups
 * (virt-transport/fixups.c): registry globals and their removal, dma-buf
 * feedback (format tables of any size in memory of any size, devices and
 * tranche indices of any length), wl_drm devices and keymaps. Whatever the
 * compositor sends, nothing faults, no index past a table reaches the
 * client, no device of the wrong size passes, and every fd is closed.
 * Built as a libFuzzer target and as a replay of random inputs in the
 * normal suite.
 *
 * Input: a run of events, each an object byte, a kind byte and its
 * argument bytes (one_event() reads them).
 *   fixups-replay [--write-seeds DIR] [CORPUS_DIR...]
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-client-core.h"
#include "wayland-private.h"
#include "fuzz-corpus.h"
#include "fuzz-rng.h"

static const struct wl_interface registry_if = { .name = "wl_registry" };
static const struct wl_interface feedback_if = { .name = "zwp_linux_dmabuf_feedback_v1" };
static const struct wl_interface drm_if = { .name = "wl_drm" };
static const struct wl_interface session_if = { .name = "ext_image_copy_capture_session_v1" };
static const struct wl_interface keyboard_if = { .name = "wl_keyboard" };

static const char *const interfaces[] = {
	"wl_compositor", "zwp_linux_dmabuf_v1", "wp_linux_drm_syncobj_manager_v1",
	"wp_drm_lease_device_v1", "wl_drm", "",
};

struct input {
	const uint8_t *data;
	size_t size;
};

static uint32_t
take(struct input *in, size_t n)
{
	uint32_t v = 0;

	while (n-- > 0 && in->size > 0) {
		v = (v << 8) | *in->data++;
		in->size--;
	}
	return v;
}

/* Memory of mem_size bytes, as the host would send a table in. */
static int
table_fd(struct input *in, uint32_t mem_size)
{
	int fd = memfd_create("fuzz-table", MFD_CLOEXEC);
	uint8_t chunk[64];
	size_t n = in->size < sizeof chunk ? in->size : sizeof chunk;

	if (fd < 0 || ftruncate(fd, mem_size) < 0)
		abort();
	memcpy(chunk, in->data, n);
	if (n && mem_size && pwrite(fd, chunk, n < mem_size ? n : mem_size, 0) < 0)
		abort();
	return fd;
}

static int
one_event(struct virtgpu_transport *t, struct input *in, uint16_t *array_data)
{
	struct wl_object object = { .id = 10 + take(in, 1) % 3 };
	struct wl_message message = { .signature = "" };
	union wl_argument args[3] = { 0 };
	struct wl_array array = { .data = array_data };
	uint32_t kind = take(in, 1) % 9, entries = 0, i;
	int ret;

	switch (kind) {
	case 0:
		object.interface = &registry_if;
		message.name = "global";
		args[0].u = take(in, 1);
		args[1].s = interfaces[take(in, 1) % 6];
		args[2].u = take(in, 1);
		break;
	case 1:
		object.interface = &registry_if;
		message.name = "global_remove";
		args[0].u = take(in, 1);
		break;
	case 2:
		object.interface = &feedback_if;
		message.name = "format_table";
		args[1].u = take(in, 2);
		args[0].h = table_fd(in, take(in, 2));
		break;
	case 3:
	case 4:
		object.interface = kind == 3 ? &feedback_if : &session_if;
		message.name = kind == 3 ? "main_device" : "dmabuf_device";
		array.size = take(in, 1) % 17;
		args[0].a = &array;
		break;
	case 5:
		object.interface = &feedback_if;
		message.name = "tranche_formats";
		array.size = take(in, 1);
		for (i = 0; i < array.size / 2; i++)
			array_data[i] = (uint16_t) take(in, 2);
		args[0].a = &array;
		break;
	case 6:
		object.interface = &drm_if;
		message.name = "device";
		args[0].s = "/dev/dri/host";
		break;
	case 7:
		object.interface = &keyboard_if;
		message.name = "keymap";
		args[2].u = take(in, 2);
		args[1].h = table_fd(in, take(in, 2));
		break;
	default:
		object.interface = &feedback_if;
		message.name = "destroy";
		fixups_request(t, &object, &message);
		return 0;
	}

	if (kind == 5) {
		/* What the library knows of this feedback's table. */
		for (i = 0; i < (uint32_t) t->fixups.ntables; i++) {
			if (t->fixups.tables[i].object_id == object.id)
				entries = t->fixups.tables[i].entries;
		}
	}

	ret = fixups_event(t, &object, kind == 7 ? 0 : 1, &message, args);
	if (ret == 0 && (kind == 3 || kind == 4) && array.size != sizeof(dev_t))
		abort();	/* a device of the wrong size passed */
	if (ret == 0 && kind == 5) {
		for (i = 0; i < array.size / 2; i++) {
			if (array_data[i] >= entries)
				abort();	/* an index past the table passed */
		}
	}
	if (ret == 0 && kind == 6 && strcmp(args[0].s, "/dev/dri/renderD128") != 0)
		abort();
	/* The fd the client gets, or that the core closes with a dropped
	 * event: the sealed copy where one was made. */
	if (kind == 2 || kind == 7)
		close(args[kind == 2 ? 0 : 1].h);
	return ret;
}

static void
quiet(const char *fmt, va_list ap)
{
}

static int
fixups_one(const uint8_t *data, size_t size)
{
	static uint16_t array_data[128];
	struct virtgpu_transport *t = calloc(1, sizeof *t);
	struct input in = { data, size };
	int events = 0;

	wl_log_set_handler_client(quiet);
	t->cd.dev.fd = -1;
	strcpy(t->cd.dev.path, "/dev/dri/renderD128");
	if (fixups_init(t) < 0)
		abort();
	t->fixups.guest_rdev = 0xe280;
	t->fixups.have_rdev = true;
	while (in.size > 0 && events++ < 64)
		one_event(t, &in, array_data);
	fixups_fini(t);
	free(t);
	return 0;
}

#ifdef FIXUPS_LIBFUZZER
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fixups_one(data, size);
}
#else
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(void)
{
	return fuzz_rng(&rng_state);
}

/* Well-formed runs of each kind of event, and a table smaller than its
 * indices: seeds for the corpus. */
static const struct {
	const char *name;
	uint8_t bytes[40];
	size_t size;
} fixups_seeds[] = {
	{ "dmabuf-feedback", { 0, 0, 1, 1, 4,  0, 2, 0, 48, 0, 48,  0, 3, 8,
			       0, 5, 6, 0, 0, 0, 1, 0, 2,  0, 8 }, 25 },
	{ "registry", { 0, 0, 1, 0, 4,  0, 0, 2, 1, 4,  0, 0, 3, 2, 1,  0, 0, 4, 3, 1,
			0, 0, 5, 4, 2,  0, 1, 1,  0, 1, 5 }, 31 },
	{ "wl-drm-and-keymap", { 2, 6,  2, 7, 0x10, 0, 0x10, 0 }, 8 },
	{ "table-smaller-than-indices", { 1, 2, 0x10, 0, 0, 16,  1, 5, 4, 0, 1, 0, 200,
					  1, 8 }, 15 },
	{ "device-sizes", { 1, 3, 8,  1, 3, 3,  1, 4, 8,  1, 4, 16 }, 12 },
};

static int
fixups_write_seeds(const char *dir)
{
	for (size_t i = 0; i < sizeof fixups_seeds / sizeof fixups_seeds[0]; i++)
		if (fuzz_corpus_write(dir, fixups_seeds[i].name, fixups_seeds[i].bytes,
				      fixups_seeds[i].size) < 0)
			return 1;
	return 0;
}

static int
fixups_replay_file(const uint8_t *data, size_t size, const char *name)
{
	return fixups_one(data, size);
}

/* The seeds, the corpus folders, then random runs of events; then no fd
 * may be left open. */
int
main(int argc, char **argv)
{
	static uint8_t input[512];
	int i, fds_before, fds_after, failures = 0, n;

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return fixups_write_seeds(argv[2]);
	fds_before = dup(0);
	close(fds_before);
	setenv("WAYLAND_DEBUG", "", 1);
	for (size_t k = 0; k < sizeof fixups_seeds / sizeof fixups_seeds[0]; k++)
		fixups_one(fixups_seeds[k].bytes, fixups_seeds[k].size);
	for (i = 1; i < argc; i++) {
		n = fuzz_corpus_replay(argv[i], fixups_replay_file, 1 << 20);
		failures += n < 0 ? 1 : n;
	}
	for (i = 0; i < 20000; i++) {
		size_t n = rng() % sizeof input, k;

		for (k = 0; k < n; k++)
			input[k] = (uint8_t) rng();
		fixups_one(input, n);
	}
	fds_after = dup(0);
	close(fds_after);
	if (fds_after != fds_before) {
		fprintf(stderr, "fixups-fuzz: fds leaked (lowest free %d, was %d)\n",
			fds_after, fds_before);
		return 1;
	}
	printf("fed the seeds, the corpus folders and 20000 runs of events to the fix-ups\n");
	return failures ? 1 : 0;
}
#endif
