/*
 * PRIME in the fake virtio_gpu driver: a handle exported as a dma-buf (the stand-in is the
 * object's memfd opened anew) and a dma-buf imported as a handle, from this process or,
 * through the host device, from another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "shim-virtgpu.h"

int
vg_prime_handle_to_fd(struct vg_file *vf, struct drm_prime_handle *args)
{
	struct vg_object *obj;
	struct sim_ipc_res req;
	char path[64];
	int fd;

	if (args->flags & ~(DRM_CLOEXEC | DRM_RDWR))
		return -EINVAL;
	obj = vg_gem_handle_lookup(&vf->handles, args->handle);
	if (!obj)
		return -ENOENT;
	if (obj->fd < 0)
		return -EINVAL;
	/* The dma-buf stand-in: the backing memfd opened anew, so it is mmap-able and its
	 * inode names the resource. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", obj->fd);
	fd = shim_real.open(path, ((args->flags & DRM_RDWR) ? O_RDWR : O_RDONLY) |
			    ((args->flags & DRM_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0 && (args->flags & DRM_RDWR))
		fd = shim_real.open(path, O_RDONLY | ((args->flags & DRM_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0)
		return -errno;
	req = (struct sim_ipc_res){ obj->info.res_id, 0 };
	vg_link_call(&vf->link, SIM_IPC_EXPORT, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	shim_stat_note_dmabuf(obj->dev, obj->ino);
	args->fd = fd;
	return 0;
}

/* A dma-buf this process does not know: the device may know it (another process). */
static int
vg_prime_import_from_host(struct vg_file *vf, const struct stat *st, struct vg_object **objp)
{
	struct sim_ipc_import req = { st->st_dev, st->st_ino };
	struct sim_ipc_object info;
	struct vg_object *obj;
	int ret, reply_fd = -1;

	ret = vg_link_call(&vf->link, SIM_IPC_IMPORT, &req, sizeof req, NULL, 0, NULL, 0, &info,
			   sizeof info, &reply_fd);
	if (ret < 0)
		return ret;	/* EINVAL: not a dma-buf of this device */
	obj = vg_gem_object_find_res(info.res_id);
	if (obj) {
		shim_real.close(reply_fd);
	} else {
		obj = vg_gem_object_add(&info, reply_fd);
		if (!obj) {
			shim_real.close(reply_fd);
			return -ENOMEM;
		}
	}
	*objp = obj;
	return 0;
}

int
vg_prime_fd_to_handle(struct vg_file *vf, struct drm_prime_handle *args)
{
	struct vg_object *obj;
	struct sim_ipc_res open_req;
	struct stat st;
	bool existed;
	int ret;

	if (fstat(args->fd, &st) < 0)
		return -EBADF;
	obj = vg_gem_object_find_inode(st.st_dev, st.st_ino);
	if (!obj) {
		ret = vg_prime_import_from_host(vf, &st, &obj);
		if (ret < 0)
			return ret;
	}
	ret = vg_gem_handle_create(&vf->handles, obj, &args->handle, &existed);
	if (ret < 0)
		return ret;
	if (!existed) {
		/* GEM open: attaches to the file's context if it has one (§2, v6.14+). */
		open_req = (struct sim_ipc_res){ obj->info.res_id, 0 };
		vg_link_call(&vf->link, SIM_IPC_HANDLE_OPEN, &open_req, sizeof open_req, NULL, 0,
			     NULL, 0, NULL, 0, NULL);
	}
	shim_stat_note_dmabuf(obj->dev, obj->ino);
	return 0;
}
