/*
 * The virtio_gpu driver of the fake guest kernel: opening and closing a file, and the ioctl
 * table with the struct sizes of Linux's virtgpu_ioctl.c. The handlers live in the
 * shim-virtgpu-*.c files by concern; the device work goes to the host device over sim-ipc.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim-virtgpu.h"

static int
vg_open(struct shim_file *file, int flags)
{
	struct vg_file *vf = calloc(1, sizeof *vf);
	int sv[2], ret;

	if (!vf)
		return -ENOMEM;
	vg_link_setup(&vf->link);
	vg_context_setup(&vf->ctx);
	vg_gem_handles_setup(&vf->handles);
	/* The DRM fd is a socket whose peer (in the host) writes the drm_events: poll,
	 * epoll and select work on it as on the real node. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(vf);
		return -errno;
	}
	ret = vg_link_open(&vf->link, sv[1], &vf->dev);
	if (ret < 0)
		goto fail;
	shim_real.close(sv[1]);
	file->priv = vf;
	return sv[0];

fail:
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	free(vf);
	return ret;
}

static void
vg_release(struct shim_file *file)
{
	struct vg_file *vf = file->priv;

	vg_gem_handles_cleanup(vf);
	vg_link_cleanup(&vf->link);
	vg_context_cleanup(&vf->ctx);
	free(vf);
}

static int
vg_ioctl(struct shim_file *file, unsigned nr, void *kdata)
{
	struct vg_file *vf = file->priv;

	switch (nr) {
	case 0x09:
		return vg_gem_close(vf, kdata);
	case 0x2d:
		return vg_prime_handle_to_fd(vf, kdata);
	case 0x2e:
		return vg_prime_fd_to_handle(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_MAP:
		return vg_blob_map(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_EXECBUFFER:
		return vg_exec_execbuffer(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_GETPARAM:
		return vg_context_getparam(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_CREATE:
		return vg_resource_create(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_INFO:
		return vg_blob_info(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_TRANSFER_FROM_HOST:
		return vg_resource_transfer(vf, kdata, false);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_TRANSFER_TO_HOST:
		return vg_resource_transfer(vf, kdata, true);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_WAIT:
		return vg_exec_wait(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_GET_CAPS:
		return vg_context_get_caps(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_CREATE_BLOB:
		return vg_blob_create(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_CONTEXT_INIT:
		return vg_context_ioctl_init(vf, kdata);
	default:
		shim_log_once("ioctl", "virtio-gpu ioctl 0x%02x is not simulated", nr);
		return -EINVAL;
	}
}

static size_t
vg_ioctl_size(unsigned idx)
{
	switch (idx) {
	case DRM_VIRTGPU_MAP: return sizeof(struct drm_virtgpu_map);
	case DRM_VIRTGPU_EXECBUFFER: return sizeof(struct drm_virtgpu_execbuffer);
	case DRM_VIRTGPU_GETPARAM: return sizeof(struct drm_virtgpu_getparam);
	case DRM_VIRTGPU_RESOURCE_CREATE: return sizeof(struct drm_virtgpu_resource_create);
	case DRM_VIRTGPU_RESOURCE_INFO: return sizeof(struct drm_virtgpu_resource_info);
	case DRM_VIRTGPU_TRANSFER_FROM_HOST: return sizeof(struct drm_virtgpu_3d_transfer);
	case DRM_VIRTGPU_TRANSFER_TO_HOST: return sizeof(struct drm_virtgpu_3d_transfer);
	case DRM_VIRTGPU_WAIT: return sizeof(struct drm_virtgpu_3d_wait);
	case DRM_VIRTGPU_GET_CAPS: return sizeof(struct drm_virtgpu_get_caps);
	case DRM_VIRTGPU_RESOURCE_CREATE_BLOB:
		return sizeof(struct drm_virtgpu_resource_create_blob);
	case DRM_VIRTGPU_CONTEXT_INIT: return sizeof(struct drm_virtgpu_context_init);
	default: return 0;
	}
}

/* EXECBUFFER: a SEND's commands (up to a page) usually follow the struct on the caller's
 * stack; the kernel copies them with copy_from_user, here read with the struct. */
static size_t
vg_ioctl_ahead(unsigned idx)
{
	return idx == DRM_VIRTGPU_EXECBUFFER ? 4352 : 0;
}

static void
vg_atfork_child(struct shim_file *file)
{
	struct vg_file *vf = file->priv;

	vg_exec_atfork_child();
	vg_gem_atfork_child(vf ? &vf->handles : NULL);
	if (!vf)
		return;
	vg_link_atfork_child(&vf->link);
	vg_context_atfork_child(&vf->ctx);
}

static int
vg_internal_fds(struct shim_file *file, int *fds, int max)
{
	struct vg_file *vf = file->priv;

	if (!vf)
		return 0;
	return vg_link_internal_fds(&vf->link, fds, max);
}

const struct shim_driver virtgpu_driver = {
	.name = "virtio_gpu",
	.desc = "virtio GPU",
	.version = { 0, 1, 0 },
	.prime = true,
	.open = vg_open,
	.ioctl_size = vg_ioctl_size,
	.ioctl_ahead = vg_ioctl_ahead,
	.ioctl = vg_ioctl,
	.mmap = vg_gem_mmap,
	.mmap_pinless = vg_gem_mmap_pinless,
	.release = vg_release,
	.atfork_child = vg_atfork_child,
	.internal_fds = vg_internal_fds,
};
