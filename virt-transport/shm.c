/*
 * SPDX-License-Identifier: MIT
 * wl_shm pools over the virtio-gpu transport, with zero copy for
 * unmodified clients (DESIGN.md, "wl_shm with zero copy").
 *
 * A guest memfd cannot reach the host (cross-domain-protocol.md §4.1), so
 * each pool gets host memory (§5.1-5.2) that the compositor maps. When the
 * compositor first reads the pool (the first commit of one of its
 * buffers, a capture, a resize) the pool's bytes are copied there once and
 * the client's own shared mappings of its fd are replaced, at the same
 * addresses, by mappings of the host memory: from then on the client draws
 * where the compositor reads. Until then the file holds the pool, so a
 * pool that never gets there (made and destroyed) costs no look at the
 * process's mappings. The client's fd is then emptied (holes punched), which
 * frees the guest's copy and makes any later write that misses the host
 * memory show up as data in the file: at each commit one lseek(SEEK_DATA)
 * tells whether the pool is still fully remapped. When it is not (a
 * mapping made later, a child process drawing, MAP_PRIVATE, ...) the
 * library remaps what it can and copies the rest; pixels are always right.
 *
 * Host memory can only be mapped whole (virtio_gpu_vram_mmap), so each
 * pool's host memory is exactly the page-rounded pool: a client view of
 * the whole pool can be replaced by it. wl_shm_pool.resize beyond it cannot
 * grow it either (and the compositor keeps the first fd it got), so the
 * pool then gets new host memory behind a wl_shm_pool of the library's
 * own; new buffers go there, buffers of the old memory stay correct. The
 * emptied file is refilled then, so that the view the client maps for the
 * new size shows the pool (upstream libwayland-cursor appends to it).
 *
 * A view larger than the pool (address space reserved up front, the pool
 * grown inside it) gets host memory at its head; when the pool grows into
 * the rest, the new host memory goes over the whole view. A pool that
 * outgrows such a view gives the view back to the file and is copied.
 *
 * On a real kernel host memory mappings cannot grow (VM_DONTEXPAND): a
 * client that mremap()s a remapped view larger gets an error.
 *
 * This file holds the request hook and the tables it finds objects in;
 * shm-private.h what the parts share. Host memory is shm-blob.c's, pools
 * and buffers shm-pool.c's, a pool's growth and move shm-resize.c's;
 * remapping the client's views is shm-remap.c's, the client's file
 * (punched, refilled, copied) shm-file.c's, and damage with the copy on
 * commit shm-damage.c's; buffers the compositor writes into (screen
 * capture) shm-capture.c's.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "shm-private.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

/* What every struct kept in a table starts with. */
struct shm_table_item {
	uint32_t id;
	struct shm_table_item *next;
};

void *
shm_table_find(void *table, uint32_t id)
{
	struct shm_table_item **bucket = table;
	struct shm_table_item *it = bucket[id % SHM_TABLE_BUCKETS];

	while (it && it->id != id)
		it = it->next;
	return it;
}

void
shm_table_insert(void *table, void *item)
{
	struct shm_table_item **bucket = table, *it = item;

	bucket += it->id % SHM_TABLE_BUCKETS;
	it->next = *bucket;
	*bucket = it;
}

void
shm_table_remove(void *table, void *item)
{
	struct shm_table_item **p = table, *it = item;

	p += it->id % SHM_TABLE_BUCKETS;
	while (*p && *p != it)
		p = &(*p)->next;
	if (*p)
		*p = it->next;
}

struct virt_shm *
virt_shm_create(struct cross_domain *cd, struct wl_transport_stats *stats,
		bool copy_only, bool copy_for_mremap, bool debug)
{
	struct virt_shm *shm = calloc(1, sizeof *shm);

	if (shm) {
		shm->cd = cd;
		shm->stats = stats;
		shm->copy_only = copy_only;
		shm->copy_only_why = copy_for_mremap ? SHM_COPY_MREMAP :
						       SHM_COPY_ASKED;
		shm->debug = debug;
	}
	return shm;
}

/* Requests go to the part that follows them: pools and buffers to
 * shm-pool.c (a resize to shm-resize.c), surfaces to shm-damage.c. */
int
virt_shm_request(struct virt_shm *shm, struct wl_transport *transport,
		 struct wl_object *target, uint32_t *sender_id,
		 uint32_t opcode, const struct wl_message *message,
		 union wl_argument *args)
{
	const char *interface = target->interface->name;
	struct shm_pool *pool;
	int ret;

	if (strcmp(interface, "wl_shm") == 0) {
		if (opcode == WL_SHM_CREATE_POOL)
			return shm_pool_create(shm, target, args);
		return 0;
	}

	if (strcmp(interface, "wl_shm_pool") == 0) {
		pool = shm_pool_find(shm, target->id);
		if (pool == NULL)
			return 0;
		switch (opcode) {
		case WL_SHM_POOL_CREATE_BUFFER:
			ret = shm_buffer_create(shm, transport, pool, sender_id,
						args);
			if (ret == 0 && args[0].o)
				shm_capture_watch(transport, args[0].o->id);
			return ret;
		case WL_SHM_POOL_DESTROY:
			shm_pool_destroy(shm, transport, pool);
			return 0;
		case WL_SHM_POOL_RESIZE:
			return shm_resize(shm, transport, pool, args);
		}
		return 0;
	}

	if (strcmp(interface, "wl_buffer") == 0) {
		if (opcode == WL_BUFFER_DESTROY) {
			shm_capture_buffer_gone(shm, target->id);
			shm_buffer_destroy(shm, target->id);
		}
		return 0;
	}

	/* A viewport maps surface to buffer coordinates in ways the library
	 * does not follow: that surface's damage covers all of its buffer. */
	if (strcmp(interface, "wp_viewporter") == 0) {
		if (opcode == 1 && args[1].o != NULL)	/* get_viewport */
			shm_damage_viewport(shm, args[1].o->id);
		return 0;
	}

	if (strcmp(interface, "wl_surface") == 0)
		return shm_damage_surface_request(shm, target->id, opcode,
						  args);

	/* Any other object handed one of the pools' buffers. */
	return shm_capture_request(shm, transport, target, message, args);
}

void
virt_shm_event(struct virt_shm *shm, struct wl_object *target,
	       uint32_t opcode, union wl_argument *args)
{
	shm_capture_event(shm, target, opcode, args);
}

/* The interfaces whose requests virt_shm_request looks at. */
bool
virt_shm_hooks(const char *interface)
{
	static const char *const names[] = {
		"wl_shm", "wl_shm_pool", "wl_buffer", "wp_viewporter", "wl_surface",
	};

	return virt_name_listed(interface, names, VIRT_NAMES_COUNT(names));
}

void
virt_shm_print_stats(struct virt_shm *shm, FILE *f)
{
	const struct shm_host_use *use = &shm->host;
	unsigned long long copied = 0;
	const char *sep = "";
	int why;

	fprintf(f, " host_bytes=%llu/%llu host_blobs=%u/%u host_windows=%llu"
		" host_bytes_moved=%llu",
		(unsigned long long) use->bytes,
		(unsigned long long) use->bytes_peak, use->blobs,
		use->blobs_peak, (unsigned long long) use->windows,
		(unsigned long long) use->bytes_moved);

	for (why = SHM_COPY_NONE + 1; why < SHM_COPY_REASONS; why++)
		copied += shm->copied_pools[why];
	fprintf(f, " shm_copied_pools=%llu shm_copy_why=", copied);
	for (why = SHM_COPY_NONE + 1; why < SHM_COPY_REASONS; why++) {
		if (shm->copied_pools[why] == 0)
			continue;
		fprintf(f, "%s%s:%llu", sep, shm_copy_reason_name(why),
			(unsigned long long) shm->copied_pools[why]);
		sep = ",";
	}
	if (copied == 0)
		fprintf(f, "none");
}

void
virt_shm_destroy(struct virt_shm *shm)
{
	shm_pools_fini(shm);
	shm_damage_fini(shm);
	shm_capture_fini(shm);
	free(shm);
}
