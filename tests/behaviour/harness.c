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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CASE_TIMEOUT_S 20

extern const struct beh_case __start_beh_cases[], __stop_beh_cases[];

static char *log_buf;
static size_t log_len;

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

pid_t
beh_compositor_spawn_socket(const char *dir, const char *name)
{
	char ready_arg[16];
	char *argv[] = { "beh-compositor", "--socket", (char *) name,
			 "--ready-fd", ready_arg, NULL };
	int pipefd[2];
	char byte;
	pid_t pid;

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
	int status;

	check(waitpid(pid, &status, 0) == pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void
beh_compositor_reap_killed(pid_t pid)
{
	int status;

	check(waitpid(pid, &status, 0) == pid);
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

	fd = beh_compositor_spawn(&c->compositor);
	display = wl_display_connect_to_fd(fd);
	check(display != NULL);
	beh_client_bind(c, display, version);
}

void
beh_client_disconnect(struct beh_client *c)
{
	if (c->test)
		beh_test_destroy(c->test);
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

static const char *
loaded_library(void)
{
	Dl_info info;

	if (dladdr((void *) wl_display_connect, &info) && info.dli_fname)
		return info.dli_fname;
	return "?";
}

static int
run_case(const struct beh_case *c)
{
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
		alarm(CASE_TIMEOUT_S);
		c->run();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s\n", c->name);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s (signal %d%s)\n", c->name, WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	else
		printf("FAIL %s (exit %d)\n", c->name, WEXITSTATUS(status));
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

	for (c = __start_beh_cases; c < __stop_beh_cases; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
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
