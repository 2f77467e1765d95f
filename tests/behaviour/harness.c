/*
 * The behaviour tests' runner and helpers (see harness.h). Each case runs in
 * its own child so an abort, a hang (alarm) or a leaked fd stays with it.
 */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../sim/virtgpu-sim.h"

/* DRM_FORMAT_XRGB8888 */
#define BEH_FOURCC_XRGB8888 0x34325258u

/* A case's bound; BEH_CASE_TIMEOUT (seconds) sets another: run-virtgpu gives a real guest
 * more, since TCG on a loaded host runs it many times slower. */
#define CASE_TIMEOUT_S 20

extern const struct beh_case __start_beh_cases[], __stop_beh_cases[];

static char *log_buf;
static size_t log_len;
static const char *volatile waiting_for;

void
beh_waiting_for(const char *what)
{
	waiting_for = what;
}

/* A case's alarm: says what it waited for, then dies of the alarm as before. */
static void
case_timed_out(int sig)
{
	const char *what = waiting_for;

	if (what) {
		/* write() only: this is a signal handler. */
		static const char head[] = "timed out waiting for ";
		ssize_t ignored = write(2, head, sizeof head - 1);

		ignored = write(2, what, strlen(what));
		ignored = write(2, "\n", 1);
		(void) ignored;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void
beh_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: check failed: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (log_len)
		fprintf(stderr, "captured wl_log output:\n%s", log_buf);
	fflush(stderr);
	_exit(1);
}

int
beh_fd_count(void)
{
	DIR *dir;
	struct dirent *ent;
	int count = 0;

	dir = opendir("/proc/self/fd");
	check(dir != NULL);
	while ((ent = readdir(dir)))
		if (ent->d_name[0] != '.')
			count++;
	closedir(dir);
	/* The directory's own fd. */
	return count - 1;
}

bool
beh_lib_is_1_23_plus(void)
{
	return dlsym(RTLD_DEFAULT, "wl_display_set_max_buffer_size") != NULL;
}

static void
log_handler(const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	log_buf = realloc(log_buf, log_len + n + 1);
	if (!log_buf)
		abort();
	vsnprintf(log_buf + log_len, n + 1, fmt, ap);
	log_len += n;
}

void
beh_log_capture(void)
{
	wl_log_set_handler_client(log_handler);
}

const char *
beh_log_text(void)
{
	return log_buf ? log_buf : "";
}

bool
beh_log_contains(const char *needle)
{
	return strstr(beh_log_text(), needle) != NULL;
}

void
beh_log_clear(void)
{
	log_len = 0;
	if (log_buf)
		log_buf[0] = '\0';
}

static void
exec_compositor(char **argv)
{
	/* The compositor's own libwayland-server reads WAYLAND_DEBUG too. */
	unsetenv("WAYLAND_DEBUG");
	unsetenv("WAYLAND_SOCKET");
	if (beh_virtgpu()) {
		/* It is a host program: no fake guest kernel. */
		unsetenv("LD_PRELOAD");
		unsetenv("VIRTGPU_SIM_SOCKET");
		unsetenv("WAYLAND_VIRTGPU");
	}
	execv(BEH_COMPOSITOR_PATH, argv);
	fprintf(stderr, "exec %s: %s\n", BEH_COMPOSITOR_PATH, strerror(errno));
	_exit(127);
}

int
beh_compositor_spawn(pid_t *pid)
{
	char fd_arg[16];
	char *argv[] = { "beh-compositor", "--fd", fd_arg, NULL };
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	*pid = fork();
	check(*pid >= 0);
	if (*pid == 0) {
		int fd = dup(sv[1]);	/* without close-on-exec */

		snprintf(fd_arg, sizeof fd_arg, "%d", fd);
		exec_compositor(argv);
	}
	close(sv[1]);
	return sv[0];
}

/* The host-side spawner's directory (compositor-spawner: the program runs in
 * a real guest), or NULL. */
static const char *
spawner_dir(void)
{
	const char *dir = getenv("BEH_VIRTGPU_SPAWNER");

	return dir && *dir ? dir : NULL;
}

extern char **environ;

/* path = the spawner's dir/prefix name (only called when there is one). */
static void
spawner_path(char *path, size_t size, const char *prefix, const char *name)
{
	const char *dir = spawner_dir();

	snprintf(path, size, "%s/%s%s", dir ? dir : ".", prefix, name);
}

/* Writes the file dir/name whole (a rename), as the spawner reads it, holding
 * the BEH_COMPOSITOR_* variables (the compositor's options) when env. */
static void
spawner_ask(const char *name, bool env)
{
	char tmp[512], path[512];
	FILE *f;

	spawner_path(tmp, sizeof tmp, ".", name);
	spawner_path(path, sizeof path, "", name);
	f = fopen(tmp, "we");
	check(f != NULL);
	for (char **e = environ; env && *e; e++)
		if (strncmp(*e, "BEH_COMPOSITOR_", 15) == 0)
			fprintf(f, "%s\n", *e);
	check(fclose(f) == 0);
	check(rename(tmp, path) == 0);
}

/* Waits for the spawner's file dir/name (the case's alarm bounds the wait)
 * and returns its first line's number; the file is removed. -1: "failed". */
static long
spawner_answer(const char *name)
{
	char path[512], text[64] = "";
	FILE *f;

	spawner_path(path, sizeof path, "", name);
	beh_waiting_for(strncmp(name, "status-", 7) == 0 ?
			"the host's spawner: a compositor's exit status" :
			"the host's spawner: a compositor started");
	while (!(f = fopen(path, "re")))
		usleep(5 * 1000);
	beh_waiting_for(NULL);
	if (!fgets(text, sizeof text, f))
		text[0] = '\0';
	fclose(f);
	unlink(path);
	if (text[0] < '0' || text[0] > '9')
		return -1;
	return strtol(text, NULL, 10);
}

/* The compositor started on the host, next to the VMM (name is beh-G-S, from
 * beh_virtgpu_socket_path); returns its host pid, a handle for the calls
 * below only. */
static pid_t
spawn_on_host(const char *name)
{
	char req[128];
	long pid;

	check(strncmp(name, "beh-", 4) == 0);
	snprintf(req, sizeof req, "spawn-%s", name + 4);
	spawner_ask(req, true);
	snprintf(req, sizeof req, "spawned-%s", name + 4);
	pid = spawner_answer(req);
	if (pid <= 0)
		beh_fail(__FILE__, __LINE__, "the host's spawner could not start "
			 "the compositor on %s", name);
	return (pid_t) pid;
}

/* The compositor's wait status, as waitpid would give it. */
static int
compositor_wait(pid_t pid)
{
	char name[64];
	long code;
	int status;

	if (!spawner_dir()) {
		beh_waiting_for("the compositor's exit");
		check(waitpid(pid, &status, 0) == pid);
		beh_waiting_for(NULL);
		return status;
	}
	snprintf(name, sizeof name, "status-%d", (int) pid);
	code = spawner_answer(name);
	check(code >= 0 && code < 256);
	/* bash's 128+N for signal N, as a wait status. */
	return code > 128 ? (int) (code - 128) : (int) (code << 8);
}

void
beh_compositor_kill(pid_t pid)
{
	char name[64];

	if (!spawner_dir()) {
		check(kill(pid, SIGKILL) == 0);
		return;
	}
	snprintf(name, sizeof name, "kill-%d", (int) pid);
	spawner_ask(name, false);
}

pid_t
beh_compositor_spawn_socket(const char *dir, const char *name)
{
	char ready_arg[16];
	char *argv[] = { "beh-compositor", "--socket", (char *) name,
			 "--ready-fd", ready_arg, NULL };
	int pipefd[2];
	char byte;
	pid_t pid;

	if (spawner_dir())
		return spawn_on_host(name);
	check(pipe2(pipefd, O_CLOEXEC) == 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		int fd = dup(pipefd[1]);

		snprintf(ready_arg, sizeof ready_arg, "%d", fd);
		setenv("XDG_RUNTIME_DIR", dir, 1);
		exec_compositor(argv);
	}
	close(pipefd[1]);
	check(read(pipefd[0], &byte, 1) == 1);
	close(pipefd[0]);
	return pid;
}

void
beh_compositor_reap(pid_t pid)
{
	int status = compositor_wait(pid);

	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void
beh_compositor_reap_killed(pid_t pid)
{
	compositor_wait(pid);
}

static void
registry_handle_global(void *data, struct wl_registry *registry,
		       uint32_t name, const char *interface, uint32_t version)
{
	struct beh_client *c = data;

	if (strcmp(interface, beh_test_interface.name) == 0) {
		check_int(version, ==, 3);
		c->test = wl_registry_bind(registry, name, &beh_test_interface,
					   c->test_version);
		check(c->test != NULL);
	} else if (strcmp(interface, beh_fd_test_interface.name) == 0) {
		c->fd_test = wl_registry_bind(registry, name,
					      &beh_fd_test_interface, 1);
		check(c->fd_test != NULL);
	} else if (strcmp(interface, wl_shm_interface.name) == 0) {
		c->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
		check(c->shm != NULL);
	}
}

static void
registry_handle_global_remove(void *data, struct wl_registry *registry,
			      uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	registry_handle_global,
	registry_handle_global_remove,
};

void
beh_client_bind(struct beh_client *c, struct wl_display *display,
		uint32_t version)
{
	c->display = display;
	c->test_version = version;
	c->test = NULL;
	c->fd_test = NULL;
	c->shm = NULL;
	c->registry = wl_display_get_registry(display);
	check(c->registry != NULL);
	wl_registry_add_listener(c->registry, &registry_listener, c);
	check_int(wl_display_roundtrip(display), >=, 0);
	check(c->test != NULL);
}

void
beh_client_connect(struct beh_client *c, uint32_t version)
{
	struct wl_display *display;
	int fd;

	if (beh_virtgpu()) {
		char path[256];
		struct stat st;

		beh_virtgpu_socket_path(path, sizeof path);
		c->compositor = beh_compositor_spawn_socket(
			getenv("BEH_VIRTGPU_HOST_DIR"), strrchr(path, '/') + 1);
		beh_virtgpu_route(path);
		/* The guest has no socket: only the device can connect. Its
		 * display fd is the library's own (a socket pair, so that it
		 * can say writable), connected to no path. */
		display = wl_display_connect(NULL);
		check(display != NULL);
		check(fstat(wl_display_get_fd(display), &st) == 0);
		if (S_ISSOCK(st.st_mode)) {
			struct sockaddr_un peer;
			socklen_t len = sizeof peer;

			memset(&peer, 0, sizeof peer);
			check(getpeername(wl_display_get_fd(display),
					  (struct sockaddr *) &peer, &len) == 0);
			check(len <= sizeof(sa_family_t) || peer.sun_path[0] == 0);
		}
	} else {
		fd = beh_compositor_spawn(&c->compositor);
		display = wl_display_connect_to_fd(fd);
		check(display != NULL);
	}
	beh_waiting_for("the first roundtrip of a new connection");
	beh_client_bind(c, display, version);
	beh_waiting_for(NULL);
}

void
beh_client_disconnect(struct beh_client *c)
{
	if (c->test)
		beh_test_destroy(c->test);
	if (c->fd_test)
		beh_fd_test_destroy(c->fd_test);
	if (c->shm)
		wl_shm_destroy(c->shm);
	wl_registry_destroy(c->registry);
	wl_display_disconnect(c->display);
	if (c->compositor > 0)
		beh_compositor_reap(c->compositor);
}

void
beh_client_disconnect_after_error(struct beh_client *c)
{
	pid_t pid = c->compositor;

	c->compositor = 0;
	beh_client_disconnect(c);
	if (pid > 0)
		beh_compositor_reap_killed(pid);
}

void
beh_send_noop_of_size(struct beh_client *c, size_t size)
{
	struct wl_array payload;

	wl_array_init(&payload);
	memset(wl_array_add(&payload, size - 12), 0x11, size - 12);
	beh_test_noop(c->test, &payload);
	wl_array_release(&payload);
}

void
beh_test_close_everything(void *data, struct beh_test *test, int32_t i,
			  uint32_t u, wl_fixed_t f, const char *s,
			  const char *ns, struct beh_obj *o, void *any,
			  struct beh_obj *id, struct wl_array *a, int32_t fd)
{
	close(fd);
}

void
beh_test_close_fds(void *data, struct beh_test *test, int32_t a, int32_t b,
		   int32_t c)
{
	close(a);
	close(b);
	close(c);
}

void
beh_test_ignore_noop_count(void *data, struct beh_test *test, uint32_t count)
{
}

void
beh_test_store_noop_count(void *data, struct beh_test *test, uint32_t count)
{
	*(uint32_t *) data = count;
}

void
beh_test_ignore_pong(void *data, struct beh_test *test, uint32_t serial)
{
}

void
beh_obj_close_fd(void *data, struct beh_obj *obj, int32_t fd)
{
	close(fd);
}

void
beh_obj_ignore_version(void *data, struct beh_obj *obj, uint32_t version)
{
}

int
beh_run_forked(void (*fn)(void *), void *data)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		fn(data);
		_exit(0);
	}
	check(waitpid(pid, &status, 0) == pid);
	return status;
}

int
beh_memfd(const char *text)
{
	int fd;

	fd = memfd_create("beh", MFD_CLOEXEC);
	check(fd >= 0);
	check(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
	return fd;
}

void
beh_read_fd(int fd, char *buf, size_t size)
{
	ssize_t n;

	n = pread(fd, buf, size - 1, 0);
	check(n >= 0);
	buf[n] = '\0';
}

bool
beh_same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool
beh_real_guest(void)
{
	return beh_virtgpu() && spawner_dir() != NULL;
}

bool
beh_virtgpu(void)
{
	const char *v = getenv("BEH_VIRTGPU_HOST_SOCKET");

	return v && *v;
}

void
beh_virtgpu_socket_path(char *path, size_t size)
{
	static unsigned serial;
	const char *dir = getenv("BEH_VIRTGPU_HOST_DIR");

	check(beh_virtgpu() && dir != NULL);
	check_int(snprintf(path, size, "%s/beh-%d-%u", dir, (int) getpid(),
			   serial++), <, (long long) size);
}

const char *
beh_virtgpu_route(const char *socket_path)
{
	const char *route = getenv("BEH_VIRTGPU_HOST_SOCKET");
	char tmp[512];

	check(beh_virtgpu());
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", route, (int) getpid());
	unlink(tmp);
	check(symlink(socket_path, tmp) == 0);
	check(rename(tmp, route) == 0);
	return route;
}

int
beh_gpu_buffer(const char *text, size_t min_size, uint64_t *size)
{
	virtgpu_sim_gpu_buffer_create_t create;
	size_t len = strlen(text) + 1;
	uint32_t stride, height;
	void *map;
	int fd;

	create = beh_real_guest() ? beh_real_gpu_buffer :
		(virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	check(create != NULL);
	if (min_size < len)
		min_size = len;
	/* 64 XRGB8888 pixels = 256 bytes a row. */
	height = (min_size + 255) / 256;
	fd = create(64, height, BEH_FOURCC_XRGB8888, 0, &stride, size);
	if (fd < 0)
		beh_fail(__FILE__, __LINE__, "GPU buffer: %s", strerror(-fd));
	check(*size >= min_size);
	map = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(map != MAP_FAILED);
	memcpy(map, text, len);
	munmap(map, *size);
	return fd;
}

int
beh_sendable_fd(const char *text)
{
	uint64_t size;

	if (beh_virtgpu())
		return beh_gpu_buffer(text, 0, &size);
	return beh_memfd(text);
}

void
beh_fd_text(int fd, char *buf, size_t size)
{
	off_t end = lseek(fd, 0, SEEK_END);
	size_t n;
	void *map;

	if (end <= 0) {
		beh_read_fd(fd, buf, size);
		return;
	}
	map = mmap(NULL, end, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		beh_fail(__FILE__, __LINE__, "mmap of fd %d (%lld bytes): %s",
			 fd, (long long) end, strerror(errno));
	n = (size_t) end < size - 1 ? (size_t) end : size - 1;
	memcpy(buf, map, n);
	buf[n] = '\0';
	munmap(map, end);
}

bool
beh_same_payload(int sent, int received)
{
	char a[4096], b[4096];

	if (!beh_virtgpu())
		return beh_same_file(sent, received);
	beh_fd_text(sent, a, sizeof a);
	beh_fd_text(received, b, sizeof b);
	return strcmp(a, b) == 0;
}

static const char *
loaded_library(void)
{
	Dl_info info;

	if (dladdr((void *) wl_display_connect, &info) && info.dli_fname)
		return info.dli_fname;
	return "?";
}

static unsigned
case_timeout_s(void)
{
	const char *v = getenv("BEH_CASE_TIMEOUT");
	long s = v && *v ? strtol(v, NULL, 10) : 0;

	return s > 0 && s <= 3600 ? (unsigned) s : CASE_TIMEOUT_S;
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Each case's line says how long it took: a case near its bound shows before it fails. */
static int
run_case(const struct beh_case *c)
{
	double start = seconds_now(), took;
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		signal(SIGALRM, case_timed_out);
		alarm(case_timeout_s());
		c->run();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	took = seconds_now() - start;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s (%.1f s)\n", c->name, took);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s (signal %d%s, %.1f s)\n", c->name, WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "", took);
	else
		printf("FAIL %s (exit %d, %.1f s)\n", c->name, WEXITSTATUS(status), took);
	return 1;
}

int
main(int argc, char *argv[])
{
	const struct beh_case *c;
	int failed = 0, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# libwayland-client: %s (%s)\n", loaded_library(),
	       beh_lib_is_1_23_plus() ? "1.23+ API" : "1.21 API");
	/* Our own children, not the harness, decide about SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if (beh_virtgpu()) {
		/* Refuse to pass without the device: nothing would be tested. */
		if (!getenv("BEH_VIRTGPU_HOST_DIR") ||
		    (!beh_real_guest() &&
		     !dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE)) ||
		    (beh_real_guest() && access(BEH_RENDER_NODE, F_OK) != 0)) {
			printf("FAIL: BEH_VIRTGPU_HOST_SOCKET is set but this is "
			       "not a guest of a virtio-gpu (run through "
			       "tests/behaviour/run-virtgpu)\n");
			return 1;
		}
		printf("# transport: virtio-gpu (%s), host compositor path "
		       "%s\n", beh_real_guest() ?
		       "a real guest kernel; compositors started on the host" :
		       "simulated device", getenv("BEH_VIRTGPU_HOST_SOCKET"));
	}

	for (c = __start_beh_cases; c < __stop_beh_cases; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
		if (beh_virtgpu() && c->socket_only) {
			printf("# not run over virtio-gpu: %s (%s)\n", c->name,
			       c->socket_only);
			continue;
		}
		if (beh_real_guest() && c->sim_only) {
			printf("# not run in a real guest: %s (%s)\n",
			       c->name, c->sim_only);
			continue;
		}
		if (!beh_virtgpu() && c->virtgpu_only) {
			printf("# not run on a socket: %s (needs the simulated "
			       "virtio-gpu)\n", c->name);
			continue;
		}
		failed += run_case(c);
		ran++;
	}
	if (ran == 0) {
		printf("no case matched\n");
		return 1;
	}
	printf("# %d of %d cases failed\n", failed, ran);
	return failed ? 1 : 0;
}
