/*
 * SPDX-License-Identifier: MIT
 * Damage accumulated per wl_surface, and at its commit what the compositor
 * reads made to hold what the client drew: nothing to do when zero copy,
 * else the damage of the commits the buffer missed, copied from the file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm-private.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

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
	/* Host memory holds the pool from blob->base on (windows). */
	char *dst = (char *) buffer->blob->map - buffer->blob->base;
	size_t at, len;

	if (box_empty(&r))
		return;
	if (buffer->bpp == 0 || (r.x1 == 0 && r.x2 == buffer->width)) {
		/* Whole rows: one read. */
		at = buffer->offset + (size_t) r.y1 * (size_t) buffer->stride;
		len = (size_t) (r.y2 - r.y1) * (size_t) buffer->stride;
		if (at + len > buffer->offset + buffer->bytes)
			len = buffer->offset + buffer->bytes - at;
		if (shm_file_pread_to_host(fd, dst + at, len, (off_t) at) > 0)
			shm->stats->shm_bytes_copied += len;
		return;
	}
	len = (size_t) (r.x2 - r.x1) * (size_t) buffer->bpp;
	for (int32_t y = r.y1; y < r.y2; y++) {
		at = buffer->offset + (size_t) y * (size_t) buffer->stride +
		     (size_t) r.x1 * (size_t) buffer->bpp;
		if (shm_file_pread_to_host(fd, dst + at, len, (off_t) at) !=
		    (ssize_t) len)
			break;
		shm->stats->shm_bytes_copied += len;
	}
}

/* Make the host memory the compositor reads for this buffer hold what the
 * client drew. Zero copy when the pool is fully remapped and the buffer
 * lives in its current host memory. -1 when its host memory cannot be
 * mapped (after a line). */
static int
buffer_sync(struct virt_shm *shm, struct shm_buffer *buffer,
	    const struct shm_surface *surface)
{
	struct shm_pool *pool = buffer->pool;
	size_t from = buffer->offset, to = buffer->offset + buffer->bytes;
	bool earlier_memory;

	if (to > pool->size || to > buffer->blob->base + buffer->blob->size)
		return 0;	/* the compositor reports the bad buffer */
	if (shm_pool_settle(shm, pool) < 0)
		return -1;

	if (pool->mode == SHM_POOL_COPY) {
		buffer_copy_damage(shm, buffer, surface);
		return 0;
	}
	if (pool->windowed) {
		shm_window_sync(shm, buffer);
		return 0;
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

	if (!shm_file_written(pool->client_fd, from, to, 0, pool->size))
		return 0;

	/* Someone wrote to the file, not to host memory. */
	if (pool->mode == SHM_POOL_ZERO_COPY && shm_remap_pool(shm, pool)) {
		if (earlier_memory)
			memcpy((char *) buffer->blob->map + from,
			       (char *) pool->blob->map + from, buffer->bytes);
		return 0;
	}
	shm_pool_copied(shm, pool, SHM_POOL_MIXED, pool->remap_blocker);
	shm->stats->shm_bytes_copied +=
		shm_file_copy_data(pool->client_fd, buffer->blob->map, from,
				   to, false);
	return 0;
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
static int
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
		return 0;
	surface->attached = surface->damaged = false;

	buffer = shm_buffer_find(shm, surface->buffer);
	return buffer ? buffer_sync(shm, buffer, surface) : 0;
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
		return surface ? surface_commit(shm, surface) : 0;
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
