/*
 * SPDX-License-Identifier: MIT
 * wl_shm pools over the virtio-gpu transport. A guest memfd cannot reach
 * the host (cross-domain-protocol.md §4.1), so each pool gets host memory
 * (§5.1-5.2: GET_IMAGE_REQUIREMENTS R8, HOST3D blob) that the compositor
 * maps, and the client's pixels are copied into it when a surface commits
 * a buffer of the pool. (Zero copy by remapping is the next step.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm.h"
#include "wayland-private.h"

#define FOURCC_R8 0x20203852u	/* 'R', '8', ' ', ' ' */
#define GRALLOC_LINEAR (1u << 4)
#define GRALLOC_SW_WRITE_OFTEN (1u << 11)

/* Pools get room to grow in place: the compositor only ever grows its
 * mapping of the first fd it received (DESIGN.md). */
#define POOL_HEADROOM_MIN (1u << 20)
#define POOL_HEADROOM_MAX (64u << 20)

#define TABLE_BUCKETS 256

struct shm_pool {
	uint32_t id;
	int client_fd;
	void *client_map;
	size_t size;		/* the client's pool size */
	void *host_map;
	size_t capacity;	/* the host blob's size */
	int refs;		/* the pool object and each buffer */
	struct shm_pool *next;
};

struct shm_buffer {
	uint32_t id;
	struct shm_pool *pool;
	size_t offset;
	size_t bytes;
	struct shm_buffer *next;
};

struct shm_surface {
	uint32_t id;
	uint32_t buffer;	/* attached wl_buffer id, 0 for none */
	bool attached;		/* since the last commit */
	bool damaged;
	struct shm_surface *next;
};

struct virt_shm {
	struct cross_domain *cd;
	struct wl_transport_stats *stats;
	struct shm_pool *pools[TABLE_BUCKETS];
	struct shm_buffer *buffers[TABLE_BUCKETS];
	struct shm_surface *surfaces[TABLE_BUCKETS];
};

/* A lookup in one of the tables, each a hash of singly linked lists
 * keyed by object id (the struct's first field, with `next` after). */
#define TABLE_FIND(table, key, type)					\
	({								\
		type *it_ = (table)[(key) % TABLE_BUCKETS];		\
		while (it_ && it_->id != (key))				\
			it_ = it_->next;				\
		it_;							\
	})

#define TABLE_INSERT(table, item)					\
	do {								\
		(item)->next = (table)[(item)->id % TABLE_BUCKETS];	\
		(table)[(item)->id % TABLE_BUCKETS] = (item);		\
	} while (0)

#define TABLE_REMOVE(table, item, type)					\
	do {								\
		type **p_ = &(table)[(item)->id % TABLE_BUCKETS];	\
		while (*p_ && *p_ != (item))				\
			p_ = &(*p_)->next;				\
		if (*p_)						\
			*p_ = (item)->next;				\
	} while (0)

struct virt_shm *
virt_shm_create(struct cross_domain *cd, struct wl_transport_stats *stats)
{
	struct virt_shm *shm = calloc(1, sizeof *shm);

	if (shm) {
		shm->cd = cd;
		shm->stats = stats;
	}
	return shm;
}

static void
pool_unref(struct virt_shm *shm, struct shm_pool *pool)
{
	if (--pool->refs > 0)
		return;

	if (pool->client_map)
		munmap(pool->client_map, pool->size);
	if (pool->host_map)
		munmap(pool->host_map, pool->capacity);
	close(pool->client_fd);
	free(pool);
}

void
virt_shm_destroy(struct virt_shm *shm)
{
	int i;

	for (i = 0; i < TABLE_BUCKETS; i++) {
		while (shm->buffers[i]) {
			struct shm_buffer *b = shm->buffers[i];

			shm->buffers[i] = b->next;
			pool_unref(shm, b->pool);
			free(b);
		}
		while (shm->pools[i]) {
			struct shm_pool *p = shm->pools[i];

			shm->pools[i] = p->next;
			pool_unref(shm, p);
		}
		while (shm->surfaces[i]) {
			struct shm_surface *s = shm->surfaces[i];

			shm->surfaces[i] = s->next;
			free(s);
		}
	}
	free(shm);
}

static size_t
pool_capacity(size_t size)
{
	size_t headroom = size;

	if (headroom < POOL_HEADROOM_MIN)
		headroom = POOL_HEADROOM_MIN;
	if (headroom > POOL_HEADROOM_MAX)
		headroom = POOL_HEADROOM_MAX;

	return size + headroom;
}

/* Host memory of at least `size` bytes as an R8 image (§5.1). Rows of
 * 4096 bytes rather than one row of `size`: image dimensions on real
 * hosts are bounded (GPU allocators cap them), rows are not as tight. */
static int
host_memory_query(struct cross_domain *cd, size_t size,
		  struct cross_domain_image_requirements *req)
{
	uint32_t width = 4096;
	size_t rows = (size + width - 1) / width;

	if (rows > 65536) {
		width = 16384;
		rows = (size + width - 1) / width;
	}
	if (rows > 65536) {
		errno = E2BIG;
		return -1;
	}

	return cross_domain_image_requirements(cd, width, (uint32_t) rows,
					       FOURCC_R8,
					       GRALLOC_LINEAR |
					       GRALLOC_SW_WRITE_OFTEN, req);
}

/* wl_shm.create_pool(id, fd, size): host memory for the pool; the fd the
 * compositor gets is the host blob's. */
static int
pool_create(struct virt_shm *shm, union wl_argument *args)
{
	struct cross_domain *cd = shm->cd;
	struct cross_domain_image_requirements req;
	struct shm_pool *pool;
	uint32_t bo, id = args[0].o ? args[0].o->id : 0;
	int32_t size = args[2].i;
	int blob_fd;

	if (size <= 0) {
		/* The compositor answers with invalid_stride/size. */
		return 0;
	}

	pool = calloc(1, sizeof *pool);
	if (pool == NULL)
		return -1;
	pool->id = id;
	pool->size = (size_t) size;
	pool->refs = 1;
	pool->client_fd = wl_os_dupfd_cloexec(args[1].h, 0);
	if (pool->client_fd < 0)
		goto err_free;

	pool->client_map = mmap(NULL, pool->size, PROT_READ, MAP_SHARED,
				pool->client_fd, 0);
	if (pool->client_map == MAP_FAILED) {
		pool->client_map = NULL;
		wl_log("wayland-virtgpu: wl_shm.create_pool: cannot map the "
		       "client's pool (%s)\n", strerror(errno));
		goto err_fd;
	}

	if (host_memory_query(cd, pool_capacity(pool->size), &req) < 0 ||
	    req.size < pool->size) {
		wl_log("wayland-virtgpu: wl_shm.create_pool: the host cannot "
		       "allocate %zu bytes (%s)\n", pool_capacity(pool->size),
		       strerror(errno));
		goto err_map;
	}

	if (virtgpu_blob_create(&cd->dev, VIRTGPU_BLOB_MEM_HOST3D,
				VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
				VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
				req.size, req.blob_id, &bo, NULL) < 0) {
		wl_log("wayland-virtgpu: wl_shm.create_pool: host memory of "
		       "%llu bytes refused (%s)\n",
		       (unsigned long long) req.size, strerror(errno));
		goto err_map;
	}
	pool->capacity = (size_t) req.size;
	pool->host_map = virtgpu_blob_map(&cd->dev, bo, pool->capacity);
	blob_fd = virtgpu_prime_export(&cd->dev, bo);
	virtgpu_gem_close(&cd->dev, bo);
	if (pool->host_map == NULL || blob_fd < 0) {
		wl_log("wayland-virtgpu: wl_shm.create_pool: cannot map or "
		       "export host memory (%s)\n", strerror(errno));
		if (blob_fd >= 0)
			close(blob_fd);
		goto err_map;
	}

	/* The one copy of what the pool holds now. */
	memcpy(pool->host_map, pool->client_map, pool->size);
	shm->stats->shm_bytes_copied += pool->size;
	shm->stats->shm_pools++;

	close(args[1].h);
	args[1].h = blob_fd;
	TABLE_INSERT(shm->pools, pool);

	return 1;

err_map:
	if (pool->host_map)
		munmap(pool->host_map, pool->capacity);
	munmap(pool->client_map, pool->size);
err_fd:
	close(pool->client_fd);
err_free:
	free(pool);
	errno = ENOMEM;
	return -1;
}

static int
pool_resize(struct virt_shm *shm, struct shm_pool *pool, int32_t size)
{
	void *map;

	if (size <= 0 || (size_t) size <= pool->size)
		return 0;	/* the compositor refuses shrinking */

	if ((size_t) size > pool->capacity) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u.resize(%d): beyond the "
		       "%zu bytes of host memory the pool has\n", pool->id,
		       size, pool->capacity);
		errno = ENOSPC;
		return -1;
	}

	map = mmap(NULL, (size_t) size, PROT_READ, MAP_SHARED,
		   pool->client_fd, 0);
	if (map == MAP_FAILED) {
		wl_log("wayland-virtgpu: wl_shm_pool#%u.resize(%d): cannot map "
		       "the client's pool (%s)\n", pool->id, size,
		       strerror(errno));
		return -1;
	}
	munmap(pool->client_map, pool->size);
	pool->client_map = map;
	pool->size = (size_t) size;

	return 0;
}

static int
buffer_create(struct virt_shm *shm, struct shm_pool *pool,
	      union wl_argument *args)
{
	struct shm_buffer *buffer;
	int32_t offset = args[1].i, height = args[3].i, stride = args[4].i;

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
	pool->refs++;
	TABLE_INSERT(shm->buffers, buffer);

	return 0;
}

static void
buffer_destroy(struct virt_shm *shm, uint32_t id)
{
	struct shm_buffer *buffer = TABLE_FIND(shm->buffers, id, struct shm_buffer);

	if (buffer == NULL)
		return;

	TABLE_REMOVE(shm->buffers, buffer, struct shm_buffer);
	pool_unref(shm, buffer->pool);
	free(buffer);
}

static struct shm_surface *
surface_get(struct virt_shm *shm, uint32_t id)
{
	struct shm_surface *surface;

	surface = TABLE_FIND(shm->surfaces, id, struct shm_surface);
	if (surface)
		return surface;

	surface = calloc(1, sizeof *surface);
	if (surface) {
		surface->id = id;
		TABLE_INSERT(shm->surfaces, surface);
	}
	return surface;
}

/* The client promised not to touch the buffer until it is released, so
 * what it holds at commit is what the compositor must see. */
static void
surface_commit(struct virt_shm *shm, struct shm_surface *surface)
{
	struct shm_buffer *buffer;
	struct shm_pool *pool;
	size_t end;

	if (!surface->attached && !surface->damaged)
		return;
	surface->attached = surface->damaged = false;

	buffer = TABLE_FIND(shm->buffers, surface->buffer, struct shm_buffer);
	if (buffer == NULL)
		return;

	pool = buffer->pool;
	end = buffer->offset + buffer->bytes;
	if (end > pool->size || end > pool->capacity)
		return;	/* the compositor reports the bad buffer */

	memcpy((char *) pool->host_map + buffer->offset,
	       (char *) pool->client_map + buffer->offset, buffer->bytes);
	shm->stats->shm_bytes_copied += buffer->bytes;
}

int
virt_shm_request(struct virt_shm *shm, const char *interface, uint32_t id,
		 uint32_t opcode, union wl_argument *args)
{
	struct shm_surface *surface;
	struct shm_pool *pool;

	if (strcmp(interface, "wl_shm") == 0) {
		if (opcode == 0)	/* create_pool */
			return pool_create(shm, args);
		return 0;
	}

	if (strcmp(interface, "wl_shm_pool") == 0) {
		pool = TABLE_FIND(shm->pools, id, struct shm_pool);
		if (pool == NULL)
			return 0;
		switch (opcode) {
		case 0:		/* create_buffer */
			return buffer_create(shm, pool, args);
		case 1:		/* destroy */
			TABLE_REMOVE(shm->pools, pool, struct shm_pool);
			pool_unref(shm, pool);
			return 0;
		case 2:		/* resize */
			return pool_resize(shm, pool, args[0].i);
		}
		return 0;
	}

	if (strcmp(interface, "wl_buffer") == 0) {
		if (opcode == 0)	/* destroy */
			buffer_destroy(shm, id);
		return 0;
	}

	if (strcmp(interface, "wl_surface") == 0) {
		switch (opcode) {
		case 0:		/* destroy */
			surface = TABLE_FIND(shm->surfaces, id,
					     struct shm_surface);
			if (surface) {
				TABLE_REMOVE(shm->surfaces, surface,
					     struct shm_surface);
				free(surface);
			}
			return 0;
		case 1:		/* attach(buffer, x, y) */
			surface = surface_get(shm, id);
			if (surface) {
				surface->buffer = args[0].o ? args[0].o->id : 0;
				surface->attached = true;
			}
			return 0;
		case 2:		/* damage */
		case 9:		/* damage_buffer */
			surface = surface_get(shm, id);
			if (surface)
				surface->damaged = true;
			return 0;
		case 6:		/* commit */
			surface = TABLE_FIND(shm->surfaces, id,
					     struct shm_surface);
			if (surface)
				surface_commit(shm, surface);
			return 0;
		}
	}

	return 0;
}
