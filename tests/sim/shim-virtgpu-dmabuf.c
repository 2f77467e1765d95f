/*
 * The ioctls of a virtio_gpu dma-buf in the fake kernel (drivers/dma-buf/dma-buf.c,
 * dma_buf_ioctl): SYNC and SET_NAME are accepted, EXPORT_SYNC_FILE gives a sync_file of the
 * buffer's pending work (Linux 6.0+), IMPORT_SYNC_FILE is refused. With
 * VIRTGPU_SIM_NO_EXPORT_SYNC_FILE=1 the kernel is older than 6.0: both answer ENOTTY.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "shim-virtgpu.h"

static bool
vg_dmabuf_before_6_0(void)
{
	const char *v = getenv("VIRTGPU_SIM_NO_EXPORT_SYNC_FILE");

	return v && strcmp(v, "1") == 0;
}

/* dma_buf_export_sync_file: the flags say which fences (READ: the writers'); a buffer without
 * pending work gets the signalled stub fence. The fd is O_CLOEXEC, as get_unused_fd_flags. */
static int
vg_dmabuf_export_sync_file(const struct stat *st, struct dma_buf_export_sync_file *arg)
{
	struct sim_ipc_sync_file req = { st->st_dev, st->st_ino };
	int ret, fd = -1;

	if ((arg->flags & ~DMA_BUF_SYNC_RW) || !(arg->flags & DMA_BUF_SYNC_RW))
		return -EINVAL;
	ret = vg_link_call_own(SIM_IPC_SYNC_FILE, &req, sizeof req, NULL, 0, &fd);
	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EPROTO;
	arg->fd = fd;
	return 0;
}

static int
vg_dmabuf_sync(const struct dma_buf_sync *sync)
{
	if (sync->flags & ~(uint64_t)(DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END))
		return -EINVAL;
	if (!(sync->flags & DMA_BUF_SYNC_RW))
		return -EINVAL;
	return 0;	/* the stand-in's memory is coherent */
}

int
shim_dmabuf_ioctl(int fd, unsigned long request, void *arg)
{
	struct dma_buf_export_sync_file export;
	struct dma_buf_sync sync;
	struct stat st;
	int ret;

	if (!shim_stat_is_dmabuf(fd, &st))
		return 1;	/* not a dma-buf: the real ioctl */
	switch (request) {
	case DMA_BUF_IOCTL_SYNC:
		ret = shim_copy_from_user(&sync, (uintptr_t)arg, sizeof sync);
		return ret < 0 ? ret : vg_dmabuf_sync(&sync);
	case DMA_BUF_SET_NAME_A:
	case DMA_BUF_SET_NAME_B:
		return 0;
	case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
		if (vg_dmabuf_before_6_0())
			return -ENOTTY;
		ret = shim_copy_from_user(&export, (uintptr_t)arg, sizeof export);
		if (ret == 0)
			ret = vg_dmabuf_export_sync_file(&st, &export);
		if (ret == 0 && (ret = shim_copy_to_user((uintptr_t)arg, &export,
							   sizeof export)) < 0)
			shim_real.close(export.fd);
		return ret;
	case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
		/* Only fences of this kernel could be imported; none is made here. */
		return vg_dmabuf_before_6_0() ? -ENOTTY : -EINVAL;
	default:
		return -ENOTTY;
	}
}
