/*
 * What tests may ask of the simulated virtio-gpu beyond the kernel uAPI, resolved at run
 * time (dlsym(RTLD_DEFAULT, ...)) since the fake kernel is only there under the launcher.
 */
#ifndef VIRTGPU_SIM_H
#define VIRTGPU_SIM_H

#include <stddef.h>
#include <stdint.h>

/* The buffer has no host handle, like a 2D resource: sending it must fail (§4.1). */
#define VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE	1

/*
 * A linear GPU buffer as a guest GPU driver (Mesa virgl/venus) would make and export: a
 * virtio-gpu resource whose dma-buf stand-in fd (mmap-able, PRIME-importable on any DRM fd of
 * the simulated device) is returned. Returns the fd or -errno.
 */
typedef int (*virtgpu_sim_gpu_buffer_create_t)(uint32_t width, uint32_t height, uint32_t fourcc,
					       uint32_t flags, uint32_t *stride, uint64_t *size);
#define VIRTGPU_SIM_GPU_BUFFER_CREATE "virtgpu_sim_gpu_buffer_create"

/*
 * Whether the host still runs the cross-domain context of a DRM fd: 1 alive, 0 lost (the
 * host's one-line reason in reason), -ENOENT without a context, -EBADF for another fd.
 */
typedef int (*virtgpu_sim_context_state_t)(int drm_fd, char *reason, size_t size);
#define VIRTGPU_SIM_CONTEXT_STATE "virtgpu_sim_context_state"

/*
 * The guest's GPU renders into a buffer of virtgpu_sim_gpu_buffer_create: it holds zeros at
 * once and 32-bit word i of it becomes `pixel + i` when the rendering ends, delay_ms later
 * (UINT32_MAX: never, as a hung GPU). Until then the buffer is busy, as behind a GPU driver's
 * fence: VIRTGPU_WAIT on it waits, and the sync_file DMA_BUF_IOCTL_EXPORT_SYNC_FILE gives
 * signals when it ends. Returns 0 or -errno.
 */
typedef int (*virtgpu_sim_gpu_buffer_render_t)(int fd, uint32_t pixel, uint32_t delay_ms);
#define VIRTGPU_SIM_GPU_BUFFER_RENDER "virtgpu_sim_gpu_buffer_render"

#endif
