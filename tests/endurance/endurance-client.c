/*
 * The endurance tests' client (our libwayland-client): one surface drawn frame after frame from
 * a few wl_shm buffers at the compositor's pace, with a roundtrip every few frames; every
 * second it samples its own RSS and fd count and those of its simulated host device, and at the
 * end fits a line to each and fails if one grows faster than the bounds given.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "endurance.h"

#define MAX_BUFFERS	4
#define MAX_SAMPLES	(24 * 3600)

struct ep_options {
	int width, height;
	double seconds;		/* run this long, or */
	long frames;		/* this many frames (0: by time) */
	int buffers;
	int roundtrip_every;	/* frames; 0: none */
	double warmup;		/* seconds left out of the fits */
	double max_rss_slope;	/* KiB per minute; < 0: not checked */
	double max_fd_slope;	/* fds per minute; < 0: not checked */
	const char *samples_path;
	const char *ready_path;
	long ready_after;	/* frames */
	int timeout;		/* seconds without progress before giving up */
};

struct ep_buffer {
	struct wl_buffer *buffer;
	uint32_t *pixels;
	bool busy;
};

struct ep_client {
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct wl_surface *surface;
	struct wl_shm_pool *pool;
	void *pool_data;
	size_t pool_size;
	struct ep_buffer buffers[MAX_BUFFERS];
	int nbuffers;
	bool frame_done;
	uint32_t seq;
	long frames;
	long roundtrips;
};

/* One per-second sample of the client and its host device. */
struct ep_sample {
	double t;
	double client_rss_kib, client_fds;
	double host_rss_kib, host_fds;
};

static const char *ep_phase = "start";

static void
ep_handle_alarm(int sig)
{
	static const char prefix[] = "endurance-client: FAIL: no progress (hang) in phase ";

	(void)sig;
	if (write(STDERR_FILENO, prefix, sizeof prefix - 1) < 0 ||
	    write(STDERR_FILENO, ep_phase, strlen(ep_phase)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0)
		_exit(3);
	_exit(3);
}

static double
ep_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
ep_fail(struct ep_client *c, const char *what)
{
	int err = errno;
	const struct wl_interface *iface = NULL;
	uint32_t id = 0, code;

	fprintf(stderr, "endurance-client: FAIL: %s: %s", what, strerror(err));
	if (c->display && wl_display_get_error(c->display) == EPROTO) {
		code = wl_display_get_protocol_error(c->display, &iface, &id);
		fprintf(stderr, " (protocol error %u on %s#%u)", code,
			iface ? iface->name : "?", id);
	}
	fprintf(stderr, " after %ld frames\n", c->frames);
	return 1;
}

/* --- what /proc says --------------------------------------------------------------------- */

static double
ep_proc_rss_kib(const char *pid)
{
	char path[64], line[256];
	double kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%s/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %lf", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static double
ep_proc_fds(const char *pid)
{
	char path[64];
	struct dirent *e;
	double n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return strcmp(pid, "self") == 0 ? n - 1 : n;	/* not the one reading it */
}

/* The host device that the launcher started for us: the virtgpu-sim-host process whose
 * --socket is our VIRTGPU_SIM_SOCKET. Writes its pid into pid; -1 if there is none. */
static int
ep_find_host(char *pid, size_t size)
{
	const char *sock = getenv("VIRTGPU_SIM_SOCKET");
	char path[300], cmdline[4096];
	struct dirent *e;
	int found = -1;
	DIR *proc;

	if (!sock || !(proc = opendir("/proc")))
		return -1;
	while (found < 0 && (e = readdir(proc))) {
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmdline, sizeof cmdline - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmdline[n] = '\0';
		if (!strstr(cmdline, "virtgpu-sim-host"))
			continue;
		for (char *arg = cmdline; arg < cmdline + n; arg += strlen(arg) + 1)
			if (strcmp(arg, "--socket") == 0 && arg + strlen(arg) + 1 < cmdline + n &&
			    strcmp(arg + strlen(arg) + 1, sock) == 0) {
				if (strlen(e->d_name) < size) {
					memcpy(pid, e->d_name, strlen(e->d_name) + 1);
					found = 0;
				}
				break;
			}
	}
	closedir(proc);
	return found;
}

/* Least-squares slope of y over t, per minute, from samples at or after t0. */
static double
ep_slope_per_minute(const struct ep_sample *s, int n, size_t field, double t0, int *used)
{
	double st = 0, sy = 0, stt = 0, sty = 0, k = 0;

	for (int i = 0; i < n; i++) {
		double t = s[i].t, y = *(const double *)((const char *)&s[i] + field);

		if (t < t0)
			continue;
		st += t;
		sy += y;
		stt += t * t;
		sty += t * y;
		k++;
	}
	*used = (int)k;
	if (k < 2 || k * stt - st * st == 0)
		return 0;
	return (k * sty - st * sy) / (k * stt - st * st) * 60;
}

/* --- registry, buffers and frames ---------------------------------------------------------- */

static void
ep_registry_global(void *data, struct wl_registry *registry, uint32_t name,
		   const char *interface, uint32_t version)
{
	struct ep_client *c = data;

	if (strcmp(interface, wl_compositor_interface.name) == 0 && !c->compositor)
		c->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	else if (strcmp(interface, wl_shm_interface.name) == 0 && !c->shm)
		c->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
}

static void
ep_registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener ep_registry_listener = {
	.global = ep_registry_global,
	.global_remove = ep_registry_global_remove,
};

static void
ep_buffer_release(void *data, struct wl_buffer *buffer)
{
	struct ep_buffer *b = data;

	b->busy = false;
}

static const struct wl_buffer_listener ep_buffer_listener = {
	.release = ep_buffer_release,
};

static void
ep_frame_done(void *data, struct wl_callback *callback, uint32_t time)
{
	struct ep_client *c = data;

	c->frame_done = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener ep_frame_listener = {
	.done = ep_frame_done,
};

static int
ep_create_buffers(struct ep_client *c, const struct ep_options *o)
{
	size_t stride = (size_t)o->width * 4, size = stride * (size_t)o->height;
	int fd;

	c->pool_size = size * (size_t)o->buffers;
	fd = memfd_create("endurance-pool", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)c->pool_size) < 0)
		return -1;
	c->pool_data = mmap(NULL, c->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->pool_data == MAP_FAILED) {
		c->pool_data = NULL;
		close(fd);
		return -1;
	}
	c->pool = wl_shm_create_pool(c->shm, fd, (int32_t)c->pool_size);
	close(fd);
	for (int i = 0; i < o->buffers; i++) {
		struct ep_buffer *b = &c->buffers[i];

		b->buffer = wl_shm_pool_create_buffer(c->pool, (int32_t)(size * (size_t)i),
						      o->width, o->height, (int32_t)stride,
						      WL_SHM_FORMAT_XRGB8888);
		b->pixels = (uint32_t *)((char *)c->pool_data + size * (size_t)i);
		wl_buffer_add_listener(b->buffer, &ep_buffer_listener, b);
	}
	c->nbuffers = o->buffers;
	return 0;
}

static void
ep_fill(uint32_t *pixels, const struct ep_options *o, uint32_t seq)
{
	for (int32_t y = 0; y < o->height; y++) {
		uint32_t *row = pixels + (size_t)y * (size_t)o->width;

		for (int32_t x = 0; x < o->width; x += 16) {
			uint32_t v = endurance_pixel(x, y, seq);
			int32_t end = x + 16 < o->width ? x + 16 : o->width;

			for (int32_t i = x; i < end; i++)
				row[i] = v;
		}
	}
	pixels[0] = endurance_seq_pixel(seq);
}

/* Draws the next frame into a free buffer and commits it with a frame callback. */
static int
ep_draw(struct ep_client *c, const struct ep_options *o)
{
	struct ep_buffer *b = NULL;
	struct wl_callback *frame;

	ep_phase = "waiting for a free buffer";
	while (!b) {
		for (int i = 0; i < c->nbuffers && !b; i++)
			if (!c->buffers[i].busy)
				b = &c->buffers[i];
		if (!b && wl_display_dispatch(c->display) < 0)
			return ep_fail(c, "wl_display_dispatch (buffer release)");
	}
	ep_fill(b->pixels, o, c->seq);
	c->seq++;
	b->busy = true;
	wl_surface_attach(c->surface, b->buffer, 0, 0);
	wl_surface_damage_buffer(c->surface, 0, 0, o->width, o->height);
	frame = wl_surface_frame(c->surface);
	wl_callback_add_listener(frame, &ep_frame_listener, c);
	c->frame_done = false;
	wl_surface_commit(c->surface);
	if (wl_display_flush(c->display) < 0 && errno != EAGAIN)
		return ep_fail(c, "wl_display_flush");
	return 0;
}

static void
ep_sample(struct ep_sample *s, double t, const char *host_pid)
{
	s->t = t;
	s->client_rss_kib = ep_proc_rss_kib("self");
	s->client_fds = ep_proc_fds("self");
	s->host_rss_kib = host_pid ? ep_proc_rss_kib(host_pid) : 0;
	s->host_fds = host_pid ? ep_proc_fds(host_pid) : 0;
}

static int
ep_check_slopes(const struct ep_sample *s, int n, const struct ep_options *o, double elapsed,
		const struct ep_client *c, bool with_host)
{
	static const struct {
		const char *name;
		size_t field;
		bool rss;
		bool host;
	} series[] = {
		{ "client_rss", offsetof(struct ep_sample, client_rss_kib), true, false },
		{ "client_fds", offsetof(struct ep_sample, client_fds), false, false },
		{ "host_rss", offsetof(struct ep_sample, host_rss_kib), true, true },
		{ "host_fds", offsetof(struct ep_sample, host_fds), false, true },
	};
	double t0 = n ? s[0].t + o->warmup : 0;
	int bad = 0, used = 0;

	printf("endurance-client: %dx%d frames=%ld in %.1f s (%.1f/s) roundtrips=%ld",
	       o->width, o->height, c->frames, elapsed, c->frames / elapsed, c->roundtrips);
	for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
		double slope, bound = series[i].rss ? o->max_rss_slope : o->max_fd_slope;

		if (series[i].host && !with_host)
			continue;
		slope = ep_slope_per_minute(s, n, series[i].field, t0, &used);
		printf(" %s=%+.2f%s", series[i].name, slope,
		       series[i].rss ? "KiB/min" : "/min");
		if (bound >= 0 && slope > bound) {
			fprintf(stderr, "endurance-client: FAIL: %s grows %.2f%s (bound %.2f)\n",
				series[i].name, slope, series[i].rss ? " KiB/min" : " per minute",
				bound);
			bad = 1;
		}
	}
	printf(" (fit over %d samples, first %.0f s left out)\n", used, o->warmup);
	fflush(stdout);
	return bad;
}

static int
ep_write_samples(const struct ep_sample *s, int n, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fprintf(f, "# t client_rss_kib client_fds host_rss_kib host_fds\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%.3f %.0f %.0f %.0f %.0f\n", s[i].t, s[i].client_rss_kib,
			s[i].client_fds, s[i].host_rss_kib, s[i].host_fds);
	return fclose(f);
}

static int
ep_roundtrip(struct ep_client *c)
{
	ep_phase = "roundtrip";
	if (wl_display_roundtrip(c->display) < 0)
		return ep_fail(c, "wl_display_roundtrip");
	c->roundtrips++;
	return 0;
}

/* The frame loop: wait for the frame callback, sample, roundtrip now and then, draw. */
static int
ep_run_frames(struct ep_client *c, const struct ep_options *o, struct ep_sample *samples,
	      int *nsamples, const char *host_pid, double *elapsed)
{
	double start = ep_now(), next_sample = start;

	if (ep_draw(c, o))
		return 1;
	for (;;) {
		double now;

		ep_phase = "waiting for a frame callback";
		alarm((unsigned)o->timeout);
		while (!c->frame_done)
			if (wl_display_dispatch(c->display) < 0)
				return ep_fail(c, "wl_display_dispatch (frame)");
		c->frames++;
		if (o->ready_path && c->frames == o->ready_after) {
			int fd = open(o->ready_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		}
		now = ep_now();
		if (o->samples_path && now >= next_sample && *nsamples < MAX_SAMPLES) {
			ep_sample(&samples[(*nsamples)++], now - start, host_pid);
			next_sample += 1;
		}
		if (o->frames ? c->frames >= o->frames : now - start >= o->seconds) {
			*elapsed = now - start;
			return 0;
		}
		if (o->roundtrip_every && c->frames % o->roundtrip_every == 0 && ep_roundtrip(c))
			return 1;
		if (ep_draw(c, o))
			return 1;
	}
}

static void
ep_destroy(struct ep_client *c)
{
	for (int i = 0; i < c->nbuffers; i++)
		wl_buffer_destroy(c->buffers[i].buffer);
	if (c->pool)
		wl_shm_pool_destroy(c->pool);
	if (c->pool_data)
		munmap(c->pool_data, c->pool_size);
	if (c->surface)
		wl_surface_destroy(c->surface);
	if (c->shm)
		wl_shm_destroy(c->shm);
	if (c->compositor)
		wl_compositor_destroy(c->compositor);
	if (c->registry)
		wl_registry_destroy(c->registry);
	wl_display_disconnect(c->display);
}

static void
ep_usage(void)
{
	fprintf(stderr, "usage: endurance-client [--size WxH] [--seconds S | --frames N] "
		"[--buffers N] [--roundtrip-every N]\n"
		"         [--samples FILE] [--warmup S] [--max-rss-slope KIB_PER_MIN] "
		"[--max-fd-slope N_PER_MIN]\n"
		"         [--ready FILE --ready-after N] [--timeout S]\n");
}

static int
ep_parse(int argc, char **argv, struct ep_options *o)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "frames", required_argument, NULL, 'f' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "roundtrip-every", required_argument, NULL, 'r' },
		{ "samples", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "max-rss-slope", required_argument, NULL, 'R' },
		{ "max-fd-slope", required_argument, NULL, 'F' },
		{ "ready", required_argument, NULL, 'y' },
		{ "ready-after", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	int opt;

	*o = (struct ep_options){
		.width = 1920, .height = 1080, .seconds = 30, .buffers = 3,
		.roundtrip_every = 30, .warmup = 5, .max_rss_slope = -1, .max_fd_slope = -1,
		.ready_after = 10, .timeout = 20,
	};
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (sscanf(optarg, "%dx%d", &o->width, &o->height) != 2)
				return -1;
			break;
		case 'S': o->seconds = atof(optarg); break;
		case 'f': o->frames = atol(optarg); break;
		case 'b': o->buffers = atoi(optarg); break;
		case 'r': o->roundtrip_every = atoi(optarg); break;
		case 'o': o->samples_path = optarg; break;
		case 'w': o->warmup = atof(optarg); break;
		case 'R': o->max_rss_slope = atof(optarg); break;
		case 'F': o->max_fd_slope = atof(optarg); break;
		case 'y': o->ready_path = optarg; break;
		case 'a': o->ready_after = atol(optarg); break;
		case 't': o->timeout = atoi(optarg); break;
		default: return -1;
		}
	}
	if (optind != argc || o->width < 16 || o->height < 1 || o->buffers < 2 ||
	    o->buffers > MAX_BUFFERS || o->timeout < 1 || (o->frames <= 0 && o->seconds <= 0))
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct ep_options o;
	struct ep_client c = { 0 };
	struct ep_sample *samples = NULL;
	int nsamples = 0, fds_before, fds_after, ret;
	char host_pid[32];
	bool with_host;
	double elapsed = 0;

	if (ep_parse(argc, argv, &o) < 0) {
		ep_usage();
		return 2;
	}
	signal(SIGALRM, ep_handle_alarm);
	alarm((unsigned)o.timeout);
	with_host = ep_find_host(host_pid, sizeof host_pid) == 0;
	if (o.samples_path && !(samples = calloc(MAX_SAMPLES, sizeof *samples)))
		return 1;
	fds_before = (int)ep_proc_fds("self");

	ep_phase = "connect";
	c.display = wl_display_connect(NULL);
	if (!c.display)
		return ep_fail(&c, "wl_display_connect");
	c.registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(c.registry, &ep_registry_listener, &c);
	if (ep_roundtrip(&c))
		return 1;
	if (!c.compositor || !c.shm) {
		fprintf(stderr, "endurance-client: FAIL: no wl_compositor or wl_shm\n");
		return 1;
	}
	c.surface = wl_compositor_create_surface(c.compositor);
	if (ep_create_buffers(&c, &o) < 0)
		return ep_fail(&c, "creating the buffers");

	ret = ep_run_frames(&c, &o, samples, &nsamples, with_host ? host_pid : NULL, &elapsed);
	if (ret == 0)
		ret = ep_roundtrip(&c);
	if (ret)
		return ret;
	if (o.samples_path && ep_write_samples(samples, nsamples, o.samples_path) < 0) {
		fprintf(stderr, "endurance-client: FAIL: writing %s: %s\n", o.samples_path,
			strerror(errno));
		return 1;
	}
	ret = o.samples_path ? ep_check_slopes(samples, nsamples, &o, elapsed, &c, with_host) : 0;
	free(samples);

	ep_phase = "disconnect";
	ep_destroy(&c);
	fds_after = (int)ep_proc_fds("self");
	if (fds_after != fds_before) {
		fprintf(stderr, "endurance-client: FAIL: %d fds open after disconnect, %d before\n",
			fds_after, fds_before);
		return 1;
	}
	printf("endurance-client: %s frames=%ld roundtrips=%ld\n", ret ? "FAIL" : "PASS",
	       c.frames, c.roundtrips);
	return ret;
}
