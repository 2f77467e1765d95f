/*
 * The upstream client contract over the virtio-gpu transport (issue 4,
 * points 3 and 5), as a guest of the simulated device (run-virtgpu): fds of
 * every kind the channel moves, in both directions, through beh_fd_test, a
 * protocol the library has never heard of; the display fd pollable; flush
 * while the compositor sleeps; messages larger than one SEND or RECEIVE;
 * fds the host cannot take refused with a clear line (files and memfds
 * cross as host memory: memory-fds-test.c).
 */

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "raw.h"
#include "../sim/virtgpu-sim.h"

/* Where the byte pattern of get_memory and of the large messages comes
 * from. */
static unsigned char
pattern(size_t k)
{
	return (k * 31 + 7) & 0xff;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

struct described {
	uint32_t index, kind, size;
	char bytes[257];
	size_t len;
};

struct fdt {
	int described;
	struct described d[8];
	int memory_fd;
	uint32_t memory_size;
	int pipe_fd;
	int pipe_datas;
	unsigned char *pipe_data;
	size_t pipe_len;
	uint32_t pipe_hash;
	int mixed;
	int mixed_fds[3];
	int arrays;
	unsigned char *array;
	size_t array_len;
	int pongs;
};

static void
fdt_described(void *data, struct beh_fd_test *t, uint32_t index,
	      uint32_t kind, uint32_t size, struct wl_array *bytes)
{
	struct fdt *s = data;
	struct described *d;

	check(s->described < 8);
	d = &s->d[s->described++];
	d->index = index;
	d->kind = kind;
	d->size = size;
	check(bytes->size < sizeof d->bytes);
	memcpy(d->bytes, bytes->data, bytes->size);
	d->bytes[bytes->size] = '\0';
	d->len = bytes->size;
}

static void
fdt_memory(void *data, struct beh_fd_test *t, int32_t fd, uint32_t size)
{
	struct fdt *s = data;

	check_int(s->memory_fd, ==, -1);
	s->memory_fd = fd;
	s->memory_size = size;
}

static void
fdt_pipe(void *data, struct beh_fd_test *t, int32_t fd)
{
	struct fdt *s = data;

	check_int(s->pipe_fd, ==, -1);
	s->pipe_fd = fd;
}

static uint32_t
fnv1a(const unsigned char *p, size_t n)
{
	uint32_t hash = 2166136261u;

	while (n--)
		hash = (hash ^ *p++) * 16777619u;
	return hash;
}

static void
fdt_pipe_data(void *data, struct beh_fd_test *t, uint32_t size,
	      uint32_t hash, struct wl_array *head)
{
	struct fdt *s = data;

	s->pipe_datas++;
	free(s->pipe_data);
	s->pipe_data = malloc(head->size + 1);
	check(s->pipe_data != NULL);
	memcpy(s->pipe_data, head->data, head->size);
	s->pipe_data[head->size] = '\0';
	s->pipe_len = size;
	s->pipe_hash = hash;
}

static void
fdt_mixed(void *data, struct beh_fd_test *t, int32_t a, int32_t b, int32_t c)
{
	struct fdt *s = data;

	s->mixed++;
	s->mixed_fds[0] = a;
	s->mixed_fds[1] = b;
	s->mixed_fds[2] = c;
}

static void
fdt_array(void *data, struct beh_fd_test *t, struct wl_array *payload)
{
	struct fdt *s = data;

	s->arrays++;
	free(s->array);
	s->array = malloc(payload->size + 1);
	check(s->array != NULL);
	memcpy(s->array, payload->data, payload->size);
	s->array_len = payload->size;
}

static const struct beh_fd_test_listener fdt_listener = {
	fdt_described, fdt_memory, fdt_pipe, fdt_pipe_data, fdt_mixed,
	fdt_array, NULL,	/* file_read: memory-fds-test.c's */
};

static void
test_pong(void *data, struct beh_test *test, uint32_t serial)
{
	(*(uint32_t *) data)++;
}

static const struct beh_test_listener count_listener = {
	beh_test_close_everything,
	beh_test_close_fds,
	beh_test_store_noop_count,
	beh_test_ignore_pong,
};

static const struct beh_test_listener pong_listener = {
	beh_test_close_everything,
	beh_test_close_fds,
	beh_test_store_noop_count,
	test_pong,
};

static void
connect_fdt(struct beh_client *c, struct fdt *s)
{
	memset(s, 0, sizeof *s);
	s->memory_fd = -1;
	s->pipe_fd = -1;
	beh_client_connect(c, 3);
	check(c->fd_test != NULL);
	check(beh_fd_test_add_listener(c->fd_test, &fdt_listener, s) == 0);
}

#define dispatch_until(c, cond)						\
	do {								\
		while (!(cond))						\
			check_int(wl_display_dispatch((c)->display), >=, 0); \
	} while (0)

/* Reads fd to EOF (blocking; the case's alarm bounds it). */
static size_t
read_all(int fd, unsigned char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	for (;;) {
		check(got < size);
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		check(n >= 0);
		if (n == 0)
			return got;
		got += n;
	}
}

static void
write_all(int fd, const unsigned char *buf, size_t size)
{
	ssize_t n;

	while (size > 0) {
		n = write(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		check(n > 0);
		buf += n;
		size -= n;
	}
}

static void
check_described(const struct described *d, uint32_t index, uint32_t kind,
		const char *text)
{
	check_int(d->index, ==, index);
	check_int(d->kind, ==, kind);
	if (strncmp(d->bytes, text, strlen(text) + (kind == 2)) != 0)
		beh_fail(__FILE__, __LINE__, "fd %u: compositor saw \"%s\", "
			 "want \"%s\"", index, d->bytes, text);
}

/* guest -> compositor */

BEH_TEST_VIRTGPU_ONLY(virtgpu_gpu_buffer_reaches_compositor)
{
	/* A GPU buffer (dma-buf) crosses as its resource: the compositor maps
	 * the same memory, so a later write by the guest shows there too. */
	struct beh_client c;
	struct fdt s;
	uint64_t size;
	char *map;
	int fd;

	connect_fdt(&c, &s);
	fd = beh_gpu_buffer("a GPU buffer from the guest", 8192, &size);
	beh_fd_test_inspect(c.fd_test, fd);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(s.described, ==, 1);
	check_described(&s.d[0], 0, 1, "a GPU buffer from the guest");
	check_int(s.d[0].size, >=, 8192);

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(map != MAP_FAILED);
	strcpy(map, "changed after the first send");
	munmap(map, size);
	beh_fd_test_inspect(c.fd_test, fd);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(s.described, ==, 2);
	check_described(&s.d[1], 0, 1, "changed after the first send");
	close(fd);
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_pipe_write_end_to_compositor)
{
	/* A pipe's write end (wl_data_offer.receive's shape): what the
	 * compositor writes reaches the guest's read end, then EOF, while
	 * the client blocks in read() and dispatches nothing. */
	struct beh_client c;
	struct fdt s;
	unsigned char buf[256];
	int p[2];
	size_t n;

	connect_fdt(&c, &s);
	check(pipe2(p, O_CLOEXEC) == 0);
	beh_fd_test_inspect(c.fd_test, p[1]);
	check_int(wl_display_flush(c.display), >, 0);
	close(p[1]);
	n = read_all(p[0], buf, sizeof buf);
	buf[n] = '\0';
	check_str((char *) buf, "written to fd 0");
	close(p[0]);

	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(s.described, ==, 1);
	check_described(&s.d[0], 0, 2, "written to fd 0");
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_several_fds_in_one_request_in_order)
{
	/* GPU buffer, pipe write end, GPU buffer in one request, then three
	 * GPU buffers in each rotation: the compositor gets them in order. */
	struct beh_client c;
	struct fdt s;
	uint64_t size;
	unsigned char buf[64];
	int a, b, p[2], fds[3], round, k;
	size_t n;

	connect_fdt(&c, &s);
	a = beh_gpu_buffer("buffer a", 0, &size);
	b = beh_gpu_buffer("buffer c", 0, &size);
	check(pipe2(p, O_CLOEXEC) == 0);
	beh_fd_test_inspect3(c.fd_test, a, p[1], b);
	check_int(wl_display_flush(c.display), >, 0);
	close(p[1]);
	n = read_all(p[0], buf, sizeof buf - 1);
	buf[n] = '\0';
	check_str((char *) buf, "written to fd 1");
	close(p[0]);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(s.described, ==, 3);
	check_described(&s.d[0], 0, 1, "buffer a");
	check_described(&s.d[1], 1, 2, "written to fd 1");
	check_described(&s.d[2], 2, 1, "buffer c");
	close(a);
	close(b);

	for (k = 0; k < 3; k++) {
		char text[16];

		snprintf(text, sizeof text, "gpu %d", k);
		fds[k] = beh_gpu_buffer(text, 0, &size);
	}
	for (round = 0; round < 3; round++) {
		s.described = 0;
		beh_fd_test_inspect3(c.fd_test, fds[round % 3],
				     fds[(round + 1) % 3], fds[(round + 2) % 3]);
		check_int(wl_display_roundtrip(c.display), >, 0);
		check_int(s.described, ==, 3);
		for (k = 0; k < 3; k++) {
			char text[16];

			snprintf(text, sizeof text, "gpu %d", (round + k) % 3);
			check_described(&s.d[k], k, 1, text);
		}
	}
	for (k = 0; k < 3; k++)
		close(fds[k]);
	beh_client_disconnect(&c);
}

/* compositor -> guest */

static void
check_memory(int fd, uint32_t size, const char *text)
{
	const unsigned char *map;
	size_t len = strlen(text) + 1, k;
	off_t end;

	end = lseek(fd, 0, SEEK_END);
	check_int(end, >=, size);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		beh_fail(__FILE__, __LINE__, "mmap of the received fd: %s",
			 strerror(errno));
	check(memcmp(map, text, len) == 0);
	for (k = len; k < size; k++)
		if (map[k] != pattern(k))
			beh_fail(__FILE__, __LINE__, "byte %zu of %u: %u, want %u",
				 k, size, map[k], pattern(k));
	munmap((void *) map, size);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_memfd_from_compositor)
{
	/* A memfd in an event arrives as host memory: mmap shows its bytes,
	 * for a small one and for one of several pages plus a bit. */
	static const uint32_t sizes[] = { 20, 4096, 3 * 4096 + 100, 1 << 20 };
	struct beh_client c;
	struct fdt s;
	size_t i;

	connect_fdt(&c, &s);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		s.memory_fd = -1;
		beh_fd_test_get_memory(c.fd_test, "host memory", sizes[i]);
		check_int(wl_display_roundtrip(c.display), >, 0);
		check(s.memory_fd >= 0);
		check_int(s.memory_size, ==, sizes[i]);
		check_memory(s.memory_fd, sizes[i], "host memory");
		close(s.memory_fd);
	}
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_pipe_from_compositor)
{
	/* A pipe write end in an event: the guest writes 200 KiB in two
	 * parts with a pause between (no hang-up before EOF) and closes;
	 * the compositor reads every byte, in order. */
	enum { TOTAL = 200 * 1024, FIRST = 70000 };
	struct beh_client c;
	struct fdt s;
	unsigned char *data = malloc(TOTAL);
	size_t k;

	check(data != NULL);
	for (k = 0; k < TOTAL; k++)
		data[k] = pattern(k * 3 + 1);
	connect_fdt(&c, &s);
	beh_fd_test_get_pipe(c.fd_test);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check(s.pipe_fd >= 0);
	check_int(fcntl(s.pipe_fd, F_GETFL) & O_ACCMODE, ==, O_WRONLY);
	write_all(s.pipe_fd, data, FIRST);
	usleep(300 * 1000);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(s.pipe_datas, ==, 0);	/* no EOF yet */
	write_all(s.pipe_fd, data + FIRST, TOTAL - FIRST);
	close(s.pipe_fd);
	dispatch_until(&c, s.pipe_datas > 0);
	check_int(s.pipe_datas, ==, 1);
	check_int(s.pipe_len, ==, TOTAL);
	check(memcmp(s.pipe_data, data, 256) == 0);
	check_int(s.pipe_hash, ==, fnv1a(data, TOTAL));
	free(data);
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_several_fds_in_one_event_in_order)
{
	/* memfd, pipe write end, memfd in one event, repeatedly. */
	struct beh_client c;
	struct fdt s;
	char text[64];
	int round;

	connect_fdt(&c, &s);
	for (round = 0; round < 5; round++) {
		s.mixed = 0;
		s.pipe_datas = 0;
		beh_fd_test_get_mixed(c.fd_test);
		check_int(wl_display_roundtrip(c.display), >, 0);
		check_int(s.mixed, ==, 1);
		beh_fd_text(s.mixed_fds[0], text, sizeof text);
		check_str(text, "first");
		beh_fd_text(s.mixed_fds[2], text, sizeof text);
		check_str(text, "third");
		check_int(fcntl(s.mixed_fds[1], F_GETFL) & O_ACCMODE, ==,
			  O_WRONLY);
		snprintf(text, sizeof text, "round %d", round);
		write_all(s.mixed_fds[1], (unsigned char *) text,
			  strlen(text));
		close(s.mixed_fds[0]);
		close(s.mixed_fds[1]);
		close(s.mixed_fds[2]);
		dispatch_until(&c, s.pipe_datas > 0);
		check_str((char *) s.pipe_data, text);
	}
	beh_client_disconnect(&c);
}

/* the display fd, flush, roundtrips */

/* A client of the fd_test global whose pongs count up *pongs. */
static void
connect_pong_counter(struct beh_client *c, struct fdt *s, uint32_t *pongs)
{
	connect_fdt(c, s);
	beh_test_add_listener(c->test, &pong_listener, pongs);
}

/* Waits for the display fd to turn readable. */
static struct pollfd
display_pollin(struct beh_client *c)
{
	return (struct pollfd) { wl_display_get_fd(c->display), POLLIN, 0 };
}

/* Reads what the display fd has, as a poll loop does, and dispatches it;
 * returns what dispatch_pending does. */
static int
read_and_dispatch(struct beh_client *c)
{
	check_int(wl_display_prepare_read(c->display), ==, 0);
	check_int(wl_display_read_events(c->display), ==, 0);
	return wl_display_dispatch_pending(c->display);
}

/* Reads whatever is still on its way from the connection's set-up (the
 * delete_id after its roundtrip's done may come in a message of its own),
 * until the display fd stays quiet for 100 ms, so that a later wake-up is
 * the test's own event. */
static void
drain_display_fd(struct beh_client *c)
{
	struct pollfd pfd = display_pollin(c);
	int rounds = 0;

	while (poll(&pfd, 1, 100) == 1) {
		check_int(read_and_dispatch(c), >=, 0);
		check_int(++rounds, <, 50);
	}
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_display_fd_pollable)
{
	/* poll() on wl_display_get_fd wakes when an event arrives, without
	 * anyone dispatching; it does not report readable before, nor once
	 * the events are read. */
	struct beh_client c;
	struct fdt s;
	struct pollfd pfd;
	uint32_t pongs = 0;
	double t0;

	connect_pong_counter(&c, &s, &pongs);
	pfd = display_pollin(&c);
	check_int(poll(&pfd, 1, 100), ==, 0);

	beh_fd_test_sleep(c.fd_test, 400);
	beh_test_ping(c.test, 7);
	check_int(wl_display_flush(c.display), >, 0);
	t0 = now_ms();
	check_int(poll(&pfd, 1, 0), ==, 0);
	check_int(poll(&pfd, 1, 10000), ==, 1);
	check(pfd.revents & POLLIN);
	check(now_ms() - t0 >= 300);

	check_int(read_and_dispatch(&c), ==, 1);
	check_int(pongs, ==, 1);
	check_int(poll(&pfd, 1, 200), ==, 0);
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_display_fd_wakes_without_flush)
{
	/* After reading one event, a client that polls the display fd
	 * again without flushing or preparing to read (an older style of
	 * loop) still wakes for the next event: the library puts off its
	 * next channel POLL hoping to send it with a request, but not for
	 * ever. */
	struct beh_client c;
	struct fdt s;
	struct pollfd pfd;
	uint32_t pongs = 0;
	double t0;

	connect_pong_counter(&c, &s, &pongs);
	pfd = display_pollin(&c);

	/* pong 1 at once, pong 2 a while later, with no request between. */
	beh_test_ping(c.test, 1);
	beh_fd_test_sleep(c.fd_test, 300);
	beh_test_ping(c.test, 2);
	check_int(wl_display_flush(c.display), >, 0);
	while (pongs < 1) {
		check_int(poll(&pfd, 1, 5000), ==, 1);
		check_int(read_and_dispatch(&c), >=, 0);
	}
	check_int(pongs, ==, 1);

	t0 = now_ms();
	check_int(poll(&pfd, 1, 5000), ==, 1);
	check(now_ms() - t0 < 4000);
	check_int(wl_display_dispatch(c.display), ==, 1);
	check_int(pongs, ==, 2);
	beh_client_disconnect(&c);
}

struct poll_thread {
	struct wl_display *display;
	double woke_at;
	int ret;
};

static void *
poll_thread_main(void *data)
{
	struct poll_thread *p = data;
	struct pollfd pfd = { wl_display_get_fd(p->display), POLLIN, 0 };

	p->ret = poll(&pfd, 1, 10000);
	p->woke_at = now_ms();
	return NULL;
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_display_fd_wakes_other_thread)
{
	/* A thread blocked in poll() on the display fd wakes when the event
	 * comes, while the main thread only sent the request. */
	struct beh_client c;
	struct fdt s;
	struct poll_thread p = { 0 };
	pthread_t thread;
	uint32_t pongs = 0;
	double sent_at;

	connect_pong_counter(&c, &s, &pongs);
	drain_display_fd(&c);
	p.display = c.display;
	check(pthread_create(&thread, NULL, poll_thread_main, &p) == 0);
	usleep(200 * 1000);
	sent_at = now_ms();
	beh_test_ping(c.test, 9);
	check_int(wl_display_flush(c.display), >, 0);
	check(pthread_join(thread, NULL) == 0);
	check_int(p.ret, ==, 1);
	check(p.woke_at >= sent_at);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(pongs, ==, 1);
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_flush_while_compositor_sleeps)
{
	/* The compositor sleeps 1.5 s without reading while 4 MiB of
	 * requests are flushed. As over a socket: flush never waits for it
	 * but returns -1/EAGAIN (without the error state), the display fd
	 * then says not writable until the host has taken more, and once
	 * the compositor reads again every request arrives. The simulated
	 * host, like a real one, stops taking SENDs while the compositor's
	 * socket is full, and its queue holds a bounded number of submits:
	 * a library that submitted on regardless would wait in the ioctl
	 * for the whole sleep. */
	struct beh_client c;
	struct fdt s;
	struct wl_array payload;
	struct pollfd pfd;
	uint32_t sent = 0, count = 0;
	double t0, slowest = 0, dt, blocked_ms = 0, waited;
	int ret, eagain = 0, unwritable = 0;

	connect_fdt(&c, &s);
	beh_test_add_listener(c.test, &count_listener, &count);
	beh_fd_test_sleep(c.fd_test, 1500);
	check_int(wl_display_flush(c.display), >, 0);
	wl_array_init(&payload);
	memset(wl_array_add(&payload, 1000), 0x5a, 1000);
	pfd.fd = wl_display_get_fd(c.display);
	pfd.events = POLLOUT;
	while (sent < 4096) {
		beh_test_noop(c.test, &payload);
		sent++;
		t0 = now_ms();
		ret = wl_display_flush(c.display);
		dt = now_ms() - t0;
		if (dt > slowest)
			slowest = dt;
		if (ret == -1) {
			check_int(errno, ==, EAGAIN);
			check_int(wl_display_get_error(c.display), ==, 0);
			/* Not writable yet: while the compositor sleeps.
			 * A guest under TCG also fills the library's queue
			 * with SENDs the host has not run yet, which free
			 * room on their own soon after (maybe before this
			 * poll): counted, the sleep must show in one. */
			eagain++;
			if (poll(&pfd, 1, 0) == 0)
				unwritable++;
			t0 = now_ms();
			check_int(poll(&pfd, 1, 10000), ==, 1);
			waited = now_ms() - t0;
			if (waited > blocked_ms)
				blocked_ms = waited;
		}
	}
	while ((ret = wl_display_flush(c.display)) == -1) {
		check_int(errno, ==, EAGAIN);
		eagain++;
		check_int(poll(&pfd, 1, 10000), ==, 1);
	}
	printf("# %u requests, %d EAGAIN (%d not writable at once), slowest "
	       "flush %.1f ms, longest wait for POLLOUT %.0f ms\n", sent,
	       eagain, unwritable, slowest, blocked_ms);
	check_int(eagain, >=, 1);
	check_int(unwritable, >=, 1);
	/* A flush that waited for the compositor would take about the
	 * whole 1.5 s; the wait is in poll instead (one wait holds the
	 * sleep). */
	check(slowest < 500);
	check(blocked_ms > 200);
	beh_test_get_noop_count(c.test);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(count, ==, sent);
	wl_array_release(&payload);
	beh_client_disconnect(&c);
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_roundtrip_while_compositor_sleeps)
{
	/* 2 MiB of requests queued while the compositor sleeps 1 s, then
	 * a roundtrip: the library's own flush meets EAGAIN and waits for
	 * the display fd to say writable, without spinning, and every
	 * request arrives. */
	struct beh_client c;
	struct fdt s;
	struct wl_array payload;
	uint32_t sent, count = 0;
	double cpu0, cpu, t0, wall;

	connect_fdt(&c, &s);
	beh_test_add_listener(c.test, &count_listener, &count);
	beh_fd_test_sleep(c.fd_test, 1000);
	check_int(wl_display_flush(c.display), >, 0);
	wl_array_init(&payload);
	memset(wl_array_add(&payload, 2000), 0x3c, 2000);
	for (sent = 0; sent < 1024; sent++)
		beh_test_noop(c.test, &payload);
	beh_test_get_noop_count(c.test);
	cpu0 = cpu_ms();
	t0 = now_ms();
	check_int(wl_display_roundtrip(c.display), >, 0);
	wall = now_ms() - t0;
	cpu = cpu_ms() - cpu0;
	printf("# roundtrip %.0f ms, %.0f ms of CPU\n", wall, cpu);
	check_int(count, ==, sent);
	check(wall > 500);
	/* Spinning through the compositor's 1 s sleep would spend it on CPU;
	 * sending 2 MiB costs CPU of its own, a lot of it in a guest under
	 * TCG on a loaded host (623 ms of 1819 seen), so most of the sleep
	 * must be idle, whatever the sending took. */
	check(wall - cpu > 700);
	wl_array_release(&payload);
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_many_roundtrips)
{
	/* 500 roundtrips, each answered before it returns. */
	struct beh_client c;
	struct fdt s;
	uint32_t pongs = 0, i;

	connect_pong_counter(&c, &s, &pongs);
	for (i = 0; i < 500; i++) {
		beh_test_ping(c.test, i);
		check_int(wl_display_roundtrip(c.display), >, 0);
		check_int(pongs, ==, i + 1);
	}
	beh_client_disconnect(&c);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_forked_child_takes_over)
{
	/* A child goes on with the connection it inherited (wl-copy does)
	 * while its parent stays alive and idle: the parent's library must
	 * not send keepalives into it (its object ids are not the child's,
	 * and the two would share the channel's one POLL). */
	struct beh_client c;
	struct fdt s;
	int status;
	pid_t pid;

	setenv("WAYLAND_VIRTGPU_KEEPALIVE", "1", 1);
	connect_fdt(&c, &s);
	unsetenv("WAYLAND_VIRTGPU_KEEPALIVE");
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		uint32_t pongs = 0, rounds = 0;
		double end = now_ms() + 3000;

		beh_test_add_listener(c.test, &pong_listener, &pongs);
		while (now_ms() < end) {
			beh_test_ping(c.test, rounds++);
			if (wl_display_roundtrip(c.display) < 0 || pongs != rounds)
				_exit(1);
			usleep(50 * 1000);
		}
		_exit(0);
	}
	check(waitpid(pid, &status, 0) == pid);
	check(WIFEXITED(status));
	check_int(WEXITSTATUS(status), ==, 0);
	/* The child's ids are not this process's: leave without a word. */
	beh_client_disconnect(&c);
}

/* messages larger than one SEND / RECEIVE (3744 bytes) */

static void
fill(struct wl_array *a, size_t size, size_t seed)
{
	unsigned char *p;
	size_t k;

	wl_array_init(a);
	p = wl_array_add(a, size);
	check(p != NULL);
	for (k = 0; k < size; k++)
		p[k] = pattern(k + seed);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_4096_byte_messages_through_compositor)
{
	/* The test compositor's libwayland-server (1.21) takes messages up to
	 * 4096 bytes: a 4096-byte request and its 4096-byte echo, each more
	 * than one SEND / RECEIVE, several in a row, with a GPU buffer
	 * between them. */
	struct beh_client c;
	struct fdt s;
	struct wl_array a;
	uint64_t size;
	int round, fd;

	connect_fdt(&c, &s);
	fd = beh_gpu_buffer("between", 0, &size);
	for (round = 0; round < 4; round++) {
		fill(&a, 4096 - 12, round);
		beh_fd_test_echo(c.fd_test, &a);
		beh_fd_test_inspect(c.fd_test, fd);
		beh_fd_test_echo(c.fd_test, &a);
		s.arrays = 0;
		s.described = 0;
		check_int(wl_display_roundtrip(c.display), >, 0);
		check_int(s.arrays, ==, 2);
		check_int(s.described, ==, 1);
		check_described(&s.d[0], 0, 1, "between");
		check_int(s.array_len, ==, a.size);
		check(memcmp(s.array, a.data, a.size) == 0);
		wl_array_release(&a);
	}
	close(fd);
	beh_client_disconnect(&c);
}

/* A raw host peer for the 60 KiB messages, which the 1.21 test compositor
 * cannot take: the case listens on the host path itself. */
struct big_server {
	int listen_fd;
	size_t size;
	int error;	/* the thread's first failed step, 0 if none */
};

#define BIG_EVENT_ARRAY 5	/* beh_fd_test.array */
#define BIG_EVENT_MEMORY 1	/* beh_fd_test.memory */
#define BIG_REQUEST_ECHO 6	/* beh_fd_test.echo */

static bool
read_exact(int fd, void *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = read(fd, (char *) buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static void *
big_server_main(void *data)
{
	struct big_server *b = data;
	size_t msg = 12 + b->size, k;
	uint32_t *buf = malloc(msg + 16), *out = malloc(msg + 16);
	struct raw raw = { 0 };
	unsigned char *p;
	int fd, memfd;

	if (!buf || !out) {
		b->error = 1;
		return NULL;
	}
	fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		b->error = 2;
		return NULL;
	}
	/* The echo request on beh_fd_test#2. */
	if (!read_exact(fd, buf, msg)) {
		b->error = 3;
		goto out;
	}
	if (buf[0] != 2 || buf[1] != ((uint32_t) msg << 16 | BIG_REQUEST_ECHO) ||
	    buf[2] != b->size) {
		b->error = 4;
		goto out;
	}
	p = (unsigned char *) &buf[3];
	for (k = 0; k < b->size; k++)
		if (p[k] != pattern(k)) {
			b->error = 5;
			goto out;
		}

	/* The array event back, reversed, then a memory event: its fd is
	 * sent with the first byte of the array event (the stream's fds come
	 * ahead of the message that takes them). */
	out[0] = 2;
	out[1] = (uint32_t) msg << 16 | BIG_EVENT_ARRAY;
	out[2] = b->size;
	for (k = 0; k < b->size; k++)
		((unsigned char *) &out[3])[k] = p[b->size - 1 - k];
	memfd = memfd_create("big", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 4096) < 0 ||
	    pwrite(memfd, "after the big one", 18, 0) != 18) {
		b->error = 6;
		goto out;
	}
	raw.fd = fd;
	{
		uint32_t mem[3] = { 2, 12 << 16 | BIG_EVENT_MEMORY, 4096 };
		unsigned char *all = malloc(msg + sizeof mem);

		memcpy(all, out, msg);
		memcpy(all + msg, mem, sizeof mem);
		raw_write(&raw, all, msg + sizeof mem, &memfd, 1);
		free(all);
	}
	close(memfd);
	/* Wait for the client to hang up. */
	while (read(fd, buf, 4) > 0)
		;
out:
	close(fd);
	free(buf);
	free(out);
	return NULL;
}

BEH_TEST_SIM_ONLY(virtgpu_60k_messages_both_ways,
		  "its raw host peer listens in the guest; in a VM the host "
		  "device cannot reach a socket made there")
{
	/* A 60 KiB array request (17 SENDs' worth) reaches the host peer
	 * intact; a 60 KiB event back (17 RECEIVEs) arrives intact, and the
	 * fd the peer sent with its first byte goes to the message after
	 * it. */
	struct beh_client c = { 0 };
	struct big_server b = { .size = 60 * 1024 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct beh_fd_test *proxy;
	struct fdt s = { 0 };
	struct wl_array a;
	pthread_t thread;
	size_t k;

	s.memory_fd = -1;
	s.pipe_fd = -1;
	beh_virtgpu_socket_path(addr.sun_path, sizeof addr.sun_path);
	b.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(b.listen_fd >= 0);
	check(bind(b.listen_fd, (struct sockaddr *) &addr, sizeof addr) == 0);
	check(listen(b.listen_fd, 1) == 0);
	beh_virtgpu_route(addr.sun_path);
	check(pthread_create(&thread, NULL, big_server_main, &b) == 0);

	c.display = wl_display_connect(NULL);
	check(c.display != NULL);
	proxy = (struct beh_fd_test *) wl_proxy_create(
		(struct wl_proxy *) c.display, &beh_fd_test_interface);
	check(proxy != NULL);
	check_int(wl_proxy_get_id((struct wl_proxy *) proxy), ==, 2);
	check(beh_fd_test_add_listener(proxy, &fdt_listener, &s) == 0);
	fill(&a, b.size, 0);
	beh_fd_test_echo(proxy, &a);
	check_int(wl_display_flush(c.display), ==, 12 + b.size);
	dispatch_until(&c, s.memory_fd >= 0);
	check_int(b.error, ==, 0);
	check_int(s.arrays, ==, 1);
	check_int(s.array_len, ==, b.size);
	for (k = 0; k < b.size; k++)
		if (s.array[k] != pattern(b.size - 1 - k))
			beh_fail(__FILE__, __LINE__, "event byte %zu differs",
				 k);
	check_int(s.memory_size, ==, 4096);
	beh_fd_text(s.memory_fd, (char *) a.data, 64);
	check_str((char *) a.data, "after the big one");
	close(s.memory_fd);
	wl_array_release(&a);
	wl_proxy_destroy((struct wl_proxy *) proxy);
	wl_display_disconnect(c.display);
	check(pthread_join(thread, NULL) == 0);
	check_int(b.error, ==, 0);
	close(b.listen_fd);
	unlink(addr.sun_path);
}

/* fds the host cannot take */

static void
sync_done(void *data, struct wl_callback *cb, uint32_t serial)
{
	*(int *) data = 1;
}

static const struct wl_callback_listener sync_listener = { sync_done };

/* A roundtrip bounded in time: 1 answered, 0 no answer within ms, -1 the
 * display failed. */
static int
sync_within(struct wl_display *d, int ms)
{
	struct pollfd pfd = { wl_display_get_fd(d), POLLIN, 0 };
	struct wl_callback *cb = wl_display_sync(d);
	double deadline = now_ms() + ms;
	int done = 0, left;

	wl_callback_add_listener(cb, &sync_listener, &done);
	if (wl_display_flush(d) < 0 && errno != EAGAIN)
		return -1;
	while (!done) {
		while (wl_display_prepare_read(d) != 0)
			if (wl_display_dispatch_pending(d) < 0)
				return -1;
		left = (int) (deadline - now_ms());
		if (left <= 0) {
			wl_display_cancel_read(d);
			return 0;
		}
		if (poll(&pfd, 1, left) == 1) {
			if (wl_display_read_events(d) < 0)
				return -1;
		} else {
			wl_display_cancel_read(d);
		}
		if (wl_display_dispatch_pending(d) < 0)
			return -1;
	}
	wl_callback_destroy(cb);
	return 1;
}

static void
refused(int fd, const char *what)
{
	/* The request is refused at marshal time with one line naming the
	 * interface and request; the display is in the error state (every
	 * later call fails the same way), the caller's fd stays open, and
	 * disconnecting leaves no fd behind. */
	struct beh_client c;
	struct fdt s;
	int before = beh_fd_count(), err;
	char want[128];

	connect_fdt(&c, &s);
	beh_log_capture();
	beh_fd_test_inspect(c.fd_test, fd);
	err = wl_display_get_error(c.display);
	if (err == 0) {
		/* Not refused at once: the flush or the roundtrip must. */
		switch (sync_within(c.display, 5000)) {
		case 1:
			beh_fail(__FILE__, __LINE__, "%s: the request went out "
				 "and the compositor answered", what);
		case 0:
			beh_fail(__FILE__, __LINE__, "%s: no error and no answer "
				 "within 5 s (the client hangs); log:\n%s", what,
				 beh_log_text());
		}
	}
	err = wl_display_get_error(c.display);
	check_int(err, !=, 0);
	check_errno(wl_display_roundtrip(c.display), err);
	check_errno(wl_display_flush(c.display), err);
	snprintf(want, sizeof want, "wayland-virtgpu: %s.inspect: ",
		 beh_fd_test_interface.name);
	if (!beh_log_contains(want))
		beh_fail(__FILE__, __LINE__, "no line starting \"%s\" for %s; "
			 "log:\n%s", want, what, beh_log_text());
	check(fcntl(fd, F_GETFD) >= 0);
	printf("# %s: %s", what, strstr(beh_log_text(), want));
	beh_client_disconnect_after_error(&c);
	check_int(beh_fd_count(), ==, before);
}

/* Files and memfds cross as host memory (memory-fds-test.c); other fds
 * that are not memory keep their refusal. */
BEH_TEST_VIRTGPU_ONLY(virtgpu_refuses_eventfd)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	check(fd >= 0);
	refused(fd, "eventfd");
	close(fd);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_refuses_directory)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	check(fd >= 0);
	refused(fd, "directory");
	close(fd);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_refuses_pipe_read_end)
{
	int p[2];

	check(pipe2(p, O_CLOEXEC) == 0);
	refused(p[0], "pipe read end");
	close(p[0]);
	close(p[1]);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_refuses_socket)
{
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	refused(sv[0], "socket");
	close(sv[0]);
	close(sv[1]);
}

/* A guest cannot tell a resource without a host handle (a 2D resource)
 * from one with (RESOURCE_INFO says the same); the host drops the context
 * when it is sent and answers nothing more. The client must not hang:
 * the library gives up on the unanswered roundtrip, with a line. */
static void
no_host_handle(int fd)
{
	struct beh_client c;
	struct fdt s;
	double t0;
	int before = beh_fd_count(), err;

	setenv("WAYLAND_VIRTGPU_REPLY_TIMEOUT", "2", 1);
	connect_fdt(&c, &s);
	beh_log_capture();
	beh_fd_test_inspect(c.fd_test, fd);
	t0 = now_ms();
	check(wl_display_roundtrip(c.display) == -1);
	err = errno;
	if (now_ms() - t0 > 5000)
		beh_fail(__FILE__, __LINE__, "the roundtrip took %.0f ms",
			 now_ms() - t0);
	/* The host loses the context. The POLL it held then never comes
	 * back: no reply in 2 s, EPIPE. A POLL sent after the loss is
	 * refused at once, and its fence signals with nothing in the ring
	 * (QEMU's error answer carries the fence; the simulator does the
	 * same): EPROTO, as any empty answer. Which one comes first is
	 * the guest's timing. */
	if (!(err == EPIPE &&
	      beh_log_contains("wayland-virtgpu: no reply from the compositor")) &&
	    !(err == EPROTO &&
	      beh_log_contains("wayland-virtgpu: the host signalled the channel "
			       "without a message")))
		beh_fail(__FILE__, __LINE__, "%s, and no line saying why; "
			 "log:\n%s", strerror(err), beh_log_text());
	check(fcntl(fd, F_GETFD) >= 0);
	beh_client_disconnect_after_error(&c);
	unsetenv("WAYLAND_VIRTGPU_REPLY_TIMEOUT");
	check_int(beh_fd_count(), ==, before);
}

BEH_TEST_VIRTGPU_ONLY(virtgpu_refuses_gpu_buffer_without_host_handle)
{
	/* A 2D-like resource has no host handle: the host cannot send it
	 * (cross-domain-protocol.md §4.1). */
	virtgpu_sim_gpu_buffer_create_t create;
	uint32_t stride;
	uint64_t size;
	int fd;

	/* In a real guest: a dumb buffer, a 2D resource in guest memory. */
	create = beh_real_guest() ? beh_real_gpu_buffer :
		(virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	check(create != NULL);
	fd = create(64, 4, 0x34325258u, VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE,
		    &stride, &size);
	check(fd >= 0);
	no_host_handle(fd);
	close(fd);
}
