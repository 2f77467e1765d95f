/*
 * The host side of the virtio-gpu cross-domain context, one implementation for every VMM of
 * the project: the simulated device (tests/sim/host-device.c) and the rutabaga_gfx_ffi
 * library QEMU loads (rutabaga/). Profiles, faults, resources and DRM files
 * (host-resource.c), cross-domain contexts (host-cross-domain*.c), system gralloc
 * (host-gralloc.c); the VMM ties them together and owns the threads and fences.
 */
#ifndef HOST_H
#define HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <sys/types.h>

#include "virtgpu-uapi.h"

/* --- profiles: the host differences of cross-domain-protocol.md §3.5 ------------------- */

enum host_init_rule {
	HOST_INIT_RG_EXACT,	/* RG >= 0.1.80: cmd_size in {16, 20, 36} */
	HOST_INIT_CV_PREFIX,	/* rutabaga <= 0.1.76: 20 B if >= 20 B remain, else 16 */
	HOST_INIT_KR_REMAINING,	/* libkrun: 24, 20 or 16 by the bytes remaining */
};

enum host_classify_rule {
	HOST_CLASSIFY_RG,	/* eventfd, socket, seekable, O_WRONLY (§4.5) */
	HOST_CLASSIFY_CV,	/* seekable, O_WRONLY, else the worker halts */
	HOST_CLASSIFY_KR,	/* seekable (eventfd = 6), O_WRONLY */
};

struct host_profile {
	const char *name;
	const char *description;
	enum host_init_rule init_rule;
	enum host_classify_rule classify_rule;
	uint32_t num_identifiers;	/* N of SEND/RECEIVE; libkrun: see kr_v1_identifiers */
	bool kr_v1_identifiers;		/* N = 28 only after a 24-B INIT, else 4 */
	bool supports_dmabuf;
	bool writepipe_bug;		/* write pipes tagged 1 with size 0 */
	bool no_eof;			/* EOF never reported */
	bool no_3d_handle;		/* 3D resources have no host handle (§3) */
};

const struct host_profile *
host_profile_find(const char *name);
void
host_profile_list(FILE *out);

/* --- faults: a broken or hostile host (host-fault.c, README.md "Faults") ---------------- */

enum host_fault_kind {
	HOST_FAULT_GARBAGE_RECEIVE,
	HOST_FAULT_GARBAGE_CMD,
	HOST_FAULT_SIZE_PAST_RING,
	HOST_FAULT_READ_PAST_RING,
	HOST_FAULT_TOO_MANY_IDS,
	HOST_FAULT_UNKNOWN_ID_TYPE,
	HOST_FAULT_BAD_BLOB_ID,
	HOST_FAULT_CLOSE_MID_TRANSFER,
	HOST_FAULT_HOST_EXIT,
	HOST_FAULT_SPURIOUS_FENCE,
	HOST_FAULT_DUPLICATE_EVENT,
	HOST_FAULT_SEND_ERROR,
	HOST_FAULT_BLOB_ALLOC_FAIL,
	HOST_FAULT_BLOB_LOST,
};

/* "KIND[@N[+]],...": 0, or -1 with a message. */
int
host_fault_parse(const char *spec);
void
host_fault_list(FILE *out);
/* Counts one occurrence of the event KIND hooks; true when a fault fires on it. */
bool
host_fault_fires(enum host_fault_kind kind);
void
host_fault_random(uint8_t *buf, size_t size, uint32_t seed);

/* --- statistics ------------------------------------------------------------------------- */

struct host_stats {
	uint64_t contexts;
	uint64_t contexts_lost;
	uint64_t sends;
	uint64_t send_bytes;
	uint64_t receives;
	uint64_t receive_bytes;
	uint64_t reads;
	uint64_t read_bytes;
	uint64_t writes;
	uint64_t write_bytes;
	uint64_t fds_to_compositor;
	uint64_t fds_from_compositor;
	uint64_t blobs;
	uint64_t buffer_bytes_copied;	/* blob memory is shared, never copied: stays 0 */
	uint64_t fences;
};

extern struct host_stats host_stats;
extern bool host_log_quiet;
/* Starts every log line: "virtgpu-sim host: " in the simulator. */
extern const char *host_log_prefix;

void
host_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- resources and DRM files (the device-wide object registry) ---------------------------- */

enum host_res_kind {
	HOST_RES_GUEST = 1,		/* guest pages, no host handle */
	HOST_RES_HOST3D,		/* host memory, a host handle */
	HOST_RES_GPU,			/* a GPU driver's buffer, a host handle */
	HOST_RES_GPU_NO_HANDLE,		/* like a 2D resource */
	HOST_RES_3D,			/* a classic 3D resource: guest pages + host image */
	HOST_RES_2D,			/* a VMM's 2D resource: its pixels in vmm_data */
};

struct host_resource {
	uint32_t id;
	enum host_res_kind kind;
	int fd;				/* backing memory, a memfd */
	uint64_t size;
	uint32_t blob_mem;
	uint32_t blob_flags;
	bool dmabuf;			/* host memory a dma-buf gralloc made */
	bool exported;			/* a dma-buf the guest cannot close: lives as long as
					 * the device */
	int dmabufs;			/* held by dma-bufs the guest kept past its handles */
	uint32_t stride;
	dev_t dev;
	ino_t ino;
	/* 3D resources: fd is the host's image, these the guest pages (the dma-buf). */
	int backing_fd;
	uint64_t backing_size;
	dev_t backing_dev;
	ino_t backing_ino;
	uint32_t width, height;
	bool no_handle;			/* the host cannot export the image (§3) */
	int files;			/* DRM files holding a handle */
	bool vmm_held;			/* a VMM's reference: freed at its unref, not before */
	bool map_borrowed;		/* map is the VMM's guest memory, not ours to unmap */
	uint32_t map_info;		/* what a VMM tells the guest of its mapping */
	int busy;			/* unsignalled fences naming it */
	void *vmm_data;			/* a VMM's own state of it, freed by the VMM at its
					 * unref (rutabaga: a 2D resource's pixels) */
	void *map;			/* host mapping, made on first use */
	struct host_resource *next;
};

struct cd_context;

struct host_file {
	uint32_t id;
	int event_fd;			/* the guest's DRM fd is the other end */
	struct cd_context *ctx;		/* NULL until a context exists */
	uint32_t num_rings;
	uint64_t poll_rings_mask;
	uint32_t *attached;		/* resource ids attached to the context */
	uint32_t num_attached, cap_attached;
	uint32_t *handles;		/* resource ids this file holds handles of */
	uint32_t num_handles, cap_handles;
	uint64_t turn;			/* the simulator's: last pass of its fences that saw it */
	struct host_file *next;
};

struct host_resource *
host_resource_create(enum host_res_kind kind, int fd, uint64_t size);
/* With the id a VMM chose (rutabaga): NULL when it is taken. */
struct host_resource *
host_resource_create_id(uint32_t id, enum host_res_kind kind, int fd, uint64_t size);
struct host_resource *
host_resource_lookup(uint32_t id);
struct host_resource *
host_resource_lookup_inode(dev_t dev, ino_t ino);
void *
host_resource_map(struct host_resource *res);
void
host_resource_maybe_free(struct host_resource *res);
uint64_t
host_resource_hostmem_used(void);
void
host_resource_reset_ids(void);

struct host_file *
host_file_create(int event_fd);
struct host_file *
host_file_lookup(uint32_t id);
void
host_file_destroy(struct host_file *file);
int
host_file_handle_open(struct host_file *file, uint32_t res_id);
int
host_file_handle_close(struct host_file *file, uint32_t res_id);
/* A resource attached to the file's context (CTX_ATTACH_RESOURCE at GEM open, §2). */
struct host_resource *
host_file_lookup_attached(struct host_file *file, uint32_t res_id);
void
host_file_attach(struct host_file *file, uint32_t res_id);

/* --- system gralloc (§5.1) ---------------------------------------------------------------- */

int
host_gralloc_requirements(bool dmabuf, uint32_t width, uint32_t height, uint32_t format,
			  struct cross_domain_image_requirements *reqs);
int
host_gralloc_memfd(const char *name, uint64_t size);

/* --- cross-domain contexts -------------------------------------------------------------- */

struct cd_config {
	const struct host_profile *profile;
	const char *wayland_path;	/* the host compositor's socket */
	int (*connect_socket)(const char *path);	/* tests and the fuzzer replace it */
};

/* The compositor's socket at INIT: a new SOCK_STREAM connection, or -errno (§2). */
int
cd_connect_socket(const char *path);
struct cd_context *
cd_context_create(const struct cd_config *config, struct host_file *file, uint32_t ctx_id);
void
cd_context_destroy(struct cd_context *ctx);
bool
cd_context_lost(const struct cd_context *ctx);
/* INIT ran: the channel ring is known. */
bool
cd_context_initialized(const struct cd_context *ctx);
/* The capset's 16 bytes this host offers (§1). */
void
cd_capabilities(const struct cd_config *config, struct cross_domain_capabilities *caps);
const char *
cd_context_lost_reason(const struct cd_context *ctx);
/* Runs one EXECBUFFER's commands (§3.1). Returns 0, -1 when the context is lost, or 1 when
 * a SEND's data waits for room in the compositor's socket (or a WRITE for room in its pipe):
 * the rest of it and every later command run in cd_context_resume once cd_context_send_fd
 * is writable. */
int
cd_context_submit(struct cd_context *ctx, const uint8_t *cmds, size_t size);
int
cd_context_resume(struct cd_context *ctx);
/* Submit and wait until it all ran (for callers that cannot wait in the event loop). */
int
cd_context_submit_wait(struct cd_context *ctx, const uint8_t *cmds, size_t size);
/* The socket to wait on for POLLOUT while commands wait, else -1. */
int
cd_context_send_fd(const struct cd_context *ctx);
/* Command bytes submitted, and of them those that ran: a fence signals once its submit's
 * last byte ran. */
uint64_t
cd_context_accepted(const struct cd_context *ctx);
uint64_t
cd_context_completed(const struct cd_context *ctx);
/* HOST3D blob from a blob_id (§4.2, §5.1): the memory fd (a new fd), or -errno. */
int
cd_context_create_blob(struct cd_context *ctx, uint64_t blob_id, uint64_t size, bool *dmabuf);
/* The guest let resource res_id go (a GEM handle closed). */
void
cd_context_detached(struct cd_context *ctx, uint32_t res_id);
/* The fds the worker waits on while a channel-ring fence is pending (§2). */
int
cd_context_watch(struct cd_context *ctx, struct pollfd *pfds, int max);
/* One event into the channel ring: true when the fence may signal, a message written or the
 * context lost (nothing will ever be written: the guest sees an empty answer). */
bool
cd_context_service(struct cd_context *ctx);
/* The same from what a wait of the device's loop just found (seen, nseen; the loop counts its
 * waits in host_waits): no poll of its own. A context with fds the wait did not watch (new
 * since), or with an event taken since, waits for the next one, which watches its fds again
 * while the fence is pending. seen NULL: unknown, as cd_context_service. */
bool
cd_context_service_after(struct cd_context *ctx, const struct pollfd *seen, int nseen);
extern uint64_t host_waits;

#endif
