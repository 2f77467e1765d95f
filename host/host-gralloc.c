/*
 * The host's buffer allocator for GET_IMAGE_REQUIREMENTS: rutabaga's system gralloc
 * (memfd, stride = width * bpp, page-rounded size; cross-domain-protocol.md §5.1), or a
 * dma-buf gralloc stand-in with aligned strides for the rutabaga-dmabuf profile.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host.h"

#define HOST_GRALLOC_MAX_SIZE	(1ull << 30)
#define HOST_PAGE_SIZE		4096ull
#define HOST_DMABUF_STRIDE_ALIGN 256u

struct host_format {
	uint32_t fourcc;
	uint32_t num_planes;
	uint32_t bpp[3];	/* bytes per pixel (per sample pair for NV12 chroma) */
	uint32_t hsub[3];
	uint32_t vsub[3];
};

/* The fourccs of §5.1, planes as formats.rs describes them. */
static const struct host_format host_formats[] = {
	{ SIM_FORMAT_R8, 1, { 1 }, { 1 }, { 1 } },
	{ SIM_FORMAT_RGB565, 1, { 2 }, { 1 }, { 1 } },
	{ SIM_FORMAT_BGR888, 1, { 3 }, { 1 }, { 1 } },
	{ SIM_FORMAT_XRGB8888, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_XBGR8888, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_ARGB8888, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_ABGR8888, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_XRGB2101010, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_XBGR2101010, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_ARGB2101010, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_ABGR2101010, 1, { 4 }, { 1 }, { 1 } },
	{ SIM_FORMAT_ABGR16161616F, 1, { 8 }, { 1 }, { 1 } },
	{ SIM_FORMAT_NV12, 2, { 1, 2 }, { 1, 2 }, { 1, 2 } },
	{ SIM_FORMAT_YVU420, 3, { 1, 1, 1 }, { 1, 2, 2 }, { 1, 2, 2 } },
};

int
host_gralloc_requirements(bool dmabuf, uint32_t width, uint32_t height, uint32_t format,
			  struct cross_domain_image_requirements *reqs)
{
	const struct host_format *fmt = NULL;
	uint64_t offset = 0;

	for (size_t i = 0; i < sizeof host_formats / sizeof host_formats[0]; i++)
		if (host_formats[i].fourcc == format)
			fmt = &host_formats[i];
	if (!fmt)
		return -EINVAL;
	/* GPU allocators (minigbm, vulkano: the dma-buf profiles) cap image
	 * dimensions; rutabaga's memfd (system) allocator does not, and
	 * proxies ask it for a pool as one row of R8 as wide as the pool. */
	if (width == 0 || height == 0 || (dmabuf && (width > 65536 || height > 65536)))
		return -EINVAL;

	memset(reqs, 0, sizeof *reqs);
	for (uint32_t p = 0; p < fmt->num_planes; p++) {
		uint64_t w = (width + fmt->hsub[p] - 1) / fmt->hsub[p];
		uint64_t h = (height + fmt->vsub[p] - 1) / fmt->vsub[p];
		uint64_t stride = w * fmt->bpp[p];

		if (dmabuf)
			stride = (stride + HOST_DMABUF_STRIDE_ALIGN - 1) &
				 ~(uint64_t)(HOST_DMABUF_STRIDE_ALIGN - 1);
		if (stride > UINT32_MAX || offset > UINT32_MAX)
			return -EINVAL;
		reqs->strides[p] = stride;
		reqs->offsets[p] = offset;
		offset += stride * h;
	}
	if (offset > HOST_GRALLOC_MAX_SIZE)
		return -ENOMEM;
	reqs->size = (offset + HOST_PAGE_SIZE - 1) & ~(HOST_PAGE_SIZE - 1);
	reqs->modifier = 0;	/* DRM_FORMAT_MOD_LINEAR */
	reqs->map_info = CROSS_DOMAIN_MAP_CACHE_CACHED;
	reqs->memory_idx = -1;
	reqs->physical_device_idx = -1;
	return 0;
}

int
host_gralloc_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
