/*
 * Resources in the fake virtio_gpu driver: RESOURCE_CREATE_BLOB with Linux's verify_blob
 * checks (guest memory as a memfd, HOST3D memory from the host), and the MAP and
 * RESOURCE_INFO questions about a handle.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim-virtgpu.h"

#define VG_MAX_GUEST_BLOB	(1ull << 32)

/* LX verify_blob: which memory the blob has; -EINVAL for what the device refuses. */
static int
vg_blob_verify(struct vg_file *vf, const struct drm_virtgpu_resource_create_blob *rc,
	       bool *guest_blob, bool *host3d_blob)
{
	*guest_blob = *host3d_blob = false;
	if (!(vf->dev.features & SIM_DEV_BLOB))
		return -EINVAL;
	if (rc->blob_flags & ~VIRTGPU_BLOB_FLAG_USE_MASK)
		return -EINVAL;
	/* §1: CROSS_DEVICE needs RESOURCE_UUID, which QEMU does not offer. */
	if ((rc->blob_flags & VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE) &&
	    !(vf->dev.features & SIM_DEV_RESOURCE_UUID))
		return -EINVAL;
	switch (rc->blob_mem) {
	case VIRTGPU_BLOB_MEM_GUEST:
		*guest_blob = true;
		break;
	case VIRTGPU_BLOB_MEM_HOST3D_GUEST:
		*guest_blob = true;
		/* fall through */
	case VIRTGPU_BLOB_MEM_HOST3D:
		*host3d_blob = true;
		break;
	default:
		return -EINVAL;
	}
	if (*host3d_blob && (!(vf->dev.features & SIM_DEV_3D) || rc->cmd_size % 4 != 0))
		return -EINVAL;
	if (rc->size == 0)
		return -EINVAL;
	return 0;
}

/* LX virtio_gpu_resource_create_blob_ioctl. */
int
vg_blob_create(struct vg_file *vf, struct drm_virtgpu_resource_create_blob *rc)
{
	struct sim_ipc_blob_create req;
	struct sim_ipc_object obj_info;
	struct vg_object *obj;
	bool guest_blob, host3d_blob, existed;
	uint8_t *cmd = NULL;
	uint64_t size;
	int ret, fd = -1, reply_fd = -1;

	ret = vg_blob_verify(vf, rc, &guest_blob, &host3d_blob);
	if (ret < 0)
		return ret;
	size = (rc->size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
	if (size < rc->size || (guest_blob && size > VG_MAX_GUEST_BLOB))
		return -ENOMEM;

	ret = vg_context_create(vf);
	if (ret < 0)
		return ret;
	if (rc->cmd_size) {
		cmd = malloc(rc->cmd_size);
		if (!cmd)
			return -ENOMEM;
		ret = shim_copy_from_user(cmd, rc->cmd, rc->cmd_size);
		if (ret < 0)
			goto out;
	}
	if (guest_blob && host3d_blob) {
		ret = -EINVAL;	/* no host here takes guest-backed host3d blobs */
		goto out;
	}
	if (guest_blob) {
		/* Guest pages, shared with the host as a memfd. */
		fd = memfd_create("virtgpu-sim-guest-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, size) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	req = (struct sim_ipc_blob_create){
		.blob_mem = rc->blob_mem, .blob_flags = rc->blob_flags, .size = size,
		.blob_id = rc->blob_id, .cmd_size = rc->cmd_size,
	};
	ret = vg_link_call(&vf->link, SIM_IPC_BLOB_CREATE, &req, sizeof req, cmd, rc->cmd_size,
			   &fd, guest_blob ? 1 : 0, &obj_info, sizeof obj_info, &reply_fd);
	if (ret < 0)
		goto out;
	obj = vg_gem_object_add(&obj_info, guest_blob ? fd : reply_fd);
	if (!obj) {
		ret = -ENOMEM;
		goto out;
	}
	if (guest_blob)
		fd = -1;
	reply_fd = -1;
	ret = vg_gem_handle_create(&vf->handles, obj, &rc->bo_handle, &existed);
	if (ret < 0)
		goto out;
	rc->res_handle = obj->info.res_id;
out:
	if (fd >= 0)
		shim_real.close(fd);
	if (reply_fd >= 0)
		shim_real.close(reply_fd);
	free(cmd);
	return ret;
}

int
vg_blob_map(struct vg_file *vf, struct drm_virtgpu_map *map)
{
	struct vg_object *obj = vg_gem_handle_lookup(&vf->handles, map->handle);

	if (!obj)
		return -ENOENT;
	map->offset = obj->map_offset;
	return 0;
}

int
vg_blob_info(struct vg_file *vf, struct drm_virtgpu_resource_info *ri)
{
	struct vg_object *obj = vg_gem_handle_lookup(&vf->handles, ri->bo_handle);

	if (!obj)
		return -ENOENT;
	ri->size = (uint32_t)obj->info.size;
	ri->res_handle = obj->info.res_id;
	if (obj->info.blob_mem)
		ri->blob_mem = obj->info.blob_mem;
	return 0;
}
