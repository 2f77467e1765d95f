/*
 * Compositor to guest in one cross-domain context: each poll fence gets one message at the
 * channel ring, a RECEIVE of the compositor's bytes and fds (each fd classified as the host
 * profile does, §4.5) or a READ of a pipe the guest reads (§4.3); and the faults a host can
 * show on that path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-cross-domain.h"

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

/* One event into the channel ring from the context's fds as a poll found them: true when a
 * message was written. */
static bool
cd_service_ready(struct cd_context *ctx, const struct pollfd *pfds, int n)
{
	int start;

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

/* One event into the channel ring: true when a message was written. */
static bool
cd_service_event(struct cd_context *ctx)
{
	struct pollfd pfds[1 + CD_MAX_READ_PIPES];
	int n;

	if (ctx->lost || !ctx->initialized)
		return false;
	n = cd_context_watch(ctx, pfds, 1 + CD_MAX_READ_PIPES);
	if (n == 0 || poll(pfds, n, 0) <= 0)
		return false;
	return cd_service_ready(ctx, pfds, n);
}

/* A lost context's channel fences signal too, with nothing in the ring, pending or new: it
 * will never write there, and a guest left waiting for a fence of its context (QEMU with
 * build-qemu.sh's patch answers a POLL only with its own context's fences) hangs, where an
 * empty answer makes it fail with a line. Both hosts serve channel fences through this. */
bool
cd_context_service(struct cd_context *ctx)
{
	return cd_service_event(ctx) || ctx->lost;
}

uint64_t host_waits;

/* The device's loop waits on every fd of a context with a pending channel fence: what that wait
 * found needs no poll of the context's own (one system call per turn: after a SEND the
 * compositor does not answer, a blob, a GEM close). An answer that comes after the wait wakes
 * the next one at once. */
bool
cd_context_service_after(struct cd_context *ctx, const struct pollfd *seen, int nseen)
{
	struct pollfd pfds[1 + CD_MAX_READ_PIPES];
	bool ready = false;
	int n;

	if (!seen)
		return cd_context_service(ctx);
	if (ctx->lost || !ctx->initialized)
		return ctx->lost;
	/* What the wait found is stale once an event was taken. */
	if (ctx->served_wait == host_waits)
		return false;
	n = cd_context_watch(ctx, pfds, 1 + CD_MAX_READ_PIPES);
	for (int i = 0; i < n; i++) {
		int k = 0;

		while (k < nseen && !(seen[k].fd == pfds[i].fd && (seen[k].events & POLLIN)))
			k++;
		if (k == nseen)
			return false;	/* watched from the next wait on */
		pfds[i].revents = seen[k].revents;
		ready |= pfds[i].revents != 0;
	}
	if (!ready)
		return false;
	ctx->served_wait = host_waits;
	return cd_service_ready(ctx, pfds, n);
}
