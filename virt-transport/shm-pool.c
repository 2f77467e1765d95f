/*
 * SPDX-License-Identifier: MIT
 * wl_shm pools: created over host memory (shared with a live pool of the
 * same file), the library's own pools behind them, their buffers, and
 * their end when the pool object and its last buffer are gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm-private.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

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
	if (pool->windowed && pool->shm)
		shm_windows_release(pool->shm, NULL, pool);
	shm_blob_unref(pool->target_blob);
	shm_blob_unref(pool->blob);
	close(pool->client_fd);
	free(pool);
}

const char *
shm_copy_reason_name(enum shm_copy_reason why)
{
	static const char *const names[SHM_COPY_REASONS] = {
		[SHM_COPY_NONE] = "none",
		[SHM_COPY_ASKED] = "asked",
		[SHM_COPY_MREMAP] = "mremap",
		[SHM_COPY_PRIVATE_VIEW] = "private-view",
		[SHM_COPY_PARTIAL_VIEW] = "partial-view",
		[SHM_COPY_UNPUNCHABLE] = "unpunchable-file",
		[SHM_COPY_MAPS_UNREADABLE] = "maps-unreadable",
		[SHM_COPY_REMAP_FAILED] = "remap-failed",
		[SHM_COPY_SHARED_FILE] = "shared-file",
		[SHM_COPY_CAPTURE_NO_VIEW] = "capture-no-view",
	};

	return why < SHM_COPY_REASONS && names[why] ? names[why] : "unknown";
}

void
shm_pool_copied(struct virt_shm *shm, struct shm_pool *pool,
		enum shm_pool_mode mode, enum shm_copy_reason why)
{
	if (pool->mode == SHM_POOL_COPY && mode == SHM_POOL_MIXED)
		mode = SHM_POOL_COPY;	/* copied whole already */
	pool->mode = mode;
	if (pool->copied_why != SHM_COPY_NONE)
		return;
	if (why <= SHM_COPY_NONE || why >= SHM_COPY_REASONS)
		why = SHM_COPY_REMAP_FAILED;
	pool->copied_why = why;
	shm->copied_pools[why]++;
	if (shm->debug)
		wl_log("wayland-virtgpu: wl_shm_pool#%u (%zu bytes) is copied "
		       "on commit: %s\n", pool->id, pool->size,
		       shm_copy_reason_name(why));
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
	if (pool->mode != SHM_POOL_ZERO_COPY)
		shm_pool_copied(shm, holder, SHM_POOL_MIXED, pool->copied_why);
}

/* Can the pool's file be a dma-buf at all? A dma-buf's inode has one
 * link (alloc_anon_inode: inode_init_always sets it, nothing clears it)
 * where a memfd, an O_TMPFILE or a deleted file has none, and no file
 * type, or S_IFREG on the kernels that made anonymous inodes regular
 * files (cfd86ef7e8e7, 6.15 and 6.16-rc1, until its revert 1e7ab6f67824
 * in 6.16-rc5 and the stable releases after): S_ISREG alone proves
 * nothing. The usual pool (a memfd) so costs no PRIME import the kernel
 * refuses. */
static bool
pool_fd_may_be_dmabuf(const struct stat *st)
{
	mode_t type = st->st_mode & S_IFMT;

	return st->st_nlink > 0 && (type == 0 || type == S_IFREG);
}

/* A pool whose fd is host memory already (virt_shm_memory_create, a
 * dma-buf of the device) goes as it is, the compositor reads what the
 * client writes. A GUEST blob is left to the request's fd check, which
 * refuses it with its reason. True when the fd is the device's. */
static bool
pool_fd_of_device(struct virt_shm *shm, int fd)
{
	uint32_t bo, res, blob_mem = 0;
	bool host;

	if (virtgpu_prime_import(&shm->cd->dev, fd, &bo) != 0)
		return false;
	host = virtgpu_resource_info(&shm->cd->dev, bo, &res,
				     &blob_mem) == 0 &&
	       blob_mem != VIRTGPU_BLOB_MEM_GUEST;
	virtgpu_gem_close(&shm->cd->dev, bo);
	if (host) {
		shm->stats->shm_pools++;
		shm->stats->zero_copy_pools++;
		shm->stats->shm_host_pools++;
	}
	return true;
}

/* The pool as the request names it. Its fd is the core's own copy of the
 * client's (the client may close its own at once): the pool keeps it once
 * the request has the host memory's fd instead, so it costs no dup and no
 * close. Until then the request holds it (the core closes it if the
 * request fails). */
static void
pool_open(struct shm_pool *pool, struct wl_object *shm_object,
	  union wl_argument *args, const struct stat *st)
{
	pool->id = args[0].o->id;
	pool->shm_id = shm_object->id;
	pool->size = (size_t) args[2].i;
	pool->compositor_size = args[2].i;
	pool->target_id = pool->id;
	pool->refs = 1;
	pool->client_fd = args[1].h;
	pool->dev = st->st_dev;
	pool->ino = st->st_ino;
}

/* A second pool of a file the library holds already (a client that makes
 * a new pool instead of resizing): the client's views show that pool's
 * host memory, not the emptied file, so the new pool shares it, as two
 * pools of one file share its pages. */
static void
pool_share(struct virt_shm *shm, struct shm_pool *pool,
	   struct shm_pool *holder)
{
	pool->blob = shm_blob_ref(holder->blob);
	pool->mode = holder->mode;
	pool->emptied = holder->emptied;
	pool->counted = holder->counted;
	shm->stats->zero_copy_pools += pool->counted;
	/* Views made since go onto the shared memory too. */
	if (pool->mode == SHM_POOL_ZERO_COPY && !shm_remap_pool(shm, pool))
		shm_pool_copied(shm, pool, SHM_POOL_MIXED, pool->remap_blocker);
	else if (pool->mode != SHM_POOL_ZERO_COPY)
		shm_pool_copied(shm, pool, pool->mode, holder->copied_why);
}

/* A large pool gets only a page of host memory for the compositor's pool
 * object; its buffers get windows (shm-window.c). */
static int
pool_take_window_stub(struct virt_shm *shm, struct shm_pool *pool,
		      enum shm_copy_reason copy, char *why, size_t why_size)
{
	pool->windowed = true;
	if (copy != SHM_COPY_NONE)
		shm_pool_copied(shm, pool, SHM_POOL_COPY, copy);
	pool->blob = shm_blob_create(shm, 1, why, why_size);
	return pool->blob ? 0 : -1;
}

static int
pool_settle(struct virt_shm *shm, struct shm_pool *pool, char *why,
	    size_t why_size);

/* Host memory for the pool: a holder's, or new, with the client's views
 * remapped onto it (taken over from a holder needing more) or its bytes
 * copied there once. A file held in windows goes back to the file, and
 * both pools copy (a case no known client makes). */
static int
pool_take_memory(struct virt_shm *shm, struct shm_pool *pool, char *why,
		 size_t why_size)
{
	struct shm_pool *holder = pool_holding(shm, pool);
	enum shm_copy_reason copy =
		shm->copy_only ? shm->copy_only_why : SHM_COPY_NONE;

	/* The holder's views show its host memory from here on. */
	if (holder && pool_settle(shm, holder, why, why_size) < 0)
		return -1;
	if (holder && holder->windowed) {
		shm_windows_to_file(shm, holder);
		holder = NULL;
		copy = SHM_COPY_SHARED_FILE;
	}
	if (holder == NULL && shm_window_wanted(pool->size))
		return pool_take_window_stub(shm, pool, copy, why, why_size);

	if (holder && holder->blob->size >= pool->size) {
		pool_share(shm, pool, holder);
		return 0;
	}

	if (copy == SHM_COPY_NONE && holder == NULL) {
		/* Mapped and remapped when the compositor first reads the
		 * pool: a pool that never gets a commit costs no map of its
		 * host memory (on a real kernel the mmap waits for the
		 * host's MAP_BLOB) and no look at the process's mappings. */
		pool->blob = shm_blob_create_unmapped(shm, pool->size, why,
						      why_size);
		if (pool->blob == NULL)
			return -1;
		pool->mode = SHM_POOL_ZERO_COPY;
		pool->remap_pending = true;
		return 0;
	}

	if (holder)
		shm_remap_hand_over_views(shm, holder);
	pool->blob = shm_blob_create(shm, pool->size, why, why_size);
	if (pool->blob == NULL)
		return -1;
	if (copy == SHM_COPY_NONE && shm_remap_pool(shm, pool)) {
		pool->mode = SHM_POOL_ZERO_COPY;
	} else {
		/* The one copy of what the pool holds now: its data, not its
		 * holes (foot's pools are 512 MiB of mostly holes). */
		shm_pool_copied(shm, pool, SHM_POOL_COPY,
				copy != SHM_COPY_NONE ? copy : pool->remap_blocker);
		shm->stats->shm_bytes_copied +=
			shm_file_copy_data(pool->client_fd, pool->blob->map, 0,
					   pool->size, false);
	}
	if (holder)
		pool_follow(shm, holder, pool);
	return 0;
}

static int
pool_settle(struct virt_shm *shm, struct shm_pool *pool, char *why,
	    size_t why_size)
{
	if (!pool->remap_pending)
		return 0;
	if (shm_blob_map(pool->blob, why, why_size) < 0)
		return -1;
	pool->remap_pending = false;
	if (shm_remap_pool(shm, pool))
		return 0;
	/* As at create_pool: copied on commit, its bytes copied once. */
	shm_pool_copied(shm, pool, SHM_POOL_COPY, pool->remap_blocker);
	shm->stats->shm_bytes_copied +=
		shm_file_copy_data(pool->client_fd, pool->blob->map, 0,
				   pool->size, false);
	return 0;
}

int
shm_pool_settle(struct virt_shm *shm, struct shm_pool *pool)
{
	char why[160] = "";

	if (pool_settle(shm, pool, why, sizeof why) == 0)
		return 0;
	wl_log("wayland-virtgpu: wl_shm_pool#%u of %zu bytes: %s\n", pool->id,
	       pool->size, why);
	errno = ENOMEM;
	return -1;
}

/* The pool is found by its id, and by its file among the live ones. */
static void
pool_link(struct virt_shm *shm, struct shm_pool *pool)
{
	shm_table_insert(shm->pools.table, pool);
	pool->shm = shm;
	pool->live_next = shm->pools.live;
	if (shm->pools.live)
		shm->pools.live->live_prev = pool;
	shm->pools.live = pool;
}

/* wl_shm.create_pool(id, fd, size): host memory for the pool, its bytes
 * copied once, the client's views remapped; the compositor gets the host
 * memory's fd. */
int
shm_pool_create(struct virt_shm *shm, struct wl_object *shm_object,
		union wl_argument *args)
{
	struct shm_pool *pool;
	int32_t size = args[2].i;
	char why[160] = "";
	struct stat st;
	int fd;

	if (size <= 0 || args[0].o == NULL)
		return 0;	/* the compositor answers invalid_stride */
	if (fstat(args[1].h, &st) < 0) {
		wl_log("wayland-virtgpu: wl_shm.create_pool of %d bytes: %s\n",
		       size, strerror(errno));
		errno = ENOMEM;
		return -1;
	}
	if (pool_fd_may_be_dmabuf(&st) && pool_fd_of_device(shm, args[1].h))
		return 0;

	pool = calloc(1, sizeof *pool);
	if (pool == NULL)
		return -1;
	pool_open(pool, shm_object, args, &st);
	if (pool_take_memory(shm, pool, why, sizeof why) < 0)
		goto err;
	pool->target_blob = shm_blob_ref(pool->blob);
	shm->stats->shm_pools++;
	if (pool->windowed) {
		/* The compositor's pool object holds no buffer. */
		args[2].i = (int32_t) pool->blob->size;
		pool->compositor_size = args[2].i;
	}

	/* An fd of the host memory only for the request: a pool kept no
	 * fd of it, so hundreds of pools stay within a process's fd limit. */
	fd = virtgpu_prime_export_named(&shm->cd->dev, pool->blob->bo,
					pool->blob->res,
					VIRTGPU_BLOB_MEM_HOST3D);
	if (fd < 0) {
		snprintf(why, sizeof why, "cannot export host memory (%s)",
			 strerror(errno));
		goto err;
	}
	args[1].h = fd;	/* the pool keeps the client's */
	pool_link(shm, pool);

	return 1;

err:
	if (!why[0])
		snprintf(why, sizeof why, "%s", strerror(errno));
	wl_log("wayland-virtgpu: wl_shm.create_pool of %d bytes: %s\n",
	       size, why);
	shm_blob_unref(pool->target_blob);
	shm_blob_unref(pool->blob);
	free(pool);	/* its fd is still the request's */
	errno = ENOMEM;
	return -1;
}

struct wl_object *
shm_pool_own_create(struct wl_transport *transport, uint32_t shm_id,
		    struct shm_blob *blob, size_t size, struct wl_object *before)
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
	/* It goes out ahead of the hooked request: ahead of the object that
	 * request creates in the compositor's order of ids too. */
	if (before && object->id > before->id && core->swap_ids)
		core->swap_ids(transport->core_data, object, before);

	memset(args, 0, sizeof args);
	args[0].o = object;
	args[1].h = virtgpu_prime_export_named(&blob->cd->dev, blob->bo,
					       blob->res,
					       VIRTGPU_BLOB_MEM_HOST3D);
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
shm_buffer_create(struct virt_shm *shm, struct wl_transport *transport,
		  struct shm_pool *pool, uint32_t *sender_id,
		  union wl_argument *args)
{
	struct shm_buffer *buffer;
	struct shm_blob *blob = pool->target_blob;
	int32_t offset = args[1].i, height = args[3].i, stride = args[4].i;

	*sender_id = pool->target_id;

	/* Let the compositor judge bad geometry; copy only what fits. */
	if (offset < 0 || height <= 0 || stride <= 0 || args[0].o == NULL)
		return 0;

	buffer = calloc(1, sizeof *buffer);
	if (buffer == NULL)
		return -1;
	/* In a windowed pool: none when the buffer is not inside the pool
	 * (it goes to the compositor's one-page pool, which refuses it). */
	if (pool->windowed) {
		int ret = shm_window_buffer(shm, transport, pool, sender_id,
					    args, &blob);

		if (ret < 0 || blob == NULL) {
			free(buffer);
			return ret;
		}
	}

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
	buffer->blob = shm_blob_ref(blob);
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
	if (buffer->pool->windowed)
		shm_window_buffer_gone(buffer->pool, buffer->blob);
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
	if (pool->windowed)
		shm_windows_pool_destroyed(transport, pool);

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
