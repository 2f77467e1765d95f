/*
 * Message framing for the fake kernel <-> host device link (see sim-ipc.h): a header,
 * a payload, and fds riding on the header's first byte.
 */
#include <errno.h>
#include <stdbool.h>
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

/* fds of a received message into fds (at most SIM_IPC_MAX_FDS, the rest closed); how many. */
static unsigned
sim_ipc_take_fds(struct msghdr *msg, int *fds)
{
	unsigned got_fds = 0;

	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
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
	return got_fds;
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
	unsigned got_fds;
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
	got_fds = sim_ipc_take_fds(&msg, fds);
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

/* The payload bytes past what the first read took: into the rest of reply, then dropped. */
static int
sim_ipc_read_rest(int sock, char *reply, size_t room, size_t left)
{
	char sink[256];
	int ret = sim_ipc_read_full(sock, reply, left < room ? left : room);

	for (left -= left < room ? left : room; ret == 0 && left > 0; ) {
		size_t chunk = left < sizeof sink ? left : sizeof sink;
		ret = sim_ipc_read_full(sock, sink, chunk);
		left -= chunk;
	}
	return ret;
}

int
sim_ipc_recv_reply(int sock, struct sim_ipc_hdr *hdr, void *reply, size_t reply_size,
		   int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SIM_IPC_MAX_FDS)];
	struct iovec iov[2] = { { hdr, sizeof *hdr }, { reply, reply_size } };
	struct msghdr msg = {
		.msg_iov = iov, .msg_iovlen = reply_size ? 2 : 1,
		.msg_control = cbuf, .msg_controllen = sizeof cbuf,
	};
	unsigned got_fds;
	size_t got;
	ssize_t n;
	int ret = 0;

	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	got_fds = sim_ipc_take_fds(&msg, fds);
	if ((size_t)n < sizeof *hdr)
		ret = sim_ipc_read_full(sock, (char *)hdr + n, sizeof *hdr - n);
	got = (size_t)n > sizeof *hdr ? (size_t)n - sizeof *hdr : 0;
	if (ret == 0 && (hdr->num_fds != got_fds || hdr->size > SIM_IPC_MAX_PAYLOAD ||
			 got > hdr->size))
		ret = -EPROTO;
	if (ret == 0 && hdr->size > got)
		ret = sim_ipc_read_rest(sock, (char *)reply + got, reply_size - got,
					hdr->size - got);
	if (ret < 0) {
		for (unsigned i = 0; i < got_fds; i++)
			close(fds[i]);
		hdr->num_fds = 0;
	}
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

/* --- the read-ahead reader ------------------------------------------------------------------ */

#define SIM_IPC_READER_CHUNK	(64u << 10)

void
sim_ipc_reader_free(struct sim_ipc_reader *r)
{
	for (unsigned i = 0; i < r->num_fds; i++)
		close(r->fds[i]);
	free(r->buf);
	*r = (struct sim_ipc_reader){ 0 };
}

/* The header of the first whole message held, or NULL. */
static const struct sim_ipc_hdr *
sim_ipc_reader_peek(const struct sim_ipc_reader *r, struct sim_ipc_hdr *hdr)
{
	size_t held = r->len - r->off;

	if (held < sizeof *hdr)
		return NULL;
	memcpy(hdr, r->buf + r->off, sizeof *hdr);
	if (hdr->size <= SIM_IPC_MAX_PAYLOAD && held - sizeof *hdr < hdr->size)
		return NULL;
	return hdr;
}

bool
sim_ipc_reader_ready(const struct sim_ipc_reader *r)
{
	struct sim_ipc_hdr hdr;

	return sim_ipc_reader_peek(r, &hdr) != NULL;
}

/* Room for at least need more bytes after what is held (moved to the front). */
static int
sim_ipc_reader_room(struct sim_ipc_reader *r, size_t need)
{
	size_t held = r->len - r->off;

	if (held > 0 && r->off > 0)	/* never with no buffer yet */
		memmove(r->buf, r->buf + r->off, held);
	r->off = 0;
	r->len = held;
	if (r->cap - held >= need)
		return 0;
	char *grown = realloc(r->buf, held + need);
	if (!grown)
		return -ENOMEM;
	r->buf = grown;
	r->cap = held + need;
	return 0;
}

/* One recvmsg into the buffer: the fds that came with it join the queue. */
static int
sim_ipc_reader_fill(struct sim_ipc_reader *r, int sock, bool block)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SIM_IPC_MAX_FDS)];
	struct sim_ipc_hdr hdr;
	size_t need = SIM_IPC_READER_CHUNK;
	struct msghdr msg = { .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct iovec iov;
	int fds[SIM_IPC_MAX_FDS];
	unsigned got;
	ssize_t n;

	if (r->len - r->off >= sizeof hdr) {
		memcpy(&hdr, r->buf + r->off, sizeof hdr);
		if (hdr.size > SIM_IPC_MAX_PAYLOAD)
			return -EPROTO;
		if (sizeof hdr + hdr.size > need)
			need = sizeof hdr + hdr.size;
	}
	if (sim_ipc_reader_room(r, need) < 0)
		return -ENOMEM;
	iov = (struct iovec){ r->buf + r->len, r->cap - r->len };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	/* A message begun is read whole, blocking for the rest. */
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC |
			    (block || r->len > 0 ? 0 : MSG_DONTWAIT));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN && (block || r->len > 0))
		return -ETIMEDOUT;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	got = sim_ipc_take_fds(&msg, fds);
	for (unsigned i = 0; i < got; i++) {
		if (r->num_fds < sizeof r->fds / sizeof r->fds[0])
			r->fds[r->num_fds++] = fds[i];
		else
			close(fds[i]);
	}
	r->len += (size_t)n;
	return 0;
}

int
sim_ipc_reader_next(struct sim_ipc_reader *r, int sock, bool block, struct sim_ipc_hdr *hdr,
		    void **payload, int *fds)
{
	int ret;

	*payload = NULL;
	while (!sim_ipc_reader_peek(r, hdr)) {
		ret = sim_ipc_reader_fill(r, sock, block);
		if (ret < 0)
			return ret;
	}
	if (hdr->size > SIM_IPC_MAX_PAYLOAD || hdr->num_fds > r->num_fds ||
	    hdr->num_fds > SIM_IPC_MAX_FDS)
		return -EPROTO;
	if (hdr->size > 0 && !(*payload = malloc(hdr->size)))
		return -ENOMEM;
	if (hdr->size > 0)
		memcpy(*payload, r->buf + r->off + sizeof *hdr, hdr->size);
	r->off += sizeof *hdr + hdr->size;
	memcpy(fds, r->fds, sizeof(int) * hdr->num_fds);
	r->num_fds -= hdr->num_fds;
	memmove(r->fds, r->fds + hdr->num_fds, sizeof(int) * r->num_fds);
	return 0;
}
