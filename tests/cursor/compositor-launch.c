/*
 * Runs the test compositor as a child process on one end of a socketpair,
 * so a test client and the compositor share no library in one address space.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wayland-client.h>

#include "compositor-launch.h"

struct wl_display *
compositor_launch(const char *path, const char *prefix, pid_t *pid,
		  int *output)
{
	struct wl_display *display;
	char fdstr[16];
	int sv[2], out[2] = { -1, -1 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	if (output && pipe2(out, O_CLOEXEC) < 0)
		return NULL;
	fflush(stdout);
	*pid = fork();
	if (*pid < 0)
		return NULL;
	if (*pid == 0) {
		/* The child keeps its end open across exec, nothing else. */
		int fd = dup(sv[1]);

		if (output)
			dup2(out[1], STDOUT_FILENO);

		snprintf(fdstr, sizeof fdstr, "%d", fd);
		execl(path, path, fdstr, prefix, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	if (output) {
		close(out[1]);
		*output = out[0];
	}
	display = wl_display_connect_to_fd(sv[0]);
	if (!display)
		close(sv[0]);
	return display;
}

int
compositor_finish(struct wl_display *display, pid_t pid)
{
	int status;

	fflush(stdout);
	wl_display_disconnect(display);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
