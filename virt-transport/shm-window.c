/*
 * SPDX-License-Identifier: MIT
 * Large wl_shm pools held in host memory only where their buffers are:
 * windows of host memory over the page ranges live buffers use, each behind
 * a wl_shm_pool of the library's own, the client's views remapped range by
 * range onto them and showing the file elsewhere.
 *
 * Why: foot reserves two pools of 512 MiB and draws into 1-2 MB of each at
 * an offset that moves as it scrolls; held whole, they alone fill the 1 GiB
 * host-visible window QEMU users must size by hand. A pool larger than
 * SHM_WINDOW_MIN is windowed; smaller ones (every pool of GTK, Qt, SDL,
 * weston's clients and Xwayland, and frames up to 4K) are held whole
 * (shm-pool.c), since a window would save little and costs a blob.
 *
 * A window covers its first buffer's pages plus SHM_WINDOW_HEADROOM plus the
 * buffer's own size on each side, so that a buffer that scrolls through the
 * pool (foot) moves to a new window only after about its own size and
 * 2 MiB. A buffer outside every window gets a new one, which takes in the
 * windows that still have live buffers and overlap it; every window without
 * live buffers goes then, its bytes written back to the file (never past
 * the file's end) and the client's views of it showing the file again, so
 * nothing the client drew is lost. A pool so holds about three times the
 * span of its live buffers plus 4 MiB, and one blob per disjoint group of
 * live buffers; each move costs one pass over the old window and the new.
 *
 * The compositor's own wl_shm_pool of the client's gets one page of host
 * memory and that size: every buffer inside the client's pool goes to a
 * window's pool (with its offset there), and one that is not inside goes
 * to the client's pool as it is, for the compositor to refuse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shm-private.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

#define PAGE_DOWN(x, page) ((x) & ~((size_t) (page) - 1))
#define PAGE_UP(x, page) (((x) + (size_t) (page) - 1) & ~((size_t) (page) - 1))

bool
shm_window_wanted(size_t size)
{
	return size > SHM_WINDOW_MIN;
}

static size_t
page_size(struct virt_shm *shm)
{
	return (size_t) shm->cd->dev.page_size;
}

static bool
window_covers(const struct shm_window *w, size_t from, size_t to)
{
	return w->base <= from && to <= w->base + w->len;
}

static bool
window_overlaps(const struct shm_window *w, size_t from, size_t to)
{
	return w->base < to && from < w->base + w->len;
}

struct shm_window *
shm_window_of(struct shm_pool *pool, size_t from, size_t to)
{
	struct shm_window *w;

	for (w = pool->windows; w; w = w->next)
		if (window_covers(w, from, to))
			return w;
	return NULL;
}

/* The client's views of the window's host memory show the file again:
 * its mappings found by the blob's identity (as shm-remap.c does). */
static void
window_views_show_file(struct shm_pool *pool, struct shm_window *w)
{
	struct shm_blob *blob = w->blob;
	struct vma *maps = NULL;
	int n, i;

	shm_blob_identify(blob);
	n = vma_of_file(blob->map_dev, blob->map_ino, &maps);
	for (i = 0; i < n; i++) {
		const struct vma *m = &maps[i];

		if (m->start == (uintptr_t) blob->map ||
		    m->offset != blob->map_offset_in_file)
			continue;
		if (mmap((void *) m->start, m->end - m->start,
			 PROT_READ | (m->writable ? PROT_WRITE : 0),
			 MAP_SHARED | MAP_FIXED, pool->client_fd,
			 (off_t) w->base) == MAP_FAILED)
			wl_log("wayland-virtgpu: wl_shm_pool#%u: cannot give a "
			       "view back its file (%s)\n", pool->id,
			       strerror(errno));
	}
	free(maps);
}

/* A window goes: its bytes back to the file, the views onto the file, its
 * pool at the compositor destroyed (buffers made from it keep their
 * memory there, and here their blob). */
static void
window_release(struct virt_shm *shm, struct wl_transport *transport,
	       struct shm_pool *pool, struct shm_window *w)
{
	struct shm_window **p;

	if (w->remapped) {
		shm->host.bytes_moved +=
			shm_file_refill_at(pool->client_fd, w->blob->map,
					   w->base, w->base + w->len);
		window_views_show_file(pool, w);
	}
	if (w->hidden && transport)
		shm_pool_own_destroy(transport, w->hidden);
	for (p = &pool->windows; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	shm_blob_unref(w->blob);
	free(w);
}

/*
 * Is [addr, addr + len) of one client view made only of pieces of it:
 * the file at the offsets that view gives (view + offset == address), or
 * host memory of a window of the pool at its place? Then host memory may
 * go over it; otherwise it is not one view (a partial view, memory of
 * something else) and stays.
 */
static bool
view_is_whole(struct shm_pool *pool, uintptr_t view, uintptr_t addr,
	      size_t len)
{
	uintptr_t end = addr + len;
	struct shm_window *w;
	struct vma m;

	while (addr < end) {
		bool ours = false;

		if (vma_at((void *) addr, &m) < 0 || !m.shared)
			return false;
		if (m.dev == pool->dev && m.ino == pool->ino &&
		    m.start - (uintptr_t) m.offset == view)
			ours = true;
		for (w = pool->windows; w && !ours; w = w->next) {
			shm_blob_identify(w->blob);
			ours = m.dev == w->blob->map_dev &&
			       m.ino == w->blob->map_ino &&
			       m.offset == w->blob->map_offset_in_file &&
			       m.start == view + w->base;
		}
		if (!ours)
			return false;
		addr = m.end;
	}
	return true;
}

/* Each client view of the file over the window's range now shows its
 * host memory. True when no view of that range is left on the file. */
static bool
window_remap(struct virt_shm *shm, struct shm_pool *pool,
	     struct shm_window *w)
{
	struct vma *maps = NULL;
	bool complete = true;
	int n, i;

	pool->remap_blocker = SHM_COPY_MAPS_UNREADABLE;
	n = vma_of_file(pool->dev, pool->ino, &maps);
	if (n < 0)
		return false;
	pool->remap_blocker = SHM_COPY_NONE;
	for (i = 0; i < n; i++) {
		const struct vma *m = &maps[i];
		uintptr_t view = m->start - (uintptr_t) m->offset;
		size_t len = m->end - m->start;
		void *at;

		if (m->offset >= w->base + w->len ||
		    m->offset + len <= w->base)
			continue;	/* another range of the file */
		if (m->start < m->offset || !m->shared ||
		    !view_is_whole(pool, view, view + w->base, w->len)) {
			shm_remap_view_blocks(pool, m, &complete);
			continue;
		}
		at = mmap((void *) (view + w->base), w->len,
			  PROT_READ | (m->writable ? PROT_WRITE : 0),
			  MAP_SHARED | MAP_FIXED, shm->cd->dev.fd,
			  (off_t) w->blob->map_offset);
		if (at != (void *) (view + w->base)) {
			wl_log("wayland-virtgpu: wl_shm_pool#%u: cannot put host "
			       "memory under a view of the pool (%s)\n",
			       pool->id, strerror(errno));
			pool->remap_blocker = SHM_COPY_REMAP_FAILED;
			complete = false;
		}
	}
	free(maps);
	return complete;
}

/* Host memory and the views for the window's range: its bytes from the
 * file, the client's views remapped, the file punched there (so a write
 * that misses host memory shows as data, shm-damage.c). */
static void
window_fill(struct virt_shm *shm, struct shm_pool *pool,
	    struct shm_window *w)
{
	size_t end = w->base + w->len;

	shm->host.bytes_moved +=
		shm_file_copy_data_at(pool->client_fd, w->blob->map, w->base,
				      w->base, end, false);
	if (pool->mode == SHM_POOL_COPY)
		return;
	w->remapped = true;
	if (window_remap(shm, pool, w) &&
	    shm_file_punch_at(pool->client_fd, w->base, end) == 0) {
		if (!pool->counted) {
			pool->counted = true;
			shm->stats->zero_copy_pools++;
		}
		return;
	}
	if (pool->remap_blocker == SHM_COPY_NONE)
		pool->remap_blocker = SHM_COPY_UNPUNCHABLE;
	shm_pool_copied(shm, pool, SHM_POOL_MIXED, pool->remap_blocker);
}

/* The range of a new window for [from, to): headroom on both sides, the
 * live windows it meets taken in, within the pool's pages. */
static void
window_range(struct virt_shm *shm, struct shm_pool *pool, size_t from,
	     size_t to, size_t *lo, size_t *hi)
{
	size_t page = page_size(shm), room = (to - from) + SHM_WINDOW_HEADROOM;
	size_t top = PAGE_UP(pool->size, page);
	struct shm_window *w;
	bool grew = true;

	*lo = from > room ? PAGE_DOWN(from - room, page) : 0;
	*hi = to + room < top ? PAGE_UP(to + room, page) : top;
	while (grew) {
		grew = false;
		for (w = pool->windows; w; w = w->next) {
			if (w->buffers == 0 || !window_overlaps(w, *lo, *hi) ||
			    window_covers(&(struct shm_window) {
					.base = *lo, .len = *hi - *lo },
					  w->base, w->base + w->len))
				continue;
			*lo = w->base < *lo ? w->base : *lo;
			*hi = w->base + w->len > *hi ? w->base + w->len : *hi;
			grew = true;
		}
	}
}

/* A new window for [from, to): the windows it meets and those without
 * buffers go first (back to the file), then host memory for its range. */
static struct shm_window *
window_create(struct virt_shm *shm, struct wl_transport *transport,
	      struct shm_pool *pool, struct wl_object *buffer, size_t from,
	      size_t to)
{
	struct shm_window *w, *next;
	size_t lo, hi;
	char why[160];

	window_range(shm, pool, from, to, &lo, &hi);
	for (w = pool->windows; w; w = next) {
		next = w->next;
		if (w->buffers == 0 || window_overlaps(w, lo, hi))
			window_release(shm, transport, pool, w);
	}

	w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->base = lo;
	w->len = hi - lo;
	w->blob = shm_blob_create(shm, w->len, why, sizeof why);
	if (w->blob == NULL) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u: host memory for bytes "
		       "%zu-%zu of the pool: %s\n", pool->id, lo, hi, why);
		free(w);
		return NULL;
	}
	w->blob->base = lo;
	w->hidden = shm_pool_own_create(transport, pool->shm_id, w->blob,
					w->len, buffer);
	if (w->hidden == NULL) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u: cannot make a pool for "
		       "host memory (%s)\n", pool->id, strerror(errno));
		shm_blob_unref(w->blob);
		free(w);
		return NULL;
	}
	shm->host.windows++;
	w->next = pool->windows;
	pool->windows = w;
	window_fill(shm, pool, w);
	return w;
}

/* wl_shm_pool.create_buffer in a windowed pool: the buffer goes to the
 * window that holds it, made if need be, with its offset there. A buffer
 * not inside the pool goes as it is (the compositor's pool is one page). */
int
shm_window_buffer(struct virt_shm *shm, struct wl_transport *transport,
		  struct shm_pool *pool, uint32_t *sender_id,
		  union wl_argument *args, struct shm_blob **blob)
{
	size_t from = (size_t) args[1].i;
	size_t to = from + (size_t) args[4].i * (size_t) args[3].i;
	struct shm_window *w;

	*blob = NULL;
	if (to > pool->size || to == from)
		return 0;

	w = shm_window_of(pool, from, to);
	if (w == NULL)
		w = window_create(shm, transport, pool, args[0].o, from, to);
	if (w == NULL) {
		errno = ENOMEM;
		return -1;
	}
	w->buffers++;
	*sender_id = w->hidden->id;
	args[1].i = (int32_t) (from - w->base);
	*blob = w->blob;
	return 0;
}

/* A buffer of the window whose host memory is `blob` is gone. */
void
shm_window_buffer_gone(struct shm_pool *pool, struct shm_blob *blob)
{
	struct shm_window *w;

	for (w = pool->windows; w; w = w->next) {
		if (w->blob == blob && w->buffers > 0) {
			w->buffers--;
			return;
		}
	}
}

/* After a resize the client may map a new view for the new size: the
 * file shows the pool's bytes again until the next commit remaps it. */
void
shm_window_resized(struct virt_shm *shm, struct shm_pool *pool)
{
	struct shm_window *w;

	if (pool->mode == SHM_POOL_COPY)
		return;
	for (w = pool->windows; w; w = w->next)
		shm->host.bytes_moved +=
			shm_file_refill_at(pool->client_fd, w->blob->map,
					   w->base, w->base + w->len);
}

/* Someone wrote to the file under a window (a view made since, a resize):
 * remap again; true when the window is whole again. */
bool
shm_window_remap_again(struct virt_shm *shm, struct shm_pool *pool,
		       struct shm_window *w)
{
	size_t end = w->base + w->len;

	shm->stats->shm_bytes_copied +=
		shm_file_copy_data_at(pool->client_fd, w->blob->map, w->base,
				      w->base, end, true);
	return window_remap(shm, pool, w) &&
	       shm_file_punch_at(pool->client_fd, w->base, end) == 0;
}

/* wl_surface.commit of a buffer in a windowed pool: zero copy when its
 * window still holds it and nothing wrote to the file under it. */
void
shm_window_sync(struct virt_shm *shm, struct shm_buffer *buffer)
{
	struct shm_pool *pool = buffer->pool;
	struct shm_blob *blob = buffer->blob;
	size_t from = buffer->offset, to = from + buffer->bytes;
	struct shm_window *w = shm_window_of(pool, from, to);

	/* A window that took in this buffer's: the client draws there. */
	if (w && w->blob != blob) {
		memcpy((char *) blob->map + (from - blob->base),
		       (char *) w->blob->map + (from - w->base), buffer->bytes);
		shm->stats->shm_bytes_copied += buffer->bytes;
	}
	if (!(w ? shm_file_written(pool->client_fd, from, to, w->base,
				   w->base + w->len) :
		  shm_file_has_data(pool->client_fd, from, to)))
		return;

	/* Someone wrote to the file, not to host memory. */
	if (w && pool->mode == SHM_POOL_ZERO_COPY &&
	    shm_window_remap_again(shm, pool, w)) {
		if (w->blob != blob)
			memcpy((char *) blob->map + (from - blob->base),
			       (char *) w->blob->map + (from - w->base),
			       buffer->bytes);
		return;
	}
	shm_pool_copied(shm, pool, SHM_POOL_MIXED, pool->remap_blocker);
	shm->stats->shm_bytes_copied +=
		shm_file_copy_data_at(pool->client_fd, blob->map, blob->base,
				      from, to, false);
}

/* Another pool of the file: the windows' bytes go back to the file and the
 * views onto it, and the pool copies on commit from now on. */
void
shm_windows_to_file(struct virt_shm *shm, struct shm_pool *pool)
{
	struct shm_window *w;

	for (w = pool->windows; w; w = w->next) {
		if (!w->remapped)
			continue;
		shm->host.bytes_moved +=
			shm_file_refill_at(pool->client_fd, w->blob->map,
					   w->base, w->base + w->len);
		window_views_show_file(pool, w);
		w->remapped = false;
	}
	shm_pool_copied(shm, pool, SHM_POOL_COPY, SHM_COPY_SHARED_FILE);
}

/* The client's pool object and its hidden pools are gone. */
void
shm_windows_pool_destroyed(struct wl_transport *transport,
			   struct shm_pool *pool)
{
	struct shm_window *w;

	for (w = pool->windows; w; w = w->next) {
		if (w->hidden)
			shm_pool_own_destroy(transport, w->hidden);
		w->hidden = NULL;
	}
}

/* The pool's end (or another pool of its file, which then copies): every
 * window's bytes back in the file, every view on the file. */
void
shm_windows_release(struct virt_shm *shm, struct wl_transport *transport,
		    struct shm_pool *pool)
{
	while (pool->windows)
		window_release(shm, transport, pool, pool->windows);
}
