/*
 * Resources of the rutabaga_gfx_ffi library, kept in the host core's registry under the ids
 * the VMM chose: GUEST blobs over the guest memory QEMU lends (a ring: the host writes only
 * its first iovec, §2), HOST3D blobs made by a cross-domain context from one of its items
 * (§4.2, §5.1), mapped for QEMU to put in the guest's host-visible region; 2D resources
 * (rutabaga-2d.c) share the registry, so ids are one space and unref is one call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rutabaga-private.h"

#ifndef F_SEAL_WRITE
#define F_SEAL_WRITE 0x0008
#endif

void
rtb_resources_destroy(struct rutabaga *rtb)
{
	/* Contexts are gone: what QEMU still references goes with the instance. */
	for (uint32_t id = 1; id != 0; id++) {
		struct host_resource *res = host_resource_lookup(id);

		if (res) {
			rtb_2d_release(res);
			res->vmm_held = false;
			host_resource_maybe_free(res);
		}
		if (id == 1u << 20)
			break;	/* QEMU's ids are small; bound the walk */
	}
}

/* rutabaga derives the access from the fd: read-only if opened so or sealed for writing. */
static uint32_t
rtb_map_access(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	int seals = fcntl(fd, F_GET_SEALS);

	if ((flags >= 0 && (flags & O_ACCMODE) == O_RDONLY) || (seals > 0 && seals & F_SEAL_WRITE))
		return RUTABAGA_MAP_ACCESS_READ;
	return RUTABAGA_MAP_ACCESS_RW;
}

static int
rtb_create_host3d(struct rutabaga *rtb, struct rtb_context *ctx, uint32_t resource_id,
		  const struct rutabaga_create_blob *create)
{
	struct host_resource *res;
	bool dmabuf = false;
	int fd;

	if (host_resource_lookup(resource_id))
		return -EINVAL;
	fd = cd_context_create_blob(ctx->file->ctx, create->blob_id, create->size, &dmabuf);
	if (fd < 0)
		return -EINVAL;
	res = host_resource_create_id(resource_id, HOST_RES_HOST3D, fd, create->size);
	if (!res) {
		close(fd);
		return -ENOMEM;
	}
	res->vmm_held = true;
	res->blob_mem = create->blob_mem;
	res->blob_flags = create->blob_flags;
	res->dmabuf = dmabuf;
	res->map_info = RUTABAGA_MAP_CACHE_CACHED | rtb_map_access(fd);
	host_stats.blobs++;
	return 0;
}

/* A GUEST blob (ctx 0): the guest's pages as QEMU mapped them. */
static int
rtb_create_guest(uint32_t resource_id, const struct rutabaga_create_blob *create,
		 const struct rutabaga_iovecs *iovecs)
{
	struct host_resource *res;

	if (create->blob_mem != RUTABAGA_BLOB_MEM_GUEST || !iovecs || iovecs->num_iovecs == 0 ||
	    !iovecs->iovecs[0].iov_base)
		return -EINVAL;
	res = host_resource_create_id(resource_id, HOST_RES_GUEST, -1,
				      iovecs->iovecs[0].iov_len);
	if (!res)
		return -EINVAL;
	res->map = iovecs->iovecs[0].iov_base;
	res->map_borrowed = true;
	res->vmm_held = true;
	res->blob_mem = create->blob_mem;
	res->blob_flags = create->blob_flags;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_resource_create_blob(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id,
			      const struct rutabaga_create_blob *create,
			      const struct rutabaga_iovecs *iovecs,
			      const struct rutabaga_handle *handle)
{
	struct rtb_context *ctx;
	int ret;

	if (!rtb || !create || resource_id == 0)
		return -EINVAL;
	if (handle) {
		/* Imports are not part of cross-domain; the fd is ours to close. */
		if (handle->os_handle >= 0)
			close((int)handle->os_handle);
		return -EINVAL;
	}
	pthread_mutex_lock(&rtb->lock);
	/* rutabaga: a blob of a cross-domain context is the context's; any other is guest
	 * memory. */
	ctx = ctx_id ? rtb_context_find(rtb, ctx_id) : NULL;
	if (ctx_id && !ctx)
		ret = -EINVAL;
	else if (ctx)
		ret = rtb_create_host3d(rtb, ctx, resource_id, create);
	else
		ret = rtb_create_guest(resource_id, create, iovecs);
	pthread_mutex_unlock(&rtb->lock);
	return ret;
}

RTB_EXPORT int32_t
rutabaga_resource_unref(struct rutabaga *rtb, uint32_t resource_id)
{
	struct host_resource *res;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	res = host_resource_lookup(resource_id);
	if (res && res->vmm_held) {
		res->vmm_held = false;
		rtb_2d_release(res);
		/* QEMU frees a GUEST blob's pages now: a context must not write them again. */
		if (res->map_borrowed) {
			res->map = NULL;
			res->size = 0;
		}
		host_resource_maybe_free(res);
	}
	pthread_mutex_unlock(&rtb->lock);
	return res ? 0 : -EINVAL;
}

RTB_EXPORT int32_t
rutabaga_resource_export_blob(struct rutabaga *rtb, uint32_t resource_id,
			      struct rutabaga_handle *handle)
{
	struct host_resource *res;
	int fd = -1;

	if (!rtb || !handle)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	res = host_resource_lookup(resource_id);
	if (res && res->fd >= 0) {
		fd = fcntl(res->fd, F_DUPFD_CLOEXEC, 0);
		handle->handle_type = res->dmabuf ? RUTABAGA_MEM_HANDLE_TYPE_DMABUF :
			RUTABAGA_MEM_HANDLE_TYPE_SHM;
	}
	pthread_mutex_unlock(&rtb->lock);
	if (fd < 0)
		return -EINVAL;
	handle->os_handle = fd;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_resource_map(struct rutabaga *rtb, uint32_t resource_id,
		      struct rutabaga_mapping *mapping)
{
	struct host_resource *res;
	void *map = NULL;

	if (!rtb || !mapping)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	res = host_resource_lookup(resource_id);
	/* Only host memory maps (rutabaga: shared-memory handles only, §5.2). */
	if (res && res->kind == HOST_RES_HOST3D && !res->dmabuf) {
		map = host_resource_map(res);
		if (!map && (res->map_info & RUTABAGA_MAP_ACCESS_MASK) == RUTABAGA_MAP_ACCESS_READ) {
			map = mmap(NULL, res->size, PROT_READ, MAP_SHARED, res->fd, 0);
			res->map = map == MAP_FAILED ? NULL : map;
			map = res->map;
		}
	}
	if (map) {
		mapping->ptr = map;
		mapping->size = res->size;
	}
	pthread_mutex_unlock(&rtb->lock);
	return map ? 0 : -EINVAL;
}

RTB_EXPORT int32_t
rutabaga_resource_unmap(struct rutabaga *rtb, uint32_t resource_id)
{
	struct host_resource *res;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	res = host_resource_lookup(resource_id);
	if (res && res->map && !res->map_borrowed) {
		munmap(res->map, res->size);
		res->map = NULL;
	}
	pthread_mutex_unlock(&rtb->lock);
	return res ? 0 : -EINVAL;
}

RTB_EXPORT int32_t
rutabaga_resource_map_info(struct rutabaga *rtb, uint32_t resource_id, uint32_t *map_info)
{
	struct host_resource *res;
	int ret = -EINVAL;

	if (!rtb || !map_info)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	res = host_resource_lookup(resource_id);
	if (res && res->map_info) {
		*map_info = res->map_info;
		ret = 0;
	}
	pthread_mutex_unlock(&rtb->lock);
	return ret;
}
