/*
 * The host device process: the VMM side of the simulated virtio-gpu. It listens for the
 * fake guest kernels (one connection per DRM file, host-requests.c answers them), keeps the
 * timeline of fences (host-fence.c) and runs one cross-domain context per DRM file,
 * connected to the host compositor's socket (host-cross-domain*.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-device.h"

#define HOST_MAX_POLL		4096

struct host_config host_config = {
	.hostmem = 1ull << 30,
};

static struct {
	const char *socket_path;
	const char *stats_path;
	int listen_fd;
	struct host_conn *conns;
} device = {
	.listen_fd = -1,
};

static volatile sig_atomic_t host_quit;

uint64_t
host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
host_conns_forget_file(struct host_file *file)
{
	for (struct host_conn *conn = device.conns; conn; conn = conn->next)
		if (conn->file == file)
			conn->file = NULL;
}

void
host_conns_catch_up(struct host_file *file, uint32_t seq)
{
	struct host_conn *primary = NULL;

	for (struct host_conn *conn = device.conns; conn && !primary; conn = conn->next)
		if (conn->file == file && conn->primary)
			primary = conn;
	/* The guest wrote them before it sent the request: they are in the socket. */
	while (primary && !primary->dead && (int32_t)(seq - primary->submits_seen) > 0)
		host_handle_message(primary, true);
}

void
host_conns_drain_primaries(void)
{
	for (struct host_conn *conn = device.conns; conn; conn = conn->next)
		while (conn->primary && !conn->dead && host_handle_message(conn, false))
			;
}

/* One message of each connection that holds a whole one read ahead. */
static void
host_conns_serve_held(void)
{
	for (struct host_conn *conn = device.conns; conn; conn = conn->next)
		if (!conn->dead && sim_ipc_reader_ready(&conn->reader))
			host_handle_message(conn, false);
}

static void
host_conn_destroy(struct host_conn *conn)
{
	host_fence_forget_conn(conn);
	if (conn->primary && conn->file)
		host_file_drop(conn->file);
	sim_ipc_reader_free(&conn->reader);
	close(conn->fd);
	free(conn);
}

static void
host_write_stats(void)
{
	FILE *out;

	if (!device.stats_path)
		return;
	out = strcmp(device.stats_path, "-") == 0 ? stderr : fopen(device.stats_path, "w");
	if (!out) {
		host_log("cannot write stats to %s: %s", device.stats_path, strerror(errno));
		return;
	}
	fprintf(out, "virtgpu-sim stats: profile=%s contexts=%llu contexts_lost=%llu sends=%llu "
		"send_bytes=%llu receives=%llu receive_bytes=%llu reads=%llu read_bytes=%llu "
		"writes=%llu write_bytes=%llu fds_to_compositor=%llu fds_from_compositor=%llu "
		"blobs=%llu fences=%llu buffer_bytes_copied=%llu\n",
		host_config.profile->name,
		(unsigned long long)host_stats.contexts, (unsigned long long)host_stats.contexts_lost,
		(unsigned long long)host_stats.sends, (unsigned long long)host_stats.send_bytes,
		(unsigned long long)host_stats.receives,
		(unsigned long long)host_stats.receive_bytes,
		(unsigned long long)host_stats.reads, (unsigned long long)host_stats.read_bytes,
		(unsigned long long)host_stats.writes, (unsigned long long)host_stats.write_bytes,
		(unsigned long long)host_stats.fds_to_compositor,
		(unsigned long long)host_stats.fds_from_compositor,
		(unsigned long long)host_stats.blobs, (unsigned long long)host_stats.fences,
		(unsigned long long)host_stats.buffer_bytes_copied);
	if (out != stderr)
		fclose(out);
}

static int
host_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid()) >= (int)sizeof addr.sun_path) {
		fprintf(stderr, "virtgpu-sim host: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(tmp);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0 ||
	    rename(tmp, path) < 0) {
		fprintf(stderr, "virtgpu-sim host: cannot listen on %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	/* Appears only once it accepts: the launcher waits for the path. */
	return fd;
}

static void
host_handle_signal(int sig)
{
	host_quit = 1;
}

static void
host_usage(FILE *out)
{
	fprintf(out,
		"usage: virtgpu-sim-host --socket PATH [--profile NAME] [--wayland PATH]\n"
		"                        [--stats FILE|-] [--hostmem BYTES] [--no-uuid] [--no-3d-handle]\n"
		"                        [--fault KIND[@N[+]],...]\n"
		"       virtgpu-sim-host --list-profiles | --list-faults\n"
		"The compositor socket defaults to $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY (wayland-0).\n"
		"Profiles:\n");
	host_profile_list(out);
}

/* The compositor's socket: --wayland, or as QEMU: $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY or
 * wayland-0 (§7). */
static void
host_set_wayland_path(const char *wayland)
{
	char *path = host_config.wayland_path;
	size_t size = sizeof host_config.wayland_path;

	if (wayland) {
		snprintf(path, size, "%s", wayland);
	} else {
		const char *display = getenv("WAYLAND_DISPLAY");
		const char *dir = getenv("XDG_RUNTIME_DIR");
		if (!display)
			display = "wayland-0";
		if (display[0] == '/')
			snprintf(path, size, "%s", display);
		else if (dir)
			snprintf(path, size, "%s/%s", dir, display);
	}
	host_config.cd.profile = host_config.profile;
	host_config.cd.wayland_path = path[0] ? path : NULL;
	host_config.cd.connect_socket = cd_connect_socket;
}

/* The command line, into host_config and device; -1 to go on, else the exit status. */
static int
host_parse_options(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "wayland", required_argument, NULL, 'w' },
		{ "stats", required_argument, NULL, 't' },
		{ "hostmem", required_argument, NULL, 'm' },
		{ "no-uuid", no_argument, NULL, 'u' },
		{ "no-3d-handle", no_argument, NULL, '3' },
		{ "list-profiles", no_argument, NULL, 'l' },
		{ "fault", required_argument, NULL, 'f' },
		{ "list-faults", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *profile_name = "rutabaga", *wayland = NULL, *fault = NULL;
	bool list_faults = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's': device.socket_path = optarg; break;
		case 'p': profile_name = optarg; break;
		case 'w': wayland = optarg; break;
		case 't': device.stats_path = optarg; break;
		case 'm': host_config.hostmem = strtoull(optarg, NULL, 0); break;
		case 'u': host_config.no_uuid = true; break;
		case '3': host_config.no_3d_handle = true; break;
		case 'l': host_profile_list(stdout); return 0;
		case 'f': fault = optarg; break;
		case 'F': list_faults = true; break;
		case 'h': host_usage(stdout); return 0;
		default: host_usage(stderr); return 2;
		}
	}
	host_config.profile = host_profile_find(profile_name);
	if (!host_config.profile) {
		fprintf(stderr, "virtgpu-sim host: unknown profile '%s'\n", profile_name);
		host_usage(stderr);
		return 2;
	}
	if (host_config.profile->no_3d_handle)
		host_config.no_3d_handle = true;
	if (!device.socket_path) {
		host_usage(stderr);
		return 2;
	}
	if (!device.stats_path)
		device.stats_path = getenv("VIRTGPU_SIM_STATS");
	if (!fault)
		fault = getenv("VIRTGPU_SIM_FAULT");
	if (host_fault_parse(fault) < 0)
		return 2;
	if (list_faults) {
		/* Also how the launcher checks a --fault before starting anything. */
		host_fault_list(stdout);
		return 0;
	}
	host_set_wayland_path(wayland);
	return -1;
}

static void
host_accept(void)
{
	int fd = accept4(device.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = 5 };
	struct host_conn *conn;

	if (fd < 0)
		return;
	conn = calloc(1, sizeof *conn);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (!conn) {
		close(fd);
		return;
	}
	conn->fd = fd;
	conn->next = device.conns;
	device.conns = conn;
}

/* One turn of the loop: wait for a guest kernel's request, a compositor or a deadline, then
 * serve what is ready. False on a poll error. */
static bool
host_loop_once(const sigset_t *unblocked)
{
	static struct pollfd pfds[HOST_MAX_POLL];
	struct timespec storage, *timeout, now = { 0, 0 };
	bool held = false;
	int n = 0, ret;

	pfds[n++] = (struct pollfd){ device.listen_fd, POLLIN, 0 };
	for (struct host_conn *conn = device.conns; conn && n < HOST_MAX_POLL; conn = conn->next) {
		pfds[n++] = (struct pollfd){ conn->fd, POLLIN, 0 };
		held |= !conn->dead && sim_ipc_reader_ready(&conn->reader);
	}
	n += host_fence_watch(pfds + n, HOST_MAX_POLL - n, &timeout, &storage);
	/* A message read ahead is served without waiting. */
	ret = ppoll(pfds, n, held ? &now : timeout, unblocked);
	if (ret < 0 && errno != EINTR) {
		host_log("poll: %s", strerror(errno));
		return false;
	}
	if (ret < 0)
		return true;
	host_waits++;

	for (int i = 1; i < n; i++) {
		if (!pfds[i].revents)
			continue;
		for (struct host_conn *conn = device.conns; conn; conn = conn->next) {
			if (conn->fd == pfds[i].fd && !conn->dead) {
				/* A catch-up may have read it already. */
				host_handle_message(conn, false);
				break;
			}
		}
	}
	host_conns_serve_held();
	for (struct host_conn **link = &device.conns; *link;) {
		struct host_conn *conn = *link;
		if (conn->dead) {
			*link = conn->next;
			host_conn_destroy(conn);
		} else {
			link = &conn->next;
		}
	}
	/* What the wait found serves the poll jobs, unless it could not watch them all. */
	host_fence_run(n < HOST_MAX_POLL ? pfds : NULL, n);
	if (pfds[0].revents & POLLIN)
		host_accept();
	return true;
}

int
main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = host_handle_signal };
	sigset_t block, empty;
	int status = host_parse_options(argc, argv);

	if (status >= 0)
		return status;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	device.listen_fd = host_listen(device.socket_path);
	if (device.listen_fd < 0)
		return 1;
	while (!host_quit && host_loop_once(&empty))
		;

	while (device.conns) {
		struct host_conn *conn = device.conns;
		device.conns = conn->next;
		host_conn_destroy(conn);
	}
	unlink(device.socket_path);
	host_write_stats();
	return 0;
}
