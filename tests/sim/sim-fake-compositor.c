/*
 * A tiny stand-in for the host compositor in the simulator's own tests: a Unix socket server
 * that obeys text commands from its clients (echo or drop bytes, stop reading for a while,
 * send memfds, pipes, eventfds, close) so a test guest can drive every host-to-guest path
 * without weston.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim-ipc.h"

#define FC_MAX_CLIENTS	64
#define FC_MAX_FDS	64

struct fc_client {
	int fd;
	char buf[1 << 16];
	size_t len;
	size_t echo_left;	/* raw bytes of an ECHO (or a SINK) still to come */
	bool sink;		/* SINK: they are dropped, not echoed */
	int fds[FC_MAX_FDS];
	int num_fds;
	int wpipe;		/* read end of a pipe whose write end we handed out */
	size_t wpipe_bytes;
	unsigned wpipe_sum;
};

static struct fc_client *fc_clients[FC_MAX_CLIENTS];

static int
fc_send(int sock, const void *data, size_t size, const int *fds, int num_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FC_MAX_FDS)];
	struct iovec iov = { (void *)data, size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t done;
	ssize_t n;

	sim_ipc_attach_fds(&msg, cbuf, fds, (unsigned)num_fds);
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -1;
	for (done = n; done < size; done += n) {
		n = send(sock, (const char *)data + done, size - done, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
	}
	return 0;
}

static void
fc_sendf(struct fc_client *c, const int *fds, int num_fds, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
fc_sendf(struct fc_client *c, const int *fds, int num_fds, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fc_send(c->fd, line, strlen(line), fds, num_fds);
}

static int
fc_memfd(size_t size, int byte)
{
	int fd = memfd_create("fake-compositor", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, size) < 0)
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		memset(p, byte, size);
		munmap(p, size);
	}
	return fd;
}

static void
fc_drop_fds(struct fc_client *c)
{
	for (int i = 0; i < c->num_fds; i++)
		close(c->fds[i]);
	c->num_fds = 0;
}

/* FDINFO: what arrived with the command, so the guest can check what the host forwarded. */
static void
fc_fdinfo(struct fc_client *c)
{
	char out[1024];
	size_t len = snprintf(out, sizeof out, "FDINFO %d", c->num_fds);

	for (int i = 0; i < c->num_fds; i++) {
		int fd = c->fds[i], flags = fcntl(fd, F_GETFL);
		off_t size = lseek(fd, 0, SEEK_END);
		unsigned char first = 0;

		if (size > 0) {
			unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
			if (p != MAP_FAILED) {
				first = p[size - 1] == p[0] ? p[0] : 0xee;
				munmap(p, size);
			}
		}
		if (size >= 0)
			len += snprintf(out + len, sizeof out - len, " mem:%lld:%u", (long long)size,
					first);
		else if ((flags & O_ACCMODE) == O_WRONLY)
			len += snprintf(out + len, sizeof out - len, " wpipe:0:0");
		else
			len += snprintf(out + len, sizeof out - len, " other:0:0");
	}
	snprintf(out + len, sizeof out - len, "\n");
	fc_send(c->fd, out, strlen(out), NULL, 0);
	fc_drop_fds(c);
}

static int
fc_command(struct fc_client *c, char *line)
{
	unsigned long a = 0, b = 0;
	int fds[FC_MAX_FDS];

	if (sscanf(line, "ECHO %lu", &a) == 1) {
		c->echo_left = a;
		c->sink = false;
	} else if (sscanf(line, "SINK %lu", &a) == 1) {
		c->echo_left = a;
		c->sink = true;
	} else if (sscanf(line, "SLEEP %lu", &a) == 1 && a <= 10000) {
		/* Reads nothing meanwhile: the socket fills up. */
		usleep(a * 1000);
	} else if (sscanf(line, "FLOOD %lu", &a) == 1) {
		char *data = malloc(a);
		for (unsigned long i = 0; data && i < a; i++)
			data[i] = (char)(i * 7);
		if (data)
			fc_send(c->fd, data, a, NULL, 0);
		free(data);
	} else if (sscanf(line, "MEMFD %lu %lu", &a, &b) == 2) {
		fds[0] = fc_memfd(a, (int)b);
		fc_sendf(c, fds, 1, "MEMFD\n");
		close(fds[0]);
	} else if (sscanf(line, "MANYFDS %lu", &a) == 1 && a <= FC_MAX_FDS) {
		for (unsigned long i = 0; i < a; i++)
			fds[i] = fc_memfd(4096, (int)i);
		fc_sendf(c, fds, a, "MANYFDS\n");
		for (unsigned long i = 0; i < a; i++)
			close(fds[i]);
	} else if (strcmp(line, "FDINFO") == 0) {
		fc_fdinfo(c);
	} else if (sscanf(line, "RPIPE %lu", &a) == 1 && c->num_fds == 1) {
		/* The compositor writes a selection into the pipe the client made. */
		char *data = malloc(a);
		size_t done = 0;
		for (unsigned long i = 0; data && i < a; i++)
			data[i] = (char)(i * 13);
		fcntl(c->fds[0], F_SETFL, 0);
		while (data && done < a) {
			ssize_t n = write(c->fds[0], data + done, a - done);
			if (n <= 0)
				break;
			done += n;
		}
		free(data);
		fc_drop_fds(c);
		fc_sendf(c, NULL, 0, "RPIPE-OK\n");
	} else if (strcmp(line, "WPIPE") == 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) == 0) {
			c->wpipe = p[0];
			c->wpipe_bytes = 0;
			c->wpipe_sum = 0;
			fc_sendf(c, &p[1], 1, "WPIPE\n");
			close(p[1]);
		}
	} else if (strcmp(line, "EVENTFD") == 0) {
		fds[0] = eventfd(0, EFD_CLOEXEC);
		fc_sendf(c, fds, 1, "EVENTFD\n");
		close(fds[0]);
	} else if (strcmp(line, "SOCKET") == 0) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		fc_sendf(c, &sv[0], 1, "SOCKET\n");
		close(sv[0]);
		close(sv[1]);
	} else if (strcmp(line, "RDPIPE") == 0) {
		int p[2];
		pipe2(p, O_CLOEXEC);
		fc_sendf(c, &p[0], 1, "RDPIPE\n");
		close(p[0]);
		close(p[1]);
	} else if (strcmp(line, "CLOSE") == 0) {
		return -1;
	} else {
		fc_sendf(c, NULL, 0, "ERROR %s\n", line);
		fc_drop_fds(c);
	}
	return 0;
}

static int
fc_client_read(struct fc_client *c)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FC_MAX_FDS)];
	struct iovec iov = { c->buf + c->len, sizeof c->buf - c->len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf,
	};
	struct cmsghdr *cmsg;
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		int count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(cmsg);
		for (int i = 0; i < count; i++) {
			if (c->num_fds < FC_MAX_FDS)
				c->fds[c->num_fds++] = in[i];
			else
				close(in[i]);
		}
	}
	c->len += n;
	for (;;) {
		char *nl;
		size_t used;

		if (c->echo_left > 0) {
			size_t take = c->len < c->echo_left ? c->len : c->echo_left;
			if (take == 0)
				break;
			if (!c->sink)
				fc_send(c->fd, c->buf, take, NULL, 0);
			c->echo_left -= take;
			memmove(c->buf, c->buf + take, c->len - take);
			c->len -= take;
			continue;
		}
		nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		*nl = '\0';
		used = nl - c->buf + 1;
		if (fc_command(c, c->buf) < 0)
			return -1;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (c->len == sizeof c->buf)
		return -1;
	return 0;
}

static void
fc_client_destroy(int i)
{
	struct fc_client *c = fc_clients[i];

	fc_drop_fds(c);
	if (c->wpipe >= 0)
		close(c->wpipe);
	close(c->fd);
	free(c);
	fc_clients[i] = NULL;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[sizeof addr.sun_path];
	int lfd;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0 ||
	    strlen(argv[2]) + 8 >= sizeof addr.sun_path) {
		fprintf(stderr, "usage: sim-fake-compositor --socket PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	strcpy(addr.sun_path, tmp);
	unlink(tmp);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 16) < 0 ||
	    rename(tmp, argv[2]) < 0) {
		perror("sim-fake-compositor");
		return 1;
	}
	for (;;) {
		struct pollfd pfds[1 + 2 * FC_MAX_CLIENTS];
		int who[1 + 2 * FC_MAX_CLIENTS];
		int n = 0;

		pfds[n] = (struct pollfd){ lfd, POLLIN, 0 };
		who[n++] = -1;
		for (int i = 0; i < FC_MAX_CLIENTS; i++) {
			if (!fc_clients[i])
				continue;
			pfds[n] = (struct pollfd){ fc_clients[i]->fd, POLLIN, 0 };
			who[n++] = i;
			if (fc_clients[i]->wpipe >= 0) {
				pfds[n] = (struct pollfd){ fc_clients[i]->wpipe, POLLIN, 0 };
				who[n++] = FC_MAX_CLIENTS + i;
			}
		}
		if (poll(pfds, n, -1) < 0)
			continue;
		for (int k = 1; k < n; k++) {
			int i = who[k] % FC_MAX_CLIENTS;
			struct fc_client *c = fc_clients[i];

			if (!pfds[k].revents || !c)
				continue;
			if (who[k] >= FC_MAX_CLIENTS) {
				char data[4096];
				ssize_t r = read(c->wpipe, data, sizeof data);
				for (ssize_t j = 0; j < r; j++)
					c->wpipe_sum += (unsigned char)data[j];
				if (r > 0) {
					c->wpipe_bytes += r;
				} else {
					close(c->wpipe);
					c->wpipe = -1;
					fc_sendf(c, NULL, 0, "WPIPE-DATA %zu %u\n", c->wpipe_bytes,
						 c->wpipe_sum);
				}
			} else if (fc_client_read(c) < 0) {
				fc_client_destroy(i);
			}
		}
		if (pfds[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int i;
			for (i = 0; fd >= 0 && i < FC_MAX_CLIENTS && fc_clients[i]; i++)
				;
			if (fd >= 0 && i < FC_MAX_CLIENTS) {
				fc_clients[i] = calloc(1, sizeof *fc_clients[i]);
				fc_clients[i]->fd = fd;
				fc_clients[i]->wpipe = -1;
			} else if (fd >= 0) {
				close(fd);
			}
		}
	}
}
