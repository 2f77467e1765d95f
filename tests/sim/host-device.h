/*
 * What the parts of the host device process share (host-device.c, host-requests.c,
 * host-fence.c): its configuration, the connections of the fake guest kernels, and the
 * functions each part offers the others.
 */
#ifndef HOST_DEVICE_H
#define HOST_DEVICE_H

#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "host.h"
#include "sim-ipc.h"

/* Set from the command line before the loop starts; read-only after. */
struct host_config {
	const struct host_profile *profile;
	struct cd_config cd;
	char wayland_path[PATH_MAX];
	uint64_t hostmem;
	bool no_uuid;
	bool no_3d_handle;	/* the profile's, or --no-3d-handle */
};

extern struct host_config host_config;

/* One connection of a fake guest kernel: a DRM file's own (primary), or one that joined it. */
struct host_conn {
	int fd;
	struct host_file *file;
	bool primary;
	bool dead;
	uint32_t submits_seen;	/* primary: SUBMITs and HANDLE_CLOSEs read from it (sim-ipc.h) */
	struct sim_ipc_reader reader;	/* what was read of it and not yet handled */
	struct host_conn *next;
};

struct host_fence;

uint64_t
host_now_ms(void);

/* host-device.c: a file that leaves is forgotten by every connection. */
void
host_conns_forget_file(struct host_file *file);
/* The file's SUBMITs up to seq, run before a request that came after them on another of its
 * connections. */
void
host_conns_catch_up(struct host_file *file, uint32_t seq);
/* Whatever every primary connection holds, run before a request about a dma-buf. */
void
host_conns_drain_primaries(void);

/* host-requests.c: the guest kernels' requests (sim-ipc.h), one message at a time. */
void
host_reply(struct host_conn *conn, uint32_t op, int32_t status, const void *data, size_t size,
	   int fd);
/* One message of conn, waiting for it with block; false when none came (or conn died). */
bool
host_handle_message(struct host_conn *conn, bool block);

/* host-fence.c: fences, commands queued behind a busy SEND, and WAITs. */
struct host_fence *
host_fence_create(struct host_file *file, bool event, uint32_t num_res);
void
host_fence_add_resource(struct host_fence *fence, uint32_t res_id);
void
host_fence_configure(struct host_fence *fence, int fence_fd, bool channel);
/* owed: the connection owed a SUBMIT reply (a forked child's), or NULL (the primary's). */
void
host_fence_refused(struct host_conn *owed, struct host_fence *fence);
void
host_fence_refuse_submit(struct host_conn *owed, struct host_file *file, bool event,
			 int fence_fd, const char *why);
void
host_fence_submitted(struct host_conn *owed, struct host_file *file, struct host_fence *fence,
		     bool deferred_by_context);
void
host_queue_wait(struct host_conn *conn, struct host_file *file);
bool
host_defer_handle_close(struct host_file *file, uint32_t res_id);
int
host_wait(struct host_conn *conn, uint32_t res_id, bool nowait, uint32_t timeout_ms);
void
host_fence_forget_conn(struct host_conn *conn);
void
host_file_drop(struct host_file *file);
int
host_fence_watch(struct pollfd *pfds, int max, struct timespec **timeout,
		 struct timespec *storage);
void
host_fence_run(const struct pollfd *seen, int nseen);
int
host_render_start(struct host_resource *res, uint32_t pixel, uint32_t delay_ms);
int
host_sync_file(struct host_resource *res);

#endif
