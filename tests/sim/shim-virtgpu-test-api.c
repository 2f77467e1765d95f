/*
 * The fake kernel's test API (virtgpu-sim.h): a GPU driver's buffer made as a dma-buf of the
 * simulated device, and whether the host still runs a DRM file's context.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim-virtgpu.h"
#include "virtgpu-sim.h"

SHIM_EXPORT int
virtgpu_sim_gpu_buffer_create(uint32_t width, uint32_t height, uint32_t fourcc, uint32_t flags,
			      uint32_t *stride, uint64_t *size);
SHIM_EXPORT int
virtgpu_sim_context_state(int drm_fd, char *reason, size_t size);
SHIM_EXPORT int
virtgpu_sim_gpu_buffer_render(int fd, uint32_t pixel, uint32_t delay_ms);

SHIM_EXPORT int
virtgpu_sim_gpu_buffer_create(uint32_t width, uint32_t height, uint32_t fourcc, uint32_t flags,
			      uint32_t *stride, uint64_t *size)
{
	struct sim_ipc_gpu_buffer req = { width, height, fourcc, flags };
	struct sim_ipc_object info;
	struct stat st;
	int ret, fd = -1;

	shim_init();
	/* As a GPU driver would: its own DRM file, a resource, an export, the file closed. */
	ret = vg_link_call_own(SIM_IPC_GPU_BUFFER, &req, sizeof req, &info, sizeof info, &fd);
	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EPROTO;
	if (fstat(fd, &st) == 0)
		shim_stat_note_dmabuf(st.st_dev, st.st_ino);
	if (stride)
		*stride = info.stride;
	if (size)
		*size = info.size;
	return fd;
}

SHIM_EXPORT int
virtgpu_sim_context_state(int drm_fd, char *reason, size_t size)
{
	struct sim_ipc_ctx_state state;
	struct shim_file *file;
	struct vg_file *vf;
	int ret;

	shim_init();
	/* Only fds of the simulated virtio_gpu node have a context to ask about. */
	file = shim_file_of_fd(drm_fd);
	if (!file || file->driver != &virtgpu_driver)
		return -EBADF;
	vf = file->priv;
	ret = vg_link_call(&vf->link, SIM_IPC_CTX_STATE, NULL, 0, NULL, 0, NULL, 0, &state,
			   sizeof state, NULL);
	if (ret < 0)
		return ret;
	if (!state.exists)
		return -ENOENT;
	if (reason && size)
		snprintf(reason, size, "%s", state.lost ? state.reason : "");
	return state.lost ? 0 : 1;
}

SHIM_EXPORT int
virtgpu_sim_gpu_buffer_render(int fd, uint32_t pixel, uint32_t delay_ms)
{
	struct sim_ipc_render req = { .pixel = pixel, .delay_ms = delay_ms };
	struct stat st;

	shim_init();
	if (fstat(fd, &st) < 0)
		return -errno;
	req.dev = st.st_dev;
	req.ino = st.st_ino;
	return vg_link_call_own(SIM_IPC_RENDER, &req, sizeof req, NULL, 0, NULL);
}
