/*
 * SPDX-License-Identifier: MIT
 * wl_buffers of GPU memory (linux-dmabuf, wl_drm's PRIME buffers): which
 * buffer is whose dma-buf, and, before a commit that attaches one, a wait
 * for the guest's rendering into it, as sommelier does (gpu-path.md §4):
 * the host's compositor cannot see the guest's implicit fences.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "names.h"
#include "transport-virtgpu.h"
#include "wayland-private.h"

/* How long a commit waits for the guest's rendering at most. */
#define GPU_WAIT_MAX_MS 1000

/* A params object, a wl_buffer or a wl_surface, by object id. */
struct gpu_object {
	uint32_t id;
	int fd;			/* params, buffer: plane 0's dma-buf (a dup) */
	uint32_t buffer;	/* surface: the buffer attached since its last commit */
	bool cannot_cross;	/* params: a plane's fd cannot reach the host */
	uint32_t bo;		/* buffer: its GEM handle for VIRTGPU_WAIT, once needed */
	struct virtgpu_device *dev;	/* of bo */
	struct gpu_object *next;
};

static struct gpu_object **
object_link(struct gpu_object **list, uint32_t id)
{
	while (*list && (*list)->id != id)
		list = &(*list)->next;
	return list;
}

static struct gpu_object *
object_find(struct gpu_object *list, uint32_t id)
{
	return *object_link(&list, id);
}

/* A new entry for id (an old one of a reused id goes first). */
static struct gpu_object *
object_add(struct gpu_object **list, uint32_t id, int fd)
{
	struct gpu_object **link = object_link(list, id), *o;

	if (*link) {
		o = *link;
		if (o->fd >= 0)
			close(o->fd);
		if (o->bo)
			virtgpu_gem_close(o->dev, o->bo);
	} else {
		o = calloc(1, sizeof *o);
		if (o == NULL)
			return NULL;
		o->next = *list;
		*list = o;
	}
	o->id = id;
	o->fd = fd;
	o->buffer = 0;
	o->cannot_cross = false;
	o->bo = 0;
	return o;
}

static void
object_remove(struct gpu_object **list, uint32_t id)
{
	struct gpu_object **link = object_link(list, id), *o = *link;

	if (o == NULL)
		return;
	*link = o->next;
	if (o->fd >= 0)
		close(o->fd);
	if (o->bo)
		virtgpu_gem_close(o->dev, o->bo);
	free(o);
}

static void
objects_free(struct gpu_object **list)
{
	while (*list)
		object_remove(list, (*list)->id);
}

void
gpu_buffers_fini(struct virtgpu_transport *t)
{
	objects_free(&t->gpu.params);
	objects_free(&t->gpu.buffers);
	objects_free(&t->gpu.surfaces);
}

/* A buffer made of a dma-buf: it keeps a copy of the fd to wait on. */
static int
buffer_made(struct vt_gpu_buffers *g, struct wl_object *buffer, int fd)
{
	int copy;

	if (buffer == NULL || fd < 0)
		return 0;
	copy = wl_os_dupfd_cloexec(fd, 0);
	if (copy < 0 || object_add(&g->buffers, buffer->id, copy) == NULL) {
		if (copy >= 0)
			close(copy);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* What a commit found: nothing pending, a wait that ended, or one given up. */
enum gpu_wait_result {
	GPU_IDLE,
	GPU_WAITED,
	GPU_TIMED_OUT,
};

/* poll() on fd for POLLIN within timeout_ms: 1 ready, 0 not. */
static int
gpu_poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t end = virtgpu_now_ns() + (uint64_t) timeout_ms * 1000000;
	int ret;

	while ((ret = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
		uint64_t now = virtgpu_now_ns();

		timeout_ms = now < end ? (int) ((end - now) / 1000000) : 0;
	}
	return ret == 1;
}

/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux 6.0): the fence of the rendering
 * itself; a buffer without pending work gets a signalled one. -1 (errno)
 * when the kernel has no such ioctl. */
static int
gpu_wait_sync_file(int dmabuf, enum gpu_wait_result *result)
{
	struct dma_buf_export_sync_file sync = {
		.flags = DMA_BUF_SYNC_READ, .fd = -1,
	};

	if (ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &sync) < 0)
		return -1;
	if (gpu_poll_in(sync.fd, 0))
		*result = GPU_IDLE;
	else if (gpu_poll_in(sync.fd, GPU_WAIT_MAX_MS))
		*result = GPU_WAITED;
	else
		*result = GPU_TIMED_OUT;
	close(sync.fd);
	return 0;
}

/* Before Linux 6.0: the driver's own answer on the buffer, through a handle
 * kept for the buffer's life. The kernel's blocking WAIT gives up only
 * after 15 s, so the library asks without blocking, at growing intervals
 * (50 us to 1 ms), for GPU_WAIT_MAX_MS at most. */
static enum gpu_wait_result
gpu_wait_virtgpu(struct virtgpu_transport *t, struct gpu_object *buffer)
{
	struct timespec pause = { 0, 50000 };
	uint64_t end;
	int busy;

	if (!buffer->bo) {
		if (virtgpu_prime_import(&t->cd.dev, buffer->fd, &buffer->bo) < 0) {
			buffer->bo = 0;
			return GPU_IDLE;	/* not ours: nothing to wait for */
		}
		buffer->dev = &t->cd.dev;
	}
	if (virtgpu_busy(&t->cd.dev, buffer->bo) != 1)
		return GPU_IDLE;
	end = virtgpu_now_ns() + (uint64_t) GPU_WAIT_MAX_MS * 1000000;
	while ((busy = virtgpu_busy(&t->cd.dev, buffer->bo)) == 1 &&
	       virtgpu_now_ns() < end) {
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 1000000)
			pause.tv_nsec *= 2;
	}
	return busy == 1 ? GPU_TIMED_OUT : GPU_WAITED;
}

static enum gpu_wait_result
gpu_wait(struct virtgpu_transport *t, struct gpu_object *buffer)
{
	struct vt_gpu_buffers *g = &t->gpu;
	enum gpu_wait_result result;

	if (!g->no_export_sync_file) {
		if (gpu_wait_sync_file(buffer->fd, &result) == 0) {
			g->sync_way = "sync_file";
			return result;
		}
		if (errno == ENOTTY || errno == EINVAL)
			g->no_export_sync_file = true;	/* an older kernel */
	}
	g->sync_way = "virtgpu_wait";
	return gpu_wait_virtgpu(t, buffer);
}

/* wl_surface.commit with a dma-buf attached since the last one. */
static void
surface_commit(struct virtgpu_transport *t, uint32_t surface_id)
{
	struct vt_gpu_buffers *g = &t->gpu;
	struct gpu_object *surface = object_find(g->surfaces, surface_id);
	struct gpu_object *buffer;
	enum gpu_wait_result result;
	uint64_t start;

	if (surface == NULL || surface->buffer == 0)
		return;
	buffer = object_find(g->buffers, surface->buffer);
	surface->buffer = 0;
	if (buffer == NULL)
		return;

	start = virtgpu_now_ns();
	result = gpu_wait(t, buffer);
	if (result == GPU_IDLE)
		return;
	if (result == GPU_TIMED_OUT && !g->wait_failed_said) {
		wl_log("wayland-virtgpu: the guest's rendering into buffer %u "
		       "did not end within %d ms; committing it anyway\n",
		       buffer->id, GPU_WAIT_MAX_MS);
		g->wait_failed_said = true;
	}
	g->waits++;
	g->wait_ns += virtgpu_now_ns() - start;
}

/* params.add with an fd the host cannot take (a dma-buf of another
 * device, memory only the guest has): not sent; the params fail as on a
 * compositor that cannot import them (gpu-path.md §5). */
static int
params_add_cannot_cross(struct virtgpu_transport *t, struct wl_object *params,
			union wl_argument *args)
{
	struct gpu_object *p = object_find(t->gpu.params, params->id);
	char what[64];
	uint32_t bo, res;

	switch (fd_translate_classify(t, args[0].h, NULL, &bo, &res, what,
				      sizeof what)) {
	case FD_DMABUF:
		virtgpu_gem_close(&t->cd.dev, bo);
		return 0;
	case FD_READ_PIPE:
		snprintf(what, sizeof what, "a pipe");
		break;
	default:
		break;
	}
	wl_log("wayland-virtgpu: zwp_linux_buffer_params_v1.add: fd %d is %s "
	       "and cannot cross to the host; the buffer fails\n", args[0].h,
	       what);
	if (p == NULL)
		p = object_add(&t->gpu.params, params->id, -1);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	p->cannot_cross = true;
	return 1;
}

static int
params_request(struct virtgpu_transport *t, struct wl_object *params,
	       const char *request, union wl_argument *args)
{
	struct vt_gpu_buffers *g = &t->gpu;
	struct gpu_object *p = object_find(g->params, params->id);
	int fd, ret;

	if (strcmp(request, "add") == 0) {
		if (p && p->cannot_cross)
			return 1;	/* a plane before it failed */
		ret = params_add_cannot_cross(t, params, args);
		if (ret != 0 || args[1].u != 0)
			return ret;
		/* Plane 0 stands for the buffer. */
		fd = wl_os_dupfd_cloexec(args[0].h, 0);
		if (fd < 0 || object_add(&g->params, params->id, fd) == NULL) {
			if (fd >= 0)
				close(fd);
			errno = ENOMEM;
			return -1;
		}
	} else if (strcmp(request, "create") == 0 && p && p->cannot_cross) {
		/* zwp_linux_buffer_params_v1.failed (event 1) instead. */
		if (t->base.core->queue_event(t->base.core_data, params->id, 1) < 0)
			return -1;
		return 1;
	} else if (strcmp(request, "create_immed") == 0 && p) {
		if (p->cannot_cross) {
			wl_log("wayland-virtgpu: zwp_linux_buffer_params_v1."
			       "create_immed: a plane cannot cross to the host "
			       "(said above); a compositor would end the "
			       "connection here too\n");
			errno = EINVAL;
			return -1;
		}
		return buffer_made(g, args[0].o, p->fd);
	} else if (strcmp(request, "destroy") == 0) {
		object_remove(&g->params, params->id);
	}
	return 0;
}

/* The interfaces whose messages gpu_buffers_request and _event look at. */
bool
gpu_buffers_hooks(const char *interface)
{
	static const char *const names[] = {
		"wl_surface", "wl_buffer", "zwp_linux_buffer_params_v1", "wl_drm",
	};

	return virt_name_listed(interface, names, VIRT_NAMES_COUNT(names));
}

/* A request about to be sent: 0 to send it, 1 when it is not to be sent,
 * -1 (errno set) to fail it. */
int
gpu_buffers_request(struct virtgpu_transport *t, struct wl_object *target,
		    const struct wl_message *message, union wl_argument *args)
{
	struct vt_gpu_buffers *g = &t->gpu;
	const char *interface = target->interface->name;
	struct gpu_object *surface;

	if (strcmp(interface, "wl_surface") == 0) {
		if (strcmp(message->name, "attach") == 0) {
			surface = object_find(g->surfaces, target->id);
			if (surface == NULL && args[0].o &&
			    object_find(g->buffers, args[0].o->id))
				surface = object_add(&g->surfaces, target->id, -1);
			if (surface)
				surface->buffer = args[0].o ? args[0].o->id : 0;
		} else if (strcmp(message->name, "commit") == 0) {
			surface_commit(t, target->id);
		} else if (strcmp(message->name, "destroy") == 0) {
			object_remove(&g->surfaces, target->id);
		}
	} else if (strcmp(interface, "wl_buffer") == 0) {
		object_remove(&g->buffers, target->id);	/* destroy */
	} else if (strcmp(interface, "zwp_linux_buffer_params_v1") == 0) {
		return params_request(t, target, message->name, args);
	} else if (strcmp(interface, "wl_drm") == 0 &&
		   strcmp(message->name, "create_prime_buffer") == 0) {
		return buffer_made(g, args[0].o, args[1].h);
	}
	return 0;
}

/* zwp_linux_buffer_params_v1.created(new_id wl_buffer): a buffer made of
 * the params' dma-buf. */
int
gpu_buffers_event(struct virtgpu_transport *t, struct wl_object *target,
		  const struct wl_message *message, union wl_argument *args)
{
	struct gpu_object *p;

	if (strcmp(target->interface->name, "zwp_linux_buffer_params_v1") != 0 ||
	    strcmp(message->name, "created") != 0)
		return 0;
	p = object_find(t->gpu.params, target->id);
	return p ? buffer_made(&t->gpu, args[0].o, p->fd) : 0;
}
