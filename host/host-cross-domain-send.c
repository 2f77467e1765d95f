/*
 * Guest to compositor in one cross-domain context: SEND becomes one sendmsg on the compositor's
 * socket, its identifiers the items' fds (§4.1); WRITE goes into a pipe the compositor reads
 * (§4.3). What the socket or pipe does not take at once waits, as behind rutabaga's blocked
 * command thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-cross-domain.h"

/* One sendmsg (§4.1) that does not wait: the bytes the socket took (the fds go with the
 * first), or -errno. */
static ssize_t
cd_sendmsg(int sock, const uint8_t *data, size_t size, const int *fds, unsigned num_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)];
	struct iovec iov = { (void *)data, size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (num_fds > 0) {
		struct cmsghdr *cmsg;

		memset(cbuf, 0, sizeof cbuf);
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * num_fds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * num_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * num_fds);
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	return n < 0 ? -errno : n;
}

static void
cd_send_failed(struct cd_context *ctx, int err)
{
	/* The compositor went away; the guest learns it from the EOF RECEIVE. */
	if (!ctx->send_error_logged)
		host_log("context %u: SEND to the compositor failed: %s", ctx->ctx_id,
			 strerror(err));
	ctx->send_error_logged = true;
}

/* Sends a SEND's data; 1 when the socket took only part and the rest is kept. */
static int
cd_send_data(struct cd_context *ctx, const uint8_t *data, size_t size, const int *fds,
	     unsigned num_fds, uint16_t cmd_size)
{
	ssize_t n = cd_sendmsg(ctx->socket, data, size, fds, num_fds);

	if (n < 0) {
		cd_send_failed(ctx, (int)-n);
		return 0;
	}
	host_stats.send_bytes += n;
	if ((size_t)n == size) {
		host_stats.sends++;
		host_stats.fds_to_compositor += num_fds;
		return 0;
	}
	ctx->tail = malloc(size - n + 1);
	if (!ctx->tail)
		return cd_context_lose(ctx, "SEND: no memory for %zu unsent bytes", size - n);
	memcpy(ctx->tail, data + n, size - n);
	ctx->tail_size = size - n;
	ctx->tail_off = 0;
	ctx->tail_cmd_size = cmd_size;
	ctx->tail_num_fds = 0;
	ctx->wait_fd = ctx->socket;
	if (n == 0) {
		/* Nothing went, so the fds did not either: keep them. */
		for (unsigned i = 0; i < num_fds; i++) {
			ctx->tail_fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
			if (ctx->tail_fds[i] < 0)
				return cd_context_lose(ctx, "SEND: cannot keep an fd: %s",
						       strerror(errno));
			ctx->tail_num_fds++;
		}
	} else {
		host_stats.fds_to_compositor += num_fds;
	}
	ctx->blocked = true;
	return 1;
}

/* Writes what the socket takes of a kept SEND: 0 once it all went, 1 while some waits. */
int
cd_send_tail(struct cd_context *ctx)
{
	ssize_t n;

	if (!ctx->blocked)
		return 0;
	if (!ctx->tail) {
		/* A WRITE waited: it runs again with the held commands. */
		ctx->blocked = false;
		return 0;
	}
	n = cd_sendmsg(ctx->socket, ctx->tail + ctx->tail_off, ctx->tail_size - ctx->tail_off,
		       ctx->tail_fds, ctx->tail_num_fds);
	if (n > 0 && ctx->tail_num_fds) {
		host_stats.fds_to_compositor += ctx->tail_num_fds;
		for (unsigned i = 0; i < ctx->tail_num_fds; i++)
			close(ctx->tail_fds[i]);
		ctx->tail_num_fds = 0;
	}
	if (n > 0) {
		host_stats.send_bytes += n;
		ctx->tail_off += n;
	}
	if (n >= 0 && ctx->tail_off < ctx->tail_size)
		return 1;
	if (n < 0)
		cd_send_failed(ctx, (int)-n);
	else
		host_stats.sends++;
	for (unsigned i = 0; i < ctx->tail_num_fds; i++)
		close(ctx->tail_fds[i]);
	ctx->tail_num_fds = 0;
	free(ctx->tail);
	ctx->tail = NULL;
	ctx->blocked = false;
	ctx->completed += ctx->tail_cmd_size;
	return 0;
}

int
cd_handle_send(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size)
{
	const uint32_t n_max = ctx->num_ids;
	const uint32_t data_off = CROSS_DOMAIN_SR_DATA_OFF(n_max);
	uint32_t ids[CROSS_DOMAIN_MAX_IDENTIFIERS], types[CROSS_DOMAIN_MAX_IDENTIFIERS];
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	int close_fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	unsigned num_close = 0;
	uint32_t num_ids, data_size;
	int ret;

	if (!ctx->initialized)
		return cd_context_lose(ctx, "SEND before INIT");
	if (cmd_size < data_off)
		return cd_context_lose(ctx, "SEND: cmd_size %u < %u (N=%u)", cmd_size, data_off,
				       n_max);
	memcpy(&num_ids, cmd + 8, 4);
	memcpy(&data_size, cmd + 12, 4);
	/* §3.4: more than N identifiers is an error. */
	if (num_ids > n_max)
		return cd_context_lose(ctx, "SEND: %u identifiers, the host takes %u", num_ids,
				       n_max);
	if (data_size > (uint32_t)cmd_size - data_off)
		return cd_context_lose(ctx, "SEND: %u data bytes in a %u-byte command", data_size,
				       cmd_size);
	if (ctx->channel_type != CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND)
		return cd_context_lose(ctx, "SEND on a context without a channel");
	memcpy(ids, cmd + CROSS_DOMAIN_SR_IDS_OFF(n_max), 4 * num_ids);
	memcpy(types, cmd + CROSS_DOMAIN_SR_TYPES_OFF(n_max), 4 * num_ids);

	/* Check everything before making anything (§4.1, §4.3). */
	uint32_t counter = ctx->read_pipe_counter;
	for (uint32_t i = 0; i < num_ids; i++) {
		struct host_resource *res;
		uint32_t expected;

		switch (types[i]) {
		case CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB:
			res = host_file_lookup_attached(ctx->file, ids[i]);
			if (!res)
				return cd_context_lose(ctx, "SEND: resource %u is not attached to "
						       "the context", ids[i]);
			if (res->kind == HOST_RES_GUEST || res->kind == HOST_RES_GPU_NO_HANDLE ||
			    res->no_handle)
				return cd_context_lose(ctx, "SEND: resource %u has no host handle",
						       ids[i]);
			fds[i] = res->fd;
			break;
		case CROSS_DOMAIN_ID_TYPE_READ_PIPE:
			counter++;
			expected = counter < CROSS_DOMAIN_PIPE_READ_START ?
				CROSS_DOMAIN_PIPE_READ_START : counter;
			if (ids[i] != expected)
				return cd_context_lose(ctx, "SEND: read pipe id 0x%x, expected 0x%x",
						       ids[i], expected);
			if (ctx->num_read_pipes + i >= CD_MAX_READ_PIPES)
				return cd_context_lose(ctx, "SEND: too many read pipes");
			fds[i] = -1;
			break;
		case CROSS_DOMAIN_ID_TYPE_VIRTGPU_SYNC:
			return cd_context_lose(ctx, "SEND: VIRTGPU_SYNC identifiers are not "
					       "implemented by any host");
		default:
			return cd_context_lose(ctx, "SEND: identifier type %u is not supported",
					       types[i]);
		}
	}

	for (uint32_t i = 0; i < num_ids; i++) {
		struct cd_read_pipe *rp;
		int pfd[2];

		if (types[i] != CROSS_DOMAIN_ID_TYPE_READ_PIPE)
			continue;
		rp = calloc(1, sizeof *rp);
		if (!rp || pipe2(pfd, O_CLOEXEC) < 0) {
			free(rp);
			for (unsigned j = 0; j < num_close; j++)
				close(close_fds[j]);
			return cd_context_lose(ctx, "SEND: cannot make a pipe: %s",
					       strerror(errno));
		}
		ctx->read_pipe_counter++;
		rp->id = ids[i];
		rp->fd = pfd[0];
		rp->next = ctx->read_pipes;
		ctx->read_pipes = rp;
		ctx->num_read_pipes++;
		fds[i] = pfd[1];
		close_fds[num_close++] = pfd[1];
	}

	ret = 0;
	if (ctx->socket >= 0)
		ret = cd_send_data(ctx, cmd + data_off, data_size, fds, num_ids, cmd_size);
	for (unsigned j = 0; j < num_close; j++)
		close(close_fds[j]);
	return ret;
}

static int
cd_write_all(int fd, const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		size -= n;
	}
	return 0;
}

int
cd_handle_write(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size)
{
	struct cross_domain_read_write wr;
	struct cd_item *item;
	int ret;

	if (cmd_size < sizeof wr)
		return cd_context_lose(ctx, "WRITE: cmd_size %u < %zu", cmd_size, sizeof wr);
	memcpy(&wr, cmd, sizeof wr);
	if (wr.opaque_data_size > (uint32_t)cmd_size - sizeof wr)
		return cd_context_lose(ctx, "WRITE: %u data bytes in a %u-byte command",
				       wr.opaque_data_size, cmd_size);
	item = cd_item_find(ctx, wr.identifier);
	if (!item || (item->kind != CD_ITEM_WRITE_PIPE && item->kind != CD_ITEM_EVENT))
		return cd_context_lose(ctx, "WRITE: identifier %u is not a write pipe",
				       wr.identifier);
	if (item->kind == CD_ITEM_EVENT &&
	    ctx->config.profile->classify_rule == HOST_CLASSIFY_RG &&
	    wr.opaque_data_size != 8)
		return cd_context_lose(ctx, "WRITE: %u bytes to an eventfd, 8 needed (§4.4)",
				       wr.opaque_data_size);

	/* The host write is a blocking write() (§4.3), in rutabaga's command thread: a full
	 * pipe holds the commands after it, not the worker (see cd_context.blocked). A write
	 * of at most PIPE_BUF bytes fits once poll says writable. */
	if (wr.opaque_data_size > 0) {
		struct pollfd pfd = { item->fd, POLLOUT, 0 };
		if (poll(&pfd, 1, 0) == 0) {
			ctx->blocked = true;
			ctx->wait_fd = item->fd;
			ctx->tail_cmd_size = 0;
			return 2;
		}
	}
	ret = cd_write_all(item->fd, cmd + sizeof wr, wr.opaque_data_size);
	if (ret < 0) {
		host_log("context %u: write to pipe %u failed: %s", ctx->ctx_id, wr.identifier,
			 strerror(-ret));
		close(item->fd);
		cd_item_remove(ctx, item);
		return 0;
	}
	host_stats.writes++;
	host_stats.write_bytes += wr.opaque_data_size;
	if (wr.hang_up) {
		close(item->fd);
		cd_item_remove(ctx, item);
	}
	return 0;
}
