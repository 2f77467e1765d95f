/*
 * The private link between the fake guest kernel (LD_PRELOAD) and the host device process:
 * what a virtqueue carries in a real VM, framed as length-prefixed messages on a Unix
 * stream socket with fds as SCM_RIGHTS.  Not part of any public interface.
 */
#ifndef SIM_IPC_H
#define SIM_IPC_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define SIM_IPC_MAX_FDS		4
#define SIM_IPC_MAX_PAYLOAD	(16u << 20)

enum sim_ipc_op {
	SIM_IPC_HELLO = 1,	/* fd: event socket end; reply sim_ipc_device */
	SIM_IPC_JOIN,		/* another connection for the same DRM file */
	SIM_IPC_CTX_CREATE,
	SIM_IPC_BLOB_CREATE,	/* fd: guest pages (GUEST); reply fd: host memory (HOST3D) */
	SIM_IPC_HANDLE_OPEN,
	SIM_IPC_HANDLE_CLOSE,	/* no reply on the primary connection, as SUBMIT */
	SIM_IPC_SUBMIT,		/* fd: the out-fence (FENCE_FD_OUT) the host signals; no reply
				 * on the primary connection (see below) */
	SIM_IPC_WAIT,
	SIM_IPC_IMPORT,		/* reply fd: backing memory */
	SIM_IPC_EXPORT,		/* a GEM handle dies while dma-bufs of it live on */
	SIM_IPC_CTX_STATE,
	SIM_IPC_GPU_BUFFER,	/* reply fd: the dma-buf stand-in */
	SIM_IPC_RENDER,		/* a GPU buffer rendered into, busy until done */
	SIM_IPC_SYNC_FILE,	/* reply fd: signals once the dma-buf's pending work ended */
	SIM_IPC_RESOURCE_CREATE,	/* fd: the guest pages; a 3D resource */
	SIM_IPC_TRANSFER,	/* between a 3D resource's guest pages and its host image */
	SIM_IPC_EXPORT_CLOSE,	/* an object's last dma-buf closed after its last handle;
				 * on a connection of its own */
	SIM_IPC_QUEUE_WAIT,	/* reply sim_ipc_queue_credit once the file's queue has room */
};

/*
 * The order of a DRM file's requests, as a real kernel's one control queue keeps it. A SUBMIT
 * goes on the file's primary connection (the one that said HELLO) without a reply: the
 * EXECBUFFER returns once it is written, as the kernel's returns once the command is on the
 * virtqueue; so does a HANDLE_CLOSE (GEM_CLOSE: the kernel queues the detach and the unref
 * and returns). Every other request goes on another connection of the file (JOIN) and waits
 * for its reply; its seq is the number of SUBMITs and HANDLE_CLOSEs sent on the primary
 * before it, and the host runs those first. Requests on a connection of their own that concern a dma-buf (its
 * sync_file, its last close) come after whatever any primary connection holds.
 *
 * The queue has SIM_IPC_QUEUE_DEPTH places per file (a virtqueue of 256 descriptors at
 * about 4 per submit): a submit the host cannot run yet (behind a SEND the compositor has
 * not taken) keeps its place until it ran. The guest sends at most that many SUBMITs past
 * what the host last told it (QUEUE_WAIT's credit), then asks again, and the EXECBUFFER
 * waits for the answer, as the kernel waits for room in a full virtqueue.
 */
#define SIM_IPC_QUEUE_DEPTH	64

/* What goes on the primary connection without a reply (and counts in seq). */
static inline int
sim_ipc_op_queued(uint32_t op)
{
	return op == SIM_IPC_SUBMIT || op == SIM_IPC_HANDLE_CLOSE;
}

struct sim_ipc_hdr {
	uint32_t op;
	int32_t status;		/* replies: 0 or -errno */
	uint32_t size;		/* payload bytes after this header */
	uint32_t num_fds;
	uint32_t seq;		/* requests on a joined connection: SUBMITs and HANDLE_CLOSEs
				 * sent on the primary before it */
	uint32_t pad;
};

struct sim_ipc_queue_credit {
	uint32_t credit;	/* SUBMITs the file may send before it asks again */
	uint32_t pad;
};

#define SIM_DEV_3D		(1u << 0)
#define SIM_DEV_BLOB		(1u << 1)
#define SIM_DEV_HOST_VISIBLE	(1u << 2)
#define SIM_DEV_CONTEXT_INIT	(1u << 3)
#define SIM_DEV_RESOURCE_UUID	(1u << 4)

struct sim_ipc_device {
	uint32_t file_id;
	uint32_t features;
	uint64_t capset_mask;
	uint32_t capset_max_version;
	uint32_t capset_max_size;
	uint8_t capset[16];
};

struct sim_ipc_join {
	uint32_t file_id;
};

struct sim_ipc_ctx_create {
	uint32_t capset_id;	/* 0: the default context */
	uint32_t num_rings;
	uint64_t poll_rings_mask;
};

enum sim_object_kind {
	SIM_OBJECT_GUEST = 1,		/* guest pages (GUEST blob) */
	SIM_OBJECT_HOST3D,		/* host memory from a blob_id */
	SIM_OBJECT_GPU,			/* a guest GPU driver's buffer with a host handle */
	SIM_OBJECT_GPU_NO_HANDLE,	/* like a 2D resource: no host handle (§4.1) */
	SIM_OBJECT_3D,			/* a classic 3D resource: guest pages + host image */
};

struct sim_ipc_object {
	uint32_t res_id;
	uint32_t kind;
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint64_t size;
	uint32_t map_ok;	/* the host mapped it (HOST3D) */
	uint32_t stride;	/* GPU buffers */
	/* The inode of the memory the reply's fd (or the guest blob's memfd) is, as the host's
	 * fstat saw it, so the fake kernel needs none of its own; 0: not said. */
	uint64_t dev;
	uint64_t ino;
};

struct sim_ipc_blob_create {
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint64_t size;		/* page aligned by the kernel */
	uint64_t blob_id;
	uint32_t cmd_size;	/* followed by cmd_size bytes */
	uint32_t pad;
};

/* HANDLE_CLOSE: dma-bufs of the object live on in the guest after this handle (the kernel's
 * GEM reference the host never hears of), so the resource stays until EXPORT_CLOSE. */
#define SIM_IPC_RES_DMABUF_HOLDS	(1u << 0)

struct sim_ipc_res {
	uint32_t res_id;
	uint32_t flags;		/* HANDLE_CLOSE: SIM_IPC_RES_*; else 0 */
};

struct sim_ipc_submit {
	uint32_t flags;		/* VIRTGPU_EXECBUF_* as the kernel saw them */
	uint32_t ring_idx;	/* 0 without RING_IDX */
	uint32_t event;		/* the ring is in POLL_RINGS_MASK: queue a drm_event */
	uint32_t num_res;	/* followed by num_res u32 resource ids, then size bytes */
	uint32_t size;
	uint32_t pad;
};

struct sim_ipc_wait {
	uint32_t res_id;
	uint32_t nowait;
	uint32_t timeout_ms;
	uint32_t pad;
};

struct sim_ipc_import {
	uint64_t dev;
	uint64_t ino;
};

struct sim_ipc_ctx_state {
	uint32_t exists;
	uint32_t lost;
	char reason[160];
};

struct sim_ipc_render {
	uint64_t dev;		/* the buffer's dma-buf stand-in */
	uint64_t ino;
	uint32_t pixel;		/* what it holds once rendered (0 until then) */
	uint32_t delay_ms;
};

/* RESOURCE_CREATE as virtio_gpu_cmd_resource_create_3d + ATTACH_BACKING carry it. */
struct sim_ipc_resource_create {
	uint32_t target, format, bind, width, height, depth, array_size, last_level;
	uint32_t nr_samples, flags;
	uint64_t size;		/* the guest pages, page aligned */
};

struct sim_ipc_transfer {
	uint32_t res_id;
	uint32_t to_host;
	uint32_t level;
	uint32_t offset;	/* into the guest pages */
	uint32_t box[6];	/* x, y, z, w, h, d */
};

/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE on a dma-buf stand-in. */
struct sim_ipc_sync_file {
	uint64_t dev;		/* the dma-buf stand-in */
	uint64_t ino;
};

struct sim_ipc_gpu_buffer {
	uint32_t width;
	uint32_t height;
	uint32_t format;
	uint32_t flags;		/* VIRTGPU_SIM_BUFFER_* */
};

struct msghdr;

void
sim_ipc_attach_fds(struct msghdr *msg, void *cbuf, const int *fds, unsigned num_fds);

int
sim_ipc_send(int sock, uint32_t op, int32_t status, const void *a, size_t a_size,
	     const void *b, size_t b_size, const int *fds, unsigned num_fds);
/* The same with the header's seq. */
int
sim_ipc_send_seq(int sock, uint32_t op, uint32_t seq, const void *a, size_t a_size,
		 const void *b, size_t b_size, const int *fds, unsigned num_fds);
/* Reads one message; *payload is malloc'd (or NULL when empty). Returns 0 or -errno. */
int
sim_ipc_recv(int sock, struct sim_ipc_hdr *hdr, void **payload, int *fds);
/* A reply on a connection that holds nothing else: header and payload in one recvmsg, the
 * payload into reply (what does not fit is dropped). Returns 0 or -errno. */
int
sim_ipc_recv_reply(int sock, struct sim_ipc_hdr *hdr, void *reply, size_t reply_size,
		   int *fds);
/* The same as sim_ipc_recv, -EAGAIN at once when no message has begun to arrive. */
int
sim_ipc_recv_ready(int sock, struct sim_ipc_hdr *hdr, void **payload, int *fds);

/*
 * A connection read ahead (the host's side): each recvmsg takes whatever the socket holds,
 * header and payload and the messages after them, so a message costs one system call, or
 * less. The fds of a stream come with the first byte of their message, so they wait in
 * order here until their message is taken.
 */
struct sim_ipc_reader {
	char *buf;
	size_t off;		/* the first byte not taken */
	size_t len;		/* bytes held */
	size_t cap;
	int fds[4 * SIM_IPC_MAX_FDS];
	unsigned num_fds;
};

/* The next message (payload malloc'd or NULL, fds as sim_ipc_recv): from what is held, else
 * read; without block, -EAGAIN at once when nothing has begun to arrive. 0 or -errno. */
int
sim_ipc_reader_next(struct sim_ipc_reader *r, int sock, bool block, struct sim_ipc_hdr *hdr,
		    void **payload, int *fds);
/* A whole message is held: the next call reads nothing. */
bool
sim_ipc_reader_ready(const struct sim_ipc_reader *r);
void
sim_ipc_reader_free(struct sim_ipc_reader *r);

#endif
