/*
 * One cross-domain context of the host device: parses the guest's commands (never trusting
 * them), talks to the host compositor's socket, and fills the channel ring with one RECEIVE
 * or READ per poll fence, as rutabaga's cross_domain does (cross-domain-protocol.md §2-§4).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

#define CD_RING_MIN_SIZE	4096u	/* one page: the host writes a whole RECEIVE (§2) */
#define CD_MAX_ITEMS		65536u
#define CD_MAX_READ_PIPES	1024u
#define CD_HOST_BUFFER_SIZE	4096u	/* RECEIVE header + data = 4096 (§3.4) */

enum cd_item_kind {
	CD_ITEM_MEMORY,		/* host memory received from the compositor: one blob */
	CD_ITEM_IMAGE,		/* GET_IMAGE_REQUIREMENTS: reusable blob_id (§5.1) */
	CD_ITEM_WRITE_PIPE,
	CD_ITEM_EVENT,
	CD_ITEM_SOCKET,
};

struct cd_item {
	uint32_t id;
	enum cd_item_kind kind;
	int fd;
	uint64_t size;
	bool dmabuf;
	struct cd_item *next;
};

struct cd_read_pipe {
	uint32_t id;
	int fd;
	struct cd_read_pipe *next;
};

struct cd_context {
	struct cd_config config;
	struct host_file *file;
	uint32_t ctx_id;
	bool initialized;
	bool lost;
	char lost_reason[160];
	uint32_t num_ids;		/* N of SEND/RECEIVE for this context */
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	int socket;
	bool socket_eof;
	bool send_error_logged;
	uint32_t read_pipe_counter;
	uint32_t next_item_id;
	uint32_t num_items;
	uint32_t num_read_pipes;
	struct cd_item *items;
	struct cd_read_pipe *read_pipes;
	unsigned service_turn;
	/* A SEND the compositor's socket did not take at once, or a WRITE to a pipe that is
	 * full. rutabaga's sendmsg and write() block its command thread until the compositor
	 * reads, while its worker thread goes on serving POLLs; the simulated device, one
	 * thread, does not block, but keeps the unsent bytes (and fds, when none went yet) of a
	 * SEND, or the WRITE itself, and runs later commands only after them, as a device
	 * queue behind a busy command thread does. wait_fd is what must become writable. */
	bool blocked;
	int wait_fd;
	uint8_t *tail;
	size_t tail_size, tail_off;
	int tail_fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	unsigned tail_num_fds;
	uint16_t tail_cmd_size;
	uint8_t *held;			/* commands accepted behind the blocked SEND */
	size_t held_size;
	uint64_t accepted, completed;	/* command bytes, for the device's fences */
};

static void
cd_context_close_all(struct cd_context *ctx)
{
	while (ctx->items) {
		struct cd_item *item = ctx->items;
		ctx->items = item->next;
		if (item->fd >= 0)
			close(item->fd);
		free(item);
	}
	while (ctx->read_pipes) {
		struct cd_read_pipe *pipe = ctx->read_pipes;
		ctx->read_pipes = pipe->next;
		close(pipe->fd);
		free(pipe);
	}
	ctx->num_items = 0;
	ctx->num_read_pipes = 0;
	for (unsigned i = 0; i < ctx->tail_num_fds; i++)
		close(ctx->tail_fds[i]);
	ctx->tail_num_fds = 0;
	free(ctx->tail);
	free(ctx->held);
	ctx->tail = ctx->held = NULL;
	ctx->held_size = 0;
	ctx->blocked = false;
	ctx->completed = ctx->accepted;
	if (ctx->socket >= 0)
		close(ctx->socket);
	ctx->socket = -1;
}

/* A guest (or compositor) error: the context dies with one log line; others go on. */
static int
cd_context_lose(struct cd_context *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
cd_context_lose(struct cd_context *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->lost)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx->lost_reason, sizeof ctx->lost_reason, fmt, ap);
	va_end(ap);
	ctx->lost = true;
	host_stats.contexts_lost++;
	host_log("context %u lost: %s", ctx->ctx_id, ctx->lost_reason);
	cd_context_close_all(ctx);
	return -1;
}

struct cd_context *
cd_context_create(const struct cd_config *config, struct host_file *file, uint32_t ctx_id)
{
	struct cd_context *ctx = calloc(1, sizeof *ctx);

	if (!ctx)
		return NULL;
	ctx->config = *config;
	ctx->file = file;
	ctx->ctx_id = ctx_id;
	ctx->socket = -1;
	ctx->num_ids = config->profile->num_identifiers;
	ctx->read_pipe_counter = CROSS_DOMAIN_PIPE_READ_START;
	ctx->next_item_id = 1;
	host_stats.contexts++;
	return ctx;
}

void
cd_context_destroy(struct cd_context *ctx)
{
	if (!ctx)
		return;
	cd_context_close_all(ctx);
	free(ctx);
}

bool
cd_context_lost(const struct cd_context *ctx)
{
	return ctx->lost;
}

const char *
cd_context_lost_reason(const struct cd_context *ctx)
{
	return ctx->lost_reason;
}

static struct cd_item *
cd_item_find(struct cd_context *ctx, uint64_t id)
{
	for (struct cd_item *item = ctx->items; item; item = item->next)
		if (item->id == id)
			return item;
	return NULL;
}

static struct cd_item *
cd_item_add(struct cd_context *ctx, enum cd_item_kind kind, int fd, uint64_t size)
{
	struct cd_item *item;

	if (ctx->num_items >= CD_MAX_ITEMS)
		return NULL;
	item = calloc(1, sizeof *item);
	if (!item)
		return NULL;
	item->id = ctx->next_item_id++;
	if (ctx->next_item_id >= CROSS_DOMAIN_PIPE_READ_START)
		ctx->next_item_id = 1;
	item->kind = kind;
	item->fd = fd;
	item->size = size;
	item->next = ctx->items;
	ctx->items = item;
	ctx->num_items++;
	return item;
}

static void
cd_item_remove(struct cd_context *ctx, struct cd_item *item)
{
	for (struct cd_item **link = &ctx->items; *link; link = &(*link)->next) {
		if (*link == item) {
			*link = item->next;
			ctx->num_items--;
			break;
		}
	}
	free(item);
}

/* The ring's memory: a GUEST blob attached to this context (§2). */
static uint8_t *
cd_ring(struct cd_context *ctx, uint32_t ring_id, size_t need, const char *what)
{
	struct host_resource *res = host_file_lookup_attached(ctx->file, ring_id);
	uint8_t *map;

	if (!res) {
		cd_context_lose(ctx, "%s ring: resource %u is not attached to the context", what,
				ring_id);
		return NULL;
	}
	if (res->kind != HOST_RES_GUEST) {
		cd_context_lose(ctx, "%s ring: resource %u is not guest memory", what, ring_id);
		return NULL;
	}
	if (res->size < need) {
		cd_context_lose(ctx, "%s ring: resource %u has %llu bytes, %zu needed", what,
				ring_id, (unsigned long long)res->size, need);
		return NULL;
	}
	map = host_resource_map(res);
	if (!map)
		cd_context_lose(ctx, "%s ring: resource %u cannot be mapped", what, ring_id);
	return map;
}

static int
cd_handle_init(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size, size_t remaining)
{
	const struct host_profile *profile = ctx->config.profile;
	struct cross_domain_init_kr init = { 0 };
	size_t used;

	if (ctx->initialized)
		return cd_context_lose(ctx, "INIT: context already initialized");

	/* §3.5 "INIT parsing": each host reads a different amount. */
	switch (profile->init_rule) {
	case HOST_INIT_RG_EXACT:
		if (cmd_size != 16 && cmd_size != 20 && cmd_size != 36)
			return cd_context_lose(ctx, "INIT: cmd_size %u is not 16, 20 or 36",
					       cmd_size);
		used = cmd_size == 16 ? 16 : 20;
		break;
	case HOST_INIT_CV_PREFIX:
		if (remaining < 16)
			return cd_context_lose(ctx, "INIT: %zu bytes, 16 needed", remaining);
		used = remaining >= 20 ? 20 : 16;
		break;
	case HOST_INIT_KR_REMAINING:
	default:
		if (remaining < 16)
			return cd_context_lose(ctx, "INIT: %zu bytes, 16 needed", remaining);
		used = remaining >= 24 ? 24 : remaining >= 20 ? 20 : 16;
		break;
	}
	memcpy(&init, cmd, used);
	if (used == 16) {
		/* The legacy layout: the channel ring is the query ring (§3.2). */
		init.channel_type = init.channel_ring_id;
		init.channel_ring_id = init.query_ring_id;
	}
	if (profile->kr_v1_identifiers)
		ctx->num_ids = (used == 24 && init.protocol_version == 1) ?
			CROSS_DOMAIN_MAX_IDENTIFIERS : CROSS_DOMAIN_OLD_IDENTIFIERS;

	if (!cd_ring(ctx, init.query_ring_id, sizeof(struct cross_domain_image_requirements),
		     "query") ||
	    !cd_ring(ctx, init.channel_ring_id, CD_RING_MIN_SIZE, "channel"))
		return -1;

	switch (init.channel_type) {
	case CROSS_DOMAIN_CHANNEL_TYPE_NONE:
		break;
	case CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND:
		if (!ctx->config.wayland_path)
			return cd_context_lose(ctx, "INIT: no Wayland socket configured");
		ctx->socket = ctx->config.connect_socket(ctx->config.wayland_path);
		if (ctx->socket < 0)
			return cd_context_lose(ctx, "INIT: cannot connect to %s: %s",
					       ctx->config.wayland_path, strerror(-ctx->socket));
		break;
	default:
		return cd_context_lose(ctx, "INIT: channel type 0x%x is not configured",
				       init.channel_type);
	}
	ctx->query_ring_id = init.query_ring_id;
	ctx->channel_ring_id = init.channel_ring_id;
	ctx->channel_type = init.channel_type;
	ctx->initialized = true;
	return 0;
}

static int
cd_handle_image_requirements(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size)
{
	struct cross_domain_get_image_requirements req;
	struct cross_domain_image_requirements reqs;
	struct cd_item *item;
	uint8_t *ring;
	int ret;

	if (cmd_size < sizeof req)
		return cd_context_lose(ctx, "GET_IMAGE_REQUIREMENTS: cmd_size %u < %zu", cmd_size,
				       sizeof req);
	if (!ctx->initialized)
		return cd_context_lose(ctx, "GET_IMAGE_REQUIREMENTS before INIT");
	memcpy(&req, cmd, sizeof req);
	ret = host_gralloc_requirements(ctx->config.profile->supports_dmabuf, req.width,
					req.height, req.drm_format, &reqs);
	if (ret < 0)
		return cd_context_lose(ctx, "GET_IMAGE_REQUIREMENTS %ux%u format 0x%08x: %s",
				       req.width, req.height, req.drm_format, strerror(-ret));
	ring = cd_ring(ctx, ctx->query_ring_id, sizeof reqs, "query");
	if (!ring)
		return -1;
	item = cd_item_add(ctx, CD_ITEM_IMAGE, -1, reqs.size);
	if (!item)
		return cd_context_lose(ctx, "GET_IMAGE_REQUIREMENTS: too many host items");
	item->dmabuf = ctx->config.profile->supports_dmabuf;
	reqs.blob_id = item->id;
	/* The reply goes at offset 0 of the query ring (§2, §5.1). */
	memcpy(ring, &reqs, sizeof reqs);
	return 0;
}

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
static int
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

static int
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
			if (res->kind == HOST_RES_GUEST || res->kind == HOST_RES_GPU_NO_HANDLE)
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

static int
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

/* Runs commands until one must wait: 0 when all ran (*used = size), 1 when a SEND's data
 * waits (*used = the bytes up to and with it) or a WRITE waits (*used = the bytes before
 * it), -1 when the context is lost. */
static int
cd_run(struct cd_context *ctx, const uint8_t *cmds, size_t size, size_t *used)
{
	size_t off = 0;

	while (off < size) {
		struct cross_domain_header hdr;
		const uint8_t *cmd = cmds + off;
		size_t remaining = size - off;
		int ret;

		if (remaining < sizeof hdr)
			return cd_context_lose(ctx, "%zu trailing bytes, no command header",
					       remaining);
		memcpy(&hdr, cmd, sizeof hdr);
		/* §3.1: the host advances by cmd_size; it must be exact and non-zero. */
		if (hdr.cmd_size < sizeof hdr || hdr.cmd_size > remaining)
			return cd_context_lose(ctx, "command %u: cmd_size %u with %zu bytes left",
					       hdr.cmd, hdr.cmd_size, remaining);

		switch (hdr.cmd) {
		case CROSS_DOMAIN_CMD_INIT:
			ret = cd_handle_init(ctx, cmd, hdr.cmd_size, remaining);
			break;
		case CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS:
			ret = cd_handle_image_requirements(ctx, cmd, hdr.cmd_size);
			break;
		case CROSS_DOMAIN_CMD_POLL:
			/* The body is ignored; the fence on ring 1 is the poll (§2). */
			ret = ctx->initialized ? 0 : cd_context_lose(ctx, "POLL before INIT");
			break;
		case CROSS_DOMAIN_CMD_SEND:
			ret = cd_handle_send(ctx, cmd, hdr.cmd_size);
			break;
		case CROSS_DOMAIN_CMD_WRITE:
			ret = cd_handle_write(ctx, cmd, hdr.cmd_size);
			break;
		case CROSS_DOMAIN_CMD_RECEIVE:
		case CROSS_DOMAIN_CMD_READ:
			ret = cd_context_lose(ctx, "command %u goes host to guest only", hdr.cmd);
			break;
		default:
			if (hdr.cmd >= 8 && hdr.cmd <= 13 &&
			    ctx->config.profile->classify_rule != HOST_CLASSIFY_CV)
				ret = cd_context_lose(ctx, "command %u (futex/eventfd/virtio-fs, "
						      "§4.4) is not simulated", hdr.cmd);
			else
				ret = cd_context_lose(ctx, "unknown command %u", hdr.cmd);
			break;
		}
		if (ret < 0)
			return -1;
		if (ret == 2) {
			/* A WRITE that must wait: it runs again, from the start. */
			*used = off;
			return 1;
		}
		off += hdr.cmd_size;
		if (ret == 1) {
			*used = off;
			return 1;
		}
	}
	*used = size;
	return 0;
}

/* Keeps commands to run after the waiting SEND or WRITE. */
static int
cd_hold(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	uint8_t *held;

	if (size == 0)
		return 1;
	held = realloc(ctx->held, ctx->held_size + size);
	if (!held)
		return cd_context_lose(ctx, "no memory for %zu queued command bytes", size);
	memcpy(held + ctx->held_size, cmds, size);
	ctx->held = held;
	ctx->held_size += size;
	return 1;
}

/* Runs commands with nothing waiting before them; what must wait is held. */
static int
cd_run_or_hold(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	size_t used = 0;
	int ret = cd_run(ctx, cmds, size, &used);

	if (ret < 0)
		return -1;
	/* A waiting SEND's command completes with its data (cd_send_tail). */
	ctx->completed += used - (ret == 1 ? ctx->tail_cmd_size : 0);
	return ret == 1 ? cd_hold(ctx, cmds + used, size - used) : 0;
}

int
cd_context_submit(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	if (ctx->lost)
		return -1;
	ctx->accepted += size;
	if (ctx->blocked)
		return cd_hold(ctx, cmds, size);
	return cd_run_or_hold(ctx, cmds, size);
}

int
cd_context_resume(struct cd_context *ctx)
{
	uint8_t *held = ctx->held;
	size_t size = ctx->held_size;
	int ret;

	if (ctx->lost)
		return -1;
	if (cd_send_tail(ctx) == 1)
		return 1;
	if (size == 0)
		return 0;
	ctx->held = NULL;
	ctx->held_size = 0;
	ret = cd_run_or_hold(ctx, held, size);
	free(held);
	return ret;
}

int
cd_context_submit_wait(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	int ret = cd_context_submit(ctx, cmds, size);

	while (ret == 1) {
		struct pollfd pfd = { cd_context_send_fd(ctx), POLLOUT, 0 };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return cd_context_lose(ctx, "poll: %s", strerror(errno));
		ret = cd_context_resume(ctx);
	}
	return ret;
}

uint64_t
cd_context_accepted(const struct cd_context *ctx)
{
	return ctx->accepted;
}

uint64_t
cd_context_completed(const struct cd_context *ctx)
{
	return ctx->completed;
}

int
cd_context_send_fd(const struct cd_context *ctx)
{
	return ctx->blocked && !ctx->lost ? ctx->wait_fd : -1;
}

int
cd_context_create_blob(struct cd_context *ctx, uint64_t blob_id, uint64_t size, bool *dmabuf)
{
	struct cd_item *item;
	int fd;

	if (ctx->lost)
		return -EIO;
	item = blob_id <= UINT32_MAX ? cd_item_find(ctx, blob_id) : NULL;
	if (!item)
		return -ENOENT;
	switch (item->kind) {
	case CD_ITEM_MEMORY:
		/* The create consumes the item; the size is not checked (§4.2). */
		fd = item->fd;
		*dmabuf = item->dmabuf;
		cd_item_remove(ctx, item);
		return fd;
	case CD_ITEM_IMAGE:
		/* Blob size must equal the requirements' size (§5.1). */
		if (size != item->size)
			return -EINVAL;
		*dmabuf = item->dmabuf;
		return host_gralloc_memfd(item->dmabuf ? "virtgpu-sim-dmabuf" : "virtgpu-sim-shm",
					  size);
	default:
		return -EINVAL;
	}
}

int
cd_context_watch(struct cd_context *ctx, struct pollfd *pfds, int max)
{
	int n = 0;

	if (ctx->lost || !ctx->initialized)
		return 0;
	if (ctx->socket >= 0 && !ctx->socket_eof && n < max)
		pfds[n++] = (struct pollfd){ ctx->socket, POLLIN, 0 };
	for (struct cd_read_pipe *rp = ctx->read_pipes; rp && n < max; rp = rp->next)
		pfds[n++] = (struct pollfd){ rp->fd, POLLIN, 0 };
	return n;
}

/* §4.5: what the host makes of an fd its compositor sent. */
static int
cd_classify(struct cd_context *ctx, int fd, struct cd_item **out, uint32_t *type,
	    uint32_t *size)
{
	enum host_classify_rule rule = ctx->config.profile->classify_rule;
	char path[64], link[256];
	bool is_eventfd = false, is_dmabuf = false;
	struct stat st;
	off_t end;
	ssize_t len;
	int flags;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	len = readlink(path, link, sizeof link - 1);
	if (len > 0) {
		link[len] = '\0';
		is_eventfd = strcmp(link, "anon_inode:[eventfd]") == 0;
		is_dmabuf = strncmp(link, "/dmabuf:", 8) == 0;
	}
	if (rule != HOST_CLASSIFY_CV && is_eventfd) {
		*type = rule == HOST_CLASSIFY_RG ? CROSS_DOMAIN_ID_TYPE_RG_EVENT :
			CROSS_DOMAIN_ID_TYPE_KR_EVENTFD;
		*size = 0;
		*out = cd_item_add(ctx, CD_ITEM_EVENT, fd, 0);
		return *out ? 0 : -ENOMEM;
	}
	if (rule == HOST_CLASSIFY_RG && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		*type = CROSS_DOMAIN_ID_TYPE_RG_SOCKET;
		*size = 0;
		*out = cd_item_add(ctx, CD_ITEM_SOCKET, fd, 0);
		return *out ? 0 : -ENOMEM;
	}
	end = lseek(fd, 0, SEEK_END);
	if (end >= 0) {
		*type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
		*size = end > UINT32_MAX ? UINT32_MAX : (uint32_t)end;
		*out = cd_item_add(ctx, CD_ITEM_MEMORY, fd, end);
		if (*out)
			(*out)->dmabuf = is_dmabuf;
		return *out ? 0 : -ENOMEM;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_ACCMODE) == O_WRONLY) {
		/* §3.5: the bug window tags write pipes as blobs of size 0. */
		*type = ctx->config.profile->writepipe_bug ? CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB :
			CROSS_DOMAIN_ID_TYPE_WRITE_PIPE;
		*size = 0;
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
		*out = cd_item_add(ctx, CD_ITEM_WRITE_PIPE, fd, 0);
		return *out ? 0 : -ENOMEM;
	}
	return -EBADF;
}

/* Fault close-mid-transfer: the host drops its compositor connection; what follows is EOF. */
static void
cd_fault_close_socket(struct cd_context *ctx)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return;
	close(pair[1]);
	close(ctx->socket);
	ctx->socket = pair[0];
}

/* Faults that rewrite a RECEIVE the host has just put in the ring. */
static void
cd_fault_receive(struct cd_context *ctx, uint8_t *ring, size_t ring_size, uint32_t num_fds)
{
	const uint32_t n_max = ctx->num_ids;
	uint32_t value;

	if (host_fault_fires(HOST_FAULT_GARBAGE_RECEIVE)) {
		host_fault_random(ring + 2, ring_size - 2, 0x5eed0000u + ctx->ctx_id);
		ring[0] = CROSS_DOMAIN_CMD_RECEIVE;
	}
	if (host_fault_fires(HOST_FAULT_SIZE_PAST_RING)) {
		value = ring_size - CROSS_DOMAIN_SR_DATA_OFF(n_max) + 512;
		memcpy(ring + 12, &value, 4);
		memcpy(ring + 2, &(uint16_t){ (uint16_t)(CROSS_DOMAIN_SR_DATA_OFF(n_max) + value) },
		       2);
	}
	if (host_fault_fires(HOST_FAULT_TOO_MANY_IDS)) {
		value = n_max + 1;
		memcpy(ring + 8, &value, 4);
	}
	if (num_fds == 0)
		return;
	if (host_fault_fires(HOST_FAULT_UNKNOWN_ID_TYPE)) {
		value = 99;
		memcpy(ring + CROSS_DOMAIN_SR_TYPES_OFF(n_max), &value, 4);
	}
	if (host_fault_fires(HOST_FAULT_BAD_BLOB_ID)) {
		value = 0x7ffffff0u;
		memcpy(ring + CROSS_DOMAIN_SR_IDS_OFF(n_max), &value, 4);
	}
}

static bool
cd_service_socket(struct cd_context *ctx)
{
	const uint32_t n_max = ctx->num_ids;
	const uint32_t data_off = CROSS_DOMAIN_SR_DATA_OFF(n_max);
	const uint32_t max_data = CD_HOST_BUFFER_SIZE - data_off;	/* 3744 or 4032 */
	char cbuf[CMSG_SPACE(sizeof(int) * 253)];
	uint8_t data[CD_HOST_BUFFER_SIZE];
	struct iovec iov = { data, max_data };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof cbuf,
	};
	int fds[253];
	unsigned num_fds = 0;
	struct cmsghdr *cmsg;
	uint32_t ids[CROSS_DOMAIN_MAX_IDENTIFIERS] = { 0 };
	uint32_t types[CROSS_DOMAIN_MAX_IDENTIFIERS] = { 0 };
	uint32_t sizes[CROSS_DOMAIN_MAX_IDENTIFIERS] = { 0 };
	struct cross_domain_header hdr;
	uint8_t *ring;
	ssize_t n;

	n = recvmsg(ctx->socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	for (cmsg = CMSG_FIRSTHDR(&msg); n >= 0 && cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds + num_fds, CMSG_DATA(cmsg), count * sizeof(int));
		num_fds += count;
	}
	if (n < 0)
		n = 0;	/* a reset connection is a closed one */
	if (n >= 2 && host_fault_fires(HOST_FAULT_CLOSE_MID_TRANSFER)) {
		for (unsigned i = 0; i < num_fds; i++)
			close(fds[i]);
		num_fds = 0;
		n /= 2;
		cd_fault_close_socket(ctx);
	}

	if (n == 0 && num_fds == 0) {
		ctx->socket_eof = true;
		/* §4.2: an empty RECEIVE is EOF; CV never tells the guest (§3.5). */
		if (ctx->config.profile->no_eof)
			return false;
	}
	if (num_fds > n_max) {
		for (unsigned i = 0; i < num_fds; i++)
			close(fds[i]);
		cd_context_lose(ctx, "the compositor sent %u fds at once, the host takes %u",
				num_fds, n_max);
		return false;
	}
	for (unsigned i = 0; i < num_fds; i++) {
		struct cd_item *item;

		if (cd_classify(ctx, fds[i], &item, &types[i], &sizes[i]) < 0) {
			for (unsigned j = i; j < num_fds; j++)
				close(fds[j]);
			cd_context_lose(ctx, "an fd from the compositor is neither memory nor a "
					"write pipe (§4.5)");
			return false;
		}
		ids[i] = item->id;
	}

	ring = cd_ring(ctx, ctx->channel_ring_id, data_off + n, "channel");
	if (!ring)
		return false;
	hdr = (struct cross_domain_header){
		.cmd = CROSS_DOMAIN_CMD_RECEIVE,
		.cmd_size = data_off + n,
	};
	memcpy(ring, &hdr, sizeof hdr);
	memcpy(ring + 8, &num_fds, 4);
	memcpy(ring + 12, &(uint32_t){ (uint32_t)n }, 4);
	memcpy(ring + CROSS_DOMAIN_SR_IDS_OFF(n_max), ids, 4 * n_max);
	memcpy(ring + CROSS_DOMAIN_SR_TYPES_OFF(n_max), types, 4 * n_max);
	memcpy(ring + CROSS_DOMAIN_SR_SIZES_OFF(n_max), sizes, 4 * n_max);
	memcpy(ring + data_off, data, n);
	if (n > 0 || num_fds > 0)
		cd_fault_receive(ctx, ring, CD_HOST_BUFFER_SIZE, num_fds);	/* ring >= 1 page */
	host_stats.receives++;
	host_stats.receive_bytes += n;
	host_stats.fds_from_compositor += num_fds;
	return true;
}

static bool
cd_service_read_pipe(struct cd_context *ctx, struct cd_read_pipe *rp)
{
	struct cross_domain_read_write rd = { .hdr.cmd = CROSS_DOMAIN_CMD_READ };
	struct host_resource *res = host_file_lookup_attached(ctx->file, ctx->channel_ring_id);
	uint8_t *ring;
	size_t room;
	ssize_t n;

	ring = cd_ring(ctx, ctx->channel_ring_id, CD_RING_MIN_SIZE, "channel");
	if (!ring || !res)
		return false;
	/* The host reads the pipe straight into the ring (§3.4). */
	room = res->size - sizeof rd;
	if (room > CD_HOST_BUFFER_SIZE - sizeof rd)
		room = CD_HOST_BUFFER_SIZE - sizeof rd;
	n = read(rp->fd, ring + sizeof rd, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n < 0)
		n = 0;
	rd.identifier = rp->id;
	rd.opaque_data_size = n;
	rd.hang_up = n == 0;
	rd.hdr.cmd_size = sizeof rd + n;
	if (n > 0 && host_fault_fires(HOST_FAULT_READ_PAST_RING)) {
		rd.opaque_data_size = room + 256;
		rd.hdr.cmd_size = sizeof rd + rd.opaque_data_size;
	}
	memcpy(ring, &rd, sizeof rd);
	host_stats.reads++;
	host_stats.read_bytes += n;
	if (rd.hang_up) {
		for (struct cd_read_pipe **link = &ctx->read_pipes; *link; link = &(*link)->next) {
			if (*link == rp) {
				*link = rp->next;
				break;
			}
		}
		close(rp->fd);
		free(rp);
		ctx->num_read_pipes--;
	}
	return true;
}

/* Faults on the next channel message, whatever it is: true when the fence should signal. */
static bool
cd_fault_channel_message(struct cd_context *ctx)
{
	uint8_t *ring;

	if (host_fault_fires(HOST_FAULT_HOST_EXIT)) {
		host_log("fault host-exit: the host device exits");
		_exit(3);
	}
	if (host_fault_fires(HOST_FAULT_SPURIOUS_FENCE))
		return true;	/* the ring keeps the previous message */
	if (host_fault_fires(HOST_FAULT_GARBAGE_CMD)) {
		ring = cd_ring(ctx, ctx->channel_ring_id, CD_RING_MIN_SIZE, "channel");
		if (!ring)
			return false;
		host_fault_random(ring, CD_RING_MIN_SIZE, 0xc0de0000u + ctx->ctx_id);
		ring[0] = 0xee;
		return true;
	}
	return false;
}

bool
cd_context_service(struct cd_context *ctx)
{
	struct pollfd pfds[1 + CD_MAX_READ_PIPES];
	int n, start;

	if (ctx->lost || !ctx->initialized)
		return false;
	n = cd_context_watch(ctx, pfds, 1 + CD_MAX_READ_PIPES);
	if (n == 0 || poll(pfds, n, 0) <= 0)
		return false;
	/* One event per fence; take turns so a flood on one source starves no other. */
	start = ctx->service_turn++ % n;
	for (int k = 0; k < n; k++) {
		int i = (start + k) % n;

		if (!pfds[i].revents)
			continue;
		if (cd_fault_channel_message(ctx))
			return true;
		if (pfds[i].fd == ctx->socket && !ctx->socket_eof)
			return cd_service_socket(ctx);
		for (struct cd_read_pipe *rp = ctx->read_pipes; rp; rp = rp->next)
			if (rp->fd == pfds[i].fd)
				return cd_service_read_pipe(ctx, rp);
	}
	return false;
}
