/*
 * The host device's side of the virtqueue: each request of a fake guest kernel (sim-ipc.h),
 * checked as a VMM checks what a guest asks, and answered: the device and its capset, blobs,
 * submits (their fences are host-fence.c's), waits, PRIME imports and the test API's GPU
 * buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-device.h"

void
host_reply(struct host_conn *conn, uint32_t op, int32_t status, const void *data, size_t size,
	   int fd)
{
	int ret = sim_ipc_send(conn->fd, op, status, data, size, NULL, 0, &fd, fd >= 0 ? 1 : 0);

	if (ret < 0)
		conn->dead = true;
}

static void
host_handle_hello(struct host_conn *conn, int *fds, uint32_t num_fds)
{
	struct sim_ipc_device dev = { 0 };
	struct cross_domain_capabilities caps;
	struct host_file *file;

	cd_capabilities(&host_config.cd, &caps);

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
	if (!host_config.no_uuid)
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
	file->ctx = cd_context_create(&host_config.cd, file, file->id);
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
			res->kind == HOST_RES_GPU ? SIM_OBJECT_GPU :
			res->kind == HOST_RES_3D ? SIM_OBJECT_3D : SIM_OBJECT_GPU_NO_HANDLE,
		.blob_mem = res->blob_mem,
		.blob_flags = res->blob_flags,
		.size = res->kind == HOST_RES_3D ? res->backing_size : res->size,
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
		    host_resource_hostmem_used() + req.size > host_config.hostmem) {
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
	if (res->fd >= 0 && res->ino != 0) {
		obj.dev = res->dev;
		obj.ino = res->ino;
	}
	host_reply(conn, SIM_IPC_BLOB_CREATE, 0, &obj, sizeof obj,
		   req.blob_mem == VIRTGPU_BLOB_MEM_GUEST ? -1 : res->fd);
	return;

proto:
	for (uint32_t i = 0; i < num_fds; i++)
		close(fds[i]);
	host_reply(conn, SIM_IPC_BLOB_CREATE, -EPROTO, NULL, 0, -1);
}

/* A SUBMIT as the VMM takes it from the queue. Nothing goes back to the ioctl, which returned
 * when the command was queued: what the host refuses (a malformed submit, no memory for its
 * fence, a lost context, the send-error fault) is answered with an error the kernel only
 * logs, and the fence signals (virtio_gpu_dequeue_ctrl_func). */
static void
host_handle_submit(struct host_conn *conn, const uint8_t *payload, uint32_t size, int *fds,
		   uint32_t num_fds)
{
	struct host_conn *owed = conn->primary ? NULL : conn;
	struct host_file *file = conn->file;
	int fence_fd = num_fds == 1 ? fds[0] : -1;
	struct sim_ipc_submit req = { 0 };
	struct host_fence *fence;
	const uint8_t *cmds;
	int ret;

	if (size >= sizeof req)
		memcpy(&req, payload, sizeof req);
	if (size < sizeof req || num_fds > 1 || req.num_res > (size - sizeof req) / 4 ||
	    req.size != size - sizeof req - 4ull * req.num_res || !file->ctx) {
		for (uint32_t i = 1; i < num_fds; i++)
			close(fds[i]);
		host_fence_refuse_submit(owed, file, req.event, fence_fd, "malformed");
		return;
	}
	cmds = payload + sizeof req + 4ull * req.num_res;
	if (req.size >= sizeof(struct cross_domain_header) && cmds[0] == CROSS_DOMAIN_CMD_SEND &&
	    host_fault_fires(HOST_FAULT_SEND_ERROR)) {
		host_fence_refuse_submit(owed, file, req.event, fence_fd, "the SEND failed");
		return;
	}

	fence = host_fence_create(file, req.event, req.num_res);
	if (!fence) {
		host_fence_refuse_submit(owed, file, req.event, fence_fd, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < req.num_res; i++) {
		uint32_t id;

		memcpy(&id, payload + sizeof req + 4 * i, 4);
		host_fence_add_resource(fence, id);
	}
	host_fence_configure(fence, fence_fd,
			     (req.flags & VIRTGPU_EXECBUF_RING_IDX) &&
			     req.ring_idx == CROSS_DOMAIN_CHANNEL_RING);

	ret = cd_context_submit(file->ctx, cmds, req.size);
	if (ret < 0 && cd_context_lost(file->ctx))
		host_fence_refused(owed, fence);
	else
		host_fence_submitted(owed, file, fence, ret == 1);
}

/* QUEUE_WAIT: room in the file's queue, now or once a submit ran. */
static void
host_handle_queue_wait(struct host_conn *conn)
{
	host_queue_wait(conn, conn->file);
}

static void
host_handle_wait(struct host_conn *conn, const struct sim_ipc_wait *req)
{
	int ret = host_wait(conn, req->res_id, req->nowait, req->timeout_ms);

	if (ret <= 0)
		host_reply(conn, SIM_IPC_WAIT, ret, NULL, 0, -1);
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
	/* The guest maps a 3D resource's own pages, never the host's image. */
	host_reply(conn, SIM_IPC_IMPORT, 0, &obj, sizeof obj,
		   res->kind == HOST_RES_3D ? res->backing_fd : res->fd);
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

/* RESOURCE_CREATE_3D + ATTACH_BACKING: the image on the host, linear at 4 bytes a pixel
 * (every format is taken as 32-bit here), and the guest pages for transfers. Whether the
 * image has a handle for cross-domain is the host's (gpu-path.md §3): rutabaga 0.1.71+
 * exports the GL texture, libkrun only GBM-backed resources. */
static void
host_handle_resource_create(struct host_conn *conn, const struct sim_ipc_resource_create *req,
			    int *fds, uint32_t num_fds)
{
	struct host_resource *res;
	struct sim_ipc_object obj;
	struct stat st;
	uint64_t size = (uint64_t)req->width * 4 * req->height;
	int fd;

	if (num_fds != 1 || !conn->file->ctx) {
		host_reply(conn, SIM_IPC_RESOURCE_CREATE, -EPROTO, NULL, 0, -1);
		goto close_fds;
	}
	if (req->width == 0 || req->height == 0 || req->width > 16384 || req->height > 16384 ||
	    req->depth > 1 || req->array_size > 1 || req->nr_samples > 1) {
		/* virglrenderer refuses it; the kernel returns before it knows. */
		host_log("context %u: a 3D resource of %ux%u refused", conn->file->id, req->width,
			 req->height);
		size = 4096;
	}
	fd = host_gralloc_memfd("virtgpu-sim-3d-image", size);
	res = fd >= 0 ? host_resource_create(HOST_RES_3D, fd, size) : NULL;
	if (!res) {
		if (fd >= 0)
			close(fd);
		host_reply(conn, SIM_IPC_RESOURCE_CREATE, -ENOMEM, NULL, 0, -1);
		goto close_fds;
	}
	res->backing_fd = fds[0];
	res->backing_size = req->size;
	if (fstat(fds[0], &st) == 0) {
		res->backing_dev = st.st_dev;
		res->backing_ino = st.st_ino;
	}
	res->width = req->width;
	res->height = req->height;
	res->stride = req->width * 4;
	res->no_handle = host_config.no_3d_handle;
	host_file_handle_open(conn->file, res->id);
	host_object_of(res, &obj);
	host_reply(conn, SIM_IPC_RESOURCE_CREATE, 0, &obj, sizeof obj, -1);
	return;
close_fds:
	for (uint32_t i = 0; i < num_fds; i++)
		close(fds[i]);
}

/* TRANSFER_TO_HOST_3D / FROM_HOST_3D of a box at level 0: rows of box.w pixels, packed in the
 * guest pages from offset. Out of bounds, the host refuses it (the kernel's reply is not
 * waited for: the guest sees nothing). */
static void
host_handle_transfer(struct host_conn *conn, const struct sim_ipc_transfer *req)
{
	struct host_resource *res = host_resource_lookup(req->res_id);
	const uint32_t x = req->box[0], y = req->box[1], w = req->box[3], h = req->box[4];
	uint8_t *image, *pages;

	host_reply(conn, SIM_IPC_TRANSFER, 0, NULL, 0, -1);
	if (!res || res->kind != HOST_RES_3D || req->level != 0 || x > res->width ||
	    w > res->width - x || y > res->height || h > res->height - y ||
	    req->offset > res->backing_size ||
	    (uint64_t)w * 4 * h > res->backing_size - req->offset) {
		host_log("TRANSFER of resource %u refused: outside it", req->res_id);
		return;
	}
	image = host_resource_map(res);
	pages = mmap(NULL, res->backing_size, PROT_READ | PROT_WRITE, MAP_SHARED, res->backing_fd,
		     0);
	if (!image || pages == MAP_FAILED) {
		host_log("TRANSFER of resource %u: cannot map it", req->res_id);
		if (pages != MAP_FAILED)
			munmap(pages, res->backing_size);
		return;
	}
	for (uint32_t row = 0; row < h; row++) {
		uint8_t *at = image + (uint64_t)(y + row) * res->stride + (uint64_t)x * 4;
		uint8_t *guest = pages + req->offset + (uint64_t)row * w * 4;

		if (req->to_host)
			memcpy(at, guest, (size_t)w * 4);
		else
			memcpy(guest, at, (size_t)w * 4);
	}
	munmap(pages, res->backing_size);
}

/* The test API's GPU rendering into one of its buffers. */
static void
host_handle_render(struct host_conn *conn, const struct sim_ipc_render *req)
{
	struct host_resource *res = host_resource_lookup_inode(req->dev, req->ino);
	int ret = -EINVAL;

	if (res && res->fd >= 0 && (res->kind == HOST_RES_GPU || res->kind == HOST_RES_GPU_NO_HANDLE ||
				    res->kind == HOST_RES_3D))
		ret = host_render_start(res, req->pixel, req->delay_ms);
	host_reply(conn, SIM_IPC_RENDER, ret, NULL, 0, -1);
}

/* A dma-buf's sync_file: the kernel's, asked of the host since the host knows the work. */
static void
host_handle_sync_file(struct host_conn *conn, const struct sim_ipc_sync_file *req)
{
	int fd = host_sync_file(host_resource_lookup_inode(req->dev, req->ino));

	host_reply(conn, SIM_IPC_SYNC_FILE, fd < 0 ? fd : 0, NULL, 0, fd);
	if (fd >= 0)
		close(fd);
}

static void
host_handle_join(struct host_conn *conn, const struct sim_ipc_join *req)
{
	struct host_file *file = host_file_lookup(req->file_id);

	if (file && !conn->file)
		conn->file = file;
	host_reply(conn, SIM_IPC_JOIN, file ? 0 : -ENOENT, NULL, 0, -1);
}

/* The guest's dma-bufs of a resource hold it (+1: a handle went while they stay, the file's
 * last) or let it go (-1: the last of them closed after the last handle): the memory goes
 * with the last of both, and leaves the host-visible window (the kernel's drm_mm node goes
 * with the object). The two may come in either order from two threads of the guest, so
 * the count may dip below zero for a moment. */
static int
host_dmabuf_hold(uint32_t res_id, int delta)
{
	struct host_resource *res = host_resource_lookup(res_id);

	if (!res)
		return -ENOENT;
	res->dmabufs += delta;
	host_resource_maybe_free(res);
	return 0;
}

/* The detach is queued after the submits that still name it. A dma-buf the guest keeps
 * holds the resource from now on. On the primary connection nothing is answered (the
 * kernel queued it and returned); a forked child's, on a joined one, is answered. */
static void
host_handle_handle_close(struct host_conn *conn, const struct sim_ipc_res *req)
{
	int ret = 0;

	if (req->flags & SIM_IPC_RES_DMABUF_HOLDS)
		host_dmabuf_hold(req->res_id, 1);
	if (!host_defer_handle_close(conn->file, req->res_id))
		ret = host_file_handle_close(conn->file, req->res_id);
	if (!conn->primary)
		host_reply(conn, SIM_IPC_HANDLE_CLOSE, ret, NULL, 0, -1);
}

static void
host_handle_export(struct host_conn *conn, const struct sim_ipc_res *req)
{
	host_reply(conn, SIM_IPC_EXPORT, host_dmabuf_hold(req->res_id, 1), NULL, 0, -1);
}

static void
host_handle_export_close(struct host_conn *conn, const struct sim_ipc_res *req)
{
	host_reply(conn, SIM_IPC_EXPORT_CLOSE, host_dmabuf_hold(req->res_id, -1), NULL, 0, -1);
}

static void
host_handle_ctx_state(struct host_conn *conn)
{
	struct sim_ipc_ctx_state state = { 0 };

	if (conn->file->ctx) {
		state.exists = 1;
		state.lost = cd_context_lost(conn->file->ctx);
		snprintf(state.reason, sizeof state.reason, "%s",
			 cd_context_lost_reason(conn->file->ctx));
	}
	host_reply(conn, SIM_IPC_CTX_STATE, 0, &state, sizeof state, -1);
}

/* The payload each request needs at least; 0: any. */
static size_t
host_request_size(uint32_t op)
{
	switch (op) {
	case SIM_IPC_JOIN: return sizeof(struct sim_ipc_join);
	case SIM_IPC_CTX_CREATE: return sizeof(struct sim_ipc_ctx_create);
	case SIM_IPC_HANDLE_OPEN:
	case SIM_IPC_HANDLE_CLOSE:
	case SIM_IPC_EXPORT:
	case SIM_IPC_EXPORT_CLOSE: return sizeof(struct sim_ipc_res);
	case SIM_IPC_WAIT: return sizeof(struct sim_ipc_wait);
	case SIM_IPC_IMPORT: return sizeof(struct sim_ipc_import);
	case SIM_IPC_GPU_BUFFER: return sizeof(struct sim_ipc_gpu_buffer);
	case SIM_IPC_RENDER: return sizeof(struct sim_ipc_render);
	case SIM_IPC_SYNC_FILE: return sizeof(struct sim_ipc_sync_file);
	case SIM_IPC_RESOURCE_CREATE: return sizeof(struct sim_ipc_resource_create);
	case SIM_IPC_TRANSFER: return sizeof(struct sim_ipc_transfer);
	default: return 0;
	}
}

/* One request; returns whether it took the fds (the rest are closed). */
static bool
host_dispatch(struct host_conn *conn, const struct sim_ipc_hdr *hdr, void *payload, int *fds)
{
	switch (hdr->op) {
	case SIM_IPC_HELLO:
		host_handle_hello(conn, fds, hdr->num_fds);
		return true;
	case SIM_IPC_JOIN:
		host_handle_join(conn, payload);
		break;
	case SIM_IPC_CTX_CREATE:
		host_handle_ctx_create(conn, payload);
		break;
	case SIM_IPC_BLOB_CREATE:
		host_handle_blob_create(conn, payload, hdr->size, fds, hdr->num_fds);
		return true;
	case SIM_IPC_HANDLE_OPEN:
		host_reply(conn, hdr->op,
			   host_file_handle_open(conn->file, ((struct sim_ipc_res *)payload)->res_id),
			   NULL, 0, -1);
		break;
	case SIM_IPC_HANDLE_CLOSE:
		host_handle_handle_close(conn, payload);
		break;
	case SIM_IPC_SUBMIT:
		host_handle_submit(conn, payload, hdr->size, fds, hdr->num_fds);
		return true;
	case SIM_IPC_QUEUE_WAIT:
		host_handle_queue_wait(conn);
		break;
	case SIM_IPC_WAIT:
		host_handle_wait(conn, payload);
		break;
	case SIM_IPC_IMPORT:
		host_handle_import(conn, payload);
		break;
	case SIM_IPC_EXPORT:
		host_handle_export(conn, payload);
		break;
	case SIM_IPC_CTX_STATE:
		host_handle_ctx_state(conn);
		break;
	case SIM_IPC_GPU_BUFFER:
		host_handle_gpu_buffer(conn, payload);
		break;
	case SIM_IPC_RENDER:
		host_handle_render(conn, payload);
		break;
	case SIM_IPC_SYNC_FILE:
		host_handle_sync_file(conn, payload);
		break;
	case SIM_IPC_RESOURCE_CREATE:
		host_handle_resource_create(conn, payload, fds, hdr->num_fds);
		return true;
	case SIM_IPC_TRANSFER:
		host_handle_transfer(conn, payload);
		break;
	case SIM_IPC_EXPORT_CLOSE:
		host_handle_export_close(conn, payload);
		break;
	default:
		host_reply(conn, hdr->op, -EPROTO, NULL, 0, -1);
		break;
	}
	return false;
}

/* The order of sim-ipc.h: a joined connection's request after the file's SUBMITs it
 * follows, a dma-buf's after whatever the primary connections hold. */
static void
host_order_request(struct host_conn *conn, const struct sim_ipc_hdr *hdr)
{
	if (sim_ipc_op_queued(hdr->op) && conn->primary)
		conn->submits_seen++;
	else if (!conn->primary && conn->file)
		host_conns_catch_up(conn->file, hdr->seq);
	if (hdr->op == SIM_IPC_SYNC_FILE || hdr->op == SIM_IPC_EXPORT_CLOSE)
		host_conns_drain_primaries();
}

bool
host_handle_message(struct host_conn *conn, bool block)
{
	struct sim_ipc_hdr hdr;
	int fds[SIM_IPC_MAX_FDS];
	void *payload;
	bool fds_taken = false;
	int ret;

	ret = sim_ipc_reader_next(&conn->reader, conn->fd, block, &hdr, &payload, fds);
	if (ret == -EAGAIN)
		return false;
	if (ret < 0) {
		conn->dead = true;
		return false;
	}
	host_order_request(conn, &hdr);
	/* A dma-buf outlives the DRM file it came from: its close comes on a connection
	 * of its own. */
	if (hdr.op != SIM_IPC_HELLO && hdr.op != SIM_IPC_JOIN &&
	    hdr.op != SIM_IPC_EXPORT_CLOSE && !conn->file)
		host_reply(conn, hdr.op, -EBADF, NULL, 0, -1);
	else if (hdr.size < host_request_size(hdr.op))
		host_reply(conn, hdr.op, -EPROTO, NULL, 0, -1);
	else
		fds_taken = host_dispatch(conn, &hdr, payload, fds);
	for (uint32_t i = 0; !fds_taken && i < hdr.num_fds; i++)
		close(fds[i]);
	free(payload);
	return true;
}
