/*
 * What the parts of the fake virtio_gpu driver share: the driver's open file and each
 * part's state with the functions that reach it. Each part's section names its file; its
 * state is touched only there.
 */
#ifndef SHIM_VIRTGPU_H
#define SHIM_VIRTGPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shim.h"
#include "sim-ipc.h"
#include "virtgpu-uapi.h"

struct vg_file;

/* --- shim-virtgpu-link.c: the connections to the host device ------------------------------ */

/* One idle connection to the host for this file: a call made while another is in flight
 * (two threads) opens one more and closes it after, so the process's fd count stays as on
 * a real kernel, where the device file is the only fd (tests compare counts). SUBMITs and
 * handle closes go on the primary connection without a reply, in the order sim-ipc.h
 * describes. */
struct vg_link {
	int primary;		/* the host sees the file closed when this closes */
	uint32_t file_id;	/* the host's name for the file, for JOIN */
	pthread_mutex_t lock;
	int pool[1];
	int num_pool;
	pid_t pool_pid;
	pthread_mutex_t submit_lock;	/* one queued command at a time on the primary */
	uint32_t submits;	/* SUBMITs and handle closes sent on the primary (atomic reads) */
	uint32_t credit;	/* SUBMITs it may send before asking for room */
	pid_t owner_pid;	/* the process that writes on the primary */
};

/* A new connection to the host device, or -errno. */
int
vg_link_connect(void);
/* One request, one reply on conn: the reply's status, or -ENODEV when the host is gone. */
int
vg_link_call_on(int conn, uint32_t op, uint32_t seq, const void *a, size_t a_size,
		const void *b, size_t b_size, const int *fds, unsigned num_fds, void *reply,
		size_t reply_size, int *reply_fd);
void
vg_link_setup(struct vg_link *link);
/* Says HELLO on the primary connection, handing the host the peer of the DRM fd. */
int
vg_link_open(struct vg_link *link, int event_fd, struct sim_ipc_device *dev);
/* One request, one reply, after the file's SUBMITs before it. Threads may call at once:
 * each takes its own connection. */
int
vg_link_call(struct vg_link *link, uint32_t op, const void *a, size_t a_size, const void *b,
	     size_t b_size, const int *fds, unsigned num_fds, void *reply, size_t reply_size,
	     int *reply_fd);
/* A SUBMIT (a, then b) with its out-fence (or -1): queued, not answered; waits only for
 * room in the file's queue. 0 or -ENODEV. */
int
vg_link_submit(struct vg_link *link, const void *a, size_t a_size, const void *b,
	       size_t b_size, int fence_fd);
/* A HANDLE_CLOSE (CTX_DETACH_RESOURCE, RESOURCE_UNREF with the last reference): queued, not
 * answered, as the kernel queues both. 0 or -ENODEV. */
int
vg_link_close_handle(struct vg_link *link, const struct sim_ipc_res *req);
void
vg_link_cleanup(struct vg_link *link);
void
vg_link_atfork_child(struct vg_link *link);
int
vg_link_internal_fds(struct vg_link *link, int *fds, int max);
int
vg_link_call_own(uint32_t op, const void *req, size_t req_size, void *reply, size_t reply_size,
		 int *reply_fd);

/* --- shim-virtgpu-context.c: GETPARAM, GET_CAPS and the file's context -------------------- */

struct vg_context {
	pthread_mutex_t lock;
	bool created;
	uint32_t init;		/* capset id bits */
	bool base_fence_ctx;
	uint32_t num_rings;
	uint64_t ring_idx_mask;
	bool explicit_debug_name;
};

void
vg_context_setup(struct vg_context *ctx);
void
vg_context_cleanup(struct vg_context *ctx);
void
vg_context_atfork_child(struct vg_context *ctx);
/* virtio_gpu_create_context: the implicit default context of EXECBUFFER and CREATE_BLOB. */
int
vg_context_create(struct vg_file *vf);
/* EXECBUFFER's RING_IDX names a ring of the context. */
bool
vg_context_ring_valid(struct vg_context *ctx, uint32_t ring_idx);
/* Fences of the ring queue a drm_event (POLL_RINGS_MASK). */
bool
vg_context_ring_polled(struct vg_context *ctx, uint32_t ring_idx);
int
vg_context_getparam(struct vg_file *vf, struct drm_virtgpu_getparam *param);
int
vg_context_get_caps(struct vg_file *vf, struct drm_virtgpu_get_caps *args);
int
vg_context_ioctl_init(struct vg_file *vf, struct drm_virtgpu_context_init *args);

/* --- shim-virtgpu-gem.c: GEM objects, handles, GEM_CLOSE and mmap ------------------------- */

/* A GEM object: device-wide in the kernel, process-wide here (the host has the rest).
 * Its fields are written only in shim-virtgpu-gem.c. */
struct vg_object {
	struct sim_ipc_object info;
	int fd;			/* backing memory (-1 once the object is gone) */
	bool unmapped;		/* the host could not give the memory: fd is a stand-in */
	uint64_t map_offset;
	dev_t dev;
	ino_t ino;
	int handles;		/* (file, handle) pairs in this process */
	/* dma-buf stand-ins made of it and open in this process: each holds the object, as
	 * the kernel's dma-buf holds a GEM reference, without the host hearing of it. */
	int dmabufs;
	struct vg_object *next;
};

struct vg_handle;

/* A file's handles. */
struct vg_handles {
	pthread_mutex_t lock;
	struct vg_handle *v;
	uint32_t num, cap;
};

struct vg_object *
vg_gem_object_add(const struct sim_ipc_object *info, int fd);
struct vg_object *
vg_gem_object_find_res(uint32_t res_id);
/* The object whose memory is the file (dev, ino), or NULL. */
struct vg_object *
vg_gem_object_find_inode(dev_t dev, ino_t ino);
void
vg_gem_handles_setup(struct vg_handles *handles);
/* The file is closed: its handles go. */
void
vg_gem_handles_cleanup(struct vg_file *vf);
/* In a forked child: the objects' lock, and the file's handles' lock when there is one. */
void
vg_gem_atfork_child(struct vg_handles *handles);
struct vg_object *
vg_gem_handle_lookup(struct vg_handles *handles, uint32_t handle);
int
vg_gem_handle_create(struct vg_handles *handles, struct vg_object *obj, uint32_t *handle_out,
		     bool *existed);
int
vg_gem_close(struct vg_file *vf, struct drm_gem_close *args);
/* A dma-buf stand-in of the object opens, or its last fd closes; true when that close was
 * the object's last reference (the host may free the resource now). */
void
vg_gem_dmabuf_open(struct vg_object *obj);
bool
vg_gem_dmabuf_close(struct vg_object *obj);
void *
vg_gem_mmap(struct shim_file *file, void *addr, size_t len, int prot, int flags,
	    off_t offset, int *err);
bool
vg_gem_mmap_pinless(struct shim_file *file, off_t offset);

/* --- shim-virtgpu-blob.c: RESOURCE_CREATE_BLOB, MAP, RESOURCE_INFO ------------------------ */

int
vg_blob_create(struct vg_file *vf, struct drm_virtgpu_resource_create_blob *rc);
int
vg_blob_map(struct vg_file *vf, struct drm_virtgpu_map *map);
int
vg_blob_info(struct vg_file *vf, struct drm_virtgpu_resource_info *ri);

/* --- shim-virtgpu-resource.c: RESOURCE_CREATE (3D resources) and TRANSFERs ---------------- */

int
vg_resource_create(struct vg_file *vf, struct drm_virtgpu_resource_create *rc);
int
vg_resource_transfer(struct vg_file *vf, struct drm_virtgpu_3d_transfer *args, bool to_host);

/* --- shim-virtgpu-exec.c: EXECBUFFER, its fences, WAIT ------------------------------------ */

int
vg_exec_execbuffer(struct vg_file *vf, struct drm_virtgpu_execbuffer *exbuf);
int
vg_exec_wait(struct vg_file *vf, struct drm_virtgpu_3d_wait *wait);
void
vg_exec_atfork_child(void);

/* --- shim-virtgpu-prime.c: dma-bufs out and in --------------------------------------------- */

int
vg_prime_handle_to_fd(struct vg_file *vf, struct drm_prime_handle *args);
int
vg_prime_fd_to_handle(struct vg_file *vf, struct drm_prime_handle *args);

/* --- shim-virtgpu.c: the driver ------------------------------------------------------------ */

struct vg_file {
	struct sim_ipc_device dev;	/* what the device offers (HELLO); fixed once open */
	struct vg_link link;
	struct vg_context ctx;
	struct vg_handles handles;
};

#endif
