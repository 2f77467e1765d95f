/*
 * PRIME in the fake virtio_gpu driver: a handle exported as a dma-buf (the stand-in is the
 * object's memfd opened anew; the host hears nothing, as from the kernel) and a dma-buf
 * imported as a handle, from this process or, through the host device, from another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim-virtgpu.h"

/* A dma-buf stand-in this process made: which object it holds. */
struct vg_dmabuf {
	struct vg_object *obj;	/* never freed */
	bool forked;	/* an inherited copy: the parent's close counts */
};

/* Its last fd closed: it lets go of the object. Only when that was the object's last
 * reference does the host hear of it (the kernel's RESOURCE_UNREF), and may free the memory;
 * on a connection of its own: the DRM file it came from may be gone. The reply is waited
 * for: what comes next must find the memory gone, as after the kernel's one queue. */
static void
vg_dmabuf_release(struct shim_file *file)
{
	struct vg_dmabuf *buf = file->priv;
	struct sim_ipc_res req = { buf->obj->info.res_id, 0 };
	int conn;

	if (!buf->forked && vg_gem_dmabuf_close(buf->obj)) {
		conn = vg_link_connect();
		if (conn >= 0) {
			vg_link_call_on(conn, SIM_IPC_EXPORT_CLOSE, 0, &req, sizeof req, NULL, 0,
					NULL, 0, NULL, 0, NULL);
			shim_real.close(conn);
		}
	}
	free(buf);
}

/* A child's copies are the parent's open files: the parent's last close frees them (a
 * child that outlives it with the dma-buf is not simulated). */
static void
vg_dmabuf_atfork_child(struct shim_file *file)
{
	((struct vg_dmabuf *)file->priv)->forked = true;
}

/* dma_buf_mmap of a blob: the kernel's virtio_gpu_vram_mmap refuses memory the host could
 * not map (EINVAL); anything else maps the stand-in's memfd. */
static int
vg_dmabuf_mmap_error(struct shim_file *file)
{
	return ((struct vg_dmabuf *)file->priv)->obj->unmapped ? EINVAL : 0;
}

static const struct shim_driver vg_dmabuf_driver = {
	.name = "dma-buf",
	.dmabuf_mmap_error = vg_dmabuf_mmap_error,
	.release = vg_dmabuf_release,
	.atfork_child = vg_dmabuf_atfork_child,
};

/* The stand-in's fd is followed to its last close. */
static void
vg_dmabuf_track(int fd, struct vg_object *obj)
{
	struct shim_file *file = calloc(1, sizeof *file);
	struct vg_dmabuf *buf = calloc(1, sizeof *buf);

	if (!file || !buf) {
		free(file);
		free(buf);
		return;	/* untracked: it holds nothing (the memfd keeps its pages) */
	}
	buf->obj = obj;
	file->driver = &vg_dmabuf_driver;
	file->priv = buf;
	file->app_fd = fd;
	vg_gem_dmabuf_open(obj);
	if (shim_fd_adopt(fd, file) < 0) {
		vg_gem_dmabuf_close(obj);
		free(file);
		free(buf);
	}
}

int
vg_prime_handle_to_fd(struct vg_file *vf, struct drm_prime_handle *args)
{
	struct vg_object *obj;
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
	/* No word to the host: the kernel exports a blob by itself (virtgpu_gem_prime_export
	 * queues RESOURCE_ASSIGN_UUID only for a classic resource, and waits for nothing). */
	vg_dmabuf_track(fd, obj);
	shim_stat_note_dmabuf(obj->dev, obj->ino);
	args->fd = fd;
	return 0;
}

/* Could the fd be a dma-buf stand-in at all? Every one is the memfd of a resource, named
 * "virtgpu-sim-..." by the host device or the fake kernel. Anything else fails here without
 * the host, as the kernel's dma_buf_get() fails for a file that is not a dma-buf. */
static bool
vg_prime_maybe_dmabuf(int fd)
{
	static const char prefix[] = "/memfd:virtgpu-sim-";
	char path[64], link[sizeof prefix];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	n = shim_real.readlink(path, link, sizeof link);
	return n < 0 || (n == (ssize_t)sizeof link && memcmp(link, prefix, sizeof link - 1) == 0);
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
		if (!vg_prime_maybe_dmabuf(args->fd))
			return -EINVAL;
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
