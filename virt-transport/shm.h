/*
 * SPDX-License-Identifier: MIT
 * wl_shm over the virtio-gpu transport (shm.c): pools get host memory and
 * buffers are copied into it on wl_surface.commit.
 */
#ifndef VIRT_SHM_H
#define VIRT_SHM_H

#include <stdint.h>

#include "cross-domain.h"
#include "transport.h"

struct virt_shm;
union wl_argument;

struct virt_shm *
virt_shm_create(struct cross_domain *cd, struct wl_transport_stats *stats);

void
virt_shm_destroy(struct virt_shm *shm);

/* A request to one of wl_shm, wl_shm_pool, wl_buffer, wl_surface.
 * Returns 1 when it took care of the request's fds, 0 when it has
 * nothing to do with them, -1 (after a log line) on failure. */
int
virt_shm_request(struct virt_shm *shm, const char *interface, uint32_t id,
		 uint32_t opcode, union wl_argument *args);

#endif
