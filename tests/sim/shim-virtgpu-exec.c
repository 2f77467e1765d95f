/*
 * Command submission in the fake virtio_gpu driver: EXECBUFFER's checks (rings, bo handles,
 * sizes), the out-fence fds it makes and takes in again, and WAIT on a resource.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "shim-virtgpu.h"

#define VG_MAX_SUBMIT		(SIM_IPC_MAX_PAYLOAD - 4096)
#define VG_MAX_BO_HANDLES	(1u << 20)

/* Out-fence fds this process was given, for FENCE_FD_IN. */
static pthread_mutex_t vg_fences_lock = PTHREAD_MUTEX_INITIALIZER;
static int vg_fence_fds[256];
static int vg_num_fence_fds;

void
vg_exec_atfork_child(void)
{
	pthread_mutex_init(&vg_fences_lock, NULL);
}

static bool
vg_exec_is_fence_fd(int fd)
{
	struct stat st, known;
	bool found = false;

	if (fstat(fd, &st) < 0)
		return false;
	pthread_mutex_lock(&vg_fences_lock);
	for (int i = 0; i < vg_num_fence_fds && !found; i++)
		found = fstat(vg_fence_fds[i], &known) == 0 && known.st_ino == st.st_ino &&
			known.st_dev == st.st_dev;
	pthread_mutex_unlock(&vg_fences_lock);
	return found;
}

static void
vg_exec_note_fence_fd(int fence_fd)
{
	pthread_mutex_lock(&vg_fences_lock);
	if (vg_num_fence_fds == (int)(sizeof vg_fence_fds / sizeof vg_fence_fds[0]))
		vg_num_fence_fds = 0;
	vg_fence_fds[vg_num_fence_fds++] = fence_fd;
	pthread_mutex_unlock(&vg_fences_lock);
}

/* The checks before anything is copied: flags, the ring, the in-fence, the sizes. */
static int
vg_exec_check(struct vg_file *vf, const struct drm_virtgpu_execbuffer *exbuf,
	      uint32_t *ring_idx)
{
	int ret;

	*ring_idx = 0;
	if (!(vf->dev.features & SIM_DEV_3D))
		return -ENOSYS;
	if (exbuf->flags & ~VIRTGPU_EXECBUF_FLAGS)
		return -EINVAL;
	if (exbuf->flags & VIRTGPU_EXECBUF_RING_IDX) {
		if (!vg_context_ring_valid(&vf->ctx, exbuf->ring_idx))
			return -EINVAL;
		*ring_idx = exbuf->ring_idx;
	}
	ret = vg_context_create(vf);
	if (ret < 0)
		return ret;
	if (exbuf->flags & VIRTGPU_EXECBUF_FENCE_FD_IN) {
		/* sync_file_get_fence: only fences of this device are fences here. The real
		 * kernel queues the wait; the simulation waits in the ioctl. */
		if (!vg_exec_is_fence_fd(exbuf->fence_fd))
			return -EINVAL;
		struct pollfd pfd = { exbuf->fence_fd, POLLIN, 0 };
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	}
	if (exbuf->num_in_syncobjs || exbuf->num_out_syncobjs)
		return -EINVAL;		/* no syncobj handle exists here */
	if (exbuf->num_bo_handles > VG_MAX_BO_HANDLES ||
	    exbuf->size > VG_MAX_SUBMIT - 4ull * exbuf->num_bo_handles)
		return -ENOMEM;
	return 0;
}

/* The bo handles become resource ids; -ENOENT for one this file does not have. */
static int
vg_exec_resolve_handles(struct vg_file *vf, uint32_t *res_ids, uint32_t num)
{
	for (uint32_t i = 0; i < num; i++) {
		struct vg_object *obj = vg_gem_handle_lookup(&vf->handles, res_ids[i]);
		if (!obj)
			return -ENOENT;
		res_ids[i] = obj->info.res_id;
	}
	return 0;
}

/* The submit's payload: the bo handles as resource ids, then the commands. Both are copied
 * at once; when that fails, one by one as the kernel does (the handles, their lookup, then
 * the commands), so the error is the kernel's. */
static int
vg_exec_copy_payload(struct vg_file *vf, const struct drm_virtgpu_execbuffer *exbuf,
		     uint8_t *payload)
{
	uint32_t *res_ids = (uint32_t *)payload;
	uint8_t *cmds = payload + 4ull * exbuf->num_bo_handles;
	int ret;

	if (shim_copy_from_user2(res_ids, exbuf->bo_handles, 4ull * exbuf->num_bo_handles,
				 cmds, exbuf->command, exbuf->size) == 0)
		return vg_exec_resolve_handles(vf, res_ids, exbuf->num_bo_handles);
	ret = shim_copy_from_user(res_ids, exbuf->bo_handles, 4ull * exbuf->num_bo_handles);
	if (ret == 0)
		ret = vg_exec_resolve_handles(vf, res_ids, exbuf->num_bo_handles);
	if (ret == 0)
		ret = shim_copy_from_user(cmds, exbuf->command, exbuf->size);
	return ret;
}

/* As the kernel's EXECBUFFER: everything checked and copied here, the out-fence made here
 * (an eventfd stands in for the sync_file; the host gets a copy and signals it), and the
 * commands queued for the host without waiting for its answer, which a real kernel never
 * hands to the ioctl (an error answer is only logged, and its fence signals). */
int
vg_exec_execbuffer(struct vg_file *vf, struct drm_virtgpu_execbuffer *exbuf)
{
	struct sim_ipc_submit req = { 0 };
	uint32_t ring_idx;
	uint8_t *payload = NULL;
	int ret, fence_fd = -1;

	ret = vg_exec_check(vf, exbuf, &ring_idx);
	if (ret < 0)
		return ret;
	payload = malloc(4ull * exbuf->num_bo_handles + exbuf->size + 1);
	if (!payload)
		return -ENOMEM;
	ret = vg_exec_copy_payload(vf, exbuf, payload);
	if (ret < 0)
		goto out;
	if (exbuf->flags & VIRTGPU_EXECBUF_FENCE_FD_OUT) {
		fence_fd = eventfd(0, EFD_CLOEXEC);
		if (fence_fd < 0) {
			ret = -errno;	/* EMFILE, as get_unused_fd_flags */
			goto out;
		}
	}

	req.flags = exbuf->flags;
	req.ring_idx = ring_idx;
	/* §2: fences of rings in POLL_RINGS_MASK queue a drm_event. */
	req.event = vg_context_ring_polled(&vf->ctx, ring_idx);
	req.num_res = exbuf->num_bo_handles;
	req.size = exbuf->size;
	ret = vg_link_submit(&vf->link, &req, sizeof req, payload,
			     4ull * exbuf->num_bo_handles + exbuf->size, fence_fd);
	if (ret < 0) {
		if (fence_fd >= 0)
			shim_real.close(fence_fd);
		goto out;
	}
	if (fence_fd >= 0) {
		exbuf->fence_fd = fence_fd;
		vg_exec_note_fence_fd(fence_fd);
	}
out:
	free(payload);
	return ret;
}

int
vg_exec_wait(struct vg_file *vf, struct drm_virtgpu_3d_wait *wait)
{
	struct sim_ipc_wait req;
	struct vg_object *obj;

	if (wait->flags & ~VIRTGPU_WAIT_NOWAIT)
		return -EINVAL;
	obj = vg_gem_handle_lookup(&vf->handles, wait->handle);
	if (!obj)
		return -ENOENT;
	req = (struct sim_ipc_wait){ obj->info.res_id, wait->flags & VIRTGPU_WAIT_NOWAIT, 0, 0 };
	return vg_link_call(&vf->link, SIM_IPC_WAIT, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0,
			    NULL);
}
