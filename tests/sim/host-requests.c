/*
 * The host device process: the VMM side of the simulated virtio-gpu.  It serves the fake
 * guest kernels (one connection per DRM file), owns resources and fences, and runs one
 * cross-domain context per DRM file, connected to the host compositor's socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "sim-ipc.h"

#define HOST_WAIT_TIMEOUT_MS	15000	/* the kernel's WAIT gives up after 15 s */
#define HOST_MAX_POLL		4096
/* EXECBUFFERs a file may have queued behind a SEND the compositor has not taken before the
 * next one waits in the ioctl: a virtqueue of 256 descriptors at about 4 per submit. */
#define HOST_QUEUE_DEPTH	64

struct host_conn {
	int fd;
	struct host_file *file;
	bool primary;
	bool dead;
	struct host_conn *next;
};

struct host_fence {
	uint64_t id;
	uint32_t file_id;
	bool event;
	bool channel;			/* ring 1: a poll job (§2) */
	int eventfd;
	uint32_t num_res;
	uint32_t *res;
	struct host_fence *next;
};

/* What waits for a file's queued commands to run (cd_context_submit returned 1): fences,
 * and handle closes, which the kernel queues after the submits that name the handle. */
struct host_deferred {
	uint32_t file_id;
	uint64_t ticket;		/* runs once the context completed this many bytes */
	struct host_fence *fence;	/* NULL: a handle close of res_id */
	uint32_t res_id;
	struct host_conn *conn;		/* owed the SUBMIT reply: the queue was full */
	struct host_deferred *next;
};

struct host_waiter {
	struct host_conn *conn;
	uint32_t res_id;
	uint64_t deadline;
	struct host_waiter *next;
};

static struct {
	const struct host_profile *profile;
	struct cd_config cd;
	char wayland_path[PATH_MAX];
	const char *socket_path;
	const char *stats_path;
	uint64_t hostmem;
	bool no_uuid;
	int listen_fd;
	struct host_conn *conns;
	struct host_fence *channel_fences;	/* pending ring-1 fences, in submit order */
	struct host_deferred *deferred;		/* in submit order */
	struct host_waiter *waiters;
	uint64_t next_fence_id;
} host = {
	.hostmem = 1ull << 30,
	.listen_fd = -1,
	.next_fence_id = 1,
};

static volatile sig_atomic_t host_quit;

static uint64_t
host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
host_connect_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof addr.sun_path)
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	/* A stream socket, as rutabaga (§2 "INIT fields"). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void
host_reply(struct host_conn *conn, uint32_t op, int32_t status, const void *data, size_t size,
	   int fd)
{
	int ret = sim_ipc_send(conn->fd, op, status, data, size, NULL, 0, &fd, fd >= 0 ? 1 : 0);

	if (ret < 0)
		conn->dead = true;
}

static void
host_waiters_check(void)
{
	uint64_t now = host_now_ms();

	for (struct host_waiter **link = &host.waiters; *link;) {
		struct host_waiter *w = *link;
		struct host_resource *res = host_resource_lookup(w->res_id);
		int status;

		if (!res || res->busy == 0)
			status = 0;
		else if (now >= w->deadline)
			status = -EBUSY;
		else {
			link = &w->next;
			continue;
		}
		host_reply(w->conn, SIM_IPC_WAIT, status, NULL, 0, -1);
		*link = w->next;
		free(w);
	}
}

static void
host_fence_signal(struct host_fence *fence)
{
	struct host_file *file = host_file_lookup(fence->file_id);

	for (uint32_t i = 0; i < fence->num_res; i++) {
		struct host_resource *res = host_resource_lookup(fence->res[i]);
		if (res) {
			res->busy--;
			host_resource_maybe_free(res);
		}
	}
	/* §2: a fence on a ring in POLL_RINGS_MASK queues an 8-byte drm_event on the file. */
	if (fence->event && file && file->event_fd >= 0) {
		struct drm_event ev = { VIRTGPU_EVENT_FENCE_SIGNALED, sizeof ev };
		if (send(file->event_fd, &ev, sizeof ev, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof ev)
			host_log("file %u: event queue full, fence event dropped", file->id);
	}
	if (fence->eventfd >= 0) {
		uint64_t one = 1;
		if (write(fence->eventfd, &one, sizeof one) < 0)
			host_log("fence %llu: eventfd: %s", (unsigned long long)fence->id,
				 strerror(errno));
		close(fence->eventfd);
	}
	host_stats.fences++;
	free(fence->res);
	free(fence);
}

static void
host_fence_complete(struct host_fence *fence)
{
	/* §2: a channel-ring fence is a poll job; every other fence signals at once. */
	if (fence->channel) {
		struct host_fence **link = &host.channel_fences;
		while (*link)
			link = &(*link)->next;
		*link = fence;
	} else {
		host_fence_signal(fence);
		host_waiters_check();
	}
}

static void
host_reply_submit(struct host_conn *conn, const struct host_fence *fence)
{
	struct sim_ipc_submit_reply reply = { .fence_id = fence->id };

	host_reply(conn, SIM_IPC_SUBMIT, 0, &reply, sizeof reply, fence->eventfd);
}

/* Queues fence (or, without one, the handle close of res_id) behind the file's waiting
 * commands; false without memory. */
static bool
host_defer(struct host_file *file, struct host_fence *fence, uint32_t res_id,
	   struct host_conn *owed)
{
	struct host_deferred *d = calloc(1, sizeof *d), **link = &host.deferred;

	if (!d)
		return false;
	d->file_id = file->id;
	d->ticket = cd_context_accepted(file->ctx);
	d->fence = fence;
	d->res_id = res_id;
	d->conn = owed;
	while (*link)
		link = &(*link)->next;
	*link = d;
	return true;
}

static bool
host_file_has_deferred(const struct host_file *file, unsigned *num_fences)
{
	bool any = false;

	if (num_fences)
		*num_fences = 0;
	for (struct host_deferred *d = host.deferred; d; d = d->next) {
		if (d->file_id != file->id)
			continue;
		any = true;
		if (num_fences && d->fence)
			++*num_fences;
	}
	return any;
}

/* Lets queued commands run where the compositor took more, and completes in order what
 * waited for them; with drop, completes a leaving file's at once. */
static void
host_run_deferred(const struct host_file *drop)
{
	for (struct host_deferred *d = host.deferred; d; d = d->next) {
		struct host_file *file = host_file_lookup(d->file_id);
		if (file && file != drop && file->ctx && (!d->next || d->next->file_id != d->file_id))
			cd_context_resume(file->ctx);
	}
	for (struct host_deferred **link = &host.deferred; *link;) {
		struct host_deferred *d = *link;
		struct host_file *file = host_file_lookup(d->file_id);

		if (file && file != drop && file->ctx &&
		    cd_context_completed(file->ctx) < d->ticket) {
			link = &d->next;
			continue;
		}
		*link = d->next;
		if (d->fence) {
			if (d->conn)
				host_reply_submit(d->conn, d->fence);
			if (file == drop || !file)
				d->fence->event = false;
			host_fence_complete(d->fence);
		} else if (file && file != drop) {
			host_file_handle_close(file, d->res_id);
		}
		free(d);
	}
}

static void
host_file_drop(struct host_file *file)
{
	host_run_deferred(file);
	for (struct host_fence **link = &host.channel_fences; *link;) {
		struct host_fence *fence = *link;
		if (fence->file_id == file->id) {
			*link = fence->next;
			fence->event = false;
			host_fence_signal(fence);
		} else {
			link = &fence->next;
		}
	}
	for (struct host_conn *conn = host.conns; conn; conn = conn->next)
		if (conn->file == file)
			conn->file = NULL;
	host_file_destroy(file);
}

static void
host_handle_hello(struct host_conn *conn, int *fds, uint32_t num_fds)
{
	struct sim_ipc_device dev = { 0 };
	struct cross_domain_capabilities caps = {
		.version = 1,	/* always 1 (§1) */
		.supported_channels = host.wayland_path[0] ? 1u << CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND : 0,
		.supports_dmabuf = host.profile->supports_dmabuf,
	};
	struct host_file *file;

	if (num_fds != 1 || conn->file) {
		host_reply(conn, SIM_IPC_HELLO, -EPROTO, NULL, 0, -1);
		return;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	file = host_file_create(fds[0]);
	if (!file) {
		close(fds[0]);
		host_reply(conn, SIM_IPC_HELLO, -ENOMEM, NULL, 0, -1);
		return;
	}
	conn->file = file;
	conn->primary = true;
	dev.file_id = file->id;
	/* The device features crosvm offers with a capset (§1 "Device features needed"). */
	dev.features = SIM_DEV_3D | SIM_DEV_BLOB | SIM_DEV_HOST_VISIBLE | SIM_DEV_CONTEXT_INIT;
	if (!host.no_uuid)
		dev.features |= SIM_DEV_RESOURCE_UUID;
	dev.capset_mask = 1ull << VIRTGPU_CAPSET_CROSS_DOMAIN;
	dev.capset_max_version = 0;
	dev.capset_max_size = sizeof caps;
	memcpy(dev.capset, &caps, sizeof caps);
	host_reply(conn, SIM_IPC_HELLO, 0, &dev, sizeof dev, -1);
}

static void
host_handle_ctx_create(struct host_conn *conn, const struct sim_ipc_ctx_create *req)
{
	struct host_file *file = conn->file;

	if (file->ctx) {
		host_reply(conn, SIM_IPC_CTX_CREATE, -EEXIST, NULL, 0, -1);
		return;
	}
	/* Capset 0 is the default context: the cross-domain component, the only capset. */
	file->ctx = cd_context_create(&host.cd, file, file->id);
	if (!file->ctx) {
		host_reply(conn, SIM_IPC_CTX_CREATE, -ENOMEM, NULL, 0, -1);
		return;
	}
	file->num_rings = req->num_rings;
	file->poll_rings_mask = req->poll_rings_mask;
	host_reply(conn, SIM_IPC_CTX_CREATE, 0, NULL, 0, -1);
}

static void
host_object_of(const struct host_resource *res, struct sim_ipc_object *obj)
{
	*obj = (struct sim_ipc_object){
		.res_id = res->id,
		.kind = res->kind == HOST_RES_GUEST ? SIM_OBJECT_GUEST :
			res->kind == HOST_RES_HOST3D ? SIM_OBJECT_HOST3D :
			res->kind == HOST_RES_GPU ? SIM_OBJECT_GPU : SIM_OBJECT_GPU_NO_HANDLE,
		.blob_mem = res->blob_mem,
		.blob_flags = res->blob_flags,
		.size = res->size,
		.map_ok = res->fd >= 0,
		.stride = res->stride,
	};
}

static void
host_handle_blob_create(struct host_conn *conn, const uint8_t *payload, uint32_t size,
			int *fds, uint32_t num_fds)
{
	struct host_file *file = conn->file;
	struct sim_ipc_blob_create req;
	struct sim_ipc_object obj;
	struct host_resource *res;
	int fd = -1;

	if (size < sizeof req)
		goto proto;
	memcpy(&req, payload, sizeof req);
	if (req.cmd_size != size - sizeof req || !file->ctx)
		goto proto;
	/* The optional cmd is submitted to the context first (LX create_blob). */
	if (req.cmd_size > 0)
		cd_context_submit_wait(file->ctx, payload + sizeof req, req.cmd_size);

	if (req.blob_mem == VIRTGPU_BLOB_MEM_GUEST) {
		if (num_fds != 1)
			goto proto;
		fd = fds[0];
		res = host_resource_create(HOST_RES_GUEST, fd, req.size);
	} else {
		bool dmabuf = false;

		if (num_fds != 0)
			goto proto;
		if ((req.blob_flags & VIRTGPU_BLOB_FLAG_USE_MAPPABLE) &&
		    host_resource_hostmem_used() + req.size > host.hostmem) {
			/* The guest's host-visible window is full: drm_mm says ENOSPC. */
			host_reply(conn, SIM_IPC_BLOB_CREATE, -ENOSPC, NULL, 0, -1);
			return;
		}
		if (req.blob_mem == VIRTGPU_BLOB_MEM_HOST3D &&
		    host_fault_fires(HOST_FAULT_BLOB_ALLOC_FAIL)) {
			host_reply(conn, SIM_IPC_BLOB_CREATE, -ENOMEM, NULL, 0, -1);
			return;
		}
		if (req.blob_mem == VIRTGPU_BLOB_MEM_HOST3D &&
		    host_fault_fires(HOST_FAULT_BLOB_LOST))
			fd = -ENOMEM;	/* the host failed it after the kernel said yes */
		else if (req.blob_mem == VIRTGPU_BLOB_MEM_HOST3D)
			fd = cd_context_create_blob(file->ctx, req.blob_id, req.size, &dmabuf);
		else
			fd = -EINVAL;
		if (fd < 0) {
			/* The kernel does not wait for the host: the ioctl succeeds and only
			 * the mapping fails later. */
			host_log("context %u: blob_id %llu (size %llu): %s", file->id,
				 (unsigned long long)req.blob_id, (unsigned long long)req.size,
				 strerror(-fd));
			fd = -1;
		}
		res = host_resource_create(HOST_RES_HOST3D, fd, req.size);
		if (res)
			res->dmabuf = dmabuf;
	}
	if (!res) {
		if (fd >= 0)
			close(fd);
		host_reply(conn, SIM_IPC_BLOB_CREATE, -ENOMEM, NULL, 0, -1);
		return;
	}
	res->blob_mem = req.blob_mem;
	res->blob_flags = req.blob_flags;
	host_stats.blobs++;
	host_file_handle_open(file, res->id);
	host_object_of(res, &obj);
	host_reply(conn, SIM_IPC_BLOB_CREATE, 0, &obj, sizeof obj,
		   req.blob_mem == VIRTGPU_BLOB_MEM_GUEST ? -1 : res->fd);
	return;

proto:
	for (uint32_t i = 0; i < num_fds; i++)
		close(fds[i]);
	host_reply(conn, SIM_IPC_BLOB_CREATE, -EPROTO, NULL, 0, -1);
}

static void
host_handle_submit(struct host_conn *conn, const uint8_t *payload, uint32_t size)
{
	struct host_file *file = conn->file;
	struct sim_ipc_submit req;
	struct host_fence *fence;
	const uint8_t *cmds;
	unsigned queued = 0;
	int ret;

	if (size < sizeof req)
		goto proto;
	memcpy(&req, payload, sizeof req);
	if (req.num_res > (size - sizeof req) / 4 ||
	    req.size != size - sizeof req - 4ull * req.num_res || !file->ctx)
		goto proto;
	cmds = payload + sizeof req + 4ull * req.num_res;
	if (req.size >= sizeof(struct cross_domain_header) && cmds[0] == CROSS_DOMAIN_CMD_SEND &&
	    host_fault_fires(HOST_FAULT_FULL_RING)) {
		host_reply(conn, SIM_IPC_SUBMIT, -ENOSPC, NULL, 0, -1);
		return;
	}

	fence = calloc(1, sizeof *fence);
	if (!fence || (req.num_res && !(fence->res = calloc(req.num_res, 4)))) {
		free(fence);
		host_reply(conn, SIM_IPC_SUBMIT, -ENOMEM, NULL, 0, -1);
		return;
	}
	fence->id = host.next_fence_id++;
	fence->file_id = file->id;
	fence->event = req.event;
	fence->eventfd = -1;
	for (uint32_t i = 0; i < req.num_res; i++) {
		uint32_t id;
		struct host_resource *res;

		memcpy(&id, payload + sizeof req + 4 * i, 4);
		res = host_resource_lookup(id);
		if (res) {
			res->busy++;
			fence->res[fence->num_res++] = id;
		}
	}
	if (req.flags & VIRTGPU_EXECBUF_FENCE_FD_OUT)
		fence->eventfd = eventfd(0, EFD_CLOEXEC);
	fence->channel = (req.flags & VIRTGPU_EXECBUF_RING_IDX) &&
			 req.ring_idx == CROSS_DOMAIN_CHANNEL_RING;

	ret = cd_context_submit(file->ctx, cmds, req.size);
	if (host_file_has_deferred(file, &queued) || ret == 1) {
		/* Behind a SEND or WRITE the compositor has not taken: the kernel returns
		 * once the submit is queued, and waits only while the queue is full. */
		struct host_conn *owed = queued >= HOST_QUEUE_DEPTH ? conn : NULL;

		if (!host_defer(file, fence, 0, owed)) {
			host_reply_submit(conn, fence);
			fence->event = false;
			host_fence_complete(fence);
			return;
		}
		if (!owed)
			host_reply_submit(conn, fence);
		return;
	}
	host_reply_submit(conn, fence);
	host_fence_complete(fence);
	return;

proto:
	host_reply(conn, SIM_IPC_SUBMIT, -EPROTO, NULL, 0, -1);
}

static void
host_handle_wait(struct host_conn *conn, const struct sim_ipc_wait *req)
{
	struct host_resource *res = host_resource_lookup(req->res_id);
	struct host_waiter *w;

	if (!res || res->busy == 0) {
		host_reply(conn, SIM_IPC_WAIT, 0, NULL, 0, -1);
		return;
	}
	if (req->nowait) {
		host_reply(conn, SIM_IPC_WAIT, -EBUSY, NULL, 0, -1);
		return;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		host_reply(conn, SIM_IPC_WAIT, -ENOMEM, NULL, 0, -1);
		return;
	}
	w->conn = conn;
	w->res_id = req->res_id;
	w->deadline = host_now_ms() + (req->timeout_ms ? req->timeout_ms : HOST_WAIT_TIMEOUT_MS);
	w->next = host.waiters;
	host.waiters = w;
}

static void
host_handle_import(struct host_conn *conn, const struct sim_ipc_import *req)
{
	struct host_resource *res = host_resource_lookup_inode(req->dev, req->ino);
	struct sim_ipc_object obj;

	/* Not one of this device's buffers: dma_buf_get says EINVAL. */
	if (!res || res->fd < 0) {
		host_reply(conn, SIM_IPC_IMPORT, -EINVAL, NULL, 0, -1);
		return;
	}
	host_file_handle_open(conn->file, res->id);
	host_object_of(res, &obj);
	host_reply(conn, SIM_IPC_IMPORT, 0, &obj, sizeof obj, res->fd);
}

static void
host_handle_gpu_buffer(struct host_conn *conn, const struct sim_ipc_gpu_buffer *req)
{
	struct cross_domain_image_requirements reqs;
	struct host_resource *res;
	struct sim_ipc_object obj;
	int ret, fd;

	/* A GPU driver's linear buffer: aligned strides, as a dma-buf gralloc. */
	ret = host_gralloc_requirements(true, req->width, req->height, req->format, &reqs);
	if (ret < 0) {
		host_reply(conn, SIM_IPC_GPU_BUFFER, ret, NULL, 0, -1);
		return;
	}
	fd = host_gralloc_memfd("virtgpu-sim-gpu-buffer", reqs.size);
	if (fd < 0) {
		host_reply(conn, SIM_IPC_GPU_BUFFER, fd, NULL, 0, -1);
		return;
	}
	res = host_resource_create((req->flags & 1) ? HOST_RES_GPU_NO_HANDLE : HOST_RES_GPU, fd,
				   reqs.size);
	if (!res) {
		close(fd);
		host_reply(conn, SIM_IPC_GPU_BUFFER, -ENOMEM, NULL, 0, -1);
		return;
	}
	res->blob_mem = VIRTGPU_BLOB_MEM_HOST3D;
	res->blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE | VIRTGPU_BLOB_FLAG_USE_SHAREABLE;
	res->stride = reqs.strides[0];
	res->exported = true;
	host_object_of(res, &obj);
	host_reply(conn, SIM_IPC_GPU_BUFFER, 0, &obj, sizeof obj, res->fd);
}

static void
host_handle_message(struct host_conn *conn)
{
	struct sim_ipc_hdr hdr;
	int fds[SIM_IPC_MAX_FDS];
	void *payload;
	int ret;

	ret = sim_ipc_recv(conn->fd, &hdr, &payload, fds);
	if (ret < 0) {
		conn->dead = true;
		return;
	}
	if (hdr.op != SIM_IPC_HELLO && hdr.op != SIM_IPC_JOIN && !conn->file) {
		for (uint32_t i = 0; i < hdr.num_fds; i++)
			close(fds[i]);
		host_reply(conn, hdr.op, -EBADF, NULL, 0, -1);
		free(payload);
		return;
	}

#define NEED(type) do { \
		if (hdr.size < sizeof(type)) { host_reply(conn, hdr.op, -EPROTO, NULL, 0, -1); goto out; } \
	} while (0)

	switch (hdr.op) {
	case SIM_IPC_HELLO:
		host_handle_hello(conn, fds, hdr.num_fds);
		hdr.num_fds = 0;
		break;
	case SIM_IPC_JOIN: {
		NEED(struct sim_ipc_join);
		struct host_file *file = host_file_lookup(((struct sim_ipc_join *)payload)->file_id);
		if (file && !conn->file)
			conn->file = file;
		host_reply(conn, hdr.op, file ? 0 : -ENOENT, NULL, 0, -1);
		break;
	}
	case SIM_IPC_CTX_CREATE:
		NEED(struct sim_ipc_ctx_create);
		host_handle_ctx_create(conn, payload);
		break;
	case SIM_IPC_BLOB_CREATE:
		host_handle_blob_create(conn, payload, hdr.size, fds, hdr.num_fds);
		hdr.num_fds = 0;
		break;
	case SIM_IPC_HANDLE_OPEN:
		NEED(struct sim_ipc_res);
		host_reply(conn, hdr.op,
			   host_file_handle_open(conn->file, ((struct sim_ipc_res *)payload)->res_id),
			   NULL, 0, -1);
		break;
	case SIM_IPC_HANDLE_CLOSE:
		NEED(struct sim_ipc_res);
		/* The detach is queued after the submits that still name it. */
		if (conn->file->ctx && host_file_has_deferred(conn->file, NULL) &&
		    host_defer(conn->file, NULL, ((struct sim_ipc_res *)payload)->res_id, NULL)) {
			host_reply(conn, hdr.op, 0, NULL, 0, -1);
			break;
		}
		host_reply(conn, hdr.op,
			   host_file_handle_close(conn->file, ((struct sim_ipc_res *)payload)->res_id),
			   NULL, 0, -1);
		break;
	case SIM_IPC_SUBMIT:
		host_handle_submit(conn, payload, hdr.size);
		break;
	case SIM_IPC_WAIT:
		NEED(struct sim_ipc_wait);
		host_handle_wait(conn, payload);
		break;
	case SIM_IPC_IMPORT:
		NEED(struct sim_ipc_import);
		host_handle_import(conn, payload);
		break;
	case SIM_IPC_EXPORT: {
		NEED(struct sim_ipc_res);
		struct host_resource *res =
			host_resource_lookup(((struct sim_ipc_res *)payload)->res_id);
		if (res)
			res->exported = true;
		host_reply(conn, hdr.op, res ? 0 : -ENOENT, NULL, 0, -1);
		break;
	}
	case SIM_IPC_CTX_STATE: {
		struct sim_ipc_ctx_state state = { 0 };
		if (conn->file->ctx) {
			state.exists = 1;
			state.lost = cd_context_lost(conn->file->ctx);
			snprintf(state.reason, sizeof state.reason, "%s",
				 cd_context_lost_reason(conn->file->ctx));
		}
		host_reply(conn, hdr.op, 0, &state, sizeof state, -1);
		break;
	}
	case SIM_IPC_GPU_BUFFER:
		NEED(struct sim_ipc_gpu_buffer);
		host_handle_gpu_buffer(conn, payload);
		break;
	default:
		host_reply(conn, hdr.op, -EPROTO, NULL, 0, -1);
		break;
	}
#undef NEED
out:
	for (uint32_t i = 0; i < hdr.num_fds; i++)
		close(fds[i]);
	free(payload);
}

static void
host_conn_destroy(struct host_conn *conn)
{
	for (struct host_deferred *d = host.deferred; d; d = d->next)
		if (d->conn == conn)
			d->conn = NULL;
	for (struct host_waiter **link = &host.waiters; *link;) {
		struct host_waiter *w = *link;
		if (w->conn == conn) {
			*link = w->next;
			free(w);
		} else {
			link = &w->next;
		}
	}
	if (conn->primary && conn->file)
		host_file_drop(conn->file);
	close(conn->fd);
	free(conn);
}

/* Channel-ring fences: one event, one message, one fence (§2). */
static void
host_service_contexts(void)
{
	bool progress = true;

	while (progress) {
		progress = false;
		for (struct host_fence **link = &host.channel_fences; *link;) {
			struct host_fence *fence = *link;
			struct host_file *file = host_file_lookup(fence->file_id);
			bool earlier = false;

			/* Only the oldest pending fence of a file is served. */
			for (struct host_fence *f = host.channel_fences; f != fence; f = f->next)
				if (f->file_id == fence->file_id)
					earlier = true;
			if (!earlier && file && file->ctx && cd_context_service(file->ctx)) {
				*link = fence->next;
				if (fence->event && file->event_fd >= 0 &&
				    host_fault_fires(HOST_FAULT_DUPLICATE_EVENT)) {
					struct drm_event ev = { VIRTGPU_EVENT_FENCE_SIGNALED, sizeof ev };
					if (send(file->event_fd, &ev, sizeof ev,
						 MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof ev)
						host_log("file %u: duplicate event dropped", file->id);
				}
				host_fence_signal(fence);
				progress = true;
				continue;
			}
			link = &fence->next;
		}
	}
	host_waiters_check();
}

static void
host_write_stats(void)
{
	FILE *out;

	if (!host.stats_path)
		return;
	out = strcmp(host.stats_path, "-") == 0 ? stderr : fopen(host.stats_path, "w");
	if (!out) {
		host_log("cannot write stats to %s: %s", host.stats_path, strerror(errno));
		return;
	}
	fprintf(out, "virtgpu-sim stats: profile=%s contexts=%llu contexts_lost=%llu sends=%llu "
		"send_bytes=%llu receives=%llu receive_bytes=%llu reads=%llu read_bytes=%llu "
		"writes=%llu write_bytes=%llu fds_to_compositor=%llu fds_from_compositor=%llu "
		"blobs=%llu fences=%llu buffer_bytes_copied=%llu\n",
		host.profile->name,
		(unsigned long long)host_stats.contexts, (unsigned long long)host_stats.contexts_lost,
		(unsigned long long)host_stats.sends, (unsigned long long)host_stats.send_bytes,
		(unsigned long long)host_stats.receives,
		(unsigned long long)host_stats.receive_bytes,
		(unsigned long long)host_stats.reads, (unsigned long long)host_stats.read_bytes,
		(unsigned long long)host_stats.writes, (unsigned long long)host_stats.write_bytes,
		(unsigned long long)host_stats.fds_to_compositor,
		(unsigned long long)host_stats.fds_from_compositor,
		(unsigned long long)host_stats.blobs, (unsigned long long)host_stats.fences,
		(unsigned long long)host_stats.buffer_bytes_copied);
	if (out != stderr)
		fclose(out);
}

static int
host_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid()) >= (int)sizeof addr.sun_path) {
		fprintf(stderr, "virtgpu-sim host: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(tmp);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0 ||
	    rename(tmp, path) < 0) {
		fprintf(stderr, "virtgpu-sim host: cannot listen on %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	/* Appears only once it accepts: the launcher waits for the path. */
	return fd;
}

static void
host_handle_signal(int sig)
{
	host_quit = 1;
}

static void
host_usage(FILE *out)
{
	fprintf(out,
		"usage: virtgpu-sim-host --socket PATH [--profile NAME] [--wayland PATH]\n"
		"                        [--stats FILE|-] [--hostmem BYTES] [--no-uuid]\n"
		"                        [--fault KIND[@N[+]],...]\n"
		"       virtgpu-sim-host --list-profiles | --list-faults\n"
		"The compositor socket defaults to $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY (wayland-0).\n"
		"Profiles:\n");
	host_profile_list(out);
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "wayland", required_argument, NULL, 'w' },
		{ "stats", required_argument, NULL, 't' },
		{ "hostmem", required_argument, NULL, 'm' },
		{ "no-uuid", no_argument, NULL, 'u' },
		{ "list-profiles", no_argument, NULL, 'l' },
		{ "fault", required_argument, NULL, 'f' },
		{ "list-faults", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *profile_name = "rutabaga", *wayland = NULL, *fault = NULL;
	struct sigaction sa = { .sa_handler = host_handle_signal };
	sigset_t block, empty;
	bool list_faults = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's': host.socket_path = optarg; break;
		case 'p': profile_name = optarg; break;
		case 'w': wayland = optarg; break;
		case 't': host.stats_path = optarg; break;
		case 'm': host.hostmem = strtoull(optarg, NULL, 0); break;
		case 'u': host.no_uuid = true; break;
		case 'l': host_profile_list(stdout); return 0;
		case 'f': fault = optarg; break;
		case 'F': list_faults = true; break;
		case 'h': host_usage(stdout); return 0;
		default: host_usage(stderr); return 2;
		}
	}
	host.profile = host_profile_find(profile_name);
	if (!host.profile) {
		fprintf(stderr, "virtgpu-sim host: unknown profile '%s'\n", profile_name);
		host_usage(stderr);
		return 2;
	}
	if (!host.socket_path) {
		host_usage(stderr);
		return 2;
	}
	if (!host.stats_path)
		host.stats_path = getenv("VIRTGPU_SIM_STATS");
	if (!fault)
		fault = getenv("VIRTGPU_SIM_FAULT");
	if (host_fault_parse(fault) < 0)
		return 2;
	if (list_faults) {
		/* Also how the launcher checks a --fault before starting anything. */
		host_fault_list(stdout);
		return 0;
	}
	if (wayland) {
		snprintf(host.wayland_path, sizeof host.wayland_path, "%s", wayland);
	} else {
		/* As QEMU: $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY or wayland-0 (§7). */
		const char *display = getenv("WAYLAND_DISPLAY");
		const char *dir = getenv("XDG_RUNTIME_DIR");
		if (!display)
			display = "wayland-0";
		if (display[0] == '/')
			snprintf(host.wayland_path, sizeof host.wayland_path, "%s", display);
		else if (dir)
			snprintf(host.wayland_path, sizeof host.wayland_path, "%s/%s", dir, display);
	}
	host.cd.profile = host.profile;
	host.cd.wayland_path = host.wayland_path[0] ? host.wayland_path : NULL;
	host.cd.connect_socket = host_connect_socket;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	host.listen_fd = host_listen(host.socket_path);
	if (host.listen_fd < 0)
		return 1;

	while (!host_quit) {
		static struct pollfd pfds[HOST_MAX_POLL];
		struct timespec timeout, *tp = NULL;
		int n = 0, ret;

		pfds[n++] = (struct pollfd){ host.listen_fd, POLLIN, 0 };
		for (struct host_conn *conn = host.conns; conn && n < HOST_MAX_POLL; conn = conn->next)
			pfds[n++] = (struct pollfd){ conn->fd, POLLIN, 0 };
		for (struct host_fence *f = host.channel_fences; f; f = f->next) {
			struct host_file *file = host_file_lookup(f->file_id);
			if (file && file->ctx)
				n += cd_context_watch(file->ctx, pfds + n, HOST_MAX_POLL - n);
		}
		for (struct host_deferred *d = host.deferred; d && n < HOST_MAX_POLL; d = d->next) {
			struct host_file *file = host_file_lookup(d->file_id);
			int fd = file && file->ctx ? cd_context_send_fd(file->ctx) : -1;
			if (fd >= 0 && (!d->next || d->next->file_id != d->file_id))
				pfds[n++] = (struct pollfd){ fd, POLLOUT, 0 };
		}
		if (host.waiters) {
			uint64_t now = host_now_ms(), next = UINT64_MAX;
			for (struct host_waiter *w = host.waiters; w; w = w->next)
				if (w->deadline < next)
					next = w->deadline;
			next = next > now ? next - now : 0;
			timeout.tv_sec = next / 1000;
			timeout.tv_nsec = (next % 1000) * 1000000;
			tp = &timeout;
		}
		ret = ppoll(pfds, n, tp, &empty);
		if (ret < 0 && errno != EINTR) {
			host_log("poll: %s", strerror(errno));
			break;
		}
		if (ret < 0)
			continue;

		for (int i = 1; i < n; i++) {
			if (!pfds[i].revents)
				continue;
			for (struct host_conn *conn = host.conns; conn; conn = conn->next) {
				if (conn->fd == pfds[i].fd && !conn->dead) {
					host_handle_message(conn);
					break;
				}
			}
		}
		for (struct host_conn **link = &host.conns; *link;) {
			struct host_conn *conn = *link;
			if (conn->dead) {
				*link = conn->next;
				host_conn_destroy(conn);
			} else {
				link = &conn->next;
			}
		}
		host_run_deferred(NULL);
		host_service_contexts();
		if (pfds[0].revents & POLLIN) {
			int fd = accept4(host.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				struct host_conn *conn = calloc(1, sizeof *conn);
				struct timeval tv = { .tv_sec = 5 };
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
				if (conn) {
					conn->fd = fd;
					conn->next = host.conns;
					host.conns = conn;
				} else {
					close(fd);
				}
			}
		}
	}

	while (host.conns) {
		struct host_conn *conn = host.conns;
		host.conns = conn->next;
		host_conn_destroy(conn);
	}
	unlink(host.socket_path);
	host_write_stats();
	return 0;
}
