/*
 * The host device's timeline: fences of submitted commands and when they signal (a channel
 * ring's fence is a poll job, answered with one message, §2), the commands a DRM file queued
 * behind a SEND the compositor has not taken yet, the guest's WAITs on busy resources, and
 * the test API's GPU rendering that keeps a buffer busy for a while.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-device.h"

#define HOST_WAIT_TIMEOUT_MS	15000	/* the kernel's WAIT gives up after 15 s */
/* EXECBUFFERs a file may have queued behind a SEND the compositor has not taken before the
 * next one waits in the ioctl: a virtqueue of 256 descriptors at about 4 per submit. The
 * guest counts them (QUEUE_WAIT, sim-ipc.h). */
#define HOST_QUEUE_DEPTH	SIM_IPC_QUEUE_DEPTH

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

/* A QUEUE_WAIT owed its reply once the file's queue has room. */
struct host_queue_waiter {
	struct host_conn *conn;
	uint32_t file_id;
	struct host_queue_waiter *next;
};

/* A WAIT owed its reply (conn), or a sync_file that signals (eventfd) when res_id is idle. */
struct host_waiter {
	struct host_conn *conn;
	int eventfd;
	uint32_t res_id;
	uint64_t deadline;
	struct host_waiter *next;
};

/* The guest's GPU rendering into a buffer (the test API): busy until the deadline. */
struct host_render {
	uint32_t res_id;
	uint32_t pixel;
	uint64_t deadline;
	struct host_render *next;
};

static struct {
	struct host_fence *channel_fences;	/* pending ring-1 fences, in submit order */
	struct host_deferred *deferred;		/* in submit order */
	struct host_waiter *waiters;
	struct host_render *renders;
	struct host_queue_waiter *queue_waiters;
	uint64_t next_fence_id;
} timeline = {
	.next_fence_id = 1,
};

/* A sync_file stand-in (an eventfd) signals, and the host's copy of it goes. */
static void
host_eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof one) < 0)
		host_log("sync_file: eventfd: %s", strerror(errno));
	close(fd);
}

static void
host_waiters_check(void)
{
	uint64_t now = host_now_ms();

	for (struct host_waiter **link = &timeline.waiters; *link;) {
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
		if (w->eventfd >= 0)
			host_eventfd_signal(w->eventfd);
		else
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
		struct host_fence **link = &timeline.channel_fences;
		while (*link)
			link = &(*link)->next;
		*link = fence;
	} else {
		host_fence_signal(fence);
		host_waiters_check();
	}
}

/* A forked child's SUBMIT (on a joined connection) is answered once queued; the primary's
 * (conn NULL) never. */
static void
host_reply_submit(struct host_conn *conn)
{
	if (conn)
		host_reply(conn, SIM_IPC_SUBMIT, 0, NULL, 0, -1);
}

/* Queues fence (or, without one, the handle close of res_id) behind the file's waiting
 * commands; false without memory. */
static bool
host_defer(struct host_file *file, struct host_fence *fence, uint32_t res_id,
	   struct host_conn *owed)
{
	struct host_deferred *d = calloc(1, sizeof *d), **link = &timeline.deferred;

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
	for (struct host_deferred *d = timeline.deferred; d; d = d->next) {
		if (d->file_id != file->id)
			continue;
		any = true;
		if (num_fences && d->fence)
			++*num_fences;
	}
	return any;
}

static void
host_queue_reply(struct host_conn *conn, unsigned queued)
{
	struct sim_ipc_queue_credit room = { HOST_QUEUE_DEPTH - queued, 0 };

	host_reply(conn, SIM_IPC_QUEUE_WAIT, 0, &room, sizeof room, -1);
}

/* QUEUE_WAITs whose file has room now (or is gone). */
static void
host_queue_waiters_check(void)
{
	for (struct host_queue_waiter **link = &timeline.queue_waiters; *link;) {
		struct host_queue_waiter *w = *link;
		struct host_file *file = host_file_lookup(w->file_id);
		unsigned queued = 0;

		if (file)
			host_file_has_deferred(file, &queued);
		if (queued >= HOST_QUEUE_DEPTH) {
			link = &w->next;
			continue;
		}
		host_queue_reply(w->conn, queued);
		*link = w->next;
		free(w);
	}
}

/* QUEUE_WAIT, after the file's submits before it ran: the room its queue has (the credit of
 * the guest's next submits), now or once one of them ran. */
void
host_queue_wait(struct host_conn *conn, struct host_file *file)
{
	struct host_queue_waiter *w;
	unsigned queued;

	host_file_has_deferred(file, &queued);
	if (queued < HOST_QUEUE_DEPTH) {
		host_queue_reply(conn, queued);
		return;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		host_reply(conn, SIM_IPC_QUEUE_WAIT, -ENOMEM, NULL, 0, -1);
		return;
	}
	w->conn = conn;
	w->file_id = file->id;
	w->next = timeline.queue_waiters;
	timeline.queue_waiters = w;
}

/* Lets queued commands run where the compositor took more, and completes in order what
 * waited for them; with drop, completes a leaving file's at once. */
static void
host_run_deferred(const struct host_file *drop)
{
	for (struct host_deferred *d = timeline.deferred; d; d = d->next) {
		struct host_file *file = host_file_lookup(d->file_id);
		if (file && file != drop && file->ctx && (!d->next || d->next->file_id != d->file_id))
			cd_context_resume(file->ctx);
	}
	for (struct host_deferred **link = &timeline.deferred; *link;) {
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
				host_reply_submit(d->conn);
			if (file == drop || !file)
				d->fence->event = false;
			host_fence_complete(d->fence);
		} else if (file && file != drop) {
			host_file_handle_close(file, d->res_id);
		}
		free(d);
	}
	if (timeline.queue_waiters)
		host_queue_waiters_check();
}

/* A fence for a submit of file's naming num_res resources (added one by one); NULL without
 * memory. */
struct host_fence *
host_fence_create(struct host_file *file, bool event, uint32_t num_res)
{
	struct host_fence *fence = calloc(1, sizeof *fence);

	if (!fence || (num_res && !(fence->res = calloc(num_res, 4)))) {
		free(fence);
		return NULL;
	}
	fence->id = timeline.next_fence_id++;
	fence->file_id = file->id;
	fence->event = event;
	fence->eventfd = -1;
	return fence;
}

/* The submit names res_id: busy until the fence signals. */
void
host_fence_add_resource(struct host_fence *fence, uint32_t res_id)
{
	struct host_resource *res = host_resource_lookup(res_id);

	if (res) {
		res->busy++;
		fence->res[fence->num_res++] = res_id;
	}
}

/* fence_fd: the guest's out-fence (FENCE_FD_OUT; an eventfd stands in for the sync_file),
 * or -1; channel: the fence is on the channel ring. */
void
host_fence_configure(struct host_fence *fence, int fence_fd, bool channel)
{
	fence->eventfd = fence_fd;
	fence->channel = channel;
}

/* The host refused the submit (its context is lost): QEMU answers the command with an error
 * that carries its fence, and the kernel signals that fence on the answer, a channel
 * fence too, with nothing in the ring (seen with QEMU 10's virtio-gpu-rutabaga and Debian
 * 12's 6.1: virtio_gpu_dequeue_ctrl_func takes the fence of any answer). At once, here. */
void
host_fence_refused(struct host_conn *owed, struct host_fence *fence)
{
	fence->channel = false;
	host_reply_submit(owed);
	host_fence_complete(fence);
}

/* A submit the host cannot take at all (why): the error answer is one line in the guest
 * kernel's log (DRM_ERROR_RATELIMITED), here in the host's; its fence signals all the same. */
void
host_fence_refuse_submit(struct host_conn *owed, struct host_file *file, bool event,
			 int fence_fd, const char *why)
{
	struct host_fence *fence = host_fence_create(file, event, 0);

	host_log("file %u: SUBMIT refused (%s): an error answer, its fence signals", file->id,
		 why);
	if (!fence) {
		if (fence_fd >= 0)
			host_eventfd_signal(fence_fd);
		host_reply_submit(owed);
		return;
	}
	host_fence_configure(fence, fence_fd, false);
	host_fence_refused(owed, fence);
}

/* The submit ran (or, deferred_by_context, waits behind a SEND the compositor has not
 * taken): completes the fence now or when the file's queue runs, and answers owed (a
 * forked child's submit) once queued. */
void
host_fence_submitted(struct host_conn *owed, struct host_file *file, struct host_fence *fence,
		     bool deferred_by_context)
{
	unsigned queued = 0;

	/* A channel fence does not wait for the commands before it, as in host/rutabaga: the
	 * channel is how the guest reads what frees them (a client pasting its own selection
	 * WRITEs into a pipe it reads through the channel; once that pipe is full, the WRITE
	 * and what follows it wait for a RECEIVE to drain it). */
	if (fence->channel) {
		host_reply_submit(owed);
		host_fence_complete(fence);
		return;
	}
	if (host_file_has_deferred(file, &queued) || deferred_by_context) {
		/* Behind a SEND or WRITE the compositor has not taken: the kernel returns
		 * once the submit is queued, and waits only while the queue is full (the
		 * primary's submits count that themselves, QUEUE_WAIT). */
		struct host_conn *wait = owed && queued >= HOST_QUEUE_DEPTH ? owed : NULL;

		if (!host_defer(file, fence, 0, wait)) {
			host_reply_submit(owed);
			fence->event = false;
			host_fence_complete(fence);
			return;
		}
		if (!wait)
			host_reply_submit(owed);
		return;
	}
	host_reply_submit(owed);
	host_fence_complete(fence);
}

/* A handle close while the file's commands wait: queued after the submits that still name
 * it. False when nothing waits (close it now). */
bool
host_defer_handle_close(struct host_file *file, uint32_t res_id)
{
	return file->ctx && host_file_has_deferred(file, NULL) &&
	       host_defer(file, NULL, res_id, NULL);
}

/* WAIT: 0 at once when the resource is idle, -EBUSY for nowait, else the reply comes when it
 * is (or at the deadline); -ENOMEM. 1: the reply will come later. */
int
host_wait(struct host_conn *conn, uint32_t res_id, bool nowait, uint32_t timeout_ms)
{
	struct host_resource *res = host_resource_lookup(res_id);
	struct host_waiter *w;

	if (!res || res->busy == 0)
		return 0;
	if (nowait)
		return -EBUSY;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->conn = conn;
	w->eventfd = -1;
	w->res_id = res_id;
	w->deadline = host_now_ms() + (timeout_ms ? timeout_ms : HOST_WAIT_TIMEOUT_MS);
	w->next = timeline.waiters;
	timeline.waiters = w;
	return 1;
}

/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file stand-in (an eventfd, readable once signalled)
 * for the resource's pending work. Idle, it is the kernel's signalled stub fence. It signals
 * when the resource is idle: work queued after the export delays it too (a deviation; the
 * kernel's sync_file holds only the fences of the moment). The fd or -errno. */
int
host_sync_file(struct host_resource *res)
{
	int fd = eventfd(0, EFD_CLOEXEC), copy;
	struct host_waiter *w;

	if (fd < 0)
		return -errno;
	if (!res || res->busy == 0) {
		uint64_t one = 1;

		if (write(fd, &one, sizeof one) < 0) {
			close(fd);
			return -EIO;
		}
		return fd;
	}
	w = calloc(1, sizeof *w);
	copy = w ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (copy < 0) {
		free(w);
		close(fd);
		return -ENOMEM;
	}
	w->eventfd = copy;
	w->res_id = res->id;
	w->deadline = UINT64_MAX;
	w->next = timeline.waiters;
	timeline.waiters = w;
	return fd;
}

/* 32-bit word i of the resource's memory set to pixel + i (step 1), or to pixel (step 0);
 * false if it cannot be mapped. */
static bool
host_resource_fill(struct host_resource *res, uint32_t pixel, uint32_t step)
{
	uint32_t *p = host_resource_map(res);

	if (!p)
		return false;
	for (uint64_t i = 0; i < res->size / 4; i++)
		p[i] = pixel + step * (uint32_t)i;
	return true;
}

/* The guest's GPU starts rendering into res: zeros now, word i = pixel + i in delay_ms (never
 * for UINT32_MAX), busy until then. */
int
host_render_start(struct host_resource *res, uint32_t pixel, uint32_t delay_ms)
{
	struct host_render *r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	if (!host_resource_fill(res, 0, 0)) {
		free(r);
		return -EINVAL;
	}
	r->res_id = res->id;
	r->pixel = pixel;
	r->deadline = delay_ms == UINT32_MAX ? UINT64_MAX : host_now_ms() + delay_ms;
	r->next = timeline.renders;
	timeline.renders = r;
	res->busy++;
	return 0;
}

static void
host_renders_check(void)
{
	uint64_t now = host_now_ms();

	for (struct host_render **link = &timeline.renders; *link;) {
		struct host_render *r = *link;
		struct host_resource *res;

		if (now < r->deadline) {
			link = &r->next;
			continue;
		}
		*link = r->next;
		res = host_resource_lookup(r->res_id);
		if (res) {
			host_resource_fill(res, r->pixel, 1);
			res->busy--;
			host_resource_maybe_free(res);
		}
		free(r);
	}
}

/* A connection going away: nothing is owed to it any more. */
void
host_fence_forget_conn(struct host_conn *conn)
{
	for (struct host_deferred *d = timeline.deferred; d; d = d->next)
		if (d->conn == conn)
			d->conn = NULL;
	for (struct host_queue_waiter **link = &timeline.queue_waiters; *link;) {
		struct host_queue_waiter *w = *link;
		if (w->conn == conn) {
			*link = w->next;
			free(w);
		} else {
			link = &w->next;
		}
	}
	for (struct host_waiter **link = &timeline.waiters; *link;) {
		struct host_waiter *w = *link;
		if (w->conn == conn) {
			*link = w->next;
			free(w);
		} else {
			link = &w->next;
		}
	}
}

void
host_file_drop(struct host_file *file)
{
	host_run_deferred(file);
	for (struct host_fence **link = &timeline.channel_fences; *link;) {
		struct host_fence *fence = *link;
		if (fence->file_id == file->id) {
			*link = fence->next;
			fence->event = false;
			host_fence_signal(fence);
		} else {
			link = &fence->next;
		}
	}
	host_conns_forget_file(file);
	host_file_destroy(file);
}

/* Passes over the channel fences, to visit each file once (host_file.turn). */
static uint64_t fence_turns;

/* What the loop must watch for the timeline: the compositor sockets of contexts with a poll
 * job, the sockets that must take a queued SEND, and the next WAIT deadline. */
int
host_fence_watch(struct pollfd *pfds, int max, struct timespec **timeout,
		 struct timespec *storage)
{
	uint64_t turn = ++fence_turns;
	int n = 0;

	/* Each context once, however many of its fences wait: a guest that queues POLLs
	 * without reading must not grow the wait. */
	for (struct host_fence *f = timeline.channel_fences; f; f = f->next) {
		struct host_file *file = host_file_lookup(f->file_id);
		if (file && file->ctx && file->turn != turn) {
			file->turn = turn;
			n += cd_context_watch(file->ctx, pfds + n, max - n);
		}
	}
	for (struct host_deferred *d = timeline.deferred; d && n < max; d = d->next) {
		struct host_file *file = host_file_lookup(d->file_id);
		int fd = file && file->ctx ? cd_context_send_fd(file->ctx) : -1;
		if (fd >= 0 && (!d->next || d->next->file_id != d->file_id))
			pfds[n++] = (struct pollfd){ fd, POLLOUT, 0 };
	}
	*timeout = NULL;
	if (timeline.waiters || timeline.renders) {
		uint64_t now = host_now_ms(), next = UINT64_MAX;
		for (struct host_waiter *w = timeline.waiters; w; w = w->next)
			if (w->deadline < next)	/* a sync_file's UINT64_MAX: none */
				next = w->deadline;
		for (struct host_render *r = timeline.renders; r; r = r->next)
			if (r->deadline < next)
				next = r->deadline;
		if (next != UINT64_MAX) {
			next = next > now ? next - now : 0;
			storage->tv_sec = next / 1000;
			storage->tv_nsec = (next % 1000) * 1000000;
			*timeout = storage;
		}
	}
	return n;
}

/* Channel-ring fences: one event, one message, one fence (§2), from what the loop's wait
 * found (seen, nseen; NULL: poll). */
static void
host_service_contexts(const struct pollfd *seen, int nseen)
{
	bool progress = true;

	while (progress) {
		uint64_t turn = ++fence_turns;

		progress = false;
		for (struct host_fence **link = &timeline.channel_fences; *link;) {
			struct host_fence *fence = *link;
			struct host_file *file = host_file_lookup(fence->file_id);
			/* Only the oldest pending fence of a file is served. */
			bool oldest = file && file->turn != turn;

			if (file)
				file->turn = turn;
			if (oldest && file->ctx &&
			    cd_context_service_after(file->ctx, seen, nseen)) {
				*link = fence->next;
				file->turn = 0;	/* its next fence is the oldest now */
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

/* After each turn of the loop: queued commands run where they can, poll jobs are served. */
void
host_fence_run(const struct pollfd *seen, int nseen)
{
	host_renders_check();
	host_run_deferred(NULL);
	host_service_contexts(seen, nseen);
}
