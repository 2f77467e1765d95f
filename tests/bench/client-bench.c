/*
 * Benchmark of a libwayland-client against a real compositor: roundtrip latency, marshal+flush
 * throughput and shm frame time. Uses only the libwayland-client 1.21 API, so one binary runs on
 * the system library and on ours by LD_LIBRARY_PATH; it prints key=value lines run-bench.sh reads.
 */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

/* Bytes on the wire of one wl_region.add: header (8) + four ints. */
#define REGION_ADD_SIZE 24

/* Buffers per size: weston keeps the last attached one until the next attach. */
#define FRAME_BUFFERS 4

#define MAX_PROCESSES 8192

struct bench_options {
	int roundtrips;
	int warmup;
	long marshal_messages;
	int marshal_batch;
	int frames;
	bool fill;
	bool run_roundtrip;
	bool run_loop;
	bool run_marshal;
	bool run_frame;
	bool run_pool;
	int pools;
	int pool_mappings;
	int sizes[8][2];
	int size_count;
};

struct bench_client {
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
};

struct frame_buffer {
	struct wl_buffer *buffer;
	uint32_t *pixels;
	bool busy;
};

struct frame_window {
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	bool configured;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
		ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/*
 * CPU time of the processes around the client, for a per-operation cost of the whole path: with
 * CLIENT_BENCH_CPU_ROOT=PID (run-bench.sh's own pid) every live descendant of PID counts, split
 * into the subtree of CLIENT_BENCH_COMPOSITOR_PID and the rest but ourselves (the transport:
 * waypipe's two halves, the simulated host device). Read from schedstat: nanoseconds, all threads.
 */
struct tree_cpu {
	double compositor_us;
	double transport_us;
};

static double
process_cpu_us(pid_t pid)
{
	char path[64], buf[128];
	struct dirent *entry;
	unsigned long long ns, total = 0;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
	if (!(dir = opendir(path)))
		return 0;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int) pid,
			 entry->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(dir);
	return total / 1e3;
}

static pid_t
parent_of(pid_t pid)
{
	char path[64], buf[512], *paren;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if (!(f = fopen(path, "r")))
		return 0;
	/* The command name may hold spaces and parentheses: the fields resume after the last ')'. */
	if (fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')))
		sscanf(paren + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

static bool
descends_from(pid_t pid, pid_t ancestor)
{
	int depth;

	for (depth = 0; pid > 1 && depth < 64; depth++) {
		if (pid == ancestor)
			return true;
		pid = parent_of(pid);
	}
	return false;
}

static pid_t
env_pid(const char *name)
{
	const char *value = getenv(name);

	return value ? (pid_t) atoi(value) : 0;
}

static bool
tree_cpu_enabled(void)
{
	return env_pid("CLIENT_BENCH_CPU_ROOT") > 0;
}

static void
tree_cpu_sample(struct tree_cpu *sample)
{
	pid_t root = env_pid("CLIENT_BENCH_CPU_ROOT");
	pid_t compositor = env_pid("CLIENT_BENCH_COMPOSITOR_PID");
	struct dirent *entry;
	pid_t pid, self = getpid();
	DIR *proc;

	*sample = (struct tree_cpu) { 0 };
	if (root <= 0 || !(proc = opendir("/proc")))
		return;
	while ((entry = readdir(proc))) {
		pid = atoi(entry->d_name);
		if (pid <= 0 || pid == self || !descends_from(pid, root))
			continue;
		if (compositor > 0 && descends_from(pid, compositor))
			sample->compositor_us += process_cpu_us(pid);
		else
			sample->transport_us += process_cpu_us(pid);
	}
	closedir(proc);
}

/* Prints the others' CPU per operation since START, scaled by SCALE (1 for us, 1e3 for ns). */
static void
print_tree_cpu(const struct tree_cpu *start, double ops, double scale, const char *unit)
{
	struct tree_cpu end;

	if (!tree_cpu_enabled())
		return;
	tree_cpu_sample(&end);
	printf(" compositor_cpu_%s=%.2f transport_cpu_%s=%.2f",
	       unit, (end.compositor_us - start->compositor_us) * scale / ops,
	       unit, (end.transport_us - start->transport_us) * scale / ops);
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double
percentile(const double *sorted, int count, double p)
{
	int rank = (int) (p / 100.0 * count + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return sorted[rank - 1];
}

/* Ends a line begun with the benchmark's name: " median_us=.. p90_us=.. p99_us=.. min_us=..
 * mean_us=.. client_cpu_us=.." for samples in microseconds, CPU_US of this process over all
 * of them, then the others' CPU since START. */
static void
print_samples(double *samples, int count, double cpu_us, const struct tree_cpu *start)
{
	double sum = 0;
	int i;

	qsort(samples, count, sizeof(*samples), compare_double);
	for (i = 0; i < count; i++)
		sum += samples[i];
	printf(" median_us=%.2f p90_us=%.2f p99_us=%.2f min_us=%.2f mean_us=%.2f",
	       percentile(samples, count, 50), percentile(samples, count, 90),
	       percentile(samples, count, 99), samples[0], sum / count);
	printf(" client_cpu_us=%.2f", cpu_us / count);
	print_tree_cpu(start, count, 1, "us");
	printf("\n");
}

static void
handle_wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = handle_wm_base_ping,
};

static void
handle_registry_global(void *data, struct wl_registry *registry, uint32_t name,
		       const char *interface, uint32_t version)
{
	struct bench_client *client = data;

	if (strcmp(interface, "wl_compositor") == 0 && version >= 4) {
		client->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (strcmp(interface, "wl_shm") == 0) {
		client->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, "xdg_wm_base") == 0) {
		client->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(client->wm_base, &wm_base_listener, client);
	}
}

static void
handle_registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_registry_global,
	.global_remove = handle_registry_global_remove,
};

static int
check_display(struct bench_client *client, const char *what)
{
	int err = wl_display_get_error(client->display);

	if (err == 0)
		return 0;
	fprintf(stderr, "client-bench: %s: display error: %s\n", what, strerror(err));
	return -1;
}

static void
loop_sync_done(void *data, struct wl_callback *callback, uint32_t serial)
{
	*(bool *)data = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener loop_sync_listener = {
	.done = loop_sync_done,
};

/* One roundtrip the way a toolkit's event loop makes it: the client polls the display fd
 * itself (wl_display_get_fd) between prepare_read and read_events. */
static int
loop_roundtrip(struct wl_display *display, struct pollfd *pfd)
{
	struct wl_callback *callback = wl_display_sync(display);
	bool done = false;

	wl_callback_add_listener(callback, &loop_sync_listener, &done);
	while (!done) {
		if (wl_display_prepare_read(display) != 0) {
			if (wl_display_dispatch_pending(display) < 0)
				return -1;
			continue;
		}
		if (wl_display_flush(display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(display);
			return -1;
		}
		while (poll(pfd, 1, -1) < 0) {
			if (errno != EINTR) {
				wl_display_cancel_read(display);
				return -1;
			}
		}
		if (wl_display_read_events(display) < 0 ||
		    wl_display_dispatch_pending(display) < 0)
			return -1;
	}
	return 0;
}

/* One roundtrip through wl_display_roundtrip. */
static int
plain_roundtrip(struct wl_display *display, struct pollfd *pfd)
{
	return wl_display_roundtrip(display) < 0 ? -1 : 0;
}

/* Latency of one kind of roundtrip: NAME n=... median_us=... client_cpu_us=... */
static int
bench_roundtrips(struct bench_client *client, const struct bench_options *opts, const char *name,
		 int (*roundtrip)(struct wl_display *display, struct pollfd *pfd))
{
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	double *samples = calloc(opts->roundtrips, sizeof(*samples));
	double start, cpu_start, cpu;
	struct tree_cpu tree_start;
	int i;

	if (!samples)
		return -1;
	/* Only the loop asks for the display fd: it changes how a transport wakes the client. */
	if (roundtrip != plain_roundtrip)
		pfd.fd = wl_display_get_fd(client->display);
	for (i = 0; i < opts->warmup; i++)
		if (roundtrip(client->display, &pfd) < 0)
			goto fail;
	tree_cpu_sample(&tree_start);
	cpu_start = cpu_us();
	for (i = 0; i < opts->roundtrips; i++) {
		start = now_us();
		if (roundtrip(client->display, &pfd) < 0)
			goto fail;
		samples[i] = now_us() - start;
	}
	cpu = cpu_us() - cpu_start;
	printf("%s n=%d", name, opts->roundtrips);
	print_samples(samples, opts->roundtrips, cpu, &tree_start);
	free(samples);
	return 0;
fail:
	free(samples);
	check_display(client, name);
	return -1;
}

/* Flushes everything queued, waiting for the socket to drain when the kernel buffer is full. */
static int
flush_all(struct wl_display *display)
{
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLOUT };

	while (wl_display_flush(display) < 0) {
		if (errno != EAGAIN)
			return -1;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Many small requests (wl_region.add of one same rectangle, so the compositor's work per
 * message stays constant), flushed every batch; the clock stops when a final roundtrip shows
 * the compositor has processed all of them. A batch stays under the 4096-byte buffer, so the
 * library never has to flush on its own (1.21 makes EAGAIN there fatal).
 */
static int
bench_marshal(struct bench_client *client, const struct bench_options *opts)
{
	struct wl_region *region = wl_compositor_create_region(client->compositor);
	double start, elapsed, cpu_start, cpu;
	struct tree_cpu tree_start;
	long sent = 0, warm = opts->marshal_messages / 10;
	int i;

	for (sent = 0; sent < warm; sent++) {
		wl_region_add(region, 0, 0, 64, 64);
		if (sent % opts->marshal_batch == 0 && flush_all(client->display) < 0)
			goto fail;
	}
	if (wl_display_roundtrip(client->display) < 0)
		goto fail;

	tree_cpu_sample(&tree_start);
	start = now_us();
	cpu_start = cpu_us();
	for (sent = 0; sent < opts->marshal_messages; ) {
		for (i = 0; i < opts->marshal_batch && sent < opts->marshal_messages; i++, sent++)
			wl_region_add(region, 0, 0, 64, 64);
		if (flush_all(client->display) < 0)
			goto fail;
	}
	if (wl_display_roundtrip(client->display) < 0)
		goto fail;
	elapsed = now_us() - start;
	cpu = cpu_us() - cpu_start;

	printf("marshal n=%ld batch=%d msg_bytes=%d secs=%.4f msgs_per_s=%.0f mb_per_s=%.2f"
	       " client_cpu_ns_per_msg=%.1f",
	       sent, opts->marshal_batch, REGION_ADD_SIZE, elapsed / 1e6,
	       sent / (elapsed / 1e6), sent * (double) REGION_ADD_SIZE / elapsed,
	       cpu * 1e3 / sent);
	print_tree_cpu(&tree_start, sent, 1e3, "ns_per_msg");
	printf("\n");
	wl_region_destroy(region);
	return 0;
fail:
	check_display(client, "marshal");
	return -1;
}

static void
handle_buffer_release(void *data, struct wl_buffer *buffer)
{
	struct frame_buffer *fb = data;

	fb->busy = false;
}

static const struct wl_buffer_listener buffer_listener = {
	.release = handle_buffer_release,
};

static void
handle_xdg_surface_configure(void *data, struct xdg_surface *xdg_surface, uint32_t serial)
{
	struct frame_window *window = data;

	xdg_surface_ack_configure(xdg_surface, serial);
	window->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_surface_configure,
};

static void
handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t width,
			  int32_t height, struct wl_array *states)
{
}

static void
handle_toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void
fill_pixels(uint32_t *pixels, int width, int height, uint32_t frame)
{
	uint32_t color = 0xff000000 | (frame * 0x010307u & 0xffffff);
	size_t i, count = (size_t) width * height;

	for (i = 0; i < count; i++)
		pixels[i] = color ^ (uint32_t) i;
}

static int
create_buffers(struct bench_client *client, struct frame_buffer *buffers, int width,
	       int height, void **pool_data, size_t *pool_size)
{
	int stride = width * 4;
	size_t size = (size_t) stride * height;
	struct wl_shm_pool *pool;
	uint8_t *data;
	int fd, i;

	*pool_size = size * FRAME_BUFFERS;
	fd = memfd_create("client-bench", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, *pool_size) < 0) {
		fprintf(stderr, "client-bench: shm pool of %zu bytes: %s\n", *pool_size,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	data = mmap(NULL, *pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (data == MAP_FAILED) {
		fprintf(stderr, "client-bench: mmap shm pool: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	pool = wl_shm_create_pool(client->shm, fd, *pool_size);
	for (i = 0; i < FRAME_BUFFERS; i++) {
		buffers[i].buffer = wl_shm_pool_create_buffer(pool, size * i, width, height,
							     stride, WL_SHM_FORMAT_XRGB8888);
		buffers[i].pixels = (uint32_t *) (data + size * i);
		buffers[i].busy = false;
		wl_buffer_add_listener(buffers[i].buffer, &buffer_listener, &buffers[i]);
		/* Defined pixels even when the frames themselves skip the fill. */
		fill_pixels(buffers[i].pixels, width, height, i);
	}
	wl_shm_pool_destroy(pool);
	close(fd);
	*pool_data = data;
	return 0;
}

static struct frame_buffer *
next_free_buffer(struct bench_client *client, struct frame_buffer *buffers)
{
	int i;

	for (;;) {
		for (i = 0; i < FRAME_BUFFERS; i++)
			if (!buffers[i].busy)
				return &buffers[i];
		if (wl_display_dispatch(client->display) < 0)
			return NULL;
	}
}

/* One frame: fill (unless disabled) + attach + damage + commit + roundtrip. */
static int
draw_frame(struct bench_client *client, struct frame_window *window,
	   struct frame_buffer *fb, int width, int height, bool fill, uint32_t frame)
{
	if (fill)
		fill_pixels(fb->pixels, width, height, frame);
	wl_surface_attach(window->surface, fb->buffer, 0, 0);
	wl_surface_damage_buffer(window->surface, 0, 0, width, height);
	wl_surface_commit(window->surface);
	fb->busy = true;
	return wl_display_roundtrip(client->display);
}

static int
bench_frame(struct bench_client *client, const struct bench_options *opts, int width,
	    int height)
{
	struct frame_buffer buffers[FRAME_BUFFERS];
	struct frame_window window = { 0 };
	double *samples, start, cpu_start, cpu;
	struct tree_cpu tree_start;
	struct frame_buffer *fb;
	size_t pool_size;
	void *pool_data;
	int i, ret = -1;

	if (!client->shm || !client->wm_base) {
		fprintf(stderr, "client-bench: compositor offers no wl_shm or xdg_wm_base\n");
		return -1;
	}
	samples = calloc(opts->frames, sizeof(*samples));
	if (!samples || create_buffers(client, buffers, width, height, &pool_data, &pool_size) < 0) {
		free(samples);
		return -1;
	}

	window.surface = wl_compositor_create_surface(client->compositor);
	window.xdg_surface = xdg_wm_base_get_xdg_surface(client->wm_base, window.surface);
	xdg_surface_add_listener(window.xdg_surface, &xdg_surface_listener, &window);
	window.toplevel = xdg_surface_get_toplevel(window.xdg_surface);
	xdg_toplevel_add_listener(window.toplevel, &toplevel_listener, &window);
	xdg_toplevel_set_title(window.toplevel, "client-bench");
	wl_surface_commit(window.surface);
	while (!window.configured)
		if (wl_display_dispatch(client->display) < 0)
			goto out;

	for (i = 0; i < opts->warmup / 10 + 2; i++) {
		if (!(fb = next_free_buffer(client, buffers)) ||
		    draw_frame(client, &window, fb, width, height, opts->fill, i) < 0)
			goto out;
	}
	tree_cpu_sample(&tree_start);
	cpu_start = cpu_us();
	for (i = 0; i < opts->frames; i++) {
		/* Waiting for a release is the compositor's pace, not the frame's cost. */
		if (!(fb = next_free_buffer(client, buffers)))
			goto out;
		start = now_us();
		if (draw_frame(client, &window, fb, width, height, opts->fill, i + 1000) < 0)
			goto out;
		samples[i] = now_us() - start;
	}
	cpu = cpu_us() - cpu_start;
	printf("frame size=%dx%d fill=%d n=%d", width, height, opts->fill, opts->frames);
	print_samples(samples, opts->frames, cpu, &tree_start);
	ret = 0;
out:
	if (ret < 0)
		check_display(client, "frame");
	xdg_toplevel_destroy(window.toplevel);
	xdg_surface_destroy(window.xdg_surface);
	wl_surface_destroy(window.surface);
	for (i = 0; i < FRAME_BUFFERS; i++)
		wl_buffer_destroy(buffers[i].buffer);
	munmap(pool_data, pool_size);
	free(samples);
	if (ret == 0 && wl_display_roundtrip(client->display) < 0)
		ret = -1;
	return ret;
}

/*
 * wl_shm.create_pool as programs that make a pool per buffer do it (Xwayland, Qt, SDL): a memfd
 * mapped and drawn first, then the request and a flush. A transport that puts pools in other
 * memory does its work here, and looking for the client's views of the fd costs more the more
 * mappings the process has: the benchmark adds POOL_MAPPINGS pairs of them first (a desktop
 * program has a few thousand). Runs last: the mappings stay.
 */
static int
bench_pool(struct bench_client *client, const struct bench_options *opts)
{
	const size_t size = 65536;
	long page = sysconf(_SC_PAGESIZE);
	double *samples = calloc(opts->pools, sizeof(*samples));
	double start, cpu_start = 0, cpu = 0;
	struct tree_cpu tree_start;
	int i, vmas = 0, warm = opts->pools / 10 + 1;
	char line[512];
	FILE *maps;

	if (!samples || !client->shm)
		goto fail;
	for (i = 0; i < opts->pool_mappings; i++) {
		char *p = mmap(NULL, page * 2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		/* Two protections: two mappings the kernel cannot merge with the next pair. */
		if (p == MAP_FAILED || mprotect(p, page, PROT_READ | PROT_WRITE) < 0)
			goto fail;
	}
	if ((maps = fopen("/proc/self/maps", "re"))) {
		while (fgets(line, sizeof line, maps))
			vmas++;
		fclose(maps);
	}

	for (i = -warm; i < opts->pools; i++) {
		struct wl_shm_pool *pool;
		int fd = memfd_create("client-bench-pool", MFD_CLOEXEC);
		void *data;

		if (fd < 0 || ftruncate(fd, size) < 0)
			goto fail;
		data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (data == MAP_FAILED)
			goto fail;
		memset(data, 0x5a, size);
		if (i == 0) {
			tree_cpu_sample(&tree_start);
			cpu_start = cpu_us();
		}
		start = now_us();
		pool = wl_shm_create_pool(client->shm, fd, size);
		if (flush_all(client->display) < 0)
			goto fail;
		if (i >= 0)
			samples[i] = now_us() - start;
		close(fd);
		wl_shm_pool_destroy(pool);
		munmap(data, size);
		/* The compositor keeps up, as a program's next frame would wait for it. */
		if (i % 16 == 15 && wl_display_roundtrip(client->display) < 0)
			goto fail;
	}
	if (wl_display_roundtrip(client->display) < 0)
		goto fail;
	cpu = cpu_us() - cpu_start;

	printf("pool n=%d bytes=%zu mappings=%d", opts->pools, size, vmas);
	print_samples(samples, opts->pools, cpu, &tree_start);
	free(samples);
	return 0;
fail:
	free(samples);
	check_display(client, "pool");
	return -1;
}

/* Which libwayland-client this process really runs on, so a table can't lie about it. */
static void
print_library(void)
{
	Dl_info info;

	if (dladdr((void *) wl_display_connect, &info) && info.dli_fname)
		printf("library path=%s\n", info.dli_fname);
	else
		printf("library path=unknown\n");
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: client-bench [options]\n"
		"  -b, --bench LIST      roundtrip,loop,marshal,frame,pool (default: all); loop: a\n"
		"                        roundtrip with the client polling wl_display_get_fd\n"
		"  -n, --roundtrips N    timed roundtrips (default 20000)\n"
		"  -w, --warmup N        untimed roundtrips first (default 1000; frames: N/10+2)\n"
		"  -m, --messages N      wl_region.add requests (default 2000000)\n"
		"  -B, --batch N         requests per flush (default 64, at most 170)\n"
		"  -f, --frames N        timed frames per size (default 300)\n"
		"  -s, --size WxH        frame size, repeatable (default 64x64 250x250 256x256 1920x1080)\n"
		"      --no-fill         do not redraw the buffer each frame\n"
		"  -p, --pools N         timed wl_shm.create_pool calls (default 300)\n"
		"  -M, --mappings N      pairs of mappings the process makes first (default 2000)\n"
		"  -q, --quick           few iterations: a smoke run\n");
}

static int
parse_options(int argc, char **argv, struct bench_options *opts)
{
	static const struct option long_options[] = {
		{ "bench", required_argument, NULL, 'b' },
		{ "roundtrips", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "messages", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'B' },
		{ "frames", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "no-fill", no_argument, NULL, 'F' },
		{ "pools", required_argument, NULL, 'p' },
		{ "mappings", required_argument, NULL, 'M' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const int default_sizes[][2] = {
		{ 64, 64 }, { 250, 250 }, { 256, 256 }, { 1920, 1080 }
	};
	char *list, *item, *save;
	int c, i;

	*opts = (struct bench_options) {
		.roundtrips = 20000, .warmup = 1000, .marshal_messages = 2000000,
		.marshal_batch = 64, .frames = 300, .fill = true,
		.run_roundtrip = true, .run_loop = true, .run_marshal = true, .run_frame = true,
		.run_pool = true, .pools = 300, .pool_mappings = 2000,
	};
	while ((c = getopt_long(argc, argv, "b:n:w:m:B:f:s:p:M:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'b':
			opts->run_roundtrip = opts->run_loop = opts->run_marshal = false;
			opts->run_frame = opts->run_pool = false;
			list = optarg;
			for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
				if (strcmp(item, "roundtrip") == 0)
					opts->run_roundtrip = true;
				else if (strcmp(item, "loop") == 0)
					opts->run_loop = true;
				else if (strcmp(item, "marshal") == 0)
					opts->run_marshal = true;
				else if (strcmp(item, "frame") == 0)
					opts->run_frame = true;
				else if (strcmp(item, "pool") == 0)
					opts->run_pool = true;
				else {
					fprintf(stderr, "client-bench: unknown benchmark '%s'\n", item);
					return -1;
				}
			}
			break;
		case 'n':
			opts->roundtrips = atoi(optarg);
			break;
		case 'w':
			opts->warmup = atoi(optarg);
			break;
		case 'm':
			opts->marshal_messages = atol(optarg);
			break;
		case 'B':
			opts->marshal_batch = atoi(optarg);
			break;
		case 'f':
			opts->frames = atoi(optarg);
			break;
		case 's':
			if (opts->size_count == 8 ||
			    sscanf(optarg, "%dx%d", &opts->sizes[opts->size_count][0],
				   &opts->sizes[opts->size_count][1]) != 2 ||
			    opts->sizes[opts->size_count][0] <= 0 ||
			    opts->sizes[opts->size_count][1] <= 0) {
				fprintf(stderr, "client-bench: bad size '%s' (WxH, at most 8)\n", optarg);
				return -1;
			}
			opts->size_count++;
			break;
		case 'F':
			opts->fill = false;
			break;
		case 'p':
			opts->pools = atoi(optarg);
			break;
		case 'M':
			opts->pool_mappings = atoi(optarg);
			break;
		case 'q':
			opts->roundtrips = 300;
			opts->warmup = 50;
			opts->marshal_messages = 20000;
			opts->frames = 20;
			opts->pools = 20;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || opts->roundtrips < 1 || opts->warmup < 0 ||
	    opts->marshal_messages < 1 || opts->frames < 1 || opts->marshal_batch < 1 ||
	    opts->pools < 1 || opts->pool_mappings < 0 ||
	    opts->marshal_batch * REGION_ADD_SIZE > 4096) {
		usage(stderr);
		return -1;
	}
	if (opts->size_count == 0) {
		for (i = 0; i < (int) (sizeof default_sizes / sizeof default_sizes[0]); i++) {
			opts->sizes[i][0] = default_sizes[i][0];
			opts->sizes[i][1] = default_sizes[i][1];
		}
		opts->size_count = i;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_client client = { 0 };
	struct bench_options opts;
	int i, ret = 1;

	if (parse_options(argc, argv, &opts) < 0)
		return 2;
	/* The table reads stdout line by line, possibly through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_library();

	client.display = wl_display_connect(NULL);
	if (!client.display) {
		fprintf(stderr, "client-bench: cannot connect to '%s': %s\n",
			getenv("WAYLAND_DISPLAY") ? getenv("WAYLAND_DISPLAY") : "wayland-0",
			strerror(errno));
		return 1;
	}
	client.registry = wl_display_get_registry(client.display);
	wl_registry_add_listener(client.registry, &registry_listener, &client);
	if (wl_display_roundtrip(client.display) < 0 || !client.compositor) {
		fprintf(stderr, "client-bench: compositor offers no wl_compositor v4\n");
		goto out;
	}

	if (opts.run_roundtrip &&
	    bench_roundtrips(&client, &opts, "roundtrip", plain_roundtrip) < 0)
		goto out;
	/* After roundtrip: from wl_display_get_fd on, the client polls the fd itself. */
	if (opts.run_loop && bench_roundtrips(&client, &opts, "loop", loop_roundtrip) < 0)
		goto out;
	if (opts.run_marshal && bench_marshal(&client, &opts) < 0)
		goto out;
	for (i = 0; opts.run_frame && i < opts.size_count; i++)
		if (bench_frame(&client, &opts, opts.sizes[i][0], opts.sizes[i][1]) < 0)
			goto out;
	if (opts.run_pool && bench_pool(&client, &opts) < 0)
		goto out;
	ret = 0;
out:
	if (client.wm_base)
		xdg_wm_base_destroy(client.wm_base);
	if (client.shm)
		wl_shm_destroy(client.shm);
	if (client.compositor)
		wl_compositor_destroy(client.compositor);
	wl_registry_destroy(client.registry);
	wl_display_disconnect(client.display);
	return ret;
}
