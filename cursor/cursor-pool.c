/*
 * The cursor theme's shared memory and the wl_shm_pools the compositor sees
 * it through. All memory and wl_shm_pool traffic of libwayland-cursor is in
 * this file.
 *
 * Two kinds of memory:
 * - on our libwayland-client over virtio-gpu, host memory the transport
 *   hands out (wayland_virtgpu_shm_memory_create): the compositor reads
 *   where we write, with no copy and no remapping. It cannot grow, so more
 *   cursors get a further chunk (a pool of its own) instead;
 * - otherwise a sealed memfd in one pool that grows, as upstream does.
 * Offsets name a chunk in their upper 32 bits.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include "cursor-pool.h"

/* wayland-private.h of the client library; looked up at run time so that
 * this library also runs on another libwayland-client. */
typedef int (*host_memory_fn)(struct wl_shm *shm, size_t *size, void **data);

struct pool_chunk {
	struct wl_shm_pool *pool;
	int fd;
	void *data;
	size_t size;	/* bytes mapped and known to the compositor */
	bool host;	/* host memory: cannot grow */
};

struct cursor_pool {
	struct wl_shm *shm;
	host_memory_fn host_memory;	/* NULL: memfds only */
	struct pool_chunk *chunks;
	unsigned int nchunks;
	size_t used;	/* of the last chunk */
};

static size_t
page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

static host_memory_fn
host_memory_lookup(void)
{
	union {
		void *object;
		host_memory_fn fn;
	} sym;

	sym.object = dlsym(RTLD_DEFAULT, "wayland_virtgpu_shm_memory_create");
	return sym.fn;
}

/* Backing memory that cannot shrink under the compositor's mapping. */
static int
memfd_memory_create(size_t size)
{
	int fd;

	fd = memfd_create("wayland-cursor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL);
	return fd;
}

static int
memfd_memory_grow(int fd, size_t size)
{
	int ret;

	/* Fail now, not with SIGBUS later, when tmpfs is full. */
	do {
		ret = posix_fallocate(fd, 0, (off_t)size);
	} while (ret == EINTR);
	if (ret == 0)
		return 0;
	if (ret != EINVAL && ret != EOPNOTSUPP)
		return -1;
	return ftruncate(fd, (off_t)size);
}

/* A new chunk of at least size bytes, host memory when the transport has
 * it (if it has none, or none left, a memfd). */
static int
chunk_add(struct cursor_pool *pool, size_t size)
{
	struct pool_chunk chunk = { .fd = -1 }, *grown;

	size = page_round(size);
	if (size > INT32_MAX)
		return -1;

	if (pool->host_memory) {
		chunk.size = size;
		chunk.fd = pool->host_memory(pool->shm, &chunk.size, &chunk.data);
		if (chunk.fd >= 0 && chunk.size > INT32_MAX) {
			munmap(chunk.data, chunk.size);
			close(chunk.fd);
			chunk.fd = -1;
		}
		chunk.host = chunk.fd >= 0;
		/* A socket has no host memory: ask no more. */
		if (chunk.fd < 0 && errno == ENOTSUP)
			pool->host_memory = NULL;
	}
	if (chunk.fd < 0) {
		chunk.size = size;
		chunk.fd = memfd_memory_create(size);
		if (chunk.fd < 0)
			return -1;
		chunk.data = mmap(NULL, size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, chunk.fd, 0);
		if (chunk.data == MAP_FAILED)
			goto err_close;
	}

	grown = realloc(pool->chunks, (pool->nchunks + 1) * sizeof *grown);
	if (!grown)
		goto err_unmap;
	pool->chunks = grown;
	chunk.pool = wl_shm_create_pool(pool->shm, chunk.fd, (int32_t)chunk.size);
	if (!chunk.pool)
		goto err_unmap;
	pool->chunks[pool->nchunks++] = chunk;
	pool->used = 0;
	return 0;

err_unmap:
	munmap(chunk.data, chunk.size);
err_close:
	close(chunk.fd);
	return -1;
}

struct cursor_pool *
cursor_pool_create(struct wl_shm *shm, size_t size)
{
	struct cursor_pool *pool;

	pool = calloc(1, sizeof *pool);
	if (!pool)
		return NULL;
	pool->shm = shm;
	pool->host_memory = host_memory_lookup();
	if (chunk_add(pool, size ? size : 1) < 0) {
		free(pool);
		return NULL;
	}
	return pool;
}

void
cursor_pool_destroy(struct cursor_pool *pool)
{
	unsigned int i;

	for (i = 0; i < pool->nchunks; i++) {
		wl_shm_pool_destroy(pool->chunks[i].pool);
		munmap(pool->chunks[i].data, pool->chunks[i].size);
		close(pool->chunks[i].fd);
	}
	free(pool->chunks);
	free(pool);
}

/* The last chunk, a memfd, grows to hold need bytes. */
static int
chunk_grow(struct pool_chunk *chunk, size_t need)
{
	size_t size;
	void *data;

	size = chunk->size * 2;
	if (size < need)
		size = need;
	size = page_round(size);
	if (size > INT32_MAX)
		size = page_round(need);
	if (size > INT32_MAX)
		return -1;

	if (memfd_memory_grow(chunk->fd, size) < 0)
		return -1;
	/* A new view rather than mremap: a transport may have put other
	 * memory under the old one, which cannot grow in place. */
	data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, chunk->fd, 0);
	if (data == MAP_FAILED)
		return -1;
	munmap(chunk->data, chunk->size);
	chunk->data = data;
	chunk->size = size;
	wl_shm_pool_resize(chunk->pool, (int32_t)size);
	return 0;
}

int64_t
cursor_pool_alloc(struct cursor_pool *pool, size_t len)
{
	struct pool_chunk *last = &pool->chunks[pool->nchunks - 1];
	size_t offset;

	if (len > INT32_MAX)
		return -1;
	if (pool->used + len > last->size) {
		if (!last->host) {
			if (pool->used + len > INT32_MAX ||
			    chunk_grow(last, pool->used + len) < 0)
				return -1;
		} else {
			size_t want = last->size * 2;

			if (want < len)
				want = len;
			if (want > INT32_MAX)
				want = len;
			if (chunk_add(pool, want) < 0)
				return -1;
			last = &pool->chunks[pool->nchunks - 1];
		}
	}
	offset = pool->used;
	pool->used += len;
	return ((int64_t)(pool->nchunks - 1) << 32) | (int64_t)offset;
}

void *
cursor_pool_data(struct cursor_pool *pool, int64_t offset)
{
	struct pool_chunk *chunk = &pool->chunks[offset >> 32];

	return (char *)chunk->data + (offset & 0xffffffff);
}

struct wl_buffer *
cursor_pool_create_buffer(struct cursor_pool *pool, int64_t offset,
			  uint32_t width, uint32_t height)
{
	struct pool_chunk *chunk = &pool->chunks[offset >> 32];

	return wl_shm_pool_create_buffer(chunk->pool,
					 (int32_t)(offset & 0xffffffff),
					 (int32_t)width, (int32_t)height,
					 (int32_t)(width * 4),
					 WL_SHM_FORMAT_ARGB8888);
}
