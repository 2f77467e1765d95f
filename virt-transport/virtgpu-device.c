/*
 * SPDX-License-Identifier: MIT
 * The guest kernel's virtio-gpu uAPI as the transport uses it: finding a
 * virtio_gpu render node with the cross-domain capset, context init, blob
 * resources, mapping, PRIME and command submission.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "virtgpu-device.h"

static int
drm_ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));

	return ret;
}

static int
get_param(int fd, uint64_t param, uint64_t *value)
{
	struct drm_virtgpu_getparam gp;

	/* The kernel writes only 4 bytes (§1). */
	*value = 0;
	gp.param = param;
	gp.value = (uint64_t) (uintptr_t) value;

	return drm_ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp);
}

/* §1: is this node a virtio_gpu offering the Wayland channel? */
static int
device_check(struct virtgpu_device *dev, char *why, size_t why_size)
{
	static const struct {
		uint64_t param;
		const char *name;
	} required[] = {
		{ VIRTGPU_PARAM_3D_FEATURES, "3D_FEATURES" },
		{ VIRTGPU_PARAM_RESOURCE_BLOB, "RESOURCE_BLOB" },
		{ VIRTGPU_PARAM_HOST_VISIBLE, "HOST_VISIBLE" },
		{ VIRTGPU_PARAM_CONTEXT_INIT, "CONTEXT_INIT" },
	};
	char name[64] = "";
	struct drm_version version = {
		.name_len = sizeof name - 1,
		.name = name,
	};
	struct drm_virtgpu_get_caps caps;
	uint64_t value;
	size_t i;

	if (drm_ioctl(dev->fd, DRM_IOCTL_VERSION, &version) < 0) {
		snprintf(why, why_size, "%s: not a DRM device (%s)", dev->path,
			 strerror(errno));
		return -1;
	}
	if (strcmp(name, "virtio_gpu") != 0) {
		snprintf(why, why_size, "%s: not virtio_gpu (%s)", dev->path,
			 name);
		return -1;
	}

	for (i = 0; i < sizeof required / sizeof required[0]; i++) {
		if (get_param(dev->fd, required[i].param, &value) < 0 ||
		    value != 1) {
			snprintf(why, why_size, "%s: the device lacks %s",
				 dev->path, required[i].name);
			return -1;
		}
	}

	if (get_param(dev->fd, VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, &value) < 0 ||
	    !(value & (1u << VIRTGPU_CAPSET_CROSS_DOMAIN))) {
		snprintf(why, why_size, "%s: host offers no cross-domain "
			 "context (capsets=0x%llx)", dev->path,
			 (unsigned long long) value);
		return -1;
	}

	memset(&caps, 0, sizeof caps);
	caps.cap_set_id = VIRTGPU_CAPSET_CROSS_DOMAIN;
	caps.cap_set_ver = 0;
	caps.addr = (uint64_t) (uintptr_t) &dev->caps;
	caps.size = sizeof dev->caps;
	if (drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &caps) < 0) {
		snprintf(why, why_size, "%s: GET_CAPS for the cross-domain "
			 "capset failed (%s)", dev->path, strerror(errno));
		return -1;
	}

	if (!(dev->caps.supported_channels &
	      (1u << CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND))) {
		snprintf(why, why_size, "%s: host offers no Wayland channel "
			 "(channels=0x%x)", dev->path,
			 dev->caps.supported_channels);
		return -1;
	}

	return 0;
}

static int
device_open_path(struct virtgpu_device *dev, const char *path, char *why,
		 size_t why_size)
{
	memset(dev, 0, sizeof *dev);
	pthread_mutex_init(&dev->handles_lock, NULL);
	snprintf(dev->path, sizeof dev->path, "%s", path);
	dev->page_size = sysconf(_SC_PAGESIZE);

	/* Non-blocking: a reader takes the fence events there are with one
	 * read(), with no poll() before it (receive.c). */
	dev->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (dev->fd < 0) {
		snprintf(why, why_size, "%s: %s", path, strerror(errno));
		return -1;
	}

	if (device_check(dev, why, why_size) < 0) {
		close(dev->fd);
		dev->fd = -1;
		errno = ENODEV;
		return -1;
	}

	return 0;
}

int
virtgpu_device_open(struct virtgpu_device *dev, const char *path, char *why,
		    size_t why_size)
{
	char reason[160], node[32];
	size_t used = 0;
	int minor, found = 0;

	if (path)
		return device_open_path(dev, path, why, why_size);

	/* DESIGN.md: probe /dev/dri/renderD128..191. */
	why[0] = '\0';
	for (minor = 128; minor <= 191; minor++) {
		snprintf(node, sizeof node, "/dev/dri/renderD%d", minor);
		if (access(node, F_OK) != 0 && errno == ENOENT)
			continue;
		found++;
		if (device_open_path(dev, node, reason, sizeof reason) == 0)
			return 0;
		if (used < why_size)
			used += snprintf(why + used, why_size - used, "%s%s",
					 used ? "; " : "", reason);
	}

	if (!found)
		snprintf(why, why_size, "no render node in /dev/dri "
			 "(renderD128..191)");
	errno = ENODEV;
	return -1;
}

void
virtgpu_device_close(struct virtgpu_device *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	free(dev->handle_refs);
	dev->handle_refs = NULL;
	dev->handle_refs_size = 0;
	memset(dev->exports, 0, sizeof dev->exports);
}

/* One more user of a handle the kernel just gave. */
static int
handle_ref(struct virtgpu_device *dev, uint32_t handle)
{
	int ret = 0;

	pthread_mutex_lock(&dev->handles_lock);
	if (handle >= dev->handle_refs_size) {
		uint32_t size = dev->handle_refs_size ? dev->handle_refs_size : 64;
		uint32_t *grown;

		while (size <= handle && size < UINT32_MAX / 2)
			size *= 2;
		grown = size > handle ?
			realloc(dev->handle_refs, size * sizeof *grown) : NULL;
		if (grown == NULL) {
			ret = -1;
			goto out;
		}
		memset(grown + dev->handle_refs_size, 0,
		       (size - dev->handle_refs_size) * sizeof *grown);
		dev->handle_refs = grown;
		dev->handle_refs_size = size;
	}
	dev->handle_refs[handle]++;
out:
	pthread_mutex_unlock(&dev->handles_lock);
	return ret;
}

/* True when this was the handle's last user (or one the table never saw). */
static bool
handle_unref(struct virtgpu_device *dev, uint32_t handle)
{
	bool last = true;

	pthread_mutex_lock(&dev->handles_lock);
	if (handle < dev->handle_refs_size && dev->handle_refs[handle] > 0)
		last = --dev->handle_refs[handle] == 0;
	if (last) {
		/* Its exports may go, and their inodes be another file's. */
		for (unsigned i = 0; i < VIRTGPU_EXPORTS; i++)
			if (dev->exports[i].bo == handle)
				dev->exports[i].bo = 0;
	}
	pthread_mutex_unlock(&dev->handles_lock);
	return last;
}

/* §2: must be the first context-creating ioctl on the fd. */
int
virtgpu_context_init(struct virtgpu_device *dev)
{
	struct drm_virtgpu_context_set_param params[3] = {
		{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID, VIRTGPU_CAPSET_CROSS_DOMAIN },
		{ VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2 },
		{ VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK,
		  1u << CROSS_DOMAIN_CHANNEL_RING },
	};
	struct drm_virtgpu_context_init init = {
		.num_params = 3,
		.ctx_set_params = (uint64_t) (uintptr_t) params,
	};

	return drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init);
}

int
virtgpu_blob_create(struct virtgpu_device *dev, uint32_t blob_mem,
		    uint32_t blob_flags, uint64_t size, uint64_t blob_id,
		    uint32_t *bo_handle, uint32_t *res_handle)
{
	struct drm_virtgpu_resource_create_blob create;

	memset(&create, 0, sizeof create);
	create.blob_mem = blob_mem;
	create.blob_flags = blob_flags;
	create.size = size;
	create.blob_id = blob_id;

	if (drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &create) < 0)
		return -1;
	if (handle_ref(dev, create.bo_handle) < 0) {
		struct drm_gem_close close_args = { .handle = create.bo_handle };

		drm_ioctl(dev->fd, DRM_IOCTL_GEM_CLOSE, &close_args);
		errno = ENOMEM;
		return -1;
	}

	*bo_handle = create.bo_handle;
	if (res_handle)
		*res_handle = create.res_handle;

	return 0;
}

void *
virtgpu_blob_map(struct virtgpu_device *dev, uint32_t bo_handle, size_t size)
{
	struct drm_virtgpu_map map = { .handle = bo_handle };
	void *ptr;

	if (drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_MAP, &map) < 0)
		return NULL;

	ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd,
		   (off_t) map.offset);

	return ptr == MAP_FAILED ? NULL : ptr;
}

int
virtgpu_gem_close(struct virtgpu_device *dev, uint32_t bo_handle)
{
	struct drm_gem_close close_args = { .handle = bo_handle };

	if (!handle_unref(dev, bo_handle))
		return 0;	/* another part of the library still holds it */
	return drm_ioctl(dev->fd, DRM_IOCTL_GEM_CLOSE, &close_args);
}

int
virtgpu_prime_export(struct virtgpu_device *dev, uint32_t bo_handle)
{
	struct drm_prime_handle prime = {
		.handle = bo_handle,
		.flags = DRM_CLOEXEC | DRM_RDWR,
		.fd = -1,
	};

	if (drm_ioctl(dev->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) < 0)
		return -1;

	return prime.fd;
}

int
virtgpu_prime_export_named(struct virtgpu_device *dev, uint32_t bo_handle,
			   uint32_t res_handle, uint32_t blob_mem)
{
	int fd = virtgpu_prime_export(dev, bo_handle);
	struct virtgpu_export *e;
	struct stat st;

	/* A handle is never 0, nor a resource: 0 marks an empty entry, and
	 * a resource the kernel did not say is asked at the SEND. */
	if (fd < 0 || bo_handle == 0 || res_handle == 0 || fstat(fd, &st) < 0)
		return fd;
	pthread_mutex_lock(&dev->handles_lock);
	e = &dev->exports[dev->exports_next++ % VIRTGPU_EXPORTS];
	*e = (struct virtgpu_export) {
		st.st_dev, st.st_ino, bo_handle, res_handle, blob_mem,
	};
	pthread_mutex_unlock(&dev->handles_lock);
	return fd;
}

bool
virtgpu_export_lookup(struct virtgpu_device *dev, const struct stat *st,
		      uint32_t *bo_handle, uint32_t *res_handle,
		      uint32_t *blob_mem)
{
	bool found = false;

	pthread_mutex_lock(&dev->handles_lock);
	for (unsigned i = 0; i < VIRTGPU_EXPORTS && !found; i++) {
		const struct virtgpu_export *e = &dev->exports[i];

		if (e->bo == 0 || e->dev != st->st_dev || e->ino != st->st_ino ||
		    e->bo >= dev->handle_refs_size ||
		    dev->handle_refs[e->bo] == 0)
			continue;
		dev->handle_refs[e->bo]++;
		*bo_handle = e->bo;
		*res_handle = e->res;
		*blob_mem = e->blob_mem;
		found = true;
	}
	pthread_mutex_unlock(&dev->handles_lock);
	return found;
}

void
virtgpu_exports_forget(struct virtgpu_device *dev)
{
	memset(dev->exports, 0, sizeof dev->exports);
}

int
virtgpu_prime_import(struct virtgpu_device *dev, int fd, uint32_t *bo_handle)
{
	struct drm_prime_handle prime = { .fd = fd };

	if (ioctl(dev->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime) < 0)
		return -1;
	if (handle_ref(dev, prime.handle) < 0) {
		/* Unknown to the table, it would be closed under its other
		 * users: refuse instead. */
		errno = ENOMEM;
		return -1;
	}

	*bo_handle = prime.handle;
	return 0;
}

int
virtgpu_resource_info(struct virtgpu_device *dev, uint32_t bo_handle,
		      uint32_t *res_handle, uint32_t *blob_mem)
{
	struct drm_virtgpu_resource_info info = { .bo_handle = bo_handle };

	if (drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &info) < 0)
		return -1;

	*res_handle = info.res_handle;
	if (blob_mem)
		*blob_mem = info.blob_mem;
	return 0;
}

int
virtgpu_submit(struct virtgpu_device *dev, const void *cmd, size_t size,
	       int ring, const uint32_t *bo_handles, uint32_t num_bo_handles)
{
	return virtgpu_submit_fenced(dev, cmd, size, ring, bo_handles,
				     num_bo_handles, NULL);
}

int
virtgpu_submit_fenced(struct virtgpu_device *dev, const void *cmd,
		      size_t size, int ring, const uint32_t *bo_handles,
		      uint32_t num_bo_handles, int *fence_fd)
{
	struct drm_virtgpu_execbuffer exec;
	uint32_t handles[4];
	int ret;

	/* The handles from this frame, beside the struct and (at its
	 * callers) the commands: the kernel copies them wherever they are,
	 * the simulator's fake kernel copies from the caller's stack without
	 * a system call (tests/sim/README.md), so it charges this library
	 * what it charges its floor. */
	if (num_bo_handles <= 4 && bo_handles) {
		memcpy(handles, bo_handles, num_bo_handles * sizeof *handles);
		bo_handles = handles;
	}
	memset(&exec, 0, sizeof exec);
	exec.command = (uint64_t) (uintptr_t) cmd;
	exec.size = (uint32_t) size;
	exec.bo_handles = (uint64_t) (uintptr_t) bo_handles;
	exec.num_bo_handles = num_bo_handles;
	exec.fence_fd = -1;
	if (ring >= 0) {
		exec.flags = VIRTGPU_EXECBUF_RING_IDX;
		exec.ring_idx = (uint32_t) ring;
	}
	if (fence_fd)
		exec.flags |= VIRTGPU_EXECBUF_FENCE_FD_OUT;

	/* The kernel sleeps while its queue is full: no error asks for a retry here. */
	ret = drm_ioctl(dev->fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &exec);
	if (fence_fd)
		*fence_fd = ret == 0 ? exec.fence_fd : -1;

	return ret;
}

bool
virtgpu_fence_retire(int *fence)
{
	struct pollfd pfd = { .fd = *fence, .events = POLLIN };

	if (*fence < 0 || poll(&pfd, 1, 0) != 1)
		return false;
	close(*fence);
	*fence = -1;
	return true;
}

int
virtgpu_wait(struct virtgpu_device *dev, uint32_t bo_handle)
{
	struct drm_virtgpu_3d_wait wait = { .handle = bo_handle };
	int ret;

	/* EBUSY: not idle yet; the kernel waits a while per call. */
	do {
		ret = ioctl(dev->fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
	} while (ret == -1 && (errno == EBUSY || errno == EINTR ||
			       errno == EAGAIN));

	return ret;
}

int
virtgpu_busy(struct virtgpu_device *dev, uint32_t bo_handle)
{
	struct drm_virtgpu_3d_wait wait = {
		.handle = bo_handle, .flags = VIRTGPU_WAIT_NOWAIT,
	};
	int ret;

	do {
		ret = ioctl(dev->fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
	} while (ret == -1 && errno == EINTR);
	if (ret == 0)
		return 0;
	return errno == EBUSY ? 1 : -1;
}

uint64_t
virtgpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

uint64_t
virtgpu_now_ms(void)
{
	return virtgpu_now_ns() / 1000000;
}

uint64_t
virtgpu_env_seconds_ms(const char *name, uint64_t fallback_ms)
{
	const char *value = getenv(name);

	return value ? strtoull(value, NULL, 10) * 1000 : fallback_ms;
}
