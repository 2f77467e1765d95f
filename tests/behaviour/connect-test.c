/*
 * Connecting: WAYLAND_SOCKET, WAYLAND_DISPLAY as a name or an absolute
 * path, XDG_RUNTIME_DIR, wl_display_connect_to_fd; and the WAYLAND_DEBUG
 * trace format.
 */

#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

static void
make_runtime_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/beh-runtime-XXXXXX");
	check(mkdtemp(dir) != NULL);
	check(chmod(dir, 0700) == 0);
}

static void
remove_runtime_dir(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s.lock", dir, name);
	unlink(path);
	rmdir(dir);
}

static void
use_and_disconnect(struct wl_display *display, pid_t compositor)
{
	struct beh_client c;

	check(display != NULL);
	beh_client_bind(&c, display, 1);
	c.compositor = compositor;
	beh_client_disconnect(&c);
}

/* A compositor listening on a socket in a runtime dir of its own. */
struct runtime_socket {
	char dir[64];
	char path[128];		/* the socket's absolute path */
	const char *name;
	pid_t pid;
};

static void
runtime_socket_start(struct runtime_socket *rs, const char *name)
{
	rs->name = name;
	make_runtime_dir(rs->dir, sizeof rs->dir);
	rs->pid = beh_compositor_spawn_socket(rs->dir, name);
	snprintf(rs->path, sizeof rs->path, "%s/%s", rs->dir, name);
	unsetenv("WAYLAND_SOCKET");
}

/* Checks the connection to rs works, then removes the compositor's dir. */
static void
runtime_socket_finish(struct runtime_socket *rs, struct wl_display *display)
{
	use_and_disconnect(display, rs->pid);
	remove_runtime_dir(rs->dir, rs->name);
}

BEH_TEST(connect_wayland_socket)
{
	struct wl_display *display;
	pid_t pid;
	char value[16];
	int fd, before;

	before = beh_fd_count();
	fd = beh_compositor_spawn(&pid);
	/* A socket inherited without close-on-exec, as a launcher gives it. */
	check(fcntl(fd, F_SETFD, 0) == 0);
	snprintf(value, sizeof value, "%d", fd);
	setenv("WAYLAND_SOCKET", value, 1);
	setenv("WAYLAND_DISPLAY", "beh-no-such-display", 1);
	display = wl_display_connect("beh-no-such-display-either");
	check(display != NULL);
	check(getenv("WAYLAND_SOCKET") == NULL);
	check_int(wl_display_get_fd(display), ==, fd);
	check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	use_and_disconnect(display, pid);
	check(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	check_int(beh_fd_count(), ==, before);
}

BEH_TEST(connect_wayland_socket_invalid)
{
	setenv("WAYLAND_SOCKET", "12abc", 1);
	check(wl_display_connect(NULL) == NULL);
	setenv("WAYLAND_SOCKET", "", 1);
	check(wl_display_connect(NULL) == NULL);
	/* Not an open fd. */
	setenv("WAYLAND_SOCKET", "987", 1);
	check(wl_display_connect(NULL) == NULL);
}

BEH_TEST(connect_wayland_display_name)
{
	struct runtime_socket rs;
	int before;

	runtime_socket_start(&rs, "beh-0");
	setenv("XDG_RUNTIME_DIR", rs.dir, 1);
	setenv("WAYLAND_DISPLAY", "beh-0", 1);
	before = beh_fd_count();
	runtime_socket_finish(&rs, wl_display_connect(NULL));
	check_int(beh_fd_count(), ==, before);
}

BEH_TEST(connect_explicit_name_beats_wayland_display)
{
	struct runtime_socket rs;

	runtime_socket_start(&rs, "beh-1");
	setenv("XDG_RUNTIME_DIR", rs.dir, 1);
	setenv("WAYLAND_DISPLAY", "beh-missing", 1);
	runtime_socket_finish(&rs, wl_display_connect("beh-1"));
}

BEH_TEST(connect_wayland_display_absolute_path)
{
	struct runtime_socket rs;

	runtime_socket_start(&rs, "beh-abs");
	/* An absolute path needs no XDG_RUNTIME_DIR. */
	unsetenv("XDG_RUNTIME_DIR");
	setenv("WAYLAND_DISPLAY", rs.path, 1);
	runtime_socket_finish(&rs, wl_display_connect(NULL));
}

BEH_TEST(connect_absolute_name_argument)
{
	struct runtime_socket rs;

	runtime_socket_start(&rs, "beh-abs2");
	setenv("XDG_RUNTIME_DIR", "/nonexistent-beh", 1);
	unsetenv("WAYLAND_DISPLAY");
	runtime_socket_finish(&rs, wl_display_connect(rs.path));
}

BEH_TEST(connect_no_xdg_runtime_dir)
{
	int before = beh_fd_count();

	beh_log_capture();
	unsetenv("WAYLAND_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	setenv("WAYLAND_DISPLAY", "beh-0", 1);
	errno = 0;
	check(wl_display_connect(NULL) == NULL);
	check_int(errno, ==, ENOENT);
	check(beh_log_contains("XDG_RUNTIME_DIR"));
	check_int(beh_fd_count(), ==, before);

	/* No WAYLAND_DISPLAY either: same. */
	beh_log_clear();
	unsetenv("WAYLAND_DISPLAY");
	check(wl_display_connect(NULL) == NULL);
	check_int(errno, ==, ENOENT);
	check(beh_log_contains("XDG_RUNTIME_DIR"));
}

BEH_TEST(connect_missing_socket)
{
	char dir[64];
	int before;

	make_runtime_dir(dir, sizeof dir);
	unsetenv("WAYLAND_SOCKET");
	setenv("XDG_RUNTIME_DIR", dir, 1);
	setenv("WAYLAND_DISPLAY", "beh-nobody", 1);
	before = beh_fd_count();
	errno = 0;
	check(wl_display_connect(NULL) == NULL);
	check_int(errno, ==, ENOENT);
	check_int(beh_fd_count(), ==, before);
	rmdir(dir);
}

BEH_TEST(connect_to_fd_owns_fd)
{
	struct wl_display *display;
	pid_t pid;
	int fd, before;

	before = beh_fd_count();
	fd = beh_compositor_spawn(&pid);
	display = wl_display_connect_to_fd(fd);
	check(display != NULL);
	check_int(wl_display_get_fd(display), ==, fd);
	use_and_disconnect(display, pid);
	check(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	check_int(beh_fd_count(), ==, before);
}

/* WAYLAND_DEBUG=1: run a short session with stderr in a file, then match
 * each line against upstream's format for the loaded library's version:
 *   1.21:  [1234567.890]  -> wl_display@1.get_registry(new id wl_registry@2)
 *   1.23+: [1234567.890] {Default Queue}  -> wl_display#1.get_registry(new id wl_registry#2)
 */
static void
debug_session(void *data)
{
	const char *path = data;
	struct wl_display *display;
	struct beh_client c;
	pid_t pid;
	int fd, out;

	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(out >= 0);
	check(dup2(out, STDERR_FILENO) == STDERR_FILENO);
	close(out);
	setenv("WAYLAND_DEBUG", "1", 1);
	fd = beh_compositor_spawn(&pid);
	display = wl_display_connect_to_fd(fd);
	check(display != NULL);
	beh_client_bind(&c, display, 2);
	c.compositor = pid;
	beh_test_ping(c.test, 7);
	check_int(wl_display_roundtrip(display), >, 0);
	beh_client_disconnect(&c);
}

/* Runs session in a child with its stderr in a file and returns what it
 * wrote there in log. */
static void
run_debug_session(void (*session)(void *), char *log, size_t size)
{
	char path[] = "/tmp/beh-debug-XXXXXX";
	int fd, status;
	ssize_t n;

	fd = mkstemp(path);
	check(fd >= 0);
	status = beh_run_forked(session, path);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = read(fd, log, size - 1);
	check(n > 0);
	log[n] = '\0';
	close(fd);
	unlink(path);
}

static void
expect_line(const char *log, const char *pattern)
{
	regex_t re;
	int rc;

	check(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE) == 0);
	rc = regexec(&re, log, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		beh_fail(__FILE__, __LINE__, "no line matches /%s/ in:\n%s",
			 pattern, log);
}

BEH_TEST(connect_wayland_debug_format)
{
	static char log[65536];
	bool v123 = beh_lib_is_1_23_plus();
	const char *ts = "^\\[ *[0-9]+\\.[0-9]{3}\\] ";

	run_debug_session(debug_session, log, sizeof log);
	printf("# WAYLAND_DEBUG sample:\n%.*s", (int) strcspn(log, "\n") + 1,
	       log);

#define LINE(v121, v123_) do {						\
		char pat[512];						\
		snprintf(pat, sizeof pat, "%s%s$", ts,			\
			 v123 ? (v123_) : (v121));			\
		expect_line(log, pat);					\
	} while (0)

	LINE(" -> wl_display@1\\.get_registry\\(new id wl_registry@2\\)",
	     "\\{Default Queue\\}  -> wl_display#1\\.get_registry\\(new id wl_registry#2\\)");
	LINE(" -> wl_display@1\\.sync\\(new id wl_callback@3\\)",
	     "\\{Default Queue\\}  -> wl_display#1\\.sync\\(new id wl_callback#3\\)");
	LINE("wl_registry@2\\.global\\(1, \"beh_test\", 3\\)",
	     "\\{Default Queue\\} wl_registry#2\\.global\\(1, \"beh_test\", 3\\)");
	LINE(" -> wl_registry@2\\.bind\\(1, \"beh_test\", 2, new id \\[unknown\\]@4\\)",
	     "\\{Default Queue\\}  -> wl_registry#2\\.bind\\(1, \"beh_test\", 2, new id \\[unknown\\]#4\\)");
	LINE("wl_callback@3\\.done\\([0-9]+\\)",
	     "\\{Default Queue\\} wl_callback#3\\.done\\([0-9]+\\)");
	LINE("wl_display@1\\.delete_id\\(3\\)",
	     "\\{Display Queue\\} wl_display#1\\.delete_id\\(3\\)");
	LINE(" -> beh_test@4\\.ping\\(7\\)",
	     "\\{Default Queue\\}  -> beh_test#4\\.ping\\(7\\)");
#undef LINE
	/* No listener on beh_test: 1.23+ prints the event as discarded,
	 * 1.21 prints nothing. */
	if (v123)
		expect_line(log, "\\{Default Queue\\} discarded "
			    "beh_test#4\\.pong\\(7\\)$");
	else
		check(strstr(log, "pong") == NULL);
}

static void
test_everything(void *data, struct beh_test *test, int32_t i, uint32_t u,
		wl_fixed_t f, const char *s, const char *ns, struct beh_obj *o,
		void *any, struct beh_obj *id, struct wl_array *a, int32_t fd)
{
	close(fd);
	beh_obj_destroy(id);
}

static const struct beh_test_listener test_listener = {
	test_everything,
	beh_test_close_fds,
	beh_test_ignore_noop_count,
	beh_test_ignore_pong,
};

static void
debug_all_types(void *data)
{
	const char *path = data;
	struct beh_client c;
	struct wl_array array;
	struct beh_obj *obj;
	pid_t pid;
	int fd, out;

	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(out >= 0);
	check(dup2(out, STDERR_FILENO) == STDERR_FILENO);
	close(out);
	fd = beh_compositor_spawn(&pid);
	setenv("WAYLAND_DEBUG", "client", 1);
	c.display = wl_display_connect_to_fd(fd);
	check(c.display != NULL);
	beh_client_bind(&c, c.display, 3);
	c.compositor = pid;
	beh_test_add_listener(c.test, &test_listener, NULL);
	wl_array_init(&array);
	memset(wl_array_add(&array, 5), 0, 5);
	fd = beh_memfd("x");
	obj = beh_test_everything(c.test, -3, 4000000000u,
				  wl_fixed_from_double(-2.5), "str", NULL,
				  NULL, &array, fd);
	close(fd);
	check_int(wl_display_roundtrip(c.display), >, 0);
	beh_obj_destroy(obj);
	wl_array_release(&array);
	beh_client_disconnect(&c);
}

BEH_TEST(connect_wayland_debug_every_type)
{
	static char log[65536];
	char pat[512];
	bool v123 = beh_lib_is_1_23_plus();
	char sep = v123 ? '#' : '@';
	const char *fixed = "-2\\.50000000";

	run_debug_session(debug_all_types, log, sizeof log);
	snprintf(pat, sizeof pat,
		 " -> beh_test%c4\\.everything\\(-3, 4000000000, "
		 "%s, \"str\", nil, nil, new id beh_obj%c[0-9]+, "
		 "array\\[5\\], fd [0-9]+\\)$", sep, fixed, sep);
	expect_line(log, pat);
	/* The echo: fixed, null string, objects, new id, array, fd. */
	snprintf(pat, sizeof pat,
		 "beh_test%c4\\.everything\\(-3, 4000000000, %s, "
		 "\"str\", nil, nil, beh_test%c4, new id beh_obj%c4278190080, "
		 "array\\[5\\], fd [0-9]+\\)$", sep, fixed, sep, sep);
	expect_line(log, pat);
}
