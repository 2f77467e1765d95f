/*
 * SPDX-License-Identifier: MIT
 * wl_shm over the virtio-gpu transport (shm.c, its parts shm-*.c): pools
 * live in host memory, the client's own mappings remapped onto it where
 * possible.
 */
#ifndef VIRT_SHM_H
#define VIRT_SHM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cross-domain.h"
#include "transport.h"

struct virt_shm;
struct wl_message;
struct wl_object;
union wl_argument;

/* With copy_only, no client view is remapped: every pool is copied on
 * commit, because the user asked (WAYLAND_VIRTGPU_SHM=copy) or, with
 * copy_for_mremap, because code in the process may mremap() its views.
 * debug: WAYLAND_DEBUG asked for the client's messages (lines of its own). */
struct virt_shm *
virt_shm_create(struct cross_domain *cd, struct wl_transport_stats *stats,
		bool copy_only, bool copy_for_mremap, bool debug);


void
virt_shm_destroy(struct virt_shm *shm);

/* The transport's shm_memory op (transport.h). */
int
virt_shm_memory_create(struct virt_shm *shm, size_t *size, void **data);

/* Host memory of at least `size` bytes (page-rounded) holding a copy of
 * the first `size` bytes of the file behind fd, read with pread, never
 * mapped; *copied says how many the file still had (the rest is zeros).
 * Returns the host memory's fd; -1 with errno (ENOMEM: the host has no
 * memory; EINVAL: the file cannot be read) and a reason in `why`. */
int
virt_shm_file_copy(struct virt_shm *shm, int fd, size_t size, size_t *copied,
		   char *why, size_t why_size);

/* A request about to be sent. Returns 1 when it took care of the
 * request's fds, 0 when it has nothing to do with them, -1 (after a log
 * line) on failure. May redirect the request through *sender_id. */
int
virt_shm_request(struct virt_shm *shm, struct wl_transport *transport,
		 struct wl_object *target, uint32_t *sender_id,
		 uint32_t opcode, const struct wl_message *message,
		 union wl_argument *args);

/* An event about to be queued (shm-capture.c: what the compositor wrote
 * into a buffer, shown to the client). */
void
virt_shm_event(struct virt_shm *shm, struct wl_object *target,
	       uint32_t opcode, union wl_argument *args);

/* The stats line's keys of wl_shm: host_bytes and host_blobs, each in use
 * now / at the peak; shm_copied_pools and shm_copy_why (pools copied on
 * commit, by reason). */
void
virt_shm_print_stats(struct virt_shm *shm, FILE *f);

/* Whether virt_shm_request looks at requests of this interface. */
bool
virt_shm_hooks(const char *interface);

#endif
