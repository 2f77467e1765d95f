/*
 * What the parts of the rutabaga_gfx_ffi library share: the one instance QEMU makes, its
 * lock, its contexts and the fences they wait on. The cross-domain logic itself is the
 * host core's (../host.h); this library only speaks the VMM's interface around it.
 */
#ifndef RUTABAGA_PRIVATE_H
#define RUTABAGA_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>

#include <rutabaga_gfx/rutabaga_gfx_ffi.h>

#include "host.h"

#define RTB_EXPORT __attribute__((visibility("default")))

/* What QEMU passes goes into the host core as it is: the same numbers under the names of two
 * headers that each stand alone (QEMU includes only the interface, the fake kernel only the
 * uAPI), so they are tied here rather than defined once. */
_Static_assert(RUTABAGA_CAPSET_CROSS_DOMAIN == VIRTGPU_CAPSET_CROSS_DOMAIN, "capset");
_Static_assert(RUTABAGA_BLOB_MEM_GUEST == VIRTGPU_BLOB_MEM_GUEST &&
	       RUTABAGA_BLOB_MEM_HOST3D == VIRTGPU_BLOB_MEM_HOST3D &&
	       RUTABAGA_BLOB_MEM_HOST3D_GUEST == VIRTGPU_BLOB_MEM_HOST3D_GUEST, "blob_mem");
_Static_assert(RUTABAGA_BLOB_FLAG_USE_MAPPABLE == VIRTGPU_BLOB_FLAG_USE_MAPPABLE &&
	       RUTABAGA_BLOB_FLAG_USE_SHAREABLE == VIRTGPU_BLOB_FLAG_USE_SHAREABLE &&
	       RUTABAGA_BLOB_FLAG_USE_CROSS_DEVICE == VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE,
	       "blob_flags");
_Static_assert(RUTABAGA_MAP_CACHE_CACHED == CROSS_DOMAIN_MAP_CACHE_CACHED, "map_info");
_Static_assert(RUTABAGA_CHANNEL_TYPE_WAYLAND == CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, "channel");

/* A fence of a context: on its channel ring, signalled once the worker wrote one message
 * (§2); on any other, once the commands submitted before it ran. Never before its ticket:
 * the context's command bytes submitted when QEMU made it (the guest takes a fence as proof
 * that the commands before it ran). */
struct rtb_fence {
	struct rutabaga_fence fence;
	uint64_t ticket;
	struct rtb_fence *next;
};

/* A resource detached while commands that may name it wait: closed once they ran. */
struct rtb_close {
	uint32_t resource_id;
	uint64_t ticket;
	struct rtb_close *next;
};

/* Commands wait (cd_context_submit returned 1) when the compositor's socket or a pipe is
 * full; the worker runs them once it takes more. QEMU's thread never waits: it serves the
 * guest's other commands and the fences that let the guest read what frees the socket. */
struct rtb_context {
	uint32_t ctx_id;
	struct host_file *file;		/* file->ctx is the cross-domain context */
	struct rtb_fence *channel_fences;	/* oldest first */
	struct rtb_fence *held_fences;	/* other rings, waiting for their ticket, oldest first */
	struct rtb_close *closes;	/* oldest first */
	struct rtb_context *next;
};

/* A 2D resource (host_resource.vmm_data): the host's copy of its pixels, 4 bytes each. */
#define RTB_2D_BPP		4u

struct rtb_2d {
	uint32_t width, height;
	uint8_t *pixels;		/* width * 4 bytes a row, height rows */
	struct iovec *backing;		/* QEMU's guest pages; NULL: none attached */
	size_t num_backing;
	uint64_t backing_size;
};

struct rutabaga {
	/* Held by every entry point and by the worker while it touches a context: QEMU calls
	 * from its main thread, the worker serves channel fences from its own. */
	pthread_mutex_t lock;
	uint64_t user_data;
	rutabaga_fence_callback fence_cb;
	rutabaga_debug_callback debug_cb;
	char *wayland_path;		/* NULL: no channel configured */
	struct cd_config cd;
	struct rtb_context *contexts;
	pthread_t worker;
	bool worker_running;
	bool quit;
	int wake_fd;			/* an eventfd: the worker's set of fds changed */
};

/* rutabaga.c */
struct rutabaga *
rtb_instance_get(void);
void
rtb_log(struct rutabaga *rtb, uint32_t type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* rutabaga-2d.c */
struct rtb_2d *
rtb_2d_lookup(uint32_t resource_id);
void
rtb_2d_release(struct host_resource *res);

/* rutabaga-context.c */
struct rtb_context *
rtb_context_find(struct rutabaga *rtb, uint32_t ctx_id);
void
rtb_contexts_destroy(struct rutabaga *rtb);
/* The commands submitted so far have not all run. */
bool
rtb_context_waiting(const struct rtb_context *ctx);
/* The commands submitted before ticket (cd_context_accepted then) ran, or never will: the
 * context is lost. */
bool
rtb_ticket_reached(const struct rtb_context *ctx, uint64_t ticket);
/* Runs what waits of ctx's commands if its socket or pipe takes more now, then the detaches
 * whose commands ran. */
void
rtb_context_resume(struct rtb_context *ctx);

/* rutabaga-fence.c */
int
rtb_worker_start(struct rutabaga *rtb);
void
rtb_worker_stop(struct rutabaga *rtb);
void
rtb_worker_wake(struct rutabaga *rtb);
void
rtb_fences_free(struct rtb_fence *list);
/* Signals ctx's held fences whose commands ran. */
void
rtb_signal_held_fences(struct rutabaga *rtb, struct rtb_context *ctx);

/* rutabaga-trace.c: WAYLAND_VIRTGPU_HOST_TRACE=FILE */
void
rtb_trace_open(void);
bool
rtb_tracing(void);
void
rtb_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The fences each context holds, to the trace (else stderr); for gdb on QEMU. */
void
rtb_debug_dump(void);
/* Hands a fence to QEMU's callback (why: for the trace). */
void
rtb_fence_signal(struct rutabaga *rtb, const struct rutabaga_fence *fence, const char *why);

/* rutabaga-resource.c */
void
rtb_resources_destroy(struct rutabaga *rtb);

#endif
