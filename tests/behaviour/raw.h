/*
 * A raw fake compositor for the wire and bad-input tests: the test holds the
 * other end of the client's socketpair and reads or writes exact bytes.
 */

#ifndef BEH_RAW_H
#define BEH_RAW_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define RAW_MAX_FDS 28

struct raw {
	int fd;			/* the compositor's end */
	struct wl_display *display;
	struct wl_registry *registry;	/* id 2 */
	struct beh_test *test;		/* id 3 */
};

static inline uint32_t
raw_header(uint32_t size, uint32_t opcode)
{
	return size << 16 | opcode;
}

/* Reads exactly size bytes; fds that arrive with them go to fds/nfds. */
static inline void
raw_read(struct raw *raw, void *data, size_t size, int *fds, int *nfds)
{
	char cmsg_buf[CMSG_SPACE(RAW_MAX_FDS * sizeof(int))];
	size_t got = 0;
	int n_fds = 0;

	while (got < size) {
		struct iovec iov = { (char *) data + got, size - got };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cmsg_buf,
			.msg_controllen = sizeof cmsg_buf,
		};
		struct cmsghdr *cmsg;
		ssize_t n;

		n = recvmsg(raw->fd, &msg, MSG_CMSG_CLOEXEC);
		check(n > 0);
		got += n;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg;
		     cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			size_t count;

			if (cmsg->cmsg_level != SOL_SOCKET ||
			    cmsg->cmsg_type != SCM_RIGHTS)
				continue;
			count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			check(fds != NULL);
			check(n_fds + count <= RAW_MAX_FDS);
			memcpy(fds + n_fds, CMSG_DATA(cmsg),
			       count * sizeof(int));
			n_fds += count;
		}
	}
	if (nfds)
		*nfds = n_fds;
	else
		check_int(n_fds, ==, 0);
}

/* Writes size bytes with nfds fds attached to the first byte. */
static inline void
raw_write(struct raw *raw, const void *data, size_t size, const int *fds,
	  int nfds)
{
	char cmsg_buf[CMSG_SPACE(RAW_MAX_FDS * sizeof(int))];
	struct iovec iov = { (void *) data, size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *cmsg;

		memset(cmsg_buf, 0, sizeof cmsg_buf);
		msg.msg_control = cmsg_buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	n = sendmsg(raw->fd, &msg, MSG_NOSIGNAL);
	check_int(n, ==, (ssize_t) size);
}

/* Connects a client to a raw server and creates wl_registry#2 and
 * beh_test#3 (bound as global name 1, version 3); their requests are read
 * and dropped. */
static inline void
raw_connect(struct raw *raw)
{
	uint32_t buf[64];
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	raw->fd = sv[1];
	raw->display = wl_display_connect_to_fd(sv[0]);
	check(raw->display != NULL);
	raw->registry = wl_display_get_registry(raw->display);
	raw->test = wl_registry_bind(raw->registry, 1, &beh_test_interface, 3);
	check_int(wl_proxy_get_id((struct wl_proxy *) raw->registry), ==, 2);
	check_int(wl_proxy_get_id((struct wl_proxy *) raw->test), ==, 3);
	check_int(wl_display_flush(raw->display), ==, 12 + 36);
	raw_read(raw, buf, 12 + 36, NULL, NULL);
}

static inline void
raw_close(struct raw *raw)
{
	if (raw->fd >= 0)
		close(raw->fd);
	raw->fd = -1;
}

static inline void
raw_disconnect(struct raw *raw)
{
	beh_test_destroy(raw->test);
	wl_registry_destroy(raw->registry);
	wl_display_disconnect(raw->display);
	raw_close(raw);
}

#endif
