/*
 * SPDX-License-Identifier: MIT
 * wl_shm_pool.resize: a pool grows within its host memory, or moves to new
 * host memory behind a wl_shm_pool of the library's own when it outgrows it.
 */
#include <errno.h>
#include <string.h>

#include "shm-private.h"
#include "wayland-private.h"

/* The trap of DESIGN.md: the compositor grows only its mapping of the
 * first fd. New host memory goes behind a wl_shm_pool of the library's
 * own, made now, ahead of the client's resize. */
static int
pool_move(struct virt_shm *shm, struct wl_transport *transport,
	  struct shm_pool *pool, size_t size)
{
	struct shm_blob *blob, *old = pool->blob;
	struct wl_object *hidden;
	char why[160];
	bool take, give_back;

	blob = shm_blob_create(shm, size, why, sizeof why);
	if (blob == NULL) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u.resize(%zu): %s\n",
		       pool->id, size, why);
		return -1;
	}

	hidden = shm_pool_own_create(transport, pool->shm_id, blob, size,
				     NULL);
	if (hidden == NULL) {
		shm_blob_unref(blob);
		wl_log("wayland-virtgpu: wl_shm_pool#%u.resize(%zu): cannot "
		       "make a pool for new host memory (%s)\n", pool->id,
		       size, strerror(errno));
		return -1;
	}
	if (pool->hidden)
		shm_pool_own_destroy(transport, pool->hidden);

	/* The pool's bytes move with it. A client that kept its views of
	 * the old memory draws old buffers there; one that made new views
	 * (remapped below or later) draws everything into the new memory. */
	memcpy(blob->map, old->map,
	       pool->size < old->size ? pool->size : old->size);
	shm_remap_blob_left(shm, old, pool->mode != SHM_POOL_COPY);
	/* The view the client maps for the new size (upstream
	 * libwayland-cursor: fallocate, resize, munmap, mmap) must show the
	 * pool, not the holes punched in it. Until the next remap the file
	 * holds a copy again. A client that grows inside the view it
	 * reserved maps none: that view takes the new memory instead. */
	shm_blob_identify(old);
	pool->prev_blob = (struct vma) {
		.dev = old->map_dev, .ino = old->map_ino,
		.offset = old->map_offset_in_file,
	};
	pool->moved = true;
	shm_remap_reserved_views_check(pool, blob->size, &take, &give_back);
	if (pool->emptied && (!take || give_back)) {
		shm->stats->shm_bytes_copied +=
			shm_file_refill(pool->client_fd, blob->map, pool->size);
		pool->emptied = false;
	}
	if (give_back)
		shm_remap_reserved_views_give_back(shm, pool, blob->size);

	pool->hidden = hidden;
	pool->target_id = hidden->id;
	shm_blob_unref(pool->target_blob);
	pool->target_blob = shm_blob_ref(blob);
	pool->blob = blob;
	shm_blob_unref(old);	/* its buffers keep it */

	return 0;
}

/* wl_shm_pool.resize(size): within the pool's host memory it only
 * grows; beyond it the pool moves. */
int
shm_resize(struct virt_shm *shm, struct wl_transport *transport,
	   struct shm_pool *pool, union wl_argument *args)
{
	int32_t size = args[0].i;
	bool moved = false;

	if (size <= 0 || (size_t) size <= pool->size)
		return 0;	/* the compositor refuses shrinking */

	/* Growing and moving start from views that show host memory. */
	if (shm_pool_settle(shm, pool) < 0)
		return -1;
	if (pool->windowed) {
		/* Windows lie within any size; the compositor's pool object
		 * keeps its page. */
		pool->size = (size_t) size;
		args[0].i = pool->compositor_size;
		shm_window_resized(shm, pool);
		return 0;
	}

	if ((size_t) size > pool->blob->size) {
		/* Views made since the last remap that still fit the current
		 * host memory go onto it first, so that what the client
		 * wrote through them moves with the pool. Left in the file,
		 * it would be indistinguishable from the zero pages the
		 * client's fallocate for the new size just put in the holes
		 * punched earlier (upstream libwayland-cursor grows this way:
		 * fallocate, resize, then a new view). */
		if (pool->mode == SHM_POOL_ZERO_COPY)
			shm_remap_pool(shm, pool);
		if (pool_move(shm, transport, pool, (size_t) size) < 0)
			return -1;
		moved = true;
		/* The client's pool object keeps its old size: nothing of
		 * it lies beyond its first host memory. */
		args[0].i = pool->compositor_size;
	} else if (pool->target_id == pool->id) {
		pool->compositor_size = size;
	}

	/* From here the client's bytes up to the new size are the pool's:
	 * what it wrote there through a view before resizing moves too. */
	pool->size = (size_t) size;

	/* After a move, only views already made for the new size (or a
	 * reserved view the pool grew into): with none, remapping would
	 * punch the file just refilled for the view to come (the next
	 * commit or resize takes that one). */
	if (pool->mode != SHM_POOL_COPY &&
	    (!moved || shm_remap_has_file_views(pool))) {
		if (!shm_remap_pool(shm, pool) &&
		    pool->mode == SHM_POOL_ZERO_COPY)
			shm_pool_copied(shm, pool, SHM_POOL_MIXED,
					pool->remap_blocker);
	}

	return 0;
}
