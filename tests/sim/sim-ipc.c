/*
 * Message framing for the fake kernel <-> host device link (see sim-ipc.h): a header,
 * a payload, and fds riding on the header's first byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sim-ipc.h"

/* fds as the SCM_RIGHTS of msg, in cbuf (room for CMSG_SPACE of num_fds ints): every
 * sendmsg with fds of the simulator's. */
void
sim_ipc_attach_fds(struct msghdr *msg, void *cbuf, const int *fds, unsigned num_fds)
{
	struct cmsghdr *cmsg;

	if (num_fds == 0)
		return;
	memset(cbuf, 0, CMSG_SPACE(sizeof(int) * num_fds));
	msg->msg_control = cbuf;
	msg->msg_controllen = CMSG_SPACE(sizeof(int) * num_fds);
	cmsg = CMSG_FIRSTHDR(msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * num_fds);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * num_fds);
}

static int
sim_ipc_write_rest(int sock, const char *p, size_t size)
{
	while (size > 0) {
		ssize_t n = send(sock, p, size, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		size -= n;
	}
	return 0;
}

static int
sim_ipc_send_hdr(int sock, struct sim_ipc_hdr hdr, const void *a, size_t a_size,
		 const void *b, size_t b_size, const int *fds, unsigned num_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SIM_IPC_MAX_FDS)];
	struct iovec iov[3] = {
		{ &hdr, sizeof hdr },
		{ (void *)a, a_size },
		{ (void *)b, b_size },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
	size_t total = sizeof hdr + a_size + b_size;
	ssize_t n;
	int ret;

	if (num_fds > SIM_IPC_MAX_FDS)
		return -EINVAL;
	sim_ipc_attach_fds(&msg, cbuf, fds, (unsigned)num_fds);
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == total)
		return 0;

	/* A short write on a stream: push the rest without the fds. */
	{
		char *flat = malloc(total);

		if (!flat)
			return -ENOMEM;
		memcpy(flat, &hdr, sizeof hdr);
		if (a_size)
			memcpy(flat + sizeof hdr, a, a_size);
		if (b_size)
			memcpy(flat + sizeof hdr + a_size, b, b_size);
		ret = sim_ipc_write_rest(sock, flat + n, total - n);
		free(flat);
	}
	return ret;
}

int
sim_ipc_send(int sock, uint32_t op, int32_t status, const void *a, size_t a_size,
	     const void *b, size_t b_size, const int *fds, unsigned num_fds)
{
	struct sim_ipc_hdr hdr = { op, status, (uint32_t)(a_size + b_size), num_fds, 0, 0 };

	return sim_ipc_send_hdr(sock, hdr, a, a_size, b, b_size, fds, num_fds);
}

int
sim_ipc_send_seq(int sock, uint32_t op, uint32_t seq, const void *a, size_t a_size,
		 const void *b, size_t b_size, const int *fds, unsigned num_fds)
{
	struct sim_ipc_hdr hdr = { op, 0, (uint32_t)(a_size + b_size), num_fds, seq, 0 };

	return sim_ipc_send_hdr(sock, hdr, a, a_size, b, b_size, fds, num_fds);
}

static int
sim_ipc_read_full(int sock, char *p, size_t size)
{
	while (size > 0) {
		ssize_t n = recv(sock, p, size, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		size -= n;
	}
	return 0;
}

static int
sim_ipc_recv_flags(int sock, struct sim_ipc_hdr *hdr, void **payload, int *fds, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SIM_IPC_MAX_FDS)];
	struct iovec iov = { hdr, sizeof *hdr };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof cbuf,
	};
	unsigned got_fds = 0;
	struct cmsghdr *cmsg;
	ssize_t n;
	int ret;

	*payload = NULL;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(cmsg);
		for (unsigned i = 0; i < count; i++) {
			if (got_fds < SIM_IPC_MAX_FDS)
				fds[got_fds++] = in[i];
			else
				close(in[i]);
		}
	}
	if ((size_t)n < sizeof *hdr) {
		ret = sim_ipc_read_full(sock, (char *)hdr + n, sizeof *hdr - n);
		if (ret < 0)
			goto fail;
	}
	if (hdr->num_fds != got_fds || hdr->size > SIM_IPC_MAX_PAYLOAD) {
		ret = -EPROTO;
		goto fail;
	}
	if (hdr->size > 0) {
		*payload = malloc(hdr->size);
		if (!*payload) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = sim_ipc_read_full(sock, *payload, hdr->size);
		if (ret < 0) {
			free(*payload);
			*payload = NULL;
			goto fail;
		}
	}
	return 0;

fail:
	for (unsigned i = 0; i < got_fds; i++)
		close(fds[i]);
	hdr->num_fds = 0;
	return ret;
}

int
sim_ipc_recv(int sock, struct sim_ipc_hdr *hdr, void **payload, int *fds)
{
	return sim_ipc_recv_flags(sock, hdr, payload, fds, MSG_WAITALL);
}

int
sim_ipc_recv_ready(int sock, struct sim_ipc_hdr *hdr, void **payload, int *fds)
{
	/* A header begun is read whole, blocking for the rest. */
	return sim_ipc_recv_flags(sock, hdr, payload, fds, MSG_DONTWAIT);
}
