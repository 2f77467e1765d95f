/*
 * cursor-pool.h: the shared memory a cursor theme's images live in, and the
 * wl_shm_pools the compositor sees it through.
 */
#ifndef CURSOR_POOL_H
#define CURSOR_POOL_H

#include <stddef.h>
#include <stdint.h>

struct wl_shm;
struct wl_buffer;

struct cursor_pool;

struct cursor_pool *
cursor_pool_create(struct wl_shm *shm, size_t size);

void
cursor_pool_destroy(struct cursor_pool *pool);

/*
 * Reserves len bytes, growing the pool (wl_shm_pool.resize) or adding one
 * when needed; returns the offset, or -1. Earlier offsets stay valid,
 * pointers do not.
 */
int64_t
cursor_pool_alloc(struct cursor_pool *pool, size_t len);

/* Where offset is mapped now; valid until the next cursor_pool_alloc. */
void *
cursor_pool_data(struct cursor_pool *pool, int64_t offset);

struct wl_buffer *
cursor_pool_create_buffer(struct cursor_pool *pool, int64_t offset,
			  uint32_t width, uint32_t height);

#endif
