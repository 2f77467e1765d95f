/*
 * 2D resources of the rutabaga_gfx_ffi library, as rutabaga's 2D component serves them: the
 * guest's console (fbcon), dumb buffers and cursors. The host keeps its own copy of the
 * pixels (4 bytes each, rows packed); TRANSFER_TO_HOST_2D copies a box from the guest pages
 * QEMU lent as backing, RESOURCE_FLUSH and cursor updates copy it out to QEMU's image. Every
 * box, stride and offset comes from the guest: checked before a byte moves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rutabaga-private.h"

/* The host memory all 2D resources may hold: QEMU's virtio-gpu default max_hostmem. */
#define RTB_2D_MAX_BYTES	(256ull << 20)
/* QEMU maps at most 16384 entries of a backing. */
#define RTB_2D_MAX_IOVECS	16384
/* struct rutabaga_create_3d.target of RESOURCE_CREATE_2D: PIPE_TEXTURE_2D. */
#define RTB_TARGET_TEXTURE_2D	2

static uint64_t rtb_2d_bytes;
static bool rtb_warned_3d;

/* Every virtio-gpu format is 4 bytes a pixel (VIRTIO_GPU_FORMAT_*). */
static bool
rtb_2d_format_known(uint32_t format)
{
	switch (format) {
	case 1: case 2: case 3: case 4:		/* B8G8R8A8 B8G8R8X8 A8R8G8B8 X8R8G8B8 */
	case 67: case 68: case 121: case 134:	/* R8G8B8A8 X8B8G8R8 A8B8G8R8 R8G8B8X8 */
		return true;
	}
	return false;
}

static uint64_t
rtb_2d_size(const struct rtb_2d *img)
{
	return (uint64_t)img->width * img->height * RTB_2D_BPP;
}

static void
rtb_2d_free(struct rtb_2d *img)
{
	rtb_2d_bytes -= rtb_2d_size(img);
	free(img->backing);
	free(img->pixels);
	free(img);
}

/* The VMM's reference goes: QEMU frees the guest pages, nothing transfers again. */
void
rtb_2d_release(struct host_resource *res)
{
	if (res->kind == HOST_RES_2D && res->vmm_data) {
		rtb_2d_free(res->vmm_data);
		res->vmm_data = NULL;
	}
}

struct rtb_2d *
rtb_2d_lookup(uint32_t resource_id)
{
	struct host_resource *res = host_resource_lookup(resource_id);

	return res && res->kind == HOST_RES_2D ? res->vmm_data : NULL;
}

/* Only what RESOURCE_CREATE_2D makes (QEMU: target 2, depth 1, one level, one layer); a
 * cross-domain host has no 3D renderer for the rest. */
static int
rtb_2d_check_create(struct rutabaga *rtb, uint32_t resource_id,
		    const struct rutabaga_create_3d *c)
{
	uint64_t size;

	if (c->target != RTB_TARGET_TEXTURE_2D || c->depth > 1 || c->array_size > 1 ||
	    c->last_level != 0 || c->nr_samples > 1) {
		if (!rtb_warned_3d)
			rtb_log(rtb, RUTABAGA_DEBUG_WARN, "host: resource %u: 3D resources "
				"(target %u) are not served: a cross-domain host has no 3D renderer",
				resource_id, c->target);
		rtb_warned_3d = true;
		return -EINVAL;
	}
	if (host_resource_lookup(resource_id)) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: resource %u exists already", resource_id);
		return -EINVAL;
	}
	if (!rtb_2d_format_known(c->format)) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: resource %u: format %u is not a "
			"virtio-gpu format", resource_id, c->format);
		return -EINVAL;
	}
	if (c->width == 0 || c->height == 0) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: resource %u: %ux%u has no pixels",
			resource_id, c->width, c->height);
		return -EINVAL;
	}
	if (__builtin_mul_overflow((uint64_t)c->width * c->height, RTB_2D_BPP, &size) ||
	    size > RTB_2D_MAX_BYTES - rtb_2d_bytes) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: resource %u: %ux%u does not fit in the "
			"%llu MiB of 2D memory (%llu bytes used)", resource_id, c->width,
			c->height, RTB_2D_MAX_BYTES >> 20, (unsigned long long)rtb_2d_bytes);
		return -ENOMEM;
	}
	return 0;
}

static int
rtb_2d_create(struct rutabaga *rtb, uint32_t resource_id, const struct rutabaga_create_3d *c)
{
	struct host_resource *res;
	struct rtb_2d *img;
	int ret = rtb_2d_check_create(rtb, resource_id, c);

	if (ret < 0)
		return ret;
	img = calloc(1, sizeof *img);
	if (!img)
		return -ENOMEM;
	img->width = c->width;
	img->height = c->height;
	img->pixels = calloc(c->height, (size_t)c->width * RTB_2D_BPP);
	res = img->pixels ? host_resource_create_id(resource_id, HOST_RES_2D, -1,
						    rtb_2d_size(img)) : NULL;
	if (!res) {
		free(img->pixels);
		free(img);
		return -ENOMEM;
	}
	rtb_2d_bytes += rtb_2d_size(img);
	res->vmm_held = true;
	res->no_handle = true;		/* nothing to send to the compositor */
	res->width = c->width;
	res->height = c->height;
	res->vmm_data = img;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_resource_create_3d(struct rutabaga *rtb, uint32_t resource_id,
			    const struct rutabaga_create_3d *create_3d)
{
	int ret;

	if (!rtb || !create_3d || resource_id == 0)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ret = rtb_2d_create(rtb, resource_id, create_3d);
	pthread_mutex_unlock(&rtb->lock);
	return ret;
}

/* A copy of QEMU's array (the memory it names stays QEMU's), or NULL with the reason. */
static struct iovec *
rtb_2d_copy_backing(const struct rutabaga_iovecs *iovecs, uint64_t *size, const char **why)
{
	struct iovec *copy;

	*size = 0;
	if (!iovecs || !iovecs->iovecs || iovecs->num_iovecs == 0 ||
	    iovecs->num_iovecs > RTB_2D_MAX_IOVECS) {
		*why = "no iovecs, or more than 16384";
		return NULL;
	}
	for (size_t i = 0; i < iovecs->num_iovecs; i++) {
		const struct iovec *v = &iovecs->iovecs[i];

		if ((!v->iov_base && v->iov_len) || v->iov_len > UINT64_MAX - *size) {
			*why = "an iovec without memory, or more than 2^64 bytes";
			return NULL;
		}
		*size += v->iov_len;
	}
	copy = malloc(iovecs->num_iovecs * sizeof *copy);
	if (copy)
		memcpy(copy, iovecs->iovecs, iovecs->num_iovecs * sizeof *copy);
	else
		*why = "out of memory";
	return copy;
}

RTB_EXPORT int32_t
rutabaga_resource_attach_backing(struct rutabaga *rtb, uint32_t resource_id,
				 const struct rutabaga_iovecs *iovecs)
{
	struct rtb_2d *img;
	struct iovec *copy = NULL;
	const char *why = "not a 2D resource";
	uint64_t size = 0;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	img = rtb_2d_lookup(resource_id);
	if (img)
		copy = rtb_2d_copy_backing(iovecs, &size, &why);
	if (copy) {
		/* As rutabaga: a second backing replaces the first. */
		free(img->backing);
		img->backing = copy;
		img->num_backing = iovecs->num_iovecs;
		img->backing_size = size;
	}
	pthread_mutex_unlock(&rtb->lock);
	if (!copy)
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: resource %u: backing refused: %s",
			resource_id, why);
	return copy ? 0 : -EINVAL;
}

RTB_EXPORT int32_t
rutabaga_resource_detach_backing(struct rutabaga *rtb, uint32_t resource_id)
{
	struct rtb_2d *img;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	img = rtb_2d_lookup(resource_id);
	if (img) {
		free(img->backing);
		img->backing = NULL;
		img->num_backing = 0;
		img->backing_size = 0;
	}
	pthread_mutex_unlock(&rtb->lock);
	return img ? 0 : -EINVAL;
}
