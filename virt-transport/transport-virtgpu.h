/*
 * SPDX-License-Identifier: MIT
 * What the parts of the virtgpu transport share: the transport itself,
 * and each part's state with the functions that reach it. Each part's
 * section names its file; its state is touched only there.
 */
#ifndef VIRT_TRANSPORT_VIRTGPU_H
#define VIRT_TRANSPORT_VIRTGPU_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cross-domain.h"
#include "shm.h"
#include "transport.h"
#include "wayland-util.h"

struct virtgpu_transport;

/* --- display-fd.c: the fd the client polls (wl_display_get_fd) -------- */

/* One end of a socket pair, readable while received bytes wait (a byte
 * written to notify_tx), and writable: clients such as Xwayland poll it
 * for POLLOUT before each flush. An epoll fd cannot say writable, so the
 * library's own waits use wait_fd (epoll of display_fd and the DRM fd: a
 * fence wakes the reader directly), and the pump watches the DRM fd for
 * clients that poll display_fd in their own loops. */
struct vt_display {
	int fd;
	int notify_tx;
	int wait_fd;
	bool notified;		/* notify_tx has written a byte not read yet */
	bool wake_due;		/* the pump writes that byte once it unlocks */
	/* display_fd's own send buffer is full (a filler nobody reads
	 * until notify_tx drains it), so it says not writable. */
	bool blocked;
	/* The client has the display fd: it may poll it in a loop of its
	 * own, which only the pump can wake (the library's own waits poll
	 * the DRM fd themselves). */
	bool exported;
};

int
display_fd_init(struct virtgpu_transport *t);
int
display_fd_watch_device(struct virtgpu_transport *t);
void
display_fd_fini(struct virtgpu_transport *t);
void
display_fd_notify_locked(struct virtgpu_transport *t);
bool
display_fd_wake_due_locked(struct virtgpu_transport *t);
void
display_fd_wake(struct virtgpu_transport *t);
void
display_fd_settle_locked(struct virtgpu_transport *t);
void
display_fd_block_locked(struct virtgpu_transport *t);
void
display_fd_unblock_locked(struct virtgpu_transport *t);

/* --- receive.c: fence events, channel messages, the received stream --- */

struct vt_rx {
	uint8_t *msg;		/* a copy of the channel ring's page */
	uint8_t *buf;
	size_t len, capacity;
	int *fds;
	int nfds, fds_capacity;
	bool received_any;
	/* The client's reader is draining the ring itself: it needs no
	 * wake-up, and the POLL after it may wait for its next SEND. */
	bool reader_draining;
};

void
receive_drain_ring_locked(struct virtgpu_transport *t);
void
receive_fini(struct virtgpu_transport *t);
ssize_t
virtgpu_recv(struct wl_transport *transport, void *data, size_t len,
	     int *fds, int *nfds, int max_fds);

/* --- poll-schedule.c: when a POLL goes out ----------------------------- */

/* What lets a POLL held back for the client's next SEND go alone when no
 * SEND comes: the client's next wait (it flushes with nothing to send,
 * prepares to read, a reader finds nothing or starts to wait), and also,
 * where someone may wait without the library seeing it (a client polling
 * the display fd, another reader already waiting), 1 ms: */
enum poll_hold {
	POLL_HOLD_WAITER,	/* only the next wait */
	POLL_HOLD_PUMP,		/* the pump's own sleep, it took the message */
	POLL_HOLD_TIMER,	/* timer_fd wakes the pump */
};

struct vt_poll {
	bool outstanding;
	/* The last channel message was taken and no pipe needs the channel:
	 * the next POLL rides with the next SEND (one EXECBUFFER less per
	 * roundtrip), or goes alone as hold says. */
	bool deferred;
	enum poll_hold hold;
	int timer_fd;
	bool timer_armed;
	uint64_t deferred_ns;	/* since when */
	uint64_t count, with_send;	/* POLLs submitted; of them, in a SEND's submit */
};

int
poll_schedule_init(struct virtgpu_transport *t);
void
poll_schedule_fini(struct virtgpu_transport *t);
int
poll_schedule_timer_renew(struct virtgpu_transport *t);
void
poll_schedule_repoll_locked(struct virtgpu_transport *t, bool may_defer);
void
poll_schedule_answered_locked(struct virtgpu_transport *t);
void
poll_schedule_release_locked(struct virtgpu_transport *t);
bool
poll_schedule_held_for_send_locked(struct virtgpu_transport *t);
int64_t
poll_schedule_pump_wait_ns_locked(struct virtgpu_transport *t);
void
poll_schedule_timer_fired_locked(struct virtgpu_transport *t);
bool
poll_schedule_take_for_send_locked(struct virtgpu_transport *t);
bool
poll_schedule_maybe_deferred(struct virtgpu_transport *t);

/* --- send-queue.c: SENDs the host has not run yet ---------------------- */

/* SENDs counted from the start: submitted (sent), known to have run (run:
 * a fence signalled, or a POLL submitted after them was answered), and
 * what the outstanding fence (fence, -1: none) and the outstanding POLL
 * cover: the counts when they were submitted. */
struct vt_send_queue {
	int fence;
	uint64_t sent, sent_bytes;
	/* The bytes of a SEND counted in sent but not submitted yet (0:
	 * none; the core sends from one thread at a time), read without
	 * the lock: a POLL submitted meanwhile does not cover it. */
	size_t in_flight;
	uint64_t run, run_bytes;
	uint64_t fence_sends, fence_bytes;
	uint64_t poll_sends, poll_bytes;
	uint64_t flush_eagain;
};

bool
send_queue_full_locked(struct virtgpu_transport *t);
bool
send_queue_wants_fence_locked(struct virtgpu_transport *t, size_t size);
bool
send_queue_sending(struct virtgpu_transport *t, size_t size, bool may_poll,
		   uint64_t *seq);
void
send_queue_sent(struct virtgpu_transport *t, uint64_t seq, int fence);
void
send_queue_poll_submitted_locked(struct virtgpu_transport *t);
void
send_queue_poll_answered_locked(struct virtgpu_transport *t);
int
send_queue_wait_fd_locked(struct virtgpu_transport *t);
void
send_queue_fence_signalled_locked(struct virtgpu_transport *t);
bool
send_queue_admit(struct virtgpu_transport *t, size_t size, bool *fenced);
void
send_queue_fini(struct virtgpu_transport *t);

/* --- send.c: the client's bytes cut into SENDs ------------------------- */

ssize_t
virtgpu_send(struct wl_transport *transport, const void *data, size_t len,
	     const int *fds, int nfds, int *fds_taken,
	     const struct wl_transport_message *messages, int nmessages);

/* --- fd-translate.c: fds out to identifiers, identifiers in to fds ----- */

/* What an fd the client sends is, for the error line and SEND. */
enum fd_kind {
	FD_DMABUF,
	FD_READ_PIPE,		/* a pipe's write end: the client reads */
	FD_MEMORY,		/* a regular file or memfd: memory-fds.c */
	FD_UNSUPPORTED,
};

/* known: the fd's fstat when the caller made one (NULL: none), which
 * finds the library's own exports without asking the kernel. */
enum fd_kind
fd_translate_classify(struct virtgpu_transport *t, int fd,
		      const struct stat *known, uint32_t *bo, uint32_t *res,
		      char *what, size_t what_size);
int
fd_translate_out(struct virtgpu_transport *t, int fd, const struct stat *known,
		 uint32_t *id, uint32_t *type, uint32_t *bo, bool *has_bo);
int
fd_translate_in(struct virtgpu_transport *t,
		const struct cross_domain_receive *rx, int *fds);
int
fd_translate_check_request(struct virtgpu_transport *t,
			   struct wl_object *target,
			   const struct wl_message *message,
			   union wl_argument *args);

/* --- memory-fds.c: files and memfds in requests, as host memory ------- */

/* The largest file a request may carry (the ICC profiles of the
 * color-management protocol are at most 32 MiB; gamma tables and keymaps
 * are kilobytes): each is copied when the request is sent. */
#define MEMORY_FD_MAX (32u << 20)

struct vt_memory_fds {
	uint64_t count, bytes;	/* files sent as host memory, their bytes */
};

int
memory_fd_replace(struct virtgpu_transport *t, struct wl_object *target,
		  const struct wl_message *message, int *fd);

/* --- pipes.c: pipe data both ways -------------------------------------- */

struct read_pipe;
struct write_pipe;

struct vt_pipes {
	struct read_pipe *read;		/* the client reads: READ from the host */
	struct write_pipe *write;	/* the client writes: WRITE to the host */
	uint64_t bytes_in, bytes_out;
	/* WRITEs submitted, and how many of them the host is known to have
	 * run: at most PIPE_WRITES_UNRUN may be unrun (pipes.c). fence
	 * signals when the first fence_writes have run (-1: none asked). */
	uint64_t writes, writes_run, fence_writes;
	int fence;
};

bool
pipes_open(struct virtgpu_transport *t);
size_t
pipes_pending_bytes(struct virtgpu_transport *t);
int
pipes_read_pipe_add(struct virtgpu_transport *t, int client_fd, uint32_t *id);
int
pipes_write_pipe_add(struct virtgpu_transport *t, uint32_t id);
void
pipes_handle_read_locked(struct virtgpu_transport *t, const uint8_t *msg,
			 size_t avail);
int
pipes_wait_fd_locked(struct virtgpu_transport *t);
void
pipes_fence_signalled_locked(struct virtgpu_transport *t);
int
pipes_watch_count_locked(struct virtgpu_transport *t);
int
pipes_watch_locked(struct virtgpu_transport *t, struct pollfd *pfds,
		   void **owners);
void
pipes_ready_locked(struct virtgpu_transport *t, const struct pollfd *pfd,
		   void *owner);
void
pipes_drain(struct virtgpu_transport *t);
void
pipes_fini(struct virtgpu_transport *t);

/* --- pump.c: the transport's own thread -------------------------------- */

struct vt_pump {
	pthread_t thread;
	bool running;
	bool quit;
	int wake_fd;
	/* Threads of the library waiting on wait_fd to read: while there
	 * are, the pump leaves fences to them (it would take the message
	 * and the POLL batching from under them). */
	int readers_waiting;
	pthread_cond_t readers_done;
	/* Since when a wl_display.sync waits for any reply (0: none), and
	 * how long to wait before giving up (0: forever). */
	uint64_t awaiting_since_ms;
	uint64_t reply_timeout_ms;
	/* With nothing received for keepalive_ms (0: never), the pump
	 * sends a wl_display.sync of the library's own, so that the
	 * watchdog notices a compositor that died behind a host that never
	 * says so, even under a client that only waits. */
	uint64_t keepalive_ms;
	uint64_t last_receive_ms;
	/* The pump sleeps with no timeout: a new wait for a reply must wake
	 * it. While it sleeps until some deadline, it looks at the newest
	 * wait when it wakes, so a client doing roundtrips costs no thread
	 * switch per sync (it used to: one wake of the pump per roundtrip). */
	bool sleeps_forever;
};

int
pump_init(struct virtgpu_transport *t);
int
pump_start(struct virtgpu_transport *t);
void
pump_stop(struct virtgpu_transport *t);
void
pump_fini(struct virtgpu_transport *t);
void
pump_wake(struct virtgpu_transport *t);
void
pump_reply_due_locked(struct virtgpu_transport *t);
void
pump_heard_from_host_locked(struct virtgpu_transport *t);
void
pump_reader_waiting(struct virtgpu_transport *t, bool waiting);
void
pump_forget_parent_locked(struct virtgpu_transport *t);
bool
pump_is_current(struct virtgpu_transport *t);

/* --- fork.c: a forked child using the display, and the process's exit -- */

struct vt_fork {
	struct wl_list link;	/* every live transport */
	pid_t owner_pid;	/* the process using the display */
	/* Shared with forked processes (MAP_SHARED): which of them uses the
	 * display last. A parent whose child took the connection over must
	 * not send keepalives into it (its object ids are not the child's). */
	_Atomic pid_t *user_pid;
};

int
fork_init(struct virtgpu_transport *t);
void
fork_register(struct virtgpu_transport *t);
void
fork_fini(struct virtgpu_transport *t);
void
fork_adopt(struct virtgpu_transport *t);
bool
fork_is_owner(struct virtgpu_transport *t);
bool
fork_is_user(struct virtgpu_transport *t);
bool
fork_may_keepalive(struct virtgpu_transport *t);

/* --- fixups.c: events whose meaning the guest must change -------------- */

struct hidden_name {
	uint32_t name;
	uint32_t count;		/* registries that were not told */
};

struct feedback_table {
	uint32_t object_id;
	uint32_t entries;
};

struct vt_fixups {
	dev_t guest_rdev;	/* the render node the transport uses */
	bool have_rdev;
	char *hidden_list;	/* interfaces not offered, comma-separated */
	bool debug;		/* WAYLAND_DEBUG: a line per hidden global */
	struct hidden_name *hidden;	/* global names not offered */
	int nhidden, hidden_capacity;
	struct feedback_table *tables;	/* format table size per feedback */
	int ntables, tables_capacity;
	uint64_t globals_hidden;
};

/* fixups_event: drop the event. */
#define FIXUPS_DROP 1

int
fixups_init(struct virtgpu_transport *t);
void
fixups_fini(struct virtgpu_transport *t);
int
fixups_event(struct virtgpu_transport *t, struct wl_object *target,
	     uint32_t opcode, const struct wl_message *message,
	     union wl_argument *args);
void
fixups_request(struct virtgpu_transport *t, struct wl_object *target,
	       const struct wl_message *message);
bool
fixups_hooks(const char *interface);

/* --- gpu-buffers.c: wl_buffers of GPU memory --------------------------- */

struct gpu_object;

struct vt_gpu_buffers {
	struct gpu_object *params;	/* zwp_linux_buffer_params_v1 with plane 0 */
	struct gpu_object *buffers;	/* wl_buffers of a dma-buf */
	struct gpu_object *surfaces;	/* wl_surfaces such a buffer was attached to */
	bool no_export_sync_file;	/* the kernel is older than 6.0 */
	bool wait_failed_said;
	const char *sync_way;		/* stats: how commits wait, once known */
	uint64_t waits, wait_ns;	/* commits that found rendering pending */
};

void
gpu_buffers_fini(struct virtgpu_transport *t);
int
gpu_buffers_request(struct virtgpu_transport *t, struct wl_object *target,
		    const struct wl_message *message, union wl_argument *args);
int
gpu_buffers_event(struct virtgpu_transport *t, struct wl_object *target,
		  const struct wl_message *message, union wl_argument *args);
bool
gpu_buffers_hooks(const char *interface);

/* --- transport-virtgpu.c: the transport -------------------------------- */

struct virtgpu_transport {
	struct wl_transport base;
	struct cross_domain cd;
	bool cd_open;
	struct virt_shm *shm;

	pthread_mutex_t lock;	/* everything below */
	/* The connection is over: an errno for readers (rx_error), or the
	 * compositor hung up (rx_eof). */
	int rx_error;
	bool rx_eof;
	struct vt_display display;
	struct vt_rx rx;
	struct vt_poll poll;
	struct vt_send_queue send_queue;
	struct vt_pipes pipes;
	struct vt_pump pump;
	struct vt_fork fork;
	struct vt_fixups fixups;
	struct vt_gpu_buffers gpu;
	struct vt_memory_fds memory_fds;
	const char *shm_mode;	/* the stats line's: zero-copy, copy, copy-mremap */
};

void
virtgpu_fail_locked(struct virtgpu_transport *t, int error);
bool
virtgpu_connected_locked(struct virtgpu_transport *t);
bool
virtgpu_debug_client(void);

#endif
