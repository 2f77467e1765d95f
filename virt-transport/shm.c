/*
 * SPDX-License-Identifier: MIT
 * wl_shm pools over the virtio-gpu transport, with zero copy for
 * unmodified clients (DESIGN.md, "wl_shm with zero copy").
 *
 * A guest memfd cannot reach the host (cross-domain-protocol.md §4.1), so
 * each pool gets host memory (§5.1-5.2) that the compositor maps. At
 * create_pool the pool's bytes are copied there once and the client's own
 * shared mappings of its fd are replaced, at the same addresses, by
 * mappings of the host memory: from then on the client draws where the
 * compositor reads. The client's fd is then emptied (holes punched), which
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
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
virt_shm_create(struct cross_domain *cd, struct wl_transport_stats *stats)
{
	struct virt_shm *shm = calloc(1, sizeof *shm);

	if (shm) {
		const char *mode = getenv("WAYLAND_VIRTGPU_SHM");

		shm->cd = cd;
		shm->stats = stats;
		/* For clients that grow pool mappings with mremap(), which
		 * host memory mappings do not allow (README.md). */
		shm->copy_only = mode && strcmp(mode, "copy") == 0;
	}
	return shm;
}

static void
pool_unref(struct shm_pool *pool)
{
	if (--pool->refs > 0)
		return;

	if (pool->live_prev)
		pool->live_prev->live_next = pool->live_next;
	else if (pool->shm)
		pool->shm->pools.live = pool->live_next;
	if (pool->live_next)
		pool->live_next->live_prev = pool->live_prev;
	shm_blob_unref(pool->target_blob);
	shm_blob_unref(pool->blob);
	close(pool->client_fd);
	free(pool);
}

/* The live pool that holds `pool`'s file in host memory, if any: the
 * newest one, whose memory the client's views show. */
static struct shm_pool *
pool_holding(struct virt_shm *shm, const struct shm_pool *pool)
{
	struct shm_pool *p;

	if (shm->copy_only)
		return NULL;
	for (p = shm->pools.live; p; p = p->live_next) {
		if (p->dev == pool->dev && p->ino == pool->ino &&
		    p->mode != SHM_POOL_COPY)
			return p;
	}
	return NULL;
}

/* The holder's buffers come from the new pool's memory from now on, as
 * a moved pool's do from its new memory. */
static void
pool_follow(struct virt_shm *shm, struct shm_pool *holder,
	    struct shm_pool *pool)
{
	shm_remap_blob_left(shm, holder->blob, false);
	shm_blob_unref(holder->blob);	/* its buffers keep it */
	holder->blob = shm_blob_ref(pool->blob);
	holder->emptied = pool->emptied;
	holder->mode = pool->mode == SHM_POOL_ZERO_COPY ? SHM_POOL_ZERO_COPY :
							  SHM_POOL_MIXED;
}

/* wl_shm.create_pool(id, fd, size): host memory for the pool, its bytes
 * copied once, the client's views remapped; the compositor gets the host
 * memory's fd. */
int
shm_pool_create(struct virt_shm *shm, struct wl_object *shm_object,
		union wl_argument *args)
{
	struct shm_pool *pool, *holder;
	struct stat st;
	int32_t size = args[2].i;
	char why[160] = "";
	uint32_t bo;
	int fd;

	if (size <= 0 || args[0].o == NULL)
		return 0;	/* the compositor answers invalid_stride */

	/* Host memory already (virt_shm_memory_create, a dma-buf of the
	 * device): it goes as it is, the compositor reads what the client
	 * writes. A GUEST blob is left to the request's fd check, which
	 * refuses it with its reason. */
	if (virtgpu_prime_import(&shm->cd->dev, args[1].h, &bo) == 0) {
		uint32_t res, blob_mem = 0;
		bool host = virtgpu_resource_info(&shm->cd->dev, bo, &res,
						  &blob_mem) == 0 &&
			    blob_mem != VIRTGPU_BLOB_MEM_GUEST;

		virtgpu_gem_close(&shm->cd->dev, bo);
		if (host) {
			shm->stats->shm_pools++;
			shm->stats->zero_copy_pools++;
			shm->stats->shm_host_pools++;
		}
		return 0;
	}

	pool = calloc(1, sizeof *pool);
	if (pool == NULL)
		return -1;
	pool->id = args[0].o->id;
	pool->shm_id = shm_object->id;
	pool->size = (size_t) size;
	pool->compositor_size = size;
	pool->target_id = pool->id;
	pool->refs = 1;
	pool->client_fd = wl_os_dupfd_cloexec(args[1].h, 0);
	if (pool->client_fd < 0 || fstat(pool->client_fd, &st) < 0)
		goto err;
	pool->dev = st.st_dev;
	pool->ino = st.st_ino;

	/* A second pool of a file the library holds already (a client that
	 * makes a new pool instead of resizing): the client's views show
	 * that pool's host memory, not the emptied file, so the new pool
	 * shares it, as two pools of one file share its pages, or, needing
	 * more, takes the views over. */
	holder = pool_holding(shm, pool);
	if (holder && holder->blob->size >= pool->size) {
		pool->blob = shm_blob_ref(holder->blob);
		pool->mode = holder->mode;
		pool->emptied = holder->emptied;
		pool->counted = holder->counted;
		shm->stats->zero_copy_pools += pool->counted;
		/* Views made since go onto the shared memory too. */
		if (pool->mode == SHM_POOL_ZERO_COPY &&
		    !shm_remap_pool(shm, pool))
			pool->mode = SHM_POOL_MIXED;
	} else {
		if (holder)
			shm_remap_hand_over_views(shm, holder);
		pool->blob = shm_blob_create(shm->cd, pool->size, why,
					     sizeof why);
		if (pool->blob == NULL)
			goto err;
		if (!shm->copy_only && shm_remap_pool(shm, pool)) {
			pool->mode = SHM_POOL_ZERO_COPY;
		} else {
			/* The one copy of what the pool holds now: its data,
			 * not its holes (foot's pools are 512 MiB of mostly
			 * holes). */
			pool->mode = SHM_POOL_COPY;
			shm->stats->shm_bytes_copied +=
				shm_file_copy_data(pool->client_fd,
						   pool->blob->map, 0,
						   pool->size, false);
		}
		if (holder)
			pool_follow(shm, holder, pool);
	}
	pool->target_blob = shm_blob_ref(pool->blob);
	shm->stats->shm_pools++;

	/* An fd of the host memory only for the request: a pool kept no
	 * fd of it, so hundreds of pools stay within a process's fd limit. */
	fd = virtgpu_prime_export(&shm->cd->dev, pool->blob->bo);
	if (fd < 0) {
		snprintf(why, sizeof why, "cannot export host memory (%s)",
			 strerror(errno));
		goto err;
	}
	close(args[1].h);
	args[1].h = fd;
	shm_table_insert(shm->pools.table, pool);
	pool->shm = shm;
	pool->live_next = shm->pools.live;
	if (shm->pools.live)
		shm->pools.live->live_prev = pool;
	shm->pools.live = pool;

	return 1;

err:
	if (!why[0])
		snprintf(why, sizeof why, "%s", strerror(errno));
	wl_log("wayland-virtgpu: wl_shm.create_pool of %d bytes: %s\n",
	       size, why);
	shm_blob_unref(pool->target_blob);
	shm_blob_unref(pool->blob);
	if (pool->client_fd >= 0)
		close(pool->client_fd);
	free(pool);
	errno = ENOMEM;
	return -1;
}

struct wl_object *
shm_pool_own_create(struct wl_transport *transport, uint32_t shm_id,
		    struct shm_blob *blob, size_t size)
{
	const struct wl_transport_core *core = transport->core;
	union wl_argument args[3];
	struct wl_object *object;

	object = core->create_object(transport->core_data, shm_id,
				     &wl_shm_pool_interface, 1);
	if (object == NULL) {
		errno = EINVAL;
		return NULL;
	}

	memset(args, 0, sizeof args);
	args[0].o = object;
	args[1].h = virtgpu_prime_export(&blob->cd->dev, blob->bo);
	args[2].i = (int32_t) size;
	if (args[1].h < 0 ||
	    core->queue_request(transport->core_data, shm_id,
				WL_SHM_CREATE_POOL, args) < 0) {
		if (args[1].h >= 0)
			close(args[1].h);
		core->destroy_object(transport->core_data, object);
		return NULL;
	}
	close(args[1].h);	/* the request holds its own copy */

	return object;
}

void
shm_pool_own_destroy(struct wl_transport *transport, struct wl_object *object)
{
	const struct wl_transport_core *core = transport->core;
	union wl_argument none[1];

	/* Buffers made from it keep their memory on the compositor side. */
	core->queue_request(transport->core_data, object->id,
			    WL_SHM_POOL_DESTROY, none);
	core->destroy_object(transport->core_data, object);
}

/* Bytes per pixel of the wl_shm formats clients use; 0 for the others,
 * whose buffers are copied whole. */
static int
format_bpp(uint32_t format)
{
	switch (format) {
	case WL_SHM_FORMAT_ARGB8888:
	case WL_SHM_FORMAT_XRGB8888:
	case WL_SHM_FORMAT_ABGR8888:
	case WL_SHM_FORMAT_XBGR8888:
	case WL_SHM_FORMAT_RGBA8888:
	case WL_SHM_FORMAT_RGBX8888:
	case WL_SHM_FORMAT_BGRA8888:
	case WL_SHM_FORMAT_BGRX8888:
	case WL_SHM_FORMAT_ARGB2101010:
	case WL_SHM_FORMAT_XRGB2101010:
	case WL_SHM_FORMAT_ABGR2101010:
	case WL_SHM_FORMAT_XBGR2101010:
		return 4;
	case WL_SHM_FORMAT_RGB888:
	case WL_SHM_FORMAT_BGR888:
		return 3;
	case WL_SHM_FORMAT_RGB565:
	case WL_SHM_FORMAT_BGR565:
		return 2;
	case WL_SHM_FORMAT_C8:
	case WL_SHM_FORMAT_R8:
		return 1;
	}
	return 0;
}

int
shm_buffer_create(struct virt_shm *shm, struct shm_pool *pool,
		  uint32_t *sender_id, union wl_argument *args)
{
	struct shm_buffer *buffer;
	int32_t offset = args[1].i, height = args[3].i, stride = args[4].i;

	*sender_id = pool->target_id;

	/* Let the compositor judge bad geometry; copy only what fits. */
	if (offset < 0 || height <= 0 || stride <= 0 || args[0].o == NULL)
		return 0;

	buffer = calloc(1, sizeof *buffer);
	if (buffer == NULL)
		return -1;

	buffer->id = args[0].o->id;
	buffer->pool = pool;
	buffer->offset = (size_t) offset;
	buffer->bytes = (size_t) stride * (size_t) height;
	buffer->width = args[2].i;
	buffer->height = height;
	buffer->stride = stride;
	buffer->bpp = format_bpp(args[5].u);
	if (buffer->width <= 0 ||
	    (int64_t) buffer->width * buffer->bpp > (int64_t) stride)
		buffer->bpp = 0;	/* rows as the compositor will judge */
	buffer->blob = shm_blob_ref(pool->target_blob);
	pool->refs++;
	shm_table_insert(shm->pools.buffers, buffer);

	return 0;
}

struct shm_buffer *
shm_buffer_find(struct virt_shm *shm, uint32_t id)
{
	return shm_table_find(shm->pools.buffers, id);
}

void
shm_buffer_destroy(struct virt_shm *shm, uint32_t id)
{
	struct shm_buffer *buffer = shm_buffer_find(shm, id);

	if (buffer == NULL)
		return;

	shm_table_remove(shm->pools.buffers, buffer);
	shm_blob_unref(buffer->blob);
	pool_unref(buffer->pool);
	free(buffer);
}

struct shm_pool *
shm_pool_find(struct virt_shm *shm, uint32_t id)
{
	return shm_table_find(shm->pools.table, id);
}

void
shm_pool_destroy(struct virt_shm *shm, struct wl_transport *transport,
		 struct shm_pool *pool)
{
	/* The library's own pool goes with the client's. */
	if (pool->hidden)
		shm_pool_own_destroy(transport, pool->hidden);
	pool->hidden = NULL;

	shm_table_remove(shm->pools.table, pool);
	pool_unref(pool);
}

void
shm_pools_fini(struct virt_shm *shm)
{
	int i;

	for (i = 0; i < SHM_TABLE_BUCKETS; i++) {
		while (shm->pools.buffers[i]) {
			struct shm_buffer *b = shm->pools.buffers[i];

			shm->pools.buffers[i] = b->next;
			shm_blob_unref(b->blob);
			pool_unref(b->pool);
			free(b);
		}
		while (shm->pools.table[i]) {
			struct shm_pool *p = shm->pools.table[i];

			shm->pools.table[i] = p->next;
			pool_unref(p);
		}
	}
}

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

	blob = shm_blob_create(shm->cd, size, why, sizeof why);
	if (blob == NULL) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u.resize(%zu): %s\n",
		       pool->id, size, why);
		return -1;
	}

	hidden = shm_pool_own_create(transport, pool->shm_id, blob, size);
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
			pool->mode = SHM_POOL_MIXED;
	}

	return 0;
}

/* A rectangle [x1, x2) x [y1, y2); empty when x1 >= x2 or y1 >= y2. */
struct shm_box {
	int32_t x1, y1, x2, y2;
};

/* Commits of a surface whose damage is remembered, for buffers copied on
 * commit: a buffer attached again after at most this many commits gets
 * the union of their damage copied, one after more gets all of it. */
#define DAMAGE_HISTORY 8

/* What the library follows of a wl_surface to know its damage. */
struct shm_surface {
	uint32_t id;
	struct shm_surface *next;
	uint64_t serial;	/* tells surfaces apart across reused ids */
	uint32_t buffer;	/* attached wl_buffer id, 0 for none */
	bool attached;		/* since the last commit */
	bool damaged;
	/* Damage since the last commit, and the state it is read in. */
	struct shm_box damage;		/* surface coordinates */
	struct shm_box damage_buffer;	/* buffer coordinates */
	int32_t scale, transform;
	bool viewport;		/* wp_viewporter maps it: scale unknown */
	/* Damage of the last commits, in buffer coordinates. */
	uint32_t commits;
	struct shm_box history[DAMAGE_HISTORY];
};

static const struct shm_box box_everything = { 0, 0, INT32_MAX, INT32_MAX };

static bool
box_empty(const struct shm_box *b)
{
	return b->x1 >= b->x2 || b->y1 >= b->y2;
}

static void
box_union(struct shm_box *a, const struct shm_box *b)
{
	if (box_empty(b))
		return;
	if (box_empty(a)) {
		*a = *b;
		return;
	}
	a->x1 = b->x1 < a->x1 ? b->x1 : a->x1;
	a->y1 = b->y1 < a->y1 ? b->y1 : a->y1;
	a->x2 = b->x2 > a->x2 ? b->x2 : a->x2;
	a->y2 = b->y2 > a->y2 ? b->y2 : a->y2;
}

static int32_t
clamp32(int64_t v)
{
	return v < INT32_MIN ? INT32_MIN :
	       v > INT32_MAX ? INT32_MAX : (int32_t) v;
}

/* Adds the rectangle (x, y, w, h), scaled by `scale`, to `b`. */
static void
box_add(struct shm_box *b, int32_t x, int32_t y, int32_t w, int32_t h,
	int32_t scale)
{
	struct shm_box r;

	if (w <= 0 || h <= 0)
		return;
	r.x1 = clamp32((int64_t) x * scale);
	r.y1 = clamp32((int64_t) y * scale);
	r.x2 = clamp32(((int64_t) x + w) * scale);
	r.y2 = clamp32(((int64_t) y + h) * scale);
	box_union(b, &r);
}

/* What of a buffer copied on commit must be copied now: the damage of every
 * commit of this surface since the buffer was last copied for it (the
 * client drew the frames between into other buffers, and brings this one
 * up to date within their damage), or all of it. */
static struct shm_box
buffer_damage(struct shm_buffer *buffer, const struct shm_surface *surface)
{
	struct shm_box region = { 0, 0, 0, 0 };
	uint32_t c;

	if (surface == NULL || buffer->bpp == 0 ||
	    buffer->synced_surface != surface->serial ||
	    surface->commits - buffer->synced_commit > DAMAGE_HISTORY) {
		region = box_everything;
	} else {
		for (c = buffer->synced_commit + 1; c != surface->commits + 1; c++)
			box_union(&region, &surface->history[c % DAMAGE_HISTORY]);
	}
	if (surface) {
		buffer->synced_surface = surface->serial;
		buffer->synced_commit = surface->commits;
	}

	region.x1 = region.x1 < 0 ? 0 : region.x1;
	region.y1 = region.y1 < 0 ? 0 : region.y1;
	region.x2 = region.x2 > buffer->width ? buffer->width : region.x2;
	region.y2 = region.y2 > buffer->height ? buffer->height : region.y2;
	return region;
}

/* Copies the damaged rows of a buffer from the client's file. */
static void
buffer_copy_damage(struct virt_shm *shm, struct shm_buffer *buffer,
		   const struct shm_surface *surface)
{
	struct shm_box r = buffer_damage(buffer, surface);
	int fd = buffer->pool->client_fd;
	char *dst = buffer->blob->map;
	size_t at, len;

	if (box_empty(&r))
		return;
	if (buffer->bpp == 0 || (r.x1 == 0 && r.x2 == buffer->width)) {
		/* Whole rows: one read. */
		at = buffer->offset + (size_t) r.y1 * (size_t) buffer->stride;
		len = (size_t) (r.y2 - r.y1) * (size_t) buffer->stride;
		if (at + len > buffer->offset + buffer->bytes)
			len = buffer->offset + buffer->bytes - at;
		if (pread(fd, dst + at, len, (off_t) at) > 0)
			shm->stats->shm_bytes_copied += len;
		return;
	}
	len = (size_t) (r.x2 - r.x1) * (size_t) buffer->bpp;
	for (int32_t y = r.y1; y < r.y2; y++) {
		at = buffer->offset + (size_t) y * (size_t) buffer->stride +
		     (size_t) r.x1 * (size_t) buffer->bpp;
		if (pread(fd, dst + at, len, (off_t) at) != (ssize_t) len)
			break;
		shm->stats->shm_bytes_copied += len;
	}
}

/* Make the host memory the compositor reads for this buffer hold what the
 * client drew. Zero copy when the pool is fully remapped and the buffer
 * lives in its current host memory. */
static void
buffer_sync(struct virt_shm *shm, struct shm_buffer *buffer,
	    const struct shm_surface *surface)
{
	struct shm_pool *pool = buffer->pool;
	size_t from = buffer->offset, to = buffer->offset + buffer->bytes;
	bool earlier_memory;

	if (to > pool->size || to > buffer->blob->size)
		return;	/* the compositor reports the bad buffer */

	if (pool->mode == SHM_POOL_COPY) {
		buffer_copy_damage(shm, buffer, surface);
		return;
	}

	/* A buffer of earlier host memory that the client no longer draws
	 * into: it draws into the current one. */
	earlier_memory = buffer->blob != pool->blob &&
			 !shm_remap_client_draws_in(shm, buffer->blob);
	if (earlier_memory) {
		memcpy((char *) buffer->blob->map + from,
		       (char *) pool->blob->map + from, buffer->bytes);
		shm->stats->shm_bytes_copied += buffer->bytes;
	}

	if (!shm_file_has_data(pool->client_fd, from, to))
		return;

	/* Someone wrote to the file, not to host memory. */
	if (pool->mode == SHM_POOL_ZERO_COPY && shm_remap_pool(shm, pool)) {
		if (earlier_memory)
			memcpy((char *) buffer->blob->map + from,
			       (char *) pool->blob->map + from, buffer->bytes);
		return;
	}
	pool->mode = SHM_POOL_MIXED;
	shm->stats->shm_bytes_copied +=
		shm_file_copy_data(pool->client_fd, buffer->blob->map, from,
				   to, false);
}

static struct shm_surface *
surface_get(struct virt_shm *shm, uint32_t id)
{
	struct shm_surface *surface = shm_table_find(shm->surfaces.table, id);

	if (surface)
		return surface;

	surface = calloc(1, sizeof *surface);
	if (surface) {
		surface->id = id;
		surface->serial = ++shm->surfaces.serial;
		surface->scale = 1;
		surface->transform = WL_OUTPUT_TRANSFORM_NORMAL;
		shm_table_insert(shm->surfaces.table, surface);
	}
	return surface;
}

/* The client promised not to touch the buffer until it is released, so
 * what it holds at commit is what the compositor must see. */
static void
surface_commit(struct virt_shm *shm, struct shm_surface *surface)
{
	struct shm_buffer *buffer;
	struct shm_box box = surface->damage_buffer;

	/* This commit's damage in buffer coordinates: surface damage only
	 * where the library knows how the surface maps to the buffer. */
	if (!box_empty(&surface->damage)) {
		if (surface->viewport || surface->scale < 1 ||
		    surface->transform != WL_OUTPUT_TRANSFORM_NORMAL)
			box = box_everything;
		else
			box_add(&box, surface->damage.x1, surface->damage.y1,
				surface->damage.x2 - surface->damage.x1,
				surface->damage.y2 - surface->damage.y1,
				surface->scale);
	}
	surface->commits++;
	surface->history[surface->commits % DAMAGE_HISTORY] = box;
	surface->damage = surface->damage_buffer =
		(struct shm_box) { 0, 0, 0, 0 };

	if (!surface->attached && !surface->damaged)
		return;
	surface->attached = surface->damaged = false;

	buffer = shm_buffer_find(shm, surface->buffer);
	if (buffer)
		buffer_sync(shm, buffer, surface);
}

void
shm_damage_viewport(struct virt_shm *shm, uint32_t surface_id)
{
	struct shm_surface *surface = surface_get(shm, surface_id);

	if (surface)
		surface->viewport = true;
}

int
shm_damage_surface_request(struct virt_shm *shm, uint32_t surface_id,
			   uint32_t opcode, union wl_argument *args)
{
	struct shm_surface *surface;

	switch (opcode) {
	case WL_SURFACE_DESTROY:
		surface = shm_table_find(shm->surfaces.table, surface_id);
		if (surface) {
			shm_table_remove(shm->surfaces.table, surface);
			free(surface);
		}
		return 0;
	case WL_SURFACE_ATTACH:
		surface = surface_get(shm, surface_id);
		if (surface) {
			surface->buffer = args[0].o ? args[0].o->id : 0;
			surface->attached = true;
		}
		return 0;
	case WL_SURFACE_DAMAGE:
	case WL_SURFACE_DAMAGE_BUFFER:
		surface = surface_get(shm, surface_id);
		if (surface == NULL)
			return 0;
		surface->damaged = true;
		box_add(opcode == WL_SURFACE_DAMAGE ? &surface->damage :
			&surface->damage_buffer, args[0].i, args[1].i,
			args[2].i, args[3].i, 1);
		return 0;
	case WL_SURFACE_SET_BUFFER_SCALE:
	case WL_SURFACE_SET_BUFFER_TRANSFORM:
		/* Read with the damage they are committed with. */
		surface = surface_get(shm, surface_id);
		if (surface && opcode == WL_SURFACE_SET_BUFFER_SCALE)
			surface->scale = args[0].i;
		else if (surface)
			surface->transform = args[0].i;
		return 0;
	case WL_SURFACE_COMMIT:
		surface = shm_table_find(shm->surfaces.table, surface_id);
		if (surface)
			surface_commit(shm, surface);
		return 0;
	}
	return 0;
}

void
shm_damage_fini(struct virt_shm *shm)
{
	int i;

	for (i = 0; i < SHM_TABLE_BUCKETS; i++) {
		while (shm->surfaces.table[i]) {
			struct shm_surface *s = shm->surfaces.table[i];

			shm->surfaces.table[i] = s->next;
			free(s);
		}
	}
}

/* Requests go to the part that follows them: pools and buffers to
 * shm-pool.c (a resize to shm-resize.c), surfaces to shm-damage.c. */
int
virt_shm_request(struct virt_shm *shm, struct wl_transport *transport,
		 struct wl_object *target, uint32_t *sender_id,
		 uint32_t opcode, union wl_argument *args)
{
	const char *interface = target->interface->name;
	struct shm_pool *pool;

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
			return shm_buffer_create(shm, pool, sender_id, args);
		case WL_SHM_POOL_DESTROY:
			shm_pool_destroy(shm, transport, pool);
			return 0;
		case WL_SHM_POOL_RESIZE:
			return shm_resize(shm, transport, pool, args);
		}
		return 0;
	}

	if (strcmp(interface, "wl_buffer") == 0) {
		if (opcode == WL_BUFFER_DESTROY)
			shm_buffer_destroy(shm, target->id);
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

	return 0;
}

/* The interfaces whose requests virt_shm_request looks at. */
bool
virt_shm_hooks(const char *interface)
{
	static const char *const names[] = {
		"wl_shm", "wl_shm_pool", "wl_buffer", "wp_viewporter", "wl_surface",
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(interface, names[i]) == 0)
			return true;
	}
	return false;
}

void
virt_shm_destroy(struct virt_shm *shm)
{
	shm_pools_fini(shm);
	shm_damage_fini(shm);
	free(shm);
}
