/*
 * SPDX-License-Identifier: MIT
 * The client's views of a pool remapped onto its host memory, at the same
 * addresses: whole views, views reserved larger than the pool, views handed
 * back to the file, and which old host memory the client still draws into.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shm-private.h"
#include "wayland-private.h"

/* The client's views of this host memory (not the library's own): their
 * number with *out to free(), or -1. */
static int
blob_client_views(struct shm_blob *blob, struct vma **out)
{
	int n, i, kept = 0;

	shm_blob_identify(blob);
	n = vma_of_file(blob->map_dev, blob->map_ino, out);
	for (i = 0; i < n; i++) {
		if ((*out)[i].start != (uintptr_t) blob->map &&
		    (*out)[i].offset == blob->map_offset_in_file)
			(*out)[kept++] = (*out)[i];
	}
	return n < 0 ? n : kept;
}

/* Does the client still have a view of this host memory? */
static bool
blob_has_client_views(struct shm_blob *blob)
{
	struct vma *maps = NULL;
	int n = blob_client_views(blob, &maps);

	free(maps);
	return n > 0;
}

/* Put host memory where the first blob->size bytes of a client view were,
 * same address and access (host memory maps only whole). */
static int
remap_onto(uintptr_t start, bool writable, struct shm_blob *blob)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p;

	p = mmap((void *) start, blob->size, prot, MAP_SHARED | MAP_FIXED,
		 blob->cd->dev.fd, (off_t) blob->map_offset);
	return p == (void *) start ? 0 : -1;
}

/* A client view at [start, start + len) shows the pool's file again, from
 * its start, instead of host memory. */
static void
view_show_file(struct shm_pool *pool, uintptr_t start, size_t len,
	       bool writable)
{
	if (mmap((void *) start, len, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED | MAP_FIXED, pool->client_fd, 0) == MAP_FAILED)
		wl_log("wayland-virtgpu: wl_shm_pool#%u: cannot give a view "
		       "back its file (%s)\n", pool->id, strerror(errno));
}

/* Is `m` the tail of a view whose head shows the pool's previous host
 * memory (the view was larger than the pool, and the pool grew into it)?
 * *head_start says where the view starts. */
static bool
reserved_tail(struct shm_pool *pool, const struct vma *m, uintptr_t *head_start)
{
	struct vma head;

	if (!pool->moved || !m->shared || m->offset == 0 ||
	    m->start < m->offset)
		return false;
	*head_start = m->start - (uintptr_t) m->offset;
	/* The head: one mapping of the previous memory, up to the tail. */
	return vma_at((void *) *head_start, &head) == 0 &&
	       head.start == *head_start && head.end == m->start &&
	       head.dev == pool->prev_blob.dev &&
	       head.ino == pool->prev_blob.ino &&
	       head.offset == pool->prev_blob.offset;
}

/* After a move to `size` bytes of host memory: views whose tails can take
 * it are left to the next remap; with `apply`, the heads of those too
 * small for it show the file again (refilled first), so that everything
 * the client draws through such a view lands in one place, copied from
 * there. Says whether any view will take the new memory and whether any
 * head goes back to the file. */
static void
reserved_views_move(struct shm_pool *pool, size_t size, bool apply,
		    bool *take, bool *give_back)
{
	struct vma *maps = NULL;
	uintptr_t head;
	int n, i;

	*take = *give_back = false;
	n = vma_of_file(pool->dev, pool->ino, &maps);
	for (i = 0; i < n; i++) {
		const struct vma *m = &maps[i];

		if (!reserved_tail(pool, m, &head))
			continue;
		if (m->end - head >= size) {
			*take = true;
			continue;
		}
		*give_back = true;
		if (apply)
			view_show_file(pool, head, m->start - head, m->writable);
	}
	free(maps);
}

void
shm_remap_reserved_views_check(struct shm_pool *pool, size_t size,
			       bool *take, bool *give_back)
{
	reserved_views_move(pool, size, false, take, give_back);
}

void
shm_remap_reserved_views_give_back(struct virt_shm *shm,
				   struct shm_pool *pool, size_t size)
{
	bool take, give_back;

	reserved_views_move(pool, size, true, &take, &give_back);
	shm->views.generation++;
}

/* A view the remap cannot move: the pool's bytes stay in the file for it
 * (the first such view names the reason). */
void
shm_remap_view_blocks(struct shm_pool *pool, const struct vma *m,
		      bool *complete)
{
	if (*complete || pool->remap_blocker == SHM_COPY_NONE)
		pool->remap_blocker = m->shared ? SHM_COPY_PARTIAL_VIEW :
						  SHM_COPY_PRIVATE_VIEW;
	*complete = false;
}

/*
 * Move every writer of the pool's file that can be moved onto the pool's
 * host memory: what they hold goes to host memory first, then their
 * mappings are replaced and the file emptied. Returns true when nothing
 * is left writing to the pool's bytes in the file as far as this process
 * can see.
 */
bool
shm_remap_pool(struct virt_shm *shm, struct shm_pool *pool)
{
	struct vma *maps = NULL;
	struct shm_file_snapshot snap;
	bool complete = true, have_snapshot = false, *moves;
	uintptr_t head;
	int n, i, moving = 0;

	pool->remap_blocker = SHM_COPY_UNPUNCHABLE;
	if (!shm_file_punchable(pool->client_fd, pool->size))
		return false;

	pool->remap_blocker = SHM_COPY_MAPS_UNREADABLE;
	n = vma_of_file(pool->dev, pool->ino, &maps);
	if (n < 0)
		return false;
	moves = calloc((size_t) n + 1, sizeof *moves);
	if (moves == NULL) {
		free(maps);
		return false;
	}
	pool->remap_blocker = SHM_COPY_NONE;

	for (i = 0; i < n; i++) {
		const struct vma *m = &maps[i];

		if (m->offset >= pool->blob->size)
			continue;	/* none of the pool's bytes */
		if (m->offset == 0 && m->shared &&
		    m->end - m->start >= pool->blob->size)
			moves[i] = true;	/* whole, or a reserved view */
		else if (reserved_tail(pool, m, &head) &&
			 m->end - head >= pool->blob->size)
			moves[i] = true;
		else
			shm_remap_view_blocks(pool, m, &complete);
		moving += moves[i];
	}
	if (!complete) {
		free(moves);
		free(maps);
		return false;
	}

	/* The first time the file holds the pool; later only what writers
	 * the library did not see put there. With views to move, keep what
	 * was copied, to find writes racing the remap (a drawing thread). */
	shm->stats->shm_bytes_copied +=
		shm_file_copy_data(pool->client_fd, pool->blob->map, 0,
				   pool->size, pool->emptied);
	if (moving > 0 && !pool->emptied)
		have_snapshot = shm_file_snapshot_take(&snap, pool->client_fd,
						       pool->blob->map,
						       pool->size);

	for (i = 0; i < n; i++) {
		const struct vma *m = &maps[i];
		uintptr_t start = m->start - (uintptr_t) m->offset;

		if (!moves[i])
			continue;
		if (remap_onto(start, m->writable, pool->blob) < 0) {
			wl_log("wayland-virtgpu: wl_shm_pool#%u: cannot put host "
			       "memory under a view of the pool (%s)\n",
			       pool->id, strerror(errno));
			pool->remap_blocker = SHM_COPY_REMAP_FAILED;
			complete = false;
			continue;
		}
		if (m->offset > 0)
			shm->views.generation++;	/* older host memory went */
	}
	free(moves);
	free(maps);

	if (have_snapshot) {
		shm->stats->shm_bytes_copied +=
			shm_file_merge_racing_writes(pool->client_fd, &snap,
						     pool->blob->map,
						     pool->size);
		shm_file_snapshot_free(&snap);
	}
	if (!complete)
		return false;	/* a view still shows the file: keep it */

	if (shm_file_punch(pool->client_fd, pool->size) < 0) {
		pool->remap_blocker = SHM_COPY_UNPUNCHABLE;
		return false;
	}
	pool->emptied = true;
	if (moving > 0 && !pool->counted) {
		/* Some view of the client's now shows host memory. */
		pool->counted = true;
		shm->stats->zero_copy_pools++;
	}

	return true;
}

/* Does the client have views of the pool's file (not remapped)? */
bool
shm_remap_has_file_views(struct shm_pool *pool)
{
	struct vma *maps = NULL;
	int n;

	n = vma_of_file(pool->dev, pool->ino, &maps);
	free(maps);
	return n != 0;
}

bool
shm_remap_has_no_views(struct shm_pool *pool)
{
	return !blob_has_client_views(pool->blob) &&
	       !shm_remap_has_file_views(pool);
}

/* A new pool of the holder's file needs more than the holder's host
 * memory: the client's views of that memory show the file again (given
 * the pool's bytes back first), for the new pool's remap to take them;
 * the holder then follows the new memory, as a moved pool does, its
 * buffers copied from there. */
void
shm_remap_hand_over_views(struct virt_shm *shm, struct shm_pool *holder)
{
	struct shm_blob *blob = holder->blob;
	struct vma *maps = NULL;
	int n, i;

	if (holder->emptied) {
		shm->stats->shm_bytes_copied +=
			shm_file_refill(holder->client_fd, blob->map,
					holder->size);
		holder->emptied = false;
	}
	n = blob_client_views(blob, &maps);
	for (i = 0; i < n; i++)
		view_show_file(holder, maps[i].start,
			       maps[i].end - maps[i].start, maps[i].writable);
	free(maps);
	shm->views.generation++;
}

/* Host memory a pool moves off: the client that kept its views of it
 * draws old buffers there; one that did not draws everything into the
 * new memory, copied from there at commit. */
void
shm_remap_blob_left(struct virt_shm *shm, struct shm_blob *blob, bool look)
{
	blob->client_views = look && blob_has_client_views(blob);
	blob->views_checked = shm->views.generation;
}

bool
shm_remap_client_draws_in(struct virt_shm *shm, struct shm_blob *blob)
{
	if (blob->views_checked != shm->views.generation) {
		/* A remap since may have put newer memory over its views. */
		blob->client_views = blob->client_views &&
				     blob_has_client_views(blob);
		blob->views_checked = shm->views.generation;
	}
	return blob->client_views;
}
