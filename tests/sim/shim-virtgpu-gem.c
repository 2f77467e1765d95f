/*
 * GEM in the fake virtio_gpu driver: the process's objects (a resource and its memory),
 * each file's handles to them (drm_gem_handle_create's numbering), GEM_CLOSE, and mmap of
 * the fake offset MAP gives (drm_gem_mmap).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim-virtgpu.h"

#define VG_MMAP_OFFSET_START	(0x100000ull << 12)	/* DRM_FILE_PAGE_OFFSET_START */

struct vg_handle {
	uint32_t handle;
	struct vg_object *obj;
};

static pthread_mutex_t vg_objects_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vg_object *vg_objects;
static struct vg_object *vg_dead_objects;	/* kept: another thread may still hold one */
static uint64_t vg_next_offset = VG_MMAP_OFFSET_START;

static uint64_t
vg_gem_page_align(uint64_t size)
{
	return (size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
}

/* --- objects ------------------------------------------------------------------------------- */

struct vg_object *
vg_gem_object_add(const struct sim_ipc_object *info, int fd)
{
	struct vg_object *obj = calloc(1, sizeof *obj);
	struct stat st;

	if (!obj)
		return NULL;
	obj->info = *info;
	obj->fd = fd;
	if (fd < 0) {
		/* Memory the host could not give (its create failed after the kernel said yes):
		 * the object exists and exports, as in the kernel, and any mmap of it fails. */
		obj->unmapped = true;
		obj->fd = memfd_create("virtgpu-sim-unmapped", MFD_CLOEXEC);
		if (obj->fd >= 0 && ftruncate(obj->fd, (off_t)info->size) < 0) {
			shim_real.close(obj->fd);
			obj->fd = -1;
		}
	}
	fd = obj->fd;
	if (fd >= 0 && !obj->unmapped && info->ino != 0) {
		obj->dev = (dev_t)info->dev;
		obj->ino = (ino_t)info->ino;
	} else if (fd >= 0 && fstat(fd, &st) == 0) {
		obj->dev = st.st_dev;
		obj->ino = st.st_ino;
	}
	pthread_mutex_lock(&vg_objects_lock);
	obj->map_offset = vg_next_offset;
	vg_next_offset += vg_gem_page_align(info->size);
	obj->next = vg_objects;
	vg_objects = obj;
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

struct vg_object *
vg_gem_object_find_res(uint32_t res_id)
{
	struct vg_object *obj;

	pthread_mutex_lock(&vg_objects_lock);
	for (obj = vg_objects; obj; obj = obj->next)
		if (obj->info.res_id == res_id)
			break;
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

struct vg_object *
vg_gem_object_find_inode(dev_t dev, ino_t ino)
{
	struct vg_object *obj = NULL;

	pthread_mutex_lock(&vg_objects_lock);
	for (struct vg_object *o = vg_objects; o; o = o->next)
		if (o->fd >= 0 && o->dev == dev && o->ino == ino)
			obj = o;
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

/* The object a fake mmap offset falls in, the range [off, off + len) inside it. */
static struct vg_object *
vg_gem_object_find_offset(uint64_t off, size_t len)
{
	struct vg_object *obj = NULL;

	pthread_mutex_lock(&vg_objects_lock);
	for (struct vg_object *o = vg_objects; o; o = o->next) {
		uint64_t size = vg_gem_page_align(o->info.size);
		if (off >= o->map_offset && off - o->map_offset < size &&
		    len <= size - (off - o->map_offset))
			obj = o;
	}
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

/* A handle in this process is gone; true when it was the last one while dma-bufs of the
 * object live on (the host must keep the resource for them). Object structs are never freed
 * (another thread may still hold one); with the last handle only their memory fd is
 * closed, and a dma-buf imported again is found through the host. */
static bool
vg_gem_object_unref(struct vg_object *obj)
{
	bool last, held;

	pthread_mutex_lock(&vg_objects_lock);
	last = --obj->handles == 0;
	held = last && obj->dmabufs > 0;
	if (last) {
		for (struct vg_object **link = &vg_objects; *link; link = &(*link)->next) {
			if (*link == obj) {
				*link = obj->next;
				break;
			}
		}
		obj->next = vg_dead_objects;
		vg_dead_objects = obj;
	}
	pthread_mutex_unlock(&vg_objects_lock);
	if (last && obj->fd >= 0) {
		shim_real.close(obj->fd);
		obj->fd = -1;
	}
	return held;
}

/* PRIME export is the kernel's own business (virtgpu_gem_prime_export asks the host nothing
 * for a blob): the dma-buf takes a reference on the object, here a count. */
void
vg_gem_dmabuf_open(struct vg_object *obj)
{
	pthread_mutex_lock(&vg_objects_lock);
	obj->dmabufs++;
	pthread_mutex_unlock(&vg_objects_lock);
}

bool
vg_gem_dmabuf_close(struct vg_object *obj)
{
	bool last;

	pthread_mutex_lock(&vg_objects_lock);
	last = --obj->dmabufs == 0 && obj->handles == 0;
	pthread_mutex_unlock(&vg_objects_lock);
	return last;
}

/* --- a file's handles ---------------------------------------------------------------------- */

void
vg_gem_handles_setup(struct vg_handles *handles)
{
	pthread_mutex_init(&handles->lock, NULL);
}

/* The host drops the file's handles itself when its link closes; an object whose last
 * handle goes with the file while dma-bufs of it live on is told first. */
void
vg_gem_handles_cleanup(struct vg_file *vf)
{
	struct vg_handles *handles = &vf->handles;

	for (uint32_t i = 0; i < handles->num; i++) {
		struct vg_object *obj = handles->v[i].obj;
		struct sim_ipc_res req = { obj->info.res_id, 0 };

		if (vg_gem_object_unref(obj))
			vg_link_call(&vf->link, SIM_IPC_EXPORT, &req, sizeof req, NULL, 0, NULL,
				     0, NULL, 0, NULL);
	}
	free(handles->v);
	pthread_mutex_destroy(&handles->lock);
}

/* The dma-buf stand-ins a child inherits stay the parent's (their last close there counts):
 * the child's objects hold none of their own. */
void
vg_gem_atfork_child(struct vg_handles *handles)
{
	pthread_mutex_init(&vg_objects_lock, NULL);
	for (struct vg_object *obj = vg_objects; obj; obj = obj->next)
		obj->dmabufs = 0;
	if (handles)
		pthread_mutex_init(&handles->lock, NULL);
}

struct vg_object *
vg_gem_handle_lookup(struct vg_handles *handles, uint32_t handle)
{
	struct vg_object *obj = NULL;

	pthread_mutex_lock(&handles->lock);
	for (uint32_t i = 0; i < handles->num; i++)
		if (handles->v[i].handle == handle)
			obj = handles->v[i].obj;
	pthread_mutex_unlock(&handles->lock);
	return obj;
}

static bool
vg_gem_handle_exists(struct vg_handles *handles, struct vg_object *obj)
{
	bool found = false;

	pthread_mutex_lock(&handles->lock);
	for (uint32_t i = 0; i < handles->num; i++)
		if (handles->v[i].obj == obj)
			found = true;
	pthread_mutex_unlock(&handles->lock);
	return found;
}

/* drm_gem_handle_create: the lowest free handle >= 1, one per object per file. */
int
vg_gem_handle_create(struct vg_handles *handles, struct vg_object *obj, uint32_t *handle_out,
		     bool *existed)
{
	uint32_t handle = 1;

	pthread_mutex_lock(&handles->lock);
	for (uint32_t i = 0; i < handles->num; i++) {
		if (handles->v[i].obj == obj) {
			*handle_out = handles->v[i].handle;
			*existed = true;
			pthread_mutex_unlock(&handles->lock);
			return 0;
		}
	}
	*existed = false;
	for (bool taken = true; taken; ) {
		taken = false;
		for (uint32_t i = 0; i < handles->num; i++)
			if (handles->v[i].handle == handle) {
				taken = true;
				handle++;
			}
	}
	if (handles->num == handles->cap) {
		uint32_t cap = handles->cap ? handles->cap * 2 : 16;
		struct vg_handle *grown = realloc(handles->v, cap * sizeof *grown);
		if (!grown) {
			pthread_mutex_unlock(&handles->lock);
			return -ENOMEM;
		}
		handles->v = grown;
		handles->cap = cap;
	}
	handles->v[handles->num++] = (struct vg_handle){ handle, obj };
	pthread_mutex_unlock(&handles->lock);
	pthread_mutex_lock(&vg_objects_lock);
	obj->handles++;
	pthread_mutex_unlock(&vg_objects_lock);
	*handle_out = handle;
	return 0;
}

int
vg_gem_close(struct vg_file *vf, struct drm_gem_close *args)
{
	struct vg_handles *handles = &vf->handles;
	struct vg_object *obj = NULL;
	struct sim_ipc_res req;

	pthread_mutex_lock(&handles->lock);
	for (uint32_t i = 0; i < handles->num; i++) {
		if (handles->v[i].handle == args->handle) {
			obj = handles->v[i].obj;
			handles->v[i] = handles->v[--handles->num];
			break;
		}
	}
	pthread_mutex_unlock(&handles->lock);
	if (!obj)
		return -EINVAL;
	/* CTX_DETACH_RESOURCE (and RESOURCE_UNREF with the last reference): the host forgets
	 * it for this context; the resource itself stays while a dma-buf of it does. The
	 * kernel only queues them (virtio_gpu_gem_object_close, virtio_gpu_free_object) and
	 * returns; so does this, on the queue whose order every later request of the file
	 * keeps (sim-ipc.h): a blob that needs the window they free comes after them. */
	req = (struct sim_ipc_res){ obj->info.res_id, 0 };
	if (vg_gem_object_unref(obj))
		req.flags = SIM_IPC_RES_DMABUF_HOLDS;
	vg_link_close_handle(&vf->link, &req);
	return 0;
}

/* --- mmap ---------------------------------------------------------------------------------- */

/* virtio_gpu_vram_mmap maps host memory with io_remap_pfn_range (VM_PFNMAP | VM_IO): no
 * read into it can pin its pages (shim-pin.c). Guest memory is shmem pages. */
bool
vg_gem_mmap_pinless(struct shim_file *file, off_t offset)
{
	struct vg_object *obj = vg_gem_object_find_offset((uint64_t)offset, 1);

	(void)file;
	return obj && obj->info.blob_mem == VIRTGPU_BLOB_MEM_HOST3D;
}

/* drm_gem_mmap: the fake offset names an object this file has a handle to. */
void *
vg_gem_mmap(struct shim_file *file, void *addr, size_t len, int prot, int flags, off_t offset,
	    int *err)
{
	struct vg_file *vf = file->priv;
	struct vg_object *obj;
	uint64_t off = (uint64_t)offset;
	void *map;

	if (len == 0 || (off & (SHIM_PAGE_SIZE - 1))) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	obj = vg_gem_object_find_offset(off, len);
	if (!obj) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if (!vg_gem_handle_exists(&vf->handles, obj)) {
		*err = EACCES;
		return MAP_FAILED;
	}
	/* Private writable mappings of GEM objects are refused (is_cow_mapping). */
	if ((flags & MAP_TYPE) != MAP_SHARED && (file->open_flags & O_ACCMODE) != O_RDONLY) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if (obj->info.blob_mem == VIRTGPU_BLOB_MEM_HOST3D) {
		/* virtio_gpu_vram_mmap: mappable, mapped by the host, and whole. */
		if (!(obj->info.blob_flags & VIRTGPU_BLOB_FLAG_USE_MAPPABLE) || obj->unmapped ||
		    off != obj->map_offset || len != vg_gem_page_align(obj->info.size)) {
			*err = EINVAL;
			return MAP_FAILED;
		}
	}
	if (obj->fd < 0 || obj->unmapped) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	map = shim_real.mmap(addr, len, prot, flags, obj->fd, off - obj->map_offset);
	if (map == MAP_FAILED)
		*err = errno;
	return map;
}
