/*
 * A GPU buffer in a real guest kernel (tests/vm/vm-run), where the simulator's test API
 * (virtgpu_sim_gpu_buffer_create) does not exist: made as a GPU driver of the guest makes
 * one over cross-domain (minigbm's cross-domain backend does the same). Its own DRM file
 * and context (channel type none: no compositor connection), the image requirements of
 * the host's allocator, a HOST3D blob of them, exported as a dma-buf, the file closed.
 * A buffer without a host handle (the simulator's VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE) is a
 * dumb buffer of the card node: a 2D resource in guest memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "../../uapi/virtgpu-uapi.h"

#define GPU_CARD_NODE "/dev/dri/card0"
#define GPU_BUFFER_NO_HOST_HANDLE 1	/* as VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE */

/* The KMS dumb buffer ioctl (drm_mode.h's layout). */
struct gpu_create_dumb {
	uint32_t height, width, bpp, flags;
	uint32_t handle, pitch;
	uint64_t size;
};
#define GPU_IOCTL_MODE_CREATE_DUMB _IOWR('d', 0xb2, struct gpu_create_dumb)

#define GPU_GRALLOC_LINEAR (1u << 4)
#define GPU_GRALLOC_SW_WRITE_OFTEN (1u << 11)

static int
gpu_ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	return ret < 0 ? -errno : 0;
}

/* A one-page GUEST blob for a ring: its GEM handle and resource id. */
static int
gpu_ring(int fd, uint32_t *bo, uint32_t *res)
{
	struct drm_virtgpu_resource_create_blob create = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = 4096,
	};
	int ret = gpu_ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &create);

	*bo = create.bo_handle;
	*res = create.res_handle;
	return ret;
}

static int
gpu_submit(int fd, const void *cmd, size_t size, int ring, uint32_t *bo)
{
	struct drm_virtgpu_execbuffer exec = {
		.command = (uint64_t) (uintptr_t) cmd,
		.size = (uint32_t) size,
		.bo_handles = (uint64_t) (uintptr_t) bo,
		.num_bo_handles = bo ? 1 : 0,
		.fence_fd = -1,
	};

	if (ring >= 0) {
		exec.flags = VIRTGPU_EXECBUF_RING_IDX;
		exec.ring_idx = (uint32_t) ring;
	}
	return gpu_ioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &exec);
}

/* The context, its rings and INIT; the query ring's handle in *query_bo. */
static int
gpu_context(int fd, uint32_t *query_bo)
{
	struct drm_virtgpu_context_set_param params[2] = {
		{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID, VIRTGPU_CAPSET_CROSS_DOMAIN },
		{ VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2 },
	};
	struct drm_virtgpu_context_init init = {
		.num_params = 2,
		.ctx_set_params = (uint64_t) (uintptr_t) params,
	};
	struct cross_domain_init cmd = { 0 };
	uint32_t channel_bo, query_res, channel_res;
	int ret;

	if ((ret = gpu_ioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init)) < 0 ||
	    (ret = gpu_ring(fd, query_bo, &query_res)) < 0 ||
	    (ret = gpu_ring(fd, &channel_bo, &channel_res)) < 0)
		return ret;
	cmd.hdr.cmd = CROSS_DOMAIN_CMD_INIT;
	cmd.hdr.cmd_size = sizeof cmd;
	cmd.query_ring_id = query_res;
	cmd.channel_ring_id = channel_res;
	cmd.channel_type = CROSS_DOMAIN_CHANNEL_TYPE_NONE;
	return gpu_submit(fd, &cmd, sizeof cmd, -1, NULL);
}

/* GET_IMAGE_REQUIREMENTS on the query ring, the answer read at its start. */
static int
gpu_requirements(int fd, uint32_t query_bo, uint32_t width, uint32_t height,
		 uint32_t fourcc, struct cross_domain_image_requirements *reqs)
{
	struct cross_domain_get_image_requirements cmd = { 0 };
	struct drm_virtgpu_3d_wait wait = { .handle = query_bo };
	struct drm_virtgpu_map map = { .handle = query_bo };
	void *ring;
	int ret;

	cmd.hdr.cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS;
	cmd.hdr.cmd_size = sizeof cmd;
	cmd.width = width;
	cmd.height = height;
	cmd.drm_format = fourcc;
	cmd.flags = GPU_GRALLOC_LINEAR | GPU_GRALLOC_SW_WRITE_OFTEN;
	if ((ret = gpu_submit(fd, &cmd, sizeof cmd, CROSS_DOMAIN_QUERY_RING,
			      &query_bo)) < 0)
		return ret;
	/* The kernel waits 15 s a call (EBUSY after): the case's alarm bounds it. */
	beh_waiting_for("the query ring's fence of a GPU buffer's GET_IMAGE_REQUIREMENTS");
	do {
		ret = ioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
	} while (ret < 0 && (errno == EBUSY || errno == EINTR || errno == EAGAIN));
	beh_waiting_for(NULL);
	if (ret < 0 || (ret = gpu_ioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map)) < 0)
		return ret < 0 ? ret : -errno;
	ring = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t) map.offset);
	if (ring == MAP_FAILED)
		return -errno;
	memcpy(reqs, ring, sizeof *reqs);
	munmap(ring, 4096);
	return 0;
}

/* A dumb buffer (32 bits a pixel) exported as a dma-buf. */
static int
gpu_dumb_buffer(uint32_t width, uint32_t height, uint32_t *stride, uint64_t *size)
{
	struct gpu_create_dumb dumb = { .height = height, .width = width, .bpp = 32 };
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };
	int fd = open(GPU_CARD_NODE, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if ((ret = gpu_ioctl(fd, GPU_IOCTL_MODE_CREATE_DUMB, &dumb)) == 0) {
		prime.handle = dumb.handle;
		ret = gpu_ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime);
	}
	close(fd);
	if (ret < 0)
		return ret;
	*stride = dumb.pitch;
	*size = dumb.size;
	return prime.fd;
}

int
beh_real_gpu_buffer(uint32_t width, uint32_t height, uint32_t fourcc,
		    uint32_t flags, uint32_t *stride, uint64_t *size)
{
	struct cross_domain_image_requirements reqs;
	struct drm_virtgpu_resource_create_blob blob = {
		.blob_mem = VIRTGPU_BLOB_MEM_HOST3D,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
			      VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
	};
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };
	uint32_t query_bo;
	int fd, ret;

	if (flags == GPU_BUFFER_NO_HOST_HANDLE)
		return gpu_dumb_buffer(width, height, stride, size);
	if (flags)
		return -EINVAL;
	fd = open(BEH_RENDER_NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((ret = gpu_context(fd, &query_bo)) < 0 ||
	    (ret = gpu_requirements(fd, query_bo, width, height, fourcc, &reqs)) < 0)
		goto out;
	blob.size = reqs.size;
	blob.blob_id = reqs.blob_id;
	if ((ret = gpu_ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &blob)) < 0)
		goto out;
	prime.handle = blob.bo_handle;
	if ((ret = gpu_ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime)) < 0)
		goto out;
	*stride = reqs.strides[0];
	*size = reqs.size;
	ret = prime.fd;
out:
	close(fd);
	return ret;
}
