/*
 * Files and memfds in requests (issue 14, point 3): beh_fd_test.read_file
 * carries one, and the test compositor reports the bytes it read with
 * pread, as a compositor reads a gamma table or an ICC profile. The same
 * cases run on a socket (upstream's behaviour: the compositor reads the
 * client's own file) and over the simulated virtio-gpu (run-virtgpu: a
 * copy in host memory made when the request is sent, page-rounded, zeros
 * after the file's end); the bytes the compositor got must be the same.
 */

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "harness.h"

#define LIMIT (32u << 20)	/* the library's limit, README */

struct file_read {
	int count;
	uint32_t size, got, hash, tail_zero, error;
	unsigned char head[64];
	size_t head_len;
	bool head_ok;		/* every reply's head was pattern or zeros */
};

static unsigned char
pattern(size_t k)
{
	return (unsigned char) ((k * 131 + 17) ^ (k >> 9));
}

static uint32_t
pattern_hash(size_t len)
{
	uint32_t hash = 2166136261u;
	size_t k;

	for (k = 0; k < len; k++)
		hash = (hash ^ pattern(k)) * 16777619u;
	return hash;
}

static void
on_file_read(void *data, struct beh_fd_test *t, uint32_t size, uint32_t got,
	     uint32_t hash, uint32_t tail_zero, uint32_t error,
	     struct wl_array *head)
{
	struct file_read *r = data;
	unsigned char *p = head->data;
	size_t k;

	r->count++;
	r->size = size;
	r->got = got;
	r->hash = hash;
	r->tail_zero = tail_zero;
	r->error = error;
	r->head_len = head->size < sizeof r->head ? head->size : sizeof r->head;
	memcpy(r->head, head->data, r->head_len);
	for (k = 0; k < head->size; k++)
		if (p[k] != pattern(k) && p[k] != 0)
			r->head_ok = false;
}

static const struct beh_fd_test_listener file_read_listener = {
	.file_read = on_file_read,
};

static void
connect_reader(struct beh_client *c, struct file_read *r)
{
	memset(r, 0, sizeof *r);
	r->head_ok = true;
	beh_client_connect(c, 3);
	check(c->fd_test != NULL);
	check(beh_fd_test_add_listener(c->fd_test, &file_read_listener, r) == 0);
}

/* Writes the pattern at [from, to) of fd. */
static void
fill(int fd, size_t from, size_t to)
{
	unsigned char buf[65536];
	size_t at, n, k;

	for (at = from; at < to; at += n) {
		n = to - at < sizeof buf ? to - at : sizeof buf;
		for (k = 0; k < n; k++)
			buf[k] = pattern(at + k);
		check(pwrite(fd, buf, n, (off_t) at) == (ssize_t) n);
	}
}

static int
memfd_of(size_t size, bool sealed)
{
	int fd = memfd_create("beh-memory-fd", MFD_CLOEXEC |
			      (sealed ? MFD_ALLOW_SEALING : 0));

	check(fd >= 0);
	check(ftruncate(fd, (off_t) size) == 0);
	fill(fd, 0, size);
	if (sealed)
		check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			    F_SEAL_WRITE | F_SEAL_SEAL) == 0);
	return fd;
}

/* The compositor got exactly the file's len bytes; past them, on a socket
 * the file ends, over virtio-gpu the host memory is page-rounded zeros. */
static void
check_got_file(const struct file_read *r, size_t len)
{
	size_t k;

	check_int(r->count, ==, 1);
	check_int(r->error, ==, 0);
	check_int(r->got, ==, len);
	check_int(r->hash, ==, pattern_hash(len));
	check_int(r->tail_zero, ==, 1);
	for (k = 0; k < r->head_len; k++)
		check_int(r->head[k], ==, pattern(k));
	if (beh_virtgpu()) {
		check_int(r->size, >=, len);
		check_int(r->size % 4096, ==, 0);
		check_int(r->size - len, <, 4096);
	} else {
		check_int(r->size, ==, len);
	}
}

/* One file through read_file and a roundtrip; the caller's fd stays its
 * own and nothing is left open afterwards. */
static void
send_and_check(int fd, size_t len)
{
	struct beh_client c;
	struct file_read r;
	int before = beh_fd_count();

	connect_reader(&c, &r);
	beh_log_capture();
	beh_fd_test_read_file(c.fd_test, fd, (uint32_t) len);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	check_got_file(&r, len);
	check(fcntl(fd, F_GETFD) >= 0);
	check(!beh_log_contains("wayland-virtgpu:"));
	beh_client_disconnect(&c);
	check_int(beh_fd_count(), ==, before);
}

BEH_TEST(memfd_unsealed)
{
	int fd = memfd_of(5000, false);

	send_and_check(fd, 5000);
	close(fd);
}

BEH_TEST(memfd_sealed)
{
	int fd = memfd_of(3 * 4096 + 1, true);

	send_and_check(fd, 3 * 4096 + 1);
	close(fd);
}

BEH_TEST(memfd_one_byte)
{
	int fd = memfd_of(1, true);

	send_and_check(fd, 1);
	close(fd);
}

/* A file in /tmp holding size bytes of fill(), opened again read-only with
 * flags, its name gone: the fd, or -1 with open's errno. */
static int
tmp_file_of(size_t size, int flags)
{
	char path[] = "/tmp/beh-memory-fd-XXXXXX";
	int w = mkstemp(path), fd, err;

	check(w >= 0);
	fill(w, 0, size);
	close(w);
	fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	err = errno;
	unlink(path);
	errno = err;
	return fd;
}

BEH_TEST(regular_file_on_disk)
{
	int fd = tmp_file_of(70000, 0);

	check(fd >= 0);
	send_and_check(fd, 70000);
	close(fd);
}

/* A file whose reads pin the destination's pages cannot read into host
 * memory (VM_PFNMAP: EFAULT); the library reads it through a buffer of its
 * own. O_DIRECT here; in a real guest the file on /tmp is on 9p, whose
 * reads pin too (regular_file_on_disk found it). Only over virtio-gpu: on a
 * socket the compositor would get the O_DIRECT file itself. */
BEH_TEST_VIRTGPU_ONLY(file_read_with_o_direct)
{
	int fd = tmp_file_of(70000, O_DIRECT);

	if (fd < 0)
		beh_fail(__FILE__, __LINE__, "open a file in /tmp with O_DIRECT: %s",
			 strerror(errno));
	send_and_check(fd, 70000);
	close(fd);
}

BEH_TEST(memfd_of_8_mib)
{
	int fd = memfd_of(8u << 20, false);

	send_and_check(fd, 8u << 20);
	close(fd);
}

/* The limit itself crosses; the pattern at both ends, holes between. */
BEH_TEST(memfd_at_the_limit)
{
	int fd = memfd_create("beh-at-limit", MFD_CLOEXEC);
	struct beh_client c;
	struct file_read r;

	check(fd >= 0);
	check(ftruncate(fd, LIMIT) == 0);
	fill(fd, 0, 4096);
	connect_reader(&c, &r);
	beh_fd_test_read_file(c.fd_test, fd, 4096);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	check_int(r.count, ==, 1);
	check_int(r.got, ==, 4096);
	check_int(r.hash, ==, pattern_hash(4096));
	check_int(r.size, ==, LIMIT);
	check_int(r.tail_zero, ==, 1);
	beh_client_disconnect(&c);
	close(fd);
}

/* Over virtio-gpu: the request fails with one line naming
 * interface.request, the fd's size and the limit; every later call fails
 * with the same errno; the caller's fd stays open; nothing leaks. On a
 * socket: the compositor gets what the file holds. */
static void
refused_or_read(int fd, size_t len, int want_errno, const char *want_line,
		void (*on_socket)(const struct file_read *r, size_t len))
{
	struct beh_client c;
	struct file_read r;
	int before = beh_fd_count();

	connect_reader(&c, &r);
	beh_log_capture();
	beh_fd_test_read_file(c.fd_test, fd, (uint32_t) len);
	if (!beh_virtgpu()) {
		check_int(wl_display_roundtrip(c.display), >=, 0);
		on_socket(&r, len);
		beh_client_disconnect(&c);
		check_int(beh_fd_count(), ==, before);
		return;
	}

	check_int(wl_display_get_error(c.display), ==, want_errno);
	check_errno(wl_display_roundtrip(c.display), want_errno);
	check_errno(wl_display_flush(c.display), want_errno);
	check_int(r.count, ==, 0);
	/* The fd number in the line is the library's duplicate. */
	if (!beh_log_contains("wayland-virtgpu: beh_fd_test.read_file: fd ") ||
	    !beh_log_contains(want_line))
		beh_fail(__FILE__, __LINE__, "want a line \"wayland-virtgpu: "
			 "beh_fd_test.read_file: fd N is %s\"; log:\n%s",
			 want_line, beh_log_text());
	printf("# %s", strstr(beh_log_text(), "wayland-virtgpu:"));
	check(fcntl(fd, F_GETFD) >= 0);
	beh_client_disconnect_after_error(&c);
	check_int(beh_fd_count(), ==, before);
}

static void
socket_read_all(const struct file_read *r, size_t len)
{
	check_int(r->count, ==, 1);
	check_int(r->error, ==, 0);
	check_int(r->got, ==, len);
	check_int(r->size, ==, len);
}

BEH_TEST(memfd_past_the_limit)
{
	int fd = memfd_create("beh-past-limit", MFD_CLOEXEC);

	check(fd >= 0);
	check(ftruncate(fd, LIMIT + 1) == 0);
	fill(fd, 0, 4096);
	refused_or_read(fd, LIMIT + 1, EFBIG, "a file of 33554433 bytes, more "
			"than the 33554432 (32 MiB) a file may carry to the host",
			socket_read_all);
	close(fd);
}

BEH_TEST(empty_memfd)
{
	int fd = memfd_create("beh-empty", MFD_CLOEXEC);

	check(fd >= 0);
	refused_or_read(fd, 0, EINVAL, "an empty file (0 bytes)",
			socket_read_all);
	close(fd);
}

static void
socket_write_only(const struct file_read *r, size_t len)
{
	/* The compositor's pread fails on a write-only file. */
	check_int(r->count, ==, 1);
	check_int(r->error, ==, EBADF);
	check_int(r->got, ==, 0);
	check_int(r->size, ==, len);
}

BEH_TEST(write_only_file)
{
	char path[] = "/tmp/beh-memory-fd-wo-XXXXXX";
	int w = mkstemp(path), fd;

	check(w >= 0);
	fill(w, 0, 1000);
	close(w);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	unlink(path);
	check(fd >= 0);
	refused_or_read(fd, 1000, EINVAL, "a file open for writing only",
			socket_write_only);
	close(fd);
}

/* The client empties its file right after the request, before the flush:
 * over virtio-gpu the copy was made when the request was sent, so the
 * compositor reads every byte; on a socket it reads the file as it is
 * by then (upstream's behaviour), empty. */
BEH_TEST(truncated_after_the_request)
{
	struct beh_client c;
	struct file_read r;
	int fd = memfd_of(10000, false);

	connect_reader(&c, &r);
	beh_log_capture();
	beh_fd_test_read_file(c.fd_test, fd, 10000);
	check(ftruncate(fd, 0) == 0);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	if (beh_virtgpu()) {
		check_got_file(&r, 10000);
	} else {
		check_int(r.count, ==, 1);
		check_int(r.size, ==, 0);
		check_int(r.got, ==, 0);
	}
	check(!beh_log_contains("wayland-virtgpu:"));
	beh_client_disconnect(&c);
	close(fd);
}

struct shrinker {
	int fd;
	size_t size;
	atomic_bool stop;
	unsigned rounds;
};

static void *
shrink_and_grow(void *data)
{
	struct shrinker *s = data;

	while (!atomic_load(&s->stop)) {
		if (ftruncate(s->fd, (off_t) (s->size / 3)) < 0 ||
		    ftruncate(s->fd, (off_t) s->size) < 0)
			break;
		fill(s->fd, s->size / 3, s->size);
		s->rounds++;
	}
	return NULL;
}

/* Another thread shrinks and regrows the file while requests carry it:
 * no SIGBUS in the library (it never maps the client's file), every
 * request answered, the compositor reads the pattern or zeros. */
BEH_TEST(file_shrinking_while_sent)
{
	struct shrinker s = { .size = 256 * 1024 };
	struct beh_client c;
	struct file_read r;
	pthread_t thread;
	int i;

	s.fd = memfd_of(s.size, false);
	connect_reader(&c, &r);
	beh_log_capture();
	check(pthread_create(&thread, NULL, shrink_and_grow, &s) == 0);
	for (i = 0; i < 200; i++) {
		beh_fd_test_read_file(c.fd_test, s.fd, (uint32_t) s.size);
		if (i % 20 == 19)
			check_int(wl_display_roundtrip(c.display), >=, 0);
	}
	check_int(wl_display_roundtrip(c.display), >=, 0);
	atomic_store(&s.stop, true);
	pthread_join(thread, NULL);
	check_int(r.count, ==, 200);
	check_int(r.error, ==, 0);
	check(r.head_ok);
	printf("# %u shrink-and-grow rounds during 200 requests\n", s.rounds);
	check_int(s.rounds, >, 0);
	beh_client_disconnect(&c);
	close(s.fd);
}

/* The memfd of a wl_shm pool the client draws into after making it: over
 * virtio-gpu the client's view was remapped onto host memory and the file
 * emptied, so what the compositor gets must come from that memory. */
BEH_TEST(memfd_of_a_wl_shm_pool)
{
	size_t len = 64 * 1024, k;
	int fd = memfd_create("beh-pool-fd", MFD_CLOEXEC);
	struct wl_shm_pool *pool;
	struct beh_client c;
	struct file_read r;
	unsigned char *view;

	check(fd >= 0 && ftruncate(fd, (off_t) len) == 0);
	view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(view != MAP_FAILED);
	setenv("BEH_COMPOSITOR_SHM", "1", 1);
	connect_reader(&c, &r);
	unsetenv("BEH_COMPOSITOR_SHM");
	check(c.shm != NULL);
	pool = wl_shm_create_pool(c.shm, fd, (int32_t) len);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	for (k = 0; k < len; k++)
		view[k] = pattern(k);
	beh_fd_test_read_file(c.fd_test, fd, (uint32_t) len);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	check_got_file(&r, len);
	wl_shm_pool_destroy(pool);
	beh_client_disconnect(&c);
	munmap(view, len);
	close(fd);
}

/* Over virtio-gpu the stats line counts the files sent as host memory and
 * their bytes. */
BEH_TEST_VIRTGPU_ONLY(stats_count_memory_fds)
{
	char path[] = "/tmp/beh-memory-fd-stats-XXXXXX";
	int out = mkstemp(path), saved, a = memfd_of(100, false);
	int b = memfd_of(5000, true);
	struct beh_client c;
	struct file_read r;
	char line[4096];
	ssize_t n;

	check(out >= 0);
	unlink(path);
	setenv("WAYLAND_VIRTGPU_STATS", "1", 1);
	connect_reader(&c, &r);
	beh_fd_test_read_file(c.fd_test, a, 100);
	beh_fd_test_read_file(c.fd_test, b, 5000);
	beh_fd_test_read_file(c.fd_test, a, 100);
	check_int(wl_display_roundtrip(c.display), >=, 0);
	check_int(r.count, ==, 3);

	saved = dup(STDERR_FILENO);
	check(saved >= 0 && dup2(out, STDERR_FILENO) == STDERR_FILENO);
	beh_client_disconnect(&c);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(out, line, sizeof line - 1, 0);
	check(n > 0);
	line[n] = '\0';
	printf("# %s", line);
	if (!strstr(line, " memory_fds=3 ") ||
	    !strstr(line, " memory_fd_bytes=5200"))
		beh_fail(__FILE__, __LINE__, "want memory_fds=3 "
			 "memory_fd_bytes=5200 in the stats line: %s", line);
	close(out);
	close(a);
	close(b);
}
