/*
 * SPDX-License-Identifier: MIT
 * The cross-domain channel on a virtio-gpu context: set-up (§2), and the
 * guest-to-host commands (§3, §4). Host-to-guest messages are read by the
 * transport's pump from the channel ring after each POLL fence.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cross-domain.h"

static int
ring_create(struct cross_domain *cd, uint32_t *bo, uint32_t *res, void **map)
{
	/* §2: one page, GUEST, MAPPABLE, after CONTEXT_INIT. */
	if (virtgpu_blob_create(&cd->dev, VIRTGPU_BLOB_MEM_GUEST,
				VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
				(uint64_t) cd->dev.page_size, 0, bo, res) < 0)
		return -1;

	*map = virtgpu_blob_map(&cd->dev, *bo, (size_t) cd->dev.page_size);
	if (*map == NULL)
		return -1;

	return 0;
}

static int
send_init(struct cross_domain *cd)
{
	const char *form = getenv("WAYLAND_VIRTGPU_INIT");
	struct cross_domain_init_kr init;
	size_t size = 20;

	/* §3.5: the 20-byte INIT works everywhere current; libkrun
	 * 1.10-1.15 needs the 24-byte form (protocol_version 1) for 28
	 * identifiers. */
	if (form && strcmp(form, "24") == 0)
		size = 24;

	memset(&init, 0, sizeof init);
	init.hdr.cmd = CROSS_DOMAIN_CMD_INIT;
	init.hdr.cmd_size = (uint16_t) size;
	init.query_ring_id = cd->query_res;
	init.channel_ring_id = cd->channel_res;
	init.channel_type = CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND;
	init.protocol_version = 1;

	/* Alone in its EXECBUFFER (libkrun sizes it by the bytes left). */
	return virtgpu_submit(&cd->dev, &init, size, -1, NULL, 0);
}

int
cross_domain_open(struct cross_domain *cd, const char *device, char *why,
		  size_t why_size)
{
	const char *ids = getenv("WAYLAND_VIRTGPU_IDENTIFIERS");

	memset(cd, 0, sizeof *cd);
	cd->query_timeout_ms =
		virtgpu_env_seconds_ms("WAYLAND_VIRTGPU_REPLY_TIMEOUT", 10000);
	cd->dev.fd = -1;
	cd->max_ids = CROSS_DOMAIN_MAX_IDENTIFIERS;
	if (ids && strcmp(ids, "4") == 0)
		cd->max_ids = 4;
	cd->read_pipe_counter = CROSS_DOMAIN_PIPE_READ_START;
	pthread_mutex_init(&cd->query_lock, NULL);

	if (virtgpu_device_open(&cd->dev, device, why, why_size) < 0)
		return -1;

	if (virtgpu_context_init(&cd->dev) < 0) {
		snprintf(why, why_size, "%s: CONTEXT_INIT failed (%s)",
			 cd->dev.path, strerror(errno));
		goto err;
	}

	if (ring_create(cd, &cd->query_bo, &cd->query_res, &cd->query_ring) < 0 ||
	    ring_create(cd, &cd->channel_bo, &cd->channel_res,
			&cd->channel_ring) < 0) {
		snprintf(why, why_size, "%s: cannot create the ring pages (%s)",
			 cd->dev.path, strerror(errno));
		goto err;
	}

	if (send_init(cd) < 0) {
		snprintf(why, why_size, "%s: the host refused INIT (%s)",
			 cd->dev.path, strerror(errno));
		goto err;
	}

	if (cross_domain_poll(cd) < 0) {
		snprintf(why, why_size, "%s: the host refused POLL (%s)",
			 cd->dev.path, strerror(errno));
		goto err;
	}

	return 0;

err:
	cross_domain_close(cd);
	errno = ECONNREFUSED;
	return -1;
}

void
cross_domain_close(struct cross_domain *cd)
{
	size_t page = (size_t) cd->dev.page_size;

	if (cd->query_ring)
		munmap(cd->query_ring, page);
	if (cd->channel_ring)
		munmap(cd->channel_ring, page);
	cd->query_ring = cd->channel_ring = NULL;
	/* Closing the DRM file destroys the context and its handles. */
	virtgpu_device_close(&cd->dev);
	pthread_mutex_destroy(&cd->query_lock);
}

static void
poll_command(struct cross_domain_poll *poll_cmd)
{
	memset(poll_cmd, 0, sizeof *poll_cmd);
	poll_cmd->hdr.cmd = CROSS_DOMAIN_CMD_POLL;
	poll_cmd->hdr.cmd_size = sizeof *poll_cmd;
}

int
cross_domain_poll(struct cross_domain *cd)
{
	struct cross_domain_poll poll_cmd;

	poll_command(&poll_cmd);

	return virtgpu_submit(&cd->dev, &poll_cmd, sizeof poll_cmd,
			      CROSS_DOMAIN_CHANNEL_RING, &cd->channel_bo, 1);
}

int
cross_domain_send(struct cross_domain *cd, const void *data, uint32_t size,
		  const uint32_t *ids, const uint32_t *types, int nids,
		  const uint32_t *bo_handles, int nbos, bool with_poll,
		  int *fence_fd)
{
	size_t head = CROSS_DOMAIN_SR_DATA_OFF(cd->max_ids);
	uint8_t buf[CROSS_DOMAIN_SR_DATA_OFF(CROSS_DOMAIN_MAX_IDENTIFIERS) +
		    CROSS_DOMAIN_MAX_SEND_DATA +
		    sizeof(struct cross_domain_poll)];
	struct cross_domain_sr_head *sr = (struct cross_domain_sr_head *) buf;
	uint32_t *id_array =
		(uint32_t *) (buf + CROSS_DOMAIN_SR_IDS_OFF(cd->max_ids));
	int i;

	/* A fence on the channel ring would hold the bos' reservations
	 * until the host's next message. */
	if (size > CROSS_DOMAIN_MAX_SEND_DATA || nids > cd->max_ids ||
	    (with_poll && (nbos > 0 || fence_fd))) {
		errno = EINVAL;
		return -1;
	}

	memset(buf, 0, head);
	sr->hdr.cmd = CROSS_DOMAIN_CMD_SEND;
	sr->hdr.cmd_size = (uint16_t) (head + size);
	sr->num_identifiers = (uint32_t) nids;
	sr->opaque_data_size = size;
	for (i = 0; i < nids; i++) {
		id_array[i] = ids[i];
		id_array[cd->max_ids + i] = types[i];
	}
	memcpy(buf + head, data, size);

	/* Several commands may share one EXECBUFFER (§3.1); the host
	 * handles the SEND first, and the channel-ring fence makes the
	 * POLL. */
	if (with_poll) {
		struct cross_domain_poll poll_cmd;
		size_t len = head + size;

		poll_command(&poll_cmd);
		memcpy(buf + len, &poll_cmd, sizeof poll_cmd);
		return virtgpu_submit(&cd->dev, buf, len + sizeof poll_cmd,
				      CROSS_DOMAIN_CHANNEL_RING,
				      &cd->channel_bo, 1);
	}

	/* On the query ring, whose fences are this context's own timeline:
	 * without a ring, the kernel's one timeline for every context would
	 * take another client's later fence as this one's (the send queue's
	 * backpressure). The host runs them in order all the same. */
	return virtgpu_submit_fenced(&cd->dev, buf, head + size,
				     CROSS_DOMAIN_QUERY_RING, bo_handles,
				     (uint32_t) nbos, fence_fd);
}

int
cross_domain_write(struct cross_domain *cd, uint32_t id, bool hang_up,
		   const void *data, uint32_t size, int *fence_fd)
{
	uint8_t buf[sizeof(struct cross_domain_read_write) +
		    CROSS_DOMAIN_MAX_WRITE_DATA];
	struct cross_domain_read_write *w = (struct cross_domain_read_write *) buf;

	if (size > CROSS_DOMAIN_MAX_WRITE_DATA) {
		errno = EINVAL;
		return -1;
	}

	memset(w, 0, sizeof *w);
	w->hdr.cmd = CROSS_DOMAIN_CMD_WRITE;
	w->hdr.cmd_size = (uint16_t) (sizeof *w + size);
	w->identifier = id;
	w->hang_up = hang_up;
	w->opaque_data_size = size;
	if (size)
		memcpy(buf + sizeof *w, data, size);

	/* On the query ring, as a SEND: the pipes' bound counts on its fence. */
	return virtgpu_submit_fenced(&cd->dev, buf, sizeof *w + size,
				     CROSS_DOMAIN_QUERY_RING, NULL, 0, fence_fd);
}

uint32_t
cross_domain_next_read_pipe_id(struct cross_domain *cd)
{
	/* §4.3: pre-incremented, and never below the start on wrap. */
	cd->read_pipe_counter++;
	if (cd->read_pipe_counter < CROSS_DOMAIN_PIPE_READ_START)
		cd->read_pipe_counter = CROSS_DOMAIN_PIPE_READ_START;
	return cd->read_pipe_counter;
}

/* The query's out-fence within the timeout: a host that never answers ends
 * the wait with ETIMEDOUT instead of holding the caller for ever (the
 * kernel's WAIT gives up only after 15 s, and is then asked again). */
static int
query_wait(struct cross_domain *cd, int fence)
{
	struct pollfd pfd = { .fd = fence, .events = POLLIN };
	uint64_t end = virtgpu_now_ms() + cd->query_timeout_ms;
	int ret;

	if (fence < 0)	/* the kernel gave no sync_file */
		return virtgpu_wait(&cd->dev, cd->query_bo);
	for (;;) {
		uint64_t now = virtgpu_now_ms();
		int wait = cd->query_timeout_ms == 0 ? -1 :
			   now >= end ? 0 : (int) (end - now);

		ret = poll(&pfd, 1, wait);
		if (ret == 1)
			return 0;
		if (ret == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

int
cross_domain_image_requirements(struct cross_domain *cd, uint32_t width,
				uint32_t height, uint32_t drm_format,
				uint32_t flags,
				struct cross_domain_image_requirements *reply)
{
	struct cross_domain_get_image_requirements cmd;
	struct cross_domain_image_cache *entry;
	int ret, i, fence = -1;

	pthread_mutex_lock(&cd->query_lock);
	for (i = 0; i < cd->image_cache_used; i++) {
		entry = &cd->image_cache[i];
		if (entry->width == width && entry->height == height &&
		    entry->drm_format == drm_format && entry->flags == flags) {
			*reply = entry->reply;
			pthread_mutex_unlock(&cd->query_lock);
			return 0;
		}
	}

	memset(&cmd, 0, sizeof cmd);
	cmd.hdr.cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS;
	cmd.hdr.cmd_size = sizeof cmd;
	cmd.width = width;
	cmd.height = height;
	cmd.drm_format = drm_format;
	cmd.flags = flags;

	/* §5.1: ring 0, then wait for its fence and read offset 0. */
	ret = virtgpu_submit_fenced(&cd->dev, &cmd, sizeof cmd,
				    CROSS_DOMAIN_QUERY_RING, &cd->query_bo, 1,
				    &fence);
	if (ret == 0) {
		ret = query_wait(cd, fence);
		if (fence >= 0)
			close(fence);
	}
	if (ret == 0) {
		memcpy(reply, cd->query_ring, sizeof *reply);
		entry = &cd->image_cache[cd->image_cache_next];
		cd->image_cache_next = (cd->image_cache_next + 1) %
				       CROSS_DOMAIN_IMAGE_CACHE;
		if (cd->image_cache_used < CROSS_DOMAIN_IMAGE_CACHE)
			cd->image_cache_used++;
		*entry = (struct cross_domain_image_cache) {
			width, height, drm_format, flags, *reply,
		};
	}
	pthread_mutex_unlock(&cd->query_lock);

	return ret;
}

int
cross_domain_parse_receive(const void *msg, size_t len, int max_ids,
			   struct cross_domain_receive *out)
{
	const struct cross_domain_sr_head *sr = msg;
	size_t head = CROSS_DOMAIN_SR_DATA_OFF(max_ids);
	const uint32_t *ids;

	/* §3.2: the N-identifier layout; data follows the three arrays. */
	if (len < head || sr->hdr.cmd != CROSS_DOMAIN_CMD_RECEIVE)
		return -1;

	/* Hosts that fill in cmd_size reveal a layout mismatch (§3.5); one
	 * that leaves it 0 cannot. */
	if (sr->hdr.cmd_size != 0 &&
	    sr->hdr.cmd_size != head + sr->opaque_data_size) {
		int other = max_ids == 4 ? CROSS_DOMAIN_MAX_IDENTIFIERS : 4;

		if (sr->hdr.cmd_size == CROSS_DOMAIN_SR_DATA_OFF(other) +
		    (size_t) sr->opaque_data_size)
			return CROSS_DOMAIN_OTHER_LAYOUT;
	}
	if (sr->num_identifiers > (uint32_t) max_ids ||
	    sr->opaque_data_size > len - head)
		return -1;

	ids = (const uint32_t *) ((const uint8_t *) msg +
				  CROSS_DOMAIN_SR_IDS_OFF(max_ids));
	out->num_ids = sr->num_identifiers;
	out->ids = ids;
	out->types = ids + max_ids;
	out->sizes = ids + 2 * max_ids;
	out->data = (const uint8_t *) msg + head;
	out->size = sr->opaque_data_size;

	return 0;
}

_Static_assert(CROSS_DOMAIN_MESSAGE_HEAD ==
	       CROSS_DOMAIN_SR_DATA_OFF(CROSS_DOMAIN_MAX_IDENTIFIERS),
	       "a message's head is the larger RECEIVE head");

size_t
cross_domain_message_extent(const void *msg, size_t page)
{
	const struct cross_domain_header *hdr = msg;
	size_t extent = page;

	/* The larger layout's head covers the other's (§3.5). */
	if (hdr->cmd == CROSS_DOMAIN_CMD_RECEIVE)
		extent = CROSS_DOMAIN_SR_DATA_OFF(CROSS_DOMAIN_MAX_IDENTIFIERS) +
			 (size_t) ((const struct cross_domain_sr_head *)
				   msg)->opaque_data_size;
	else if (hdr->cmd == CROSS_DOMAIN_CMD_READ)
		extent = sizeof(struct cross_domain_read_write) +
			 (size_t) ((const struct cross_domain_read_write *)
				   msg)->opaque_data_size;
	return extent < page ? extent : page;
}

int
cross_domain_parse_read(const void *msg, size_t len,
			struct cross_domain_read *out)
{
	const struct cross_domain_read_write *r = msg;

	/* §3.2: READ is 24 bytes and the data after it. */
	if (len < sizeof *r || r->hdr.cmd != CROSS_DOMAIN_CMD_READ ||
	    r->opaque_data_size > len - sizeof *r)
		return -1;

	out->id = r->identifier;
	out->hang_up = r->hang_up != 0;
	out->data = (const uint8_t *) msg + sizeof *r;
	out->size = r->opaque_data_size;

	return 0;
}
