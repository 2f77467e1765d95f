/*
 * Classic 3D resources in the fake virtio_gpu driver, as virgl-era Mesa allocates its window
 * buffers (gpu-path.md §3): RESOURCE_CREATE (guest pages attached as backing, the image on
 * the host) and the TRANSFER ioctls that copy between the two, with virtgpu_ioctl.c's checks.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim-virtgpu.h"

/* virtio_gpu_resource_create_ioctl on a device with 3D: the file's context first, one page
 * when no size is given; the kernel checks nothing else (the host does). */
int
vg_resource_create(struct vg_file *vf, struct drm_virtgpu_resource_create *rc)
{
	struct sim_ipc_resource_create req;
	struct sim_ipc_object info;
	struct vg_object *obj;
	uint64_t size = rc->size ? rc->size : SHIM_PAGE_SIZE;
	bool existed;
	int ret, fd;

	if (!(vf->dev.features & SIM_DEV_3D))
		return -EINVAL;	/* the 2D checks; every host here has 3D */
	ret = vg_context_create(vf);
	if (ret < 0)
		return ret;
	size = (size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
	fd = memfd_create("virtgpu-sim-3d-backing", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		if (fd >= 0)
			shim_real.close(fd);
		return -ENOMEM;
	}
	req = (struct sim_ipc_resource_create){
		rc->target, rc->format, rc->bind, rc->width, rc->height, rc->depth,
		rc->array_size, rc->last_level, rc->nr_samples, rc->flags, size,
	};
	ret = vg_link_call(&vf->link, SIM_IPC_RESOURCE_CREATE, &req, sizeof req, NULL, 0, &fd, 1,
			   &info, sizeof info, NULL);
	if (ret < 0)
		goto fail;
	obj = vg_gem_object_add(&info, fd);
	if (!obj) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = vg_gem_handle_create(&vf->handles, obj, &rc->bo_handle, &existed);
	if (ret < 0)
		return ret;
	rc->res_handle = obj->info.res_id;
	return 0;
fail:
	shim_real.close(fd);
	return ret;
}

/* virtio_gpu_transfer_{to,from}_host_ioctl: guest-only blobs have no host side, and a
 * resource takes no stride (only host3d blobs do). The kernel returns once the command is
 * queued; the host runs it before any later command of the file. */
int
vg_resource_transfer(struct vg_file *vf, struct drm_virtgpu_3d_transfer *args, bool to_host)
{
	struct sim_ipc_transfer req;
	struct vg_object *obj;
	int ret;

	if (!to_host && !(vf->dev.features & SIM_DEV_3D))
		return -ENOSYS;
	obj = vg_gem_handle_lookup(&vf->handles, args->bo_handle);
	if (!obj)
		return -ENOENT;
	if (obj->info.blob_mem == VIRTGPU_BLOB_MEM_GUEST)
		return -EINVAL;
	if (obj->info.blob_mem != VIRTGPU_BLOB_MEM_HOST3D && (args->stride || args->layer_stride))
		return -EINVAL;
	ret = vg_context_create(vf);
	if (ret < 0)
		return ret;
	if (obj->info.kind != SIM_OBJECT_3D) {
		shim_log_once("transfer", "TRANSFER on a blob is not simulated; ignored");
		return 0;
	}
	req = (struct sim_ipc_transfer){
		obj->info.res_id, to_host, args->level, args->offset,
		{ args->box.x, args->box.y, args->box.z, args->box.w, args->box.h, args->box.d },
	};
	return vg_link_call(&vf->link, SIM_IPC_TRANSFER, &req, sizeof req, NULL, 0, NULL, 0, NULL,
			    0, NULL);
}
