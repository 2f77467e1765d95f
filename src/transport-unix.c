/*
 * SPDX-License-Identifier: MIT
 * The Unix-socket transport: the byte stream goes over a SOCK_STREAM
 * socket with sendmsg/recvmsg, fds as SCM_RIGHTS, exactly as upstream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "transport.h"
#include "wayland-private.h"

/* The kernel never passes more than this many fds in one message. */
#define UNIX_MAX_FDS_IN 253

struct unix_transport {
	struct wl_transport base;
	int fd;
};

static ssize_t
unix_send(struct wl_transport *transport, const void *data, size_t len,
	  const int *fds, int nfds, int *fds_taken,
	  const struct wl_transport_message *messages, int nmessages)
{
	struct unix_transport *t = (struct unix_transport *) transport;
	char cmsg_buf[CMSG_SPACE(sizeof(int) * WL_MAX_FDS_OUT)];
	struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t ret;

	if (nfds > WL_MAX_FDS_OUT)
		nfds = WL_MAX_FDS_OUT;

	if (nfds > 0) {
		memset(cmsg_buf, 0, sizeof cmsg_buf);
		msg.msg_control = cmsg_buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}

	do {
		ret = sendmsg(t->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (ret < 0 && errno == EINTR);

	if (ret < 0)
		return -1;

	*fds_taken = nfds;
	t->base.stats.sends++;
	t->base.stats.sent_bytes += ret;
	t->base.stats.fds_sent += nfds;
	return ret;
}

static ssize_t
unix_recv(struct wl_transport *transport, void *data, size_t len,
	  int *fds, int *nfds, int max_fds)
{
	struct unix_transport *t = (struct unix_transport *) transport;
	char cmsg_buf[CMSG_SPACE(sizeof(int) * UNIX_MAX_FDS_IN)];
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cmsg_buf,
		.msg_controllen = sizeof cmsg_buf,
	};
	struct cmsghdr *cmsg;
	ssize_t ret;
	int n = 0;

	do {
		ret = recvmsg(t->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (ret < 0 && errno == EINTR);

	if (ret < 0)
		return -1;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t count, i;
		int *in;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;

		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		in = (int *) CMSG_DATA(cmsg);
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, &in[i], sizeof fd);
			if (n < max_fds)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	*nfds = n;

	if (ret > 0 || n > 0) {
		t->base.stats.receives++;
		t->base.stats.recv_bytes += ret;
		t->base.stats.fds_received += n;
	}

	if (msg.msg_flags & MSG_CTRUNC) {
		/* fds were lost: the stream can no longer be trusted. */
		wl_log("error: file descriptors were truncated by the kernel\n");
		while (n > 0)
			close(fds[--n]);
		*nfds = 0;
		errno = EPROTO;
		return -1;
	}
	return ret;
}

static int
unix_get_fd(struct wl_transport *transport)
{
	return ((struct unix_transport *) transport)->fd;
}

static void
unix_destroy(struct wl_transport *transport)
{
	struct unix_transport *t = (struct unix_transport *) transport;

	close(t->fd);
	free(t);
}

static const struct wl_transport_ops unix_ops = {
	.name = "unix",
	.send = unix_send,
	.recv = unix_recv,
	.get_fd = unix_get_fd,
	.destroy = unix_destroy,
};

struct wl_transport *
wl_transport_unix_create(int fd)
{
	struct unix_transport *t;

	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;

	t->base.ops = &unix_ops;
	t->fd = fd;

	return &t->base;
}
