/*
 * SPDX-License-Identifier: MIT
 * The cross-domain channel (cross-domain.c): one virtio-gpu context with
 * its query and channel rings, INIT, POLL, SEND, WRITE and image queries.
 */
#ifndef CROSS_DOMAIN_H
#define CROSS_DOMAIN_H

#include <pthread.h>
#include <stdbool.h>

#include "virtgpu-device.h"

#define CROSS_DOMAIN_IMAGE_CACHE 32

struct cross_domain {
	struct virtgpu_device dev;
	uint32_t query_bo, query_res;
	uint32_t channel_bo, channel_res;
	void *query_ring;
	void *channel_ring;
	/* Identifiers per SEND/RECEIVE: 28, or 4 on old hosts (§3.5). */
	int max_ids;
	uint32_t read_pipe_counter;
	/* One image query at a time (§5.1). */
	pthread_mutex_t query_lock;
	/* Replies already had, under query_lock: a blob_id serves any
	 * number of allocations (§5.1), and each query is a wait for the
	 * host. Replaced round-robin. */
	struct cross_domain_image_cache {
		uint32_t width, height, drm_format, flags;
		struct cross_domain_image_requirements reply;
	} image_cache[CROSS_DOMAIN_IMAGE_CACHE];
	int image_cache_used, image_cache_next;
	/* How long a query waits for its fence (WAYLAND_VIRTGPU_REPLY_TIMEOUT,
	 * as a reply; 0: for ever). */
	uint64_t query_timeout_ms;
};

/* Probe (or open `device`), create the context and rings, send INIT and
 * the first POLL. `why` explains a failure. */
int
cross_domain_open(struct cross_domain *cd, const char *device, char *why,
		  size_t why_size);

void
cross_domain_close(struct cross_domain *cd);

int
cross_domain_poll(struct cross_domain *cd);

/* One SEND: data (<= CROSS_DOMAIN_MAX_SEND_DATA) and identifiers. With
 * with_poll (only without bo_handles), the next POLL goes in the same
 * submit, on the channel ring: one EXECBUFFER instead of two. With
 * fence_fd (never with with_poll: that fence is the POLL's), a sync_file
 * that signals once the host ran this SEND and every command before it. */
int
cross_domain_send(struct cross_domain *cd, const void *data, uint32_t size,
		  const uint32_t *ids, const uint32_t *types, int nids,
		  const uint32_t *bo_handles, int nbos, bool with_poll,
		  int *fence_fd);

int
cross_domain_write(struct cross_domain *cd, uint32_t id, bool hang_up,
		   const void *data, uint32_t size, int *fence_fd);

/* §3.3/§4.3: the id the host will give the next read pipe. */
uint32_t
cross_domain_next_read_pipe_id(struct cross_domain *cd);

/* A host-to-guest message from the channel ring, checked against the
 * page it came in (nothing the host says is trusted). */
struct cross_domain_receive {
	uint32_t num_ids;
	const uint32_t *ids;
	const uint32_t *types;
	const uint32_t *sizes;
	const uint8_t *data;
	uint32_t size;
};

struct cross_domain_read {
	uint32_t id;
	bool hang_up;
	const uint8_t *data;
	uint32_t size;
};

/* Returned when a RECEIVE says (by its cmd_size) that the host uses the
 * other identifier count (§3.5). */
#define CROSS_DOMAIN_OTHER_LAYOUT (-2)

/* 0 when `msg` (len bytes) is a well-formed RECEIVE for a host with
 * max_ids identifiers; CROSS_DOMAIN_OTHER_LAYOUT or -1 otherwise. */
int
cross_domain_parse_receive(const void *msg, size_t len, int max_ids,
			   struct cross_domain_receive *out);

int
cross_domain_parse_read(const void *msg, size_t len,
			struct cross_domain_read *out);

/* How many bytes of its page a channel message spans, by the head read
 * from `msg` (which holds at least CROSS_DOMAIN_MESSAGE_HEAD bytes of it):
 * what to copy out of the ring, never more than the page. */
#define CROSS_DOMAIN_MESSAGE_HEAD 352u
size_t
cross_domain_message_extent(const void *msg, size_t page);

int
cross_domain_image_requirements(struct cross_domain *cd, uint32_t width,
				uint32_t height, uint32_t drm_format,
				uint32_t flags,
				struct cross_domain_image_requirements *reply);

#endif
