/*
 * The cursor theme's shared memory: a sealed memfd mapped here and handed to
 * the compositor as one wl_shm_pool that only ever grows. All memory and
 * wl_shm_pool traffic of libwayland-cursor is in this file, so a transport
 * that backs pools with host memory has exactly one place to hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include "cursor-pool.h"

struct cursor_pool {
	struct wl_shm_pool *pool;
	int fd;
	void *data;
	size_t size;	/* bytes mapped and known to the compositor */
	size_t used;
};

static size_t
page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

/* Backing memory that cannot shrink under the compositor's mapping. */
static int
pool_memory_create(size_t size)
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
pool_memory_grow(int fd, size_t size)
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

struct cursor_pool *
cursor_pool_create(struct wl_shm *shm, size_t size)
{
	struct cursor_pool *pool;

	size = page_round(size ? size : 1);
	if (size > INT32_MAX)
		return NULL;

	pool = calloc(1, sizeof *pool);
	if (!pool)
		return NULL;
	pool->fd = pool_memory_create(size);
	if (pool->fd < 0)
		goto err_free;
	pool->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  pool->fd, 0);
	if (pool->data == MAP_FAILED)
		goto err_close;
	pool->pool = wl_shm_create_pool(shm, pool->fd, (int32_t)size);
	if (!pool->pool)
		goto err_unmap;
	pool->size = size;
	return pool;

err_unmap:
	munmap(pool->data, size);
err_close:
	close(pool->fd);
err_free:
	free(pool);
	return NULL;
}

void
cursor_pool_destroy(struct cursor_pool *pool)
{
	wl_shm_pool_destroy(pool->pool);
	munmap(pool->data, pool->size);
	close(pool->fd);
	free(pool);
}

static int
pool_grow(struct cursor_pool *pool, size_t need)
{
	size_t size;
	void *data;

	size = pool->size * 2;
	if (size < need)
		size = need;
	size = page_round(size);
	if (size > INT32_MAX)
		size = need;
	if (size > INT32_MAX)
		return -1;

	if (pool_memory_grow(pool->fd, size) < 0)
		return -1;
	/* A new view rather than mremap: under the virtio-gpu transport the
	 * old view may be host memory, which cannot grow in place. */
	data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, pool->fd, 0);
	if (data == MAP_FAILED)
		return -1;
	munmap(pool->data, pool->size);
	pool->data = data;
	pool->size = size;
	wl_shm_pool_resize(pool->pool, (int32_t)size);
	return 0;
}

int64_t
cursor_pool_alloc(struct cursor_pool *pool, size_t len)
{
	size_t offset = pool->used;

	if (len > INT32_MAX || pool->used + len > INT32_MAX)
		return -1;
	if (pool->used + len > pool->size &&
	    pool_grow(pool, pool->used + len) < 0)
		return -1;
	pool->used += len;
	return (int64_t)offset;
}

void *
cursor_pool_data(struct cursor_pool *pool, int64_t offset)
{
	return (char *)pool->data + offset;
}

struct wl_buffer *
cursor_pool_create_buffer(struct cursor_pool *pool, int64_t offset,
			  uint32_t width, uint32_t height)
{
	return wl_shm_pool_create_buffer(pool->pool, (int32_t)offset,
					 (int32_t)width, (int32_t)height,
					 (int32_t)(width * 4),
					 WL_SHM_FORMAT_ARGB8888);
}
