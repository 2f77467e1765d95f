/*
 * SPDX-License-Identifier: MIT
 * The virtio-gpu render node as the transport sees it (virtgpu-device.c).
 */
#ifndef VIRTGPU_DEVICE_H
#define VIRTGPU_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "virtgpu-uapi.h"

#define VIRTGPU_EXPORTS 16

struct virtgpu_device {
	int fd;
	char path[64];
	long page_size;
	struct cross_domain_capabilities caps;
	/* References per GEM handle: PRIME_FD_TO_HANDLE of a dma-buf the
	 * file already has a handle for returns that same handle, and one
	 * GEM_CLOSE ends it (and, with it, this file's right to mmap the
	 * object). The library closes a handle only when its last user
	 * does. Indexed by handle. */
	pthread_mutex_t handles_lock;
	uint32_t *handle_refs;
	uint32_t handle_refs_size;
	/* dma-bufs the library exported into requests, by inode (under
	 * handles_lock): their SEND names the handle and resource without
	 * asking the kernel again. An entry goes with its handle's last
	 * close; until then the handle pins the dma-buf, so no other file
	 * can have its inode. */
	struct virtgpu_export {
		dev_t dev;
		ino_t ino;
		uint32_t bo;
		uint32_t res;
		uint32_t blob_mem;
	} exports[VIRTGPU_EXPORTS];
	unsigned exports_next;
};

/* Open `path`, or probe renderD128..191 when NULL; on failure `why` says
 * what was tried. */
int
virtgpu_device_open(struct virtgpu_device *dev, const char *path, char *why,
		    size_t why_size);

void
virtgpu_device_close(struct virtgpu_device *dev);

int
virtgpu_context_init(struct virtgpu_device *dev);

int
virtgpu_blob_create(struct virtgpu_device *dev, uint32_t blob_mem,
		    uint32_t blob_flags, uint64_t size, uint64_t blob_id,
		    uint32_t *bo_handle, uint32_t *res_handle);

void *
virtgpu_blob_map(struct virtgpu_device *dev, uint32_t bo_handle, size_t size);

/* Drops one reference to a handle from virtgpu_blob_create or
 * virtgpu_prime_import; the last one closes it. */
int
virtgpu_gem_close(struct virtgpu_device *dev, uint32_t bo_handle);

int
virtgpu_prime_export(struct virtgpu_device *dev, uint32_t bo_handle);

/* A handle for a dma-buf, maybe one the library holds already: each
 * import is closed on its own with virtgpu_gem_close. */
int
virtgpu_prime_import(struct virtgpu_device *dev, int fd, uint32_t *bo_handle);
/* virtgpu_prime_export of a blob the library made (res, blob_mem), for a
 * request: virtgpu_export_lookup knows the fd's handle and resource at
 * its SEND. */
int
virtgpu_prime_export_named(struct virtgpu_device *dev, uint32_t bo_handle,
			   uint32_t res_handle, uint32_t blob_mem);
/* For a file of stat *st: true when it is such an export whose handle is
 * open, with one more reference to that handle (as virtgpu_prime_import
 * would give), its resource and blob_mem. */
bool
virtgpu_export_lookup(struct virtgpu_device *dev, const struct stat *st,
		      uint32_t *bo_handle, uint32_t *res_handle,
		      uint32_t *blob_mem);
/* In a forked child (one thread, no lock taken): no export is known. */
void
virtgpu_exports_forget(struct virtgpu_device *dev);

int
virtgpu_resource_info(struct virtgpu_device *dev, uint32_t bo_handle,
		      uint32_t *res_handle, uint32_t *blob_mem);

/* One EXECBUFFER; ring < 0 submits without a ring (INIT). */
int
virtgpu_submit(struct virtgpu_device *dev, const void *cmd, size_t size,
	       int ring, const uint32_t *bo_handles, uint32_t num_bo_handles);

/* The same; with fence_fd, also a sync_file that signals once the host
 * ran the commands (FENCE_FD_OUT), or -1 where the kernel gave none. */
int
virtgpu_submit_fenced(struct virtgpu_device *dev, const void *cmd,
		      size_t size, int ring, const uint32_t *bo_handles,
		      uint32_t num_bo_handles, int *fence_fd);

int
virtgpu_wait(struct virtgpu_device *dev, uint32_t bo_handle);
/* True when the out-fence *fence (FENCE_FD_OUT) has signalled; it is then
 * closed and *fence set to -1. False, and kept, while it has not (or for -1). */
bool
virtgpu_fence_retire(int *fence);
/* Whether work on the object is pending (VIRTGPU_WAIT_NOWAIT): 1 busy,
 * 0 idle, -1 with errno when the kernel does not say. */
int
virtgpu_busy(struct virtgpu_device *dev, uint32_t bo_handle);

/* CLOCK_MONOTONIC, for the transport's timeouts. */
uint64_t
virtgpu_now_ns(void);
uint64_t
virtgpu_now_ms(void);

/* A variable of whole seconds (WAYLAND_VIRTGPU_REPLY_TIMEOUT and the like),
 * in ms; `fallback_ms` when unset. */
uint64_t
virtgpu_env_seconds_ms(const char *name, uint64_t fallback_ms);

static inline uint64_t
virtgpu_page_align(const struct virtgpu_device *dev, uint64_t size)
{
	uint64_t mask = (uint64_t) dev->page_size - 1;

	return (size + mask) & ~mask;
}

#endif
