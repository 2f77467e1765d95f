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

/* A connection of the test API's own, as a GPU driver's DRM file, with op called on it. */
static int
test_api_call(uint32_t op, const void *req, size_t req_size, void *reply, size_t reply_size,
	      int *reply_fd)
{
	struct sim_ipc_device dev;
	int conn, ret, sv[2];

	conn = vg_link_connect();
	if (conn < 0)
		return conn;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		shim_real.close(conn);
		return ret;
	}
	ret = vg_link_call_on(conn, SIM_IPC_HELLO, NULL, 0, NULL, 0, &sv[1], 1, &dev, sizeof dev,
			      NULL);
	if (ret == 0)
		ret = vg_link_call_on(conn, op, req, req_size, NULL, 0, NULL, 0, reply, reply_size,
				      reply_fd);
	shim_real.close(conn);
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	return ret;
}

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
	ret = test_api_call(SIM_IPC_GPU_BUFFER, &req, sizeof req, &info, sizeof info, &fd);
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
	return test_api_call(SIM_IPC_RENDER, &req, sizeof req, NULL, 0, NULL);
}
