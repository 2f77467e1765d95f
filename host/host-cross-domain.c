/*
 * One cross-domain context of the host device: its lifetime, the guest's commands parsed
 * (never trusting them: INIT, GET_IMAGE_REQUIREMENTS, and SEND and WRITE handed to
 * host-cross-domain-send.c), the order they run in, and the blobs it hands out
 * (cross-domain-protocol.md §2-§5). What the compositor sends back is
 * host-cross-domain-receive.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-cross-domain.h"

int
cd_connect_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof addr.sun_path)
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	/* A stream socket, as rutabaga (§2 "INIT fields"). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

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
	ctx->held_off = ctx->held_size = ctx->held_cap = 0;
	ctx->blocked = false;
	ctx->completed = ctx->accepted;
	if (ctx->socket >= 0)
		close(ctx->socket);
	ctx->socket = -1;
}

int
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

bool
cd_context_initialized(const struct cd_context *ctx)
{
	return ctx->initialized;
}

void
cd_capabilities(const struct cd_config *config, struct cross_domain_capabilities *caps)
{
	*caps = (struct cross_domain_capabilities){
		.version = 1,	/* always 1 (§1) */
		.supported_channels = config->wayland_path && config->wayland_path[0] ?
			1u << CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND : 0,
		.supports_dmabuf = config->profile->supports_dmabuf,
	};
}

const char *
cd_context_lost_reason(const struct cd_context *ctx)
{
	return ctx->lost_reason;
}

struct cd_item *
cd_item_find(struct cd_context *ctx, uint64_t id)
{
	for (struct cd_item *item = ctx->items; item; item = item->next)
		if (item->id == id)
			return item;
	return NULL;
}

struct cd_item *
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

void
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
uint8_t *
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

/* Keeps commands to run after the waiting SEND or WRITE, at the end of what waits already;
 * the space of those that ran is taken back once it is at least as large as what waits, and
 * the buffer grows by doubling, so a byte is copied a bounded number of times. */
static int
cd_hold(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	size_t waiting = ctx->held_size - ctx->held_off;

	if (size == 0)
		return 1;
	if (size > CD_MAX_HELD - waiting)
		return cd_context_lose(ctx, "%zu more command bytes behind %zu waiting for the "
				       "compositor, past the %u MiB a context may queue (a guest "
				       "that does not wait for its fences)", size, waiting,
				       CD_MAX_HELD >> 20);
	if (ctx->held_off > 0 && ctx->held_off >= waiting) {
		memmove(ctx->held, ctx->held + ctx->held_off, waiting);
		ctx->held_off = 0;
		ctx->held_size = waiting;
	}
	if (ctx->held_size + size > ctx->held_cap) {
		size_t cap = ctx->held_cap ? ctx->held_cap : 4096;
		uint8_t *held;

		while (cap < ctx->held_size + size)
			cap *= 2;
		held = realloc(ctx->held, cap);
		if (!held)
			return cd_context_lose(ctx, "no memory for %zu queued command bytes",
					       ctx->held_size + size);
		ctx->held = held;
		ctx->held_cap = cap;
	}
	memcpy(ctx->held + ctx->held_size, cmds, size);
	ctx->held_size += size;
	return 1;
}

/* Runs commands until one must wait: 0 when all ran, 1 when the rest waits (*used = the
 * bytes that ran), -1 when the context is lost. */
static int
cd_run_counted(struct cd_context *ctx, const uint8_t *cmds, size_t size, size_t *used)
{
	int ret = cd_run(ctx, cmds, size, used);

	if (ret < 0)
		return -1;
	/* A waiting SEND's command completes with its data (cd_send_tail). */
	ctx->completed += *used - (ret == 1 ? ctx->tail_cmd_size : 0);
	return ret;
}

int
cd_context_submit(struct cd_context *ctx, const uint8_t *cmds, size_t size)
{
	size_t used = 0;
	int ret;

	if (ctx->lost)
		return -1;
	ctx->accepted += size;
	if (ctx->blocked)
		return cd_hold(ctx, cmds, size);
	ret = cd_run_counted(ctx, cmds, size, &used);
	return ret == 1 ? cd_hold(ctx, cmds + used, size - used) : ret;
}

int
cd_context_resume(struct cd_context *ctx)
{
	size_t used = 0;
	int ret;

	if (ctx->lost)
		return -1;
	if (cd_send_tail(ctx) == 1)
		return 1;
	if (ctx->held_off == ctx->held_size)
		return 0;
	/* Run in place: a lost context frees the buffer, but then nothing here reads it. */
	ret = cd_run_counted(ctx, ctx->held + ctx->held_off, ctx->held_size - ctx->held_off,
			     &used);
	if (ret < 0)
		return -1;
	ctx->held_off += used;
	if (ret == 0 || ctx->held_off == ctx->held_size) {
		ctx->held_off = ctx->held_size = 0;
		if (ctx->held_cap > (1u << 20)) {
			/* What a burst grew is given back. */
			free(ctx->held);
			ctx->held = NULL;
			ctx->held_cap = 0;
		}
	}
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

/* A DRM file that closes detaches each of its GEM handles, the rings too, and destroys its
 * context after them (Linux 6.1: drm_file_free runs drm_gem_release before postclose), so a
 * POLL may still be due once the channel ring is gone: the guest is leaving, not broken. From
 * then on nothing is written to the ring (its memory may go next) and no line is logged; the
 * compositor's bytes stay unread until the context goes. */
void
cd_context_detached(struct cd_context *ctx, uint32_t res_id)
{
	if (ctx->initialized && res_id == ctx->channel_ring_id)
		ctx->ring_detached = true;
}

int
cd_context_watch(struct cd_context *ctx, struct pollfd *pfds, int max)
{
	int n = 0;

	if (ctx->lost || !ctx->initialized || ctx->ring_detached)
		return 0;
	if (ctx->socket >= 0 && !ctx->socket_eof && n < max)
		pfds[n++] = (struct pollfd){ ctx->socket, POLLIN, 0 };
	for (struct cd_read_pipe *rp = ctx->read_pipes; rp && n < max; rp = rp->next)
		pfds[n++] = (struct pollfd){ rp->fd, POLLIN, 0 };
	return n;
}
