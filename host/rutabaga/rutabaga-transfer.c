/*
 * Transfers of 2D resources (rutabaga-2d.c), as rutabaga's 2D component makes them: a box of
 * whole pixels between the host's copy and a linear buffer, the guest pages of the backing
 * or a buffer of QEMU's (its scanout image, its cursor). Box, stride and offset come from
 * the guest: the whole span is checked before a byte moves, so a bad transfer changes
 * nothing.
 */
#include <errno.h>
#include <string.h>

#include "rutabaga-private.h"

/* A linear buffer as iovecs: row r of a box at (x, y) starts at offset + (y + r) * stride
 * + x * 4. */
struct rtb_linear {
	const struct iovec *iov;
	size_t num;
	uint64_t size;
	uint64_t offset;
	uint64_t stride;
	const char *what;
};

static bool
rtb_box_inside(const struct rtb_2d *img, const struct rutabaga_transfer *t)
{
	return (uint64_t)t->x + t->w <= img->width && (uint64_t)t->y + t->h <= img->height;
}

/* Whether a box (not empty) lies in the buffer: its last row ends at offset + (y + h - 1) *
 * stride + (x + w) * 4, computed without wrapping. */
static bool
rtb_box_fits(const struct rutabaga_transfer *t, const struct rtb_linear *buf)
{
	uint64_t end;

	if (__builtin_mul_overflow((uint64_t)t->y + t->h - 1, buf->stride, &end) ||
	    __builtin_add_overflow(end, ((uint64_t)t->x + t->w) * RTB_2D_BPP, &end) ||
	    __builtin_add_overflow(end, buf->offset, &end))
		return false;
	return end <= buf->size;
}

/* Copies one row of len bytes between pixels and the buffer at off. *index and *start:
 * the iovec the previous row began in and its offset (rows only move forward). */
static void
rtb_linear_copy_row(const struct rtb_linear *buf, size_t *index, uint64_t *start, uint64_t off,
		    uint8_t *pixels, size_t len, bool to_buf)
{
	size_t i;
	uint64_t in;

	while (off - *start >= buf->iov[*index].iov_len) {
		*start += buf->iov[*index].iov_len;
		(*index)++;
	}
	for (i = *index, in = off - *start; len > 0; i++, in = 0) {
		size_t n = buf->iov[i].iov_len - in < len ? buf->iov[i].iov_len - in : len;
		uint8_t *mem = (uint8_t *)buf->iov[i].iov_base + in;

		if (to_buf)
			memcpy(mem, pixels, n);
		else
			memcpy(pixels, mem, n);
		pixels += n;
		len -= n;
	}
}

static void
rtb_2d_copy_box(struct rtb_2d *img, const struct rutabaga_transfer *t,
		const struct rtb_linear *buf, bool to_buf)
{
	uint64_t pitch = (uint64_t)img->width * RTB_2D_BPP, start = 0;
	size_t index = 0;

	for (uint64_t row = t->y; row < (uint64_t)t->y + t->h; row++)
		rtb_linear_copy_row(buf, &index, &start,
				    buf->offset + row * buf->stride + (uint64_t)t->x * RTB_2D_BPP,
				    img->pixels + row * pitch + (uint64_t)t->x * RTB_2D_BPP,
				    (size_t)t->w * RTB_2D_BPP, to_buf);
}

/* The guest pages the resource's rows came from, or QEMU's buffer: offset 0, and stride 0
 * (QEMU's flush and cursor) taken as the resource's own, where rutabaga would copy every
 * row onto the first. */
static int
rtb_2d_buffer(const struct rtb_2d *img, const struct rutabaga_transfer *t,
	      const struct iovec *dst, struct rtb_linear *buf)
{
	if (dst) {
		if (!dst->iov_base)
			return -EINVAL;
		*buf = (struct rtb_linear){ dst, 1, dst->iov_len, 0,
					    t->stride ? t->stride : img->width * RTB_2D_BPP,
					    "buffer" };
		return 0;
	}
	if (!img->backing)
		return -EINVAL;
	*buf = (struct rtb_linear){ img->backing, img->num_backing, img->backing_size, t->offset,
				    (uint64_t)img->width * RTB_2D_BPP, "backing" };
	return 0;
}

/* write: backing to pixels; else pixels to dst, or to the backing when dst is NULL. With
 * the lock held. */
static int
rtb_2d_transfer_locked(struct rutabaga *rtb, uint32_t resource_id,
		       const struct rutabaga_transfer *t, const struct iovec *dst, bool write)
{
	struct rtb_2d *img = rtb_2d_lookup(resource_id);
	struct rtb_linear buf;

	if (!img || !t) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: transfer: resource %u is not a 2D "
			"resource", resource_id);
		return -EINVAL;
	}
	if (t->w == 0 || t->h == 0 || (write && t->d == 0))
		return 0;	/* as rutabaga: nothing to copy */
	if (!rtb_box_inside(img, t)) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: transfer: box %ux%u+%u+%u is outside "
			"resource %u (%ux%u)", t->w, t->h, t->x, t->y, resource_id, img->width,
			img->height);
		return -EINVAL;
	}
	if (rtb_2d_buffer(img, t, write ? NULL : dst, &buf) < 0) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: transfer: resource %u has no backing "
			"attached, or the buffer has no memory", resource_id);
		return -EINVAL;
	}
	if (!rtb_box_fits(t, &buf)) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: transfer: box %ux%u+%u+%u of resource "
			"%u at offset %llu, stride %llu, does not fit in its %s of %llu bytes",
			t->w, t->h, t->x, t->y, resource_id, (unsigned long long)buf.offset,
			(unsigned long long)buf.stride, buf.what, (unsigned long long)buf.size);
		return -EINVAL;
	}
	rtb_2d_copy_box(img, t, &buf, !write);
	return 0;
}

static int
rtb_2d_transfer(struct rutabaga *rtb, uint32_t resource_id, const struct rutabaga_transfer *t,
		const struct iovec *dst, bool write)
{
	int ret;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ret = rtb_2d_transfer_locked(rtb, resource_id, t, dst, write);
	pthread_mutex_unlock(&rtb->lock);
	return ret;
}

RTB_EXPORT int32_t
rutabaga_resource_transfer_read(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id,
				const struct rutabaga_transfer *transfer, const struct iovec *iovec)
{
	return rtb_2d_transfer(rtb, resource_id, transfer, iovec, false);
}

RTB_EXPORT int32_t
rutabaga_resource_transfer_write(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id,
				 const struct rutabaga_transfer *transfer)
{
	return rtb_2d_transfer(rtb, resource_id, transfer, NULL, true);
}
