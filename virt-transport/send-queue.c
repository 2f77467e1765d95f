/*
 * SPDX-License-Identifier: MIT
 * The virtgpu transport: the Wayland byte stream over a cross-domain
 * channel (cross-domain-protocol.md §4). RECEIVEs become a local stream
 * the core reads; whichever thread sees a fence first takes the message:
 * the client's reader (its own waits poll the DRM fd) or the pump thread,
 * which also wakes clients that poll the display fd in their own loops
 * and moves pipe data both ways while the client blocks elsewhere
 * (wl-paste reads its pipe and dispatches nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cross-domain.h"
#include "shm.h"
#include "transport.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

/* The most one guest process keeps of pipe data the client has not read
 * yet; beyond it the pump stops asking the host for more. */
#define PIPE_PENDING_MAX (4u << 20)
/* Received bytes the client has not read yet, beyond which no POLL. */
#define RX_PENDING_MAX (4u << 20)
/* How long a POLL may wait for a SEND to ride with (see poll_deferred). */
#define POLL_DEFER_NS 1000000
/* SENDs the host may not have run yet. A real kernel queues an
 * EXECBUFFER and returns; it waits only while the device's queue is full
 * (a host whose compositor does not read stops taking SENDs). Beyond
 * these, flush says EAGAIN and the display fd stops saying writable until
 * a fence says the host ran them, as a full socket would. */
#define SEND_QUEUE_MAX 32
#define SEND_QUEUE_MAX_BYTES (256u << 10)
/* A SEND asks for a fence (FENCE_FD_OUT) only this often: the host runs
 * submits in order, so one fence covers every SEND before it. */
#define SEND_FENCE_EVERY 8
#define SEND_FENCE_EVERY_BYTES (32u << 10)
/* Small read-only tables (keymaps, format tables) are copied into
 * sealed guest memory up to this size. */
#define SEALED_COPY_MAX (16u << 20)

struct read_pipe {
	uint32_t id;
	int fd;			/* the client's write end */
	uint8_t *pending;
	size_t pending_len;
	bool hang_up;
	struct read_pipe *next;
};

struct write_pipe {
	uint32_t id;
	int fd;			/* our read end; the client has the write end */
	int client_fd;		/* the number the client got for its end */
	ino_t ino;		/* the pipe's, to recognise that fd */
	struct write_pipe *next;
};

struct virtgpu_transport {
	struct wl_transport base;
	struct cross_domain cd;
	bool cd_open;
	struct virt_shm *shm;

	pthread_t pump;
	bool pump_running;
	int wake_fd;
	/* wl_display_get_fd: one end of a socket pair, readable while
	 * received bytes wait (a byte written to notify_tx), and writable:
	 * clients such as Xwayland poll it for POLLOUT before each flush.
	 * An epoll fd cannot say writable, so the library's own waits use
	 * wait_fd (epoll of display_fd and the DRM fd: a fence wakes the
	 * reader directly), and the pump watches the DRM fd for clients
	 * that poll display_fd in their own loops. */
	int display_fd;
	int notify_tx;
	int wait_fd;
	uint8_t *msg;		/* a copy of the channel ring's page */
	bool poll_outstanding;
	/* The client's reader took the last channel message and no pipe
	 * needs the channel: the next POLL rides with the next SEND (one
	 * EXECBUFFER less per roundtrip). It goes alone when the client
	 * says it may wait (flush with nothing to send, prepare_read: the
	 * idle hook), when a reader finds nothing, or when poll_timer_fd
	 * fires in the pump (a client that polls the fd without either). */
	bool poll_deferred;
	int poll_timer_fd;
	bool poll_timer_armed;
	uint64_t poll_deferred_ns;	/* since when */
	bool notified;		/* notify_tx has written a byte not read yet */
	bool reader_draining;
	/* SENDs submitted since the last fence that signalled, and of them
	 * those up to the outstanding fence (send_fence, -1: none). While
	 * display_blocked, display_fd's own send buffer is full (a filler
	 * nobody reads until notify_tx drains it), so it says not
	 * writable; the pump waits for send_fence and empties it. */
	int send_fence;
	uint32_t unrun_sends, fenced_sends;
	size_t unrun_bytes, fenced_bytes;
	bool display_blocked;
	uint64_t flush_eagain;
	/* Since when a wl_display.sync waits for any reply (0: none), and
	 * how long to wait before giving up (0: forever). */
	uint64_t awaiting_since_ms;
	uint64_t reply_timeout_ms;
	/* With nothing received for keepalive_ms (0: never), the pump sends
	 * a wl_display.sync of the library's own, so that the watchdog
	 * notices a compositor that died behind a host that never says so,
	 * even under a client that only waits. */
	uint64_t keepalive_ms;
	uint64_t last_receive_ms;
	/* The pump sleeps with no timeout: a new wait for a reply must wake
	 * it. While it sleeps until some deadline, it looks at the newest
	 * wait when it wakes, so a client doing roundtrips costs no thread
	 * switch per sync (it used to: one wake of the pump per roundtrip). */
	bool pump_sleeps_forever;

	pthread_mutex_t lock;	/* everything below */
	bool quit;
	/* Threads of the library waiting on wait_fd to read: while there
	 * are, the pump leaves fences to them (it would take the message
	 * and the POLL batching from under them). */
	int readers_waiting;
	pthread_cond_t readers_done;
	/* The client has the display fd: it may poll it in a loop of its
	 * own, which only the pump can wake (the library's own waits poll
	 * the DRM fd themselves). */
	bool fd_exported;
	uint8_t *rx;
	size_t rx_len, rx_capacity;
	int *rx_fds;
	int rx_nfds, rx_fds_capacity;
	bool rx_eof;
	int rx_error;
	bool received_any;
	struct read_pipe *read_pipes;
	struct write_pipe *write_pipes;
	uint64_t pipe_bytes_in, pipe_bytes_out;
	uint64_t polls, polls_with_send;	/* POLLs submitted; of them, in a SEND's submit */

	struct wl_list link;	/* all_transports */
	pid_t owner_pid;	/* the process using the display */
	/* Shared with forked processes (MAP_SHARED): which of them uses the
	 * display last. A parent whose child took the connection over must
	 * not send keepalives into it (its object ids are not the child's). */
	_Atomic pid_t *user_pid;
};

/* Every live transport, so a fork can give the child its own pumps: only
 * the forking thread survives in the child, and clients such as wl-copy
 * fork and go on using the display there. */
static pthread_mutex_t all_transports_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wl_list all_transports = { &all_transports, &all_transports };
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void *
pump_main(void *data);

static void
wake_pump(struct virtgpu_transport *t);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

static uint64_t
now_ms(void)
{
	return now_ns() / 1000000;
}

static void
atfork_prepare(void)
{
	struct virtgpu_transport *t;

	pthread_mutex_lock(&all_transports_lock);
	wl_list_for_each(t, &all_transports, link)
		pthread_mutex_lock(&t->lock);
}

static void
atfork_parent(void)
{
	struct virtgpu_transport *t;

	wl_list_for_each(t, &all_transports, link)
		pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&all_transports_lock);
}

static void
atfork_child(void)
{
	struct virtgpu_transport *t;

	wl_list_for_each(t, &all_transports, link) {
		pthread_mutex_unlock(&t->lock);
		/* The parent's pump is not in this process, and the DRM file
		 * (so the context and its one POLL) is shared with the
		 * parent. A child that only execs must not take fence events
		 * from the parent: it gets a pump of its own only when it
		 * uses the display itself (adopt_after_fork). */
		t->pump_running = false;
		/* The parent's pump may have been waiting on it: a copy
		 * with a waiter that is not in this process blocks every
		 * broadcast. No thread of ours waits here yet. */
		pthread_cond_init(&t->readers_done, NULL);
		t->readers_waiting = 0;
	}
	pthread_mutex_unlock(&all_transports_lock);
}

/* A forked child using the display: it is the owner now. */
static void
adopt_after_fork(struct virtgpu_transport *t)
{
	int fd;

	if (t->owner_pid == getpid()) {
		/* A parent using the display again after a child did. */
		if (t->user_pid && *t->user_pid != t->owner_pid)
			*t->user_pid = t->owner_pid;
		return;
	}
	t->owner_pid = getpid();
	if (t->user_pid)
		*t->user_pid = t->owner_pid;
	/* The timer is one file with the parent's: take one of our own. */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd >= 0) {
		close(t->poll_timer_fd);
		t->poll_timer_fd = fd;
		t->poll_timer_armed = false;
	}
	t->pump_running = pthread_create(&t->pump, NULL, pump_main, t) == 0;
}

/* Before the process goes, what the client wrote into a write pipe and
 * the pump has not forwarded yet must still reach the host, then the
 * hang-up (wl-copy writes its data and exits at once). */
static void
write_pipes_drain(struct virtgpu_transport *t)
{
	uint8_t buf[CROSS_DOMAIN_MAX_WRITE_DATA];
	struct write_pipe *wp;
	struct pollfd pfd;
	ssize_t n;

	pthread_mutex_lock(&t->lock);
	while ((wp = t->write_pipes)) {
		struct stat st;

		if (t->rx_error) {
			/* The channel is gone: nothing more can be sent. */
			t->write_pipes = wp->next;
			close(wp->fd);
			free(wp);
			continue;
		}
		/* While this process still holds the write end, no end of
		 * file can come: take what is there. Otherwise another
		 * process (a forked writer) may still be at it: follow it
		 * to its end while it keeps writing. */
		bool held = fstat(wp->client_fd, &st) == 0 &&
			    S_ISFIFO(st.st_mode) && st.st_ino == wp->ino;

		pfd = (struct pollfd) { .fd = wp->fd, .events = POLLIN };
		while (poll(&pfd, 1, held ? 100 : 2000) > 0) {
			n = read(wp->fd, buf, sizeof buf);
			if (n <= 0)
				break;
			if (cross_domain_write(&t->cd, wp->id, false, buf,
					       (uint32_t) n) < 0)
				break;
			t->pipe_bytes_out += (uint64_t) n;
		}
		cross_domain_write(&t->cd, wp->id, true, NULL, 0);
		t->write_pipes = wp->next;
		close(wp->fd);
		free(wp);
	}
	pthread_mutex_unlock(&t->lock);
}

static void
pump_stop(struct virtgpu_transport *t)
{
	if (!t->pump_running)
		return;

	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_broadcast(&t->readers_done);
	pthread_mutex_unlock(&t->lock);
	wake_pump(t);
	pthread_join(t->pump, NULL);
	t->pump_running = false;
}

static void
drain_at_exit(void)
{
	struct virtgpu_transport *t;

	pthread_mutex_lock(&all_transports_lock);
	wl_list_for_each(t, &all_transports, link) {
		if (t->owner_pid == getpid()) {
			/* The drain alone moves pipe data from here on. */
			pump_stop(t);
			write_pipes_drain(t);
		}
	}
	pthread_mutex_unlock(&all_transports_lock);
}

static void
register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	atexit(drain_at_exit);
}

/* With the lock held: make the display fd readable (once). */
static void
notify(struct virtgpu_transport *t)
{
	uint64_t one = 1;
	ssize_t ignored;

	/* The reader draining the ring itself needs no wake-up. */
	if (t->notified || t->reader_draining)
		return;
	t->notified = true;
	ignored = write(t->notify_tx, &one, 1);
	(void) ignored;
}

static void
wake_pump(struct virtgpu_transport *t)
{
	uint64_t one = 1;
	ssize_t ignored = write(t->wake_fd, &one, sizeof one);

	(void) ignored;
}

static void
display_unblock_locked(struct virtgpu_transport *t);

/* With the lock held: the connection is over; readers see errno. */
static void
fail_locked(struct virtgpu_transport *t, int error)
{
	if (!t->rx_error)
		t->rx_error = error;
	notify(t);
	/* A client waiting to write must wake and learn it too. */
	display_unblock_locked(t);
}

/* --- how many SENDs the host has not run (SEND_QUEUE_MAX) ------------- */

/* True when the outstanding fence signalled: what it covered has run. */
static bool
send_fence_retire_locked(struct virtgpu_transport *t)
{
	struct pollfd pfd = { .fd = t->send_fence, .events = POLLIN };

	if (t->send_fence < 0 || poll(&pfd, 1, 0) != 1)
		return false;
	close(t->send_fence);
	t->send_fence = -1;
	t->unrun_sends -= t->fenced_sends;
	t->unrun_bytes -= t->fenced_bytes;
	t->fenced_sends = 0;
	t->fenced_bytes = 0;
	return true;
}

static bool
send_queue_full_locked(struct virtgpu_transport *t)
{
	if (t->unrun_sends < SEND_QUEUE_MAX &&
	    t->unrun_bytes < SEND_QUEUE_MAX_BYTES)
		return false;
	send_fence_retire_locked(t);
	/* Without a fence to wait for (the kernel gave none), the kernel's
	 * own wait in EXECBUFFER is all there is. */
	return t->send_fence >= 0 &&
	       (t->unrun_sends >= SEND_QUEUE_MAX ||
		t->unrun_bytes >= SEND_QUEUE_MAX_BYTES);
}

/* Whether the next SEND of size bytes should carry a fence. */
static bool
send_wants_fence_locked(struct virtgpu_transport *t, size_t size)
{
	if (t->send_fence >= 0 &&
	    (t->unrun_sends - t->fenced_sends < SEND_FENCE_EVERY &&
	     t->unrun_bytes - t->fenced_bytes < SEND_FENCE_EVERY_BYTES))
		return false;
	if (t->send_fence >= 0 && !send_fence_retire_locked(t))
		return false;
	return t->unrun_sends + 1 >= SEND_FENCE_EVERY ||
	       t->unrun_bytes + size >= SEND_FENCE_EVERY_BYTES;
}

static void
send_submitted_locked(struct virtgpu_transport *t, size_t size, int fence)
{
	t->unrun_sends++;
	t->unrun_bytes += size;
	if (fence >= 0) {
		if (t->send_fence >= 0)
			close(t->send_fence);
		t->send_fence = fence;
		t->fenced_sends = t->unrun_sends;
		t->fenced_bytes = t->unrun_bytes;
	}
}

/* display_fd stops saying writable: its send buffer is filled with bytes
 * that wait at notify_tx, which nobody reads until the unblock. */
static void
display_block_locked(struct virtgpu_transport *t)
{
	static const uint8_t filler[4096];

	if (t->display_blocked)
		return;
	while (send(t->display_fd, filler, sizeof filler,
		    MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		;
	t->display_blocked = true;
	wake_pump(t);	/* to wait for send_fence */
}

static void
display_unblock_locked(struct virtgpu_transport *t)
{
	uint8_t sink[4096];

	if (!t->display_blocked)
		return;
	while (recv(t->notify_tx, sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
	t->display_blocked = false;
}

static int
rx_append(struct virtgpu_transport *t, const void *data, size_t len,
	  const int *fds, int nfds)
{
	if (t->rx_len + len > t->rx_capacity) {
		size_t capacity = t->rx_capacity ? t->rx_capacity : 8192;
		uint8_t *grown;

		while (capacity < t->rx_len + len)
			capacity *= 2;
		grown = realloc(t->rx, capacity);
		if (grown == NULL)
			return -1;
		t->rx = grown;
		t->rx_capacity = capacity;
	}
	if (t->rx_nfds + nfds > t->rx_fds_capacity) {
		int capacity = t->rx_nfds + nfds + 32;
		int *grown = realloc(t->rx_fds, capacity * sizeof(int));

		if (grown == NULL)
			return -1;
		t->rx_fds = grown;
		t->rx_fds_capacity = capacity;
	}

	if (len)
		memcpy(t->rx + t->rx_len, data, len);
	t->rx_len += len;
	if (nfds)
		memcpy(t->rx_fds + t->rx_nfds, fds, nfds * sizeof(int));
	t->rx_nfds += nfds;
	notify(t);

	return 0;
}

/* §4.2 type 1: host memory becomes a HOST3D blob, handed on as its fd. */
static int
host_blob_fd(struct virtgpu_transport *t, uint32_t blob_id, uint32_t size)
{
	struct cross_domain *cd = &t->cd;
	uint32_t bo;
	int fd;

	if (virtgpu_blob_create(&cd->dev, VIRTGPU_BLOB_MEM_HOST3D,
				VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
				VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
				virtgpu_page_align(&cd->dev, size), blob_id,
				&bo, NULL) < 0) {
		wl_log("wayland-virtgpu: cannot create host memory of %u bytes "
		       "the compositor sent (%s)\n", size, strerror(errno));
		return -1;
	}
	fd = virtgpu_prime_export(&cd->dev, bo);
	if (fd < 0)
		wl_log("wayland-virtgpu: cannot export host memory (%s)\n",
		       strerror(errno));
	virtgpu_gem_close(&cd->dev, bo);

	return fd;
}

/* §4.2 type 4: the compositor's write end becomes a local pipe whose
 * write end the client gets; the pump forwards what it reads. */
static int
write_pipe_fd(struct virtgpu_transport *t, uint32_t id)
{
	struct write_pipe *wp;
	struct stat st;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);

	wp = calloc(1, sizeof *wp);
	if (wp == NULL) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	wp->id = id;
	wp->fd = fds[0];
	wp->client_fd = fds[1];
	if (fstat(fds[0], &st) == 0)
		wp->ino = st.st_ino;
	wp->next = t->write_pipes;
	t->write_pipes = wp;
	wake_pump(t);

	return fds[1];
}

static void
handle_receive(struct virtgpu_transport *t, const uint8_t *msg, size_t avail)
{
	struct cross_domain_receive rx;
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS], ret;
	uint32_t i, n;

	ret = cross_domain_parse_receive(msg, avail, t->cd.max_ids, &rx);
	if (ret == CROSS_DOMAIN_OTHER_LAYOUT) {
		wl_log("wayland-virtgpu: the host passes %d identifiers per "
		       "message, not %d: an old host (crosvm before 2024, "
		       "libkrun before 1.16) needs %s\n",
		       t->cd.max_ids == 4 ? CROSS_DOMAIN_MAX_IDENTIFIERS : 4,
		       t->cd.max_ids,
		       t->cd.max_ids == 4 ? "WAYLAND_VIRTGPU_IDENTIFIERS unset" :
		       "WAYLAND_VIRTGPU_IDENTIFIERS=4 (libkrun 1.10-1.15: "
		       "WAYLAND_VIRTGPU_INIT=24)");
		fail_locked(t, EPROTO);
		return;
	}
	if (ret < 0) {
		wl_log("wayland-virtgpu: the host sent a malformed RECEIVE "
		       "(%u identifiers, %u bytes)\n",
		       ((const struct cross_domain_sr_head *) msg)->num_identifiers,
		       ((const struct cross_domain_sr_head *) msg)->opaque_data_size);
		fail_locked(t, EPROTO);
		return;
	}
	n = rx.num_ids;

	if (n == 0 && rx.size == 0) {
		/* §4.2: an empty RECEIVE is the compositor hanging up. */
		t->rx_eof = true;
		notify(t);
		return;
	}

	for (i = 0; i < n; i++) {
		switch (rx.types[i]) {
		case CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB:
			/* §3.5: some hosts tag write pipes as blobs of
			 * size 0; memory of size 0 means nothing else. */
			if (rx.sizes[i] == 0)
				fds[i] = write_pipe_fd(t, rx.ids[i]);
			else
				fds[i] = host_blob_fd(t, rx.ids[i], rx.sizes[i]);
			break;
		case CROSS_DOMAIN_ID_TYPE_WRITE_PIPE:
			fds[i] = write_pipe_fd(t, rx.ids[i]);
			break;
		default:
			wl_log("wayland-virtgpu: the compositor sent an fd the "
			       "host passes as type %u (an eventfd or socket), "
			       "which cannot reach this client\n", rx.types[i]);
			fds[i] = -1;
			break;
		}
		if (fds[i] < 0) {
			while (i-- > 0)
				close(fds[i]);
			fail_locked(t, EPROTO);
			return;
		}
	}

	t->awaiting_since_ms = 0;
	t->last_receive_ms = now_ms();
	t->base.stats.receives++;
	t->base.stats.recv_bytes += rx.size;
	t->base.stats.fds_received += n;
	t->received_any = true;
	if (rx_append(t, rx.data, rx.size, fds, (int) n) < 0) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		fail_locked(t, ENOMEM);
	}
}

static void
read_pipe_free(struct virtgpu_transport *t, struct read_pipe *rp)
{
	struct read_pipe **p = &t->read_pipes;

	while (*p && *p != rp)
		p = &(*p)->next;
	if (*p)
		*p = rp->next;
	close(rp->fd);
	free(rp->pending);
	free(rp);
}

/* Write what is pending to the client's pipe, without blocking. */
static void
read_pipe_flush(struct virtgpu_transport *t, struct read_pipe *rp)
{
	ssize_t n;

	while (rp->pending_len > 0) {
		n = write(rp->fd, rp->pending, rp->pending_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* The client closed its end: drop the data. */
			rp->pending_len = 0;
			rp->hang_up = true;
			break;
		}
		memmove(rp->pending, rp->pending + n, rp->pending_len - (size_t) n);
		rp->pending_len -= (size_t) n;
		t->pipe_bytes_in += (uint64_t) n;
	}

	if (rp->hang_up)
		read_pipe_free(t, rp);
}

static void
handle_read(struct virtgpu_transport *t, const uint8_t *msg, size_t avail)
{
	struct cross_domain_read r;
	struct read_pipe *rp;
	uint8_t *grown;

	if (cross_domain_parse_read(msg, avail, &r) < 0) {
		wl_log("wayland-virtgpu: the host sent a malformed READ "
		       "(%u bytes)\n",
		       ((const struct cross_domain_read_write *) msg)->opaque_data_size);
		fail_locked(t, EPROTO);
		return;
	}

	for (rp = t->read_pipes; rp && rp->id != r.id; rp = rp->next)
		;
	if (rp == NULL) {
		wl_log("wayland-virtgpu: the host sent data for unknown pipe "
		       "0x%x; dropped\n", r.id);
		return;
	}

	if (r.size > 0) {
		grown = realloc(rp->pending, rp->pending_len + r.size);
		if (grown == NULL) {
			fail_locked(t, ENOMEM);
			return;
		}
		rp->pending = grown;
		memcpy(rp->pending + rp->pending_len, r.data, r.size);
		rp->pending_len += r.size;
	}
	if (r.hang_up)
		rp->hang_up = true;

	read_pipe_flush(t, rp);
}

/* One message at the channel ring, after a POLL fence (§2). */
static void
handle_channel_message(struct virtgpu_transport *t, const uint8_t *msg,
		       size_t page)
{
	const struct cross_domain_header *hdr = (const void *) msg;

	switch (hdr->cmd) {
	case CROSS_DOMAIN_CMD_RECEIVE:
		handle_receive(t, msg, page);
		break;
	case CROSS_DOMAIN_CMD_READ:
		handle_read(t, msg, page);
		break;
	default:
		wl_log("wayland-virtgpu: the host sent unknown command %u on "
		       "the channel ring\n", hdr->cmd);
		fail_locked(t, EPROTO);
		break;
	}
}

static size_t
pending_pipe_bytes(struct virtgpu_transport *t)
{
	struct read_pipe *rp;
	size_t total = 0;

	for (rp = t->read_pipes; rp; rp = rp->next)
		total += rp->pending_len;
	return total;
}

/* A readable write-pipe end: forward up to one WRITE (§4.3); EOF only
 * hangs up. */
static void
write_pipe_pump(struct virtgpu_transport *t, struct write_pipe *wp)
{
	uint8_t buf[CROSS_DOMAIN_MAX_WRITE_DATA];
	uint32_t id = wp->id;
	struct write_pipe **p;
	ssize_t n;
	int ret;

	n = read(wp->fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;

	if (n <= 0) {
		for (p = &t->write_pipes; *p && *p != wp; p = &(*p)->next)
			;
		if (*p)
			*p = wp->next;
		close(wp->fd);
		free(wp);
	}

	/* The host writes to the compositor's pipe with a blocking write
	 * (§4.3): a compositor slow to read must not stall the client's
	 * reader, so the lock is not held across it. Only the pump sends
	 * pipe data while the display lives, so the order holds. */
	pthread_mutex_unlock(&t->lock);
	if (n > 0)
		ret = cross_domain_write(&t->cd, id, false, buf, (uint32_t) n);
	else
		ret = cross_domain_write(&t->cd, id, true, NULL, 0);
	pthread_mutex_lock(&t->lock);

	if (n > 0 && ret < 0) {
		if (!t->rx_error)
			wl_log("wayland-virtgpu: pipe data to the host failed "
			       "(%s)\n", strerror(errno));
		fail_locked(t, EPIPE);
	}
	if (n > 0)
		t->pipe_bytes_out += (uint64_t) n;
}

/* With the lock held: how long the pump may sleep (-1: no limit), and
 * giving up when the compositor has not answered a sync in time. Some
 * hosts never report a closed connection (cross-domain-protocol.md §4.2,
 * crosvm up to rutabaga 0.1.71): without this a client whose compositor
 * died would wait forever. */
static int
reply_watchdog_locked(struct virtgpu_transport *t)
{
	uint64_t now, deadline;

	if (!t->awaiting_since_ms || !t->reply_timeout_ms || t->rx_error ||
	    t->rx_eof)
		return -1;

	now = now_ms();
	deadline = t->awaiting_since_ms + t->reply_timeout_ms;
	if (now < deadline)
		return (int) (deadline - now);

	wl_log("wayland-virtgpu: no reply from the compositor for %llu s; "
	       "taking it for gone (this host does not report a closed "
	       "connection; WAYLAND_VIRTGPU_REPLY_TIMEOUT sets the wait)\n",
	       (unsigned long long) t->reply_timeout_ms / 1000);
	fail_locked(t, EPIPE);
	return -1;
}

static bool
poll_timer_arm(struct virtgpu_transport *t, uint64_t ns)
{
	struct itimerspec later = {
		.it_value = { (time_t) (ns / 1000000000), (long) (ns % 1000000000) },
	};

	t->poll_timer_armed =
		timerfd_settime(t->poll_timer_fd, 0, &later, NULL) == 0;
	return t->poll_timer_armed;
}

/* A fence event waits on the DRM fd. */
static bool
device_readable(struct virtgpu_transport *t)
{
	struct pollfd pfd = { .fd = t->cd.dev.fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Whether this process uses the display (not a parent whose forked child
 * took it over). */
static bool
is_user(struct virtgpu_transport *t)
{
	return !t->user_pid || *t->user_pid == t->owner_pid;
}

/* With the lock held, in the pump: whether to send a keepalive now; else
 * shortens *timeout to when one will be due. Never longer than the reply
 * timeout, so a sync sent meanwhile need not wake the pump (its deadline
 * is later than the pump's). */
static bool
keepalive_due_locked(struct virtgpu_transport *t, int *timeout)
{
	uint64_t now, due, wait;

	if (!t->keepalive_ms || !t->reply_timeout_ms || t->awaiting_since_ms ||
	    t->rx_error || t->rx_eof || !t->base.core || !t->base.core->keepalive ||
	    !t->user_pid || !is_user(t))
		return false;

	now = now_ms();
	due = t->last_receive_ms + t->keepalive_ms;
	if (now >= due) {
		t->last_receive_ms = now;	/* one per quiet interval */
		return true;
	}
	wait = due - now;
	if (wait > t->reply_timeout_ms)
		wait = t->reply_timeout_ms;
	if (*timeout < 0 || (uint64_t) *timeout > wait)
		*timeout = (int) wait;
	return false;
}

/* With the lock held: whether a POLL may go at all: none outstanding
 * (§2: exactly one), the channel alive, and the client not leaving much
 * pipe data unread (the host then keeps it). The rx bound comes after. */
static bool
poll_possible_locked(struct virtgpu_transport *t)
{
	return !t->poll_outstanding && !t->rx_error && !t->rx_eof &&
	       pending_pipe_bytes(t) < PIPE_PENDING_MAX;
}

/* With the lock held: keep one POLL outstanding (§2), except while the
 * client leaves much pipe data unread (the host then keeps it). */
static void
ring_repoll_locked(struct virtgpu_transport *t, bool may_defer)
{
	if (!poll_possible_locked(t))
		return;
	/* A client that does not read: the host keeps the rest (a reader
	 * that empties rx asks again, as for a deferred POLL). */
	if (t->rx_len >= RX_PENDING_MAX) {
		t->poll_deferred = true;
		return;
	}
	if (may_defer && (t->reader_draining || t->fd_exported) &&
	    !t->read_pipes && !t->write_pipes &&
	    (t->poll_timer_armed || poll_timer_arm(t, POLL_DEFER_NS))) {
		/* An armed timer that fires early looks at this time and
		 * sleeps again: no system call per deferral. */
		t->poll_deferred = true;
		t->poll_deferred_ns = now_ns();
		return;
	}

	t->poll_deferred = false;
	t->polls++;
	if (cross_domain_poll(&t->cd) < 0) {
		wl_log("wayland-virtgpu: the host refused POLL (%s)\n",
		       strerror(errno));
		fail_locked(t, EPIPE);
		return;
	}
	t->poll_outstanding = true;
}

/* With the lock held, in the pump: the timer fired. A POLL deferred for
 * long enough goes now; a younger one gets the rest of its time. */
static void
poll_timer_fired(struct virtgpu_transport *t)
{
	uint64_t expirations, waited;
	ssize_t ignored = read(t->poll_timer_fd, &expirations,
			       sizeof expirations);

	(void) ignored;
	t->poll_timer_armed = false;
	if (!t->poll_deferred)
		return;
	waited = now_ns() - t->poll_deferred_ns;
	if (waited < POLL_DEFER_NS && poll_timer_arm(t, POLL_DEFER_NS - waited))
		return;
	ring_repoll_locked(t, false);
}

/* With the lock held: handle every fence event waiting on the DRM fd,
 * without blocking. Whichever thread gets here first does the work: the
 * client's reader (the display fd polls the DRM fd too) or the pump. */
static void
ring_drain_locked(struct virtgpu_transport *t)
{
	size_t page = (size_t) t->cd.dev.page_size;
	struct { uint32_t type, length; } events[16];
	struct pollfd pfd = { .fd = t->cd.dev.fd, .events = POLLIN };
	ssize_t len;
	int i;

	while (!t->rx_error && poll(&pfd, 1, 0) > 0) {
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			wl_log("wayland-virtgpu: the virtio-gpu device went "
			       "away\n");
			fail_locked(t, EPIPE);
			return;
		}

		len = read(t->cd.dev.fd, events, sizeof events);
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (len <= 0) {
			wl_log("wayland-virtgpu: the virtio-gpu device went "
			       "away (%s)\n", len < 0 ? strerror(errno) :
			       "end of file");
			fail_locked(t, EPIPE);
			return;
		}

		for (i = 0; i < len / (ssize_t) sizeof events[0]; i++) {
			struct cross_domain_header *hdr = t->cd.channel_ring;

			if (events[i].type != VIRTGPU_EVENT_FENCE_SIGNALED ||
			    !t->poll_outstanding)
				continue;	/* not the answer to a POLL */
			/* The page is cleared after each message, so a
			 * fence with nothing new in it (signalled twice, or
			 * for nothing) shows. Reading the old message again
			 * would deliver it twice. */
			if (hdr->cmd == 0) {
				wl_log("wayland-virtgpu: the host signalled the "
				       "channel without a message\n");
				fail_locked(t, EPROTO);
				return;
			}
			/* Copy out: the next POLL reuses the page. */
			memcpy(t->msg, t->cd.channel_ring, page);
			hdr->cmd = 0;
			t->poll_outstanding = false;
			handle_channel_message(t, t->msg, page);
		}
		ring_repoll_locked(t, true);
	}
}

/* The pump: moves pipe data while transfers are open, whatever the client
 * is doing; the rest of the time it sleeps and the client's own reads
 * drain the ring, one thread hop less per message. */
static void *
pump_main(void *data)
{
	struct virtgpu_transport *t = data;
	struct pollfd *pfds = NULL;
	void **owners = NULL;
	int capacity = 0;

	pthread_mutex_lock(&t->lock);
	while (!t->quit) {
		struct write_pipe *wp;
		struct read_pipe *rp;
		int n = 4, i, ret, timeout;

		for (wp = t->write_pipes; wp; wp = wp->next)
			n++;
		for (rp = t->read_pipes; rp; rp = rp->next)
			n++;
		if (n > capacity) {
			void *grown_pfds, *grown_owners;

			capacity = n * 2;
			grown_pfds = realloc(pfds, capacity * sizeof *pfds);
			if (grown_pfds)
				pfds = grown_pfds;
			grown_owners = realloc(owners, capacity * sizeof *owners);
			if (grown_owners)
				owners = grown_owners;
			if (!grown_pfds || !grown_owners) {
				fail_locked(t, ENOMEM);
				break;
			}
		}

		/* A POLL held back for the client's next SEND is left to
		 * it, or to the timer, unless pipes need the channel now. */
		if (!(t->poll_deferred && t->poll_timer_armed &&
		      !t->read_pipes && !t->write_pipes))
			ring_repoll_locked(t, false);

		pfds[0] = (struct pollfd) { .fd = t->wake_fd, .events = POLLIN };
		/* Fences, for pipes and for clients polling display_fd;
		 * not in a process whose forked child took the connection
		 * over (they share the DRM file: the child's fences). */
		pfds[1] = (struct pollfd) {
			.fd = t->cd.dev.fd,
			.events = ((t->fd_exported || t->read_pipes ||
				    t->write_pipes) && !t->rx_error &&
				   !t->rx_eof && is_user(t)) ? POLLIN : 0,
		};
		pfds[2] = (struct pollfd) { .fd = t->poll_timer_fd, .events = POLLIN };
		/* A client told EAGAIN waits for display_fd to say writable. */
		pfds[3] = (struct pollfd) {
			.fd = t->display_blocked ? t->send_fence : -1,
			.events = POLLIN,
		};
		n = 4;
		for (wp = t->write_pipes; wp; wp = wp->next) {
			pfds[n] = (struct pollfd) { .fd = wp->fd, .events = POLLIN };
			owners[n++] = wp;
		}
		for (rp = t->read_pipes; rp; rp = rp->next) {
			pfds[n] = (struct pollfd) {
				.fd = rp->fd,
				.events = rp->pending_len ? POLLOUT : 0,
			};
			owners[n++] = rp;
		}

		timeout = reply_watchdog_locked(t);
		if (keepalive_due_locked(t, &timeout)) {
			pthread_mutex_unlock(&t->lock);
			t->base.core->keepalive(t->base.core_data);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		t->pump_sleeps_forever = timeout < 0;
		pthread_mutex_unlock(&t->lock);
		ret = poll(pfds, (nfds_t) n, timeout);
		pthread_mutex_lock(&t->lock);
		t->pump_sleeps_forever = false;
		if (ret <= 0) {
			reply_watchdog_locked(t);
			continue;
		}

		if (pfds[0].revents & POLLIN) {
			uint64_t v;
			ssize_t ignored = read(t->wake_fd, &v, sizeof v);

			(void) ignored;
		}

		if (pfds[1].revents && is_user(t)) {
			/* A reader of the library's own is awake for this
			 * fence too: let it read (it ends its wait within its
			 * own loop). The fence may be gone already (read by
			 * it before this thread ran): then nothing to wait
			 * for; and never long, whatever happens. */
			while (t->readers_waiting > 0 && !t->quit &&
			       device_readable(t)) {
				struct timespec until;

				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_nsec += 10 * 1000 * 1000;
				if (until.tv_nsec >= 1000000000L) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000L;
				}
				if (pthread_cond_timedwait(&t->readers_done,
							   &t->lock, &until) ==
				    ETIMEDOUT)
					break;
			}
			ring_drain_locked(t);
		}

		if (pfds[2].revents & POLLIN)
			poll_timer_fired(t);

		if (pfds[3].revents && t->display_blocked &&
		    !send_queue_full_locked(t))
			display_unblock_locked(t);

		/* Owners may be freed while handled: look each up again. */
		for (i = 4; i < n; i++) {
			if (!pfds[i].revents)
				continue;
			for (wp = t->write_pipes; wp && (void *) wp != owners[i]; wp = wp->next)
				;
			if (wp && wp->fd == pfds[i].fd) {
				write_pipe_pump(t, wp);
				continue;
			}
			for (rp = t->read_pipes; rp && (void *) rp != owners[i]; rp = rp->next)
				;
			if (rp && rp->fd == pfds[i].fd) {
				if (pfds[i].revents & (POLLERR | POLLHUP)) {
					rp->pending_len = 0;
					rp->hang_up = true;
				}
				read_pipe_flush(t, rp);
			}
		}
	}
	pthread_mutex_unlock(&t->lock);

	free(pfds);
	free(owners);
	return NULL;
}

/* Whether the next SEND should carry the deferred POLL; if so, it counts
 * as outstanding from now (a failed SEND fails the connection anyway). */
static bool
take_deferred_poll(struct virtgpu_transport *t)
{
	bool take;

	pthread_mutex_lock(&t->lock);
	take = t->poll_deferred && poll_possible_locked(t) &&
	       t->rx_len < RX_PENDING_MAX;
	if (take) {
		t->poll_deferred = false;
		t->poll_outstanding = true;
		t->polls++;
		t->polls_with_send++;
	}
	pthread_mutex_unlock(&t->lock);

	return take;
}

/* What an fd the client sends is, for the error line and SEND. */
enum fd_kind {
	FD_DMABUF,
	FD_READ_PIPE,		/* a pipe's write end: the client reads */
	FD_UNSUPPORTED,
};

static enum fd_kind
classify_fd(struct virtgpu_transport *t, int fd, uint32_t *bo, char *what,
	    size_t what_size)
{
	struct stat st;
	int flags;

	if (virtgpu_prime_import(&t->cd.dev, fd, bo) == 0) {
		uint32_t res, blob_mem = 0;

		/* §4.1: the host needs a host-side resource; memory only the
		 * guest has (a GUEST blob) cannot be passed on. */
		if (virtgpu_resource_info(&t->cd.dev, *bo, &res, &blob_mem) == 0 &&
		    blob_mem == VIRTGPU_BLOB_MEM_GUEST) {
			virtgpu_gem_close(&t->cd.dev, *bo);
			snprintf(what, what_size, "a GPU buffer only the guest "
				 "has (a GUEST blob)");
			return FD_UNSUPPORTED;
		}
		return FD_DMABUF;
	}

	if (fstat(fd, &st) < 0) {
		snprintf(what, what_size, "not open");
		return FD_UNSUPPORTED;
	}

	flags = fcntl(fd, F_GETFL);
	if (S_ISFIFO(st.st_mode)) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			return FD_READ_PIPE;
		snprintf(what, what_size, "a pipe's read end");
	} else if (S_ISREG(st.st_mode)) {
		snprintf(what, what_size, "a file or memfd");
	} else if (S_ISSOCK(st.st_mode)) {
		snprintf(what, what_size, "a socket");
	} else {
		snprintf(what, what_size, "of file type 0%o",
			 (unsigned) (st.st_mode & S_IFMT));
	}

	return FD_UNSUPPORTED;
}

static ssize_t
virtgpu_send(struct wl_transport *transport, const void *data, size_t len,
	     const int *fds, int nfds, int *fds_taken,
	     const struct wl_transport_message *messages, int nmessages)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	struct cross_domain *cd = &t->cd;
	uint32_t ids[CROSS_DOMAIN_MAX_IDENTIFIERS], types[CROSS_DOMAIN_MAX_IDENTIFIERS];

	adopt_after_fork(t);
	uint32_t bos[CROSS_DOMAIN_MAX_IDENTIFIERS];
	const uint8_t *bytes = data;
	size_t off = 0;
	int m = 0, fd_index = 0, i;
	char what[64];

	while (m < nmessages && off < len) {
		size_t chunk = 0;
		int nids = 0, nbos = 0, read_pipes = 0, first = m, ret = 0;
		int fence = -1;
		bool full, fenced;

		/* Whole messages that fit one SEND with their fds (§3.4),
		 * one read pipe per SEND (§4.3); a message larger than a
		 * SEND goes alone, in pieces, its fds with the first. */
		while (m < nmessages) {
			uint32_t k, pipes = 0;

			if (messages[m].nfds > (uint32_t) cd->max_ids) {
				wl_log("wayland-virtgpu: a message carries %u fds; "
				       "the host takes %d\n", messages[m].nfds,
				       cd->max_ids);
				errno = EINVAL;
				goto out;
			}
			for (k = 0; k < messages[m].nfds; k++) {
				struct stat st;
				int fd = fds[fd_index + nids + k];

				if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
					pipes++;
			}
			if (m > first &&
			    (chunk + messages[m].size > CROSS_DOMAIN_MAX_SEND_DATA ||
			     nids + (int) messages[m].nfds > cd->max_ids ||
			     read_pipes + pipes > 1))
				break;
			chunk += messages[m].size;
			nids += (int) messages[m].nfds;
			read_pipes += (int) pipes;
			m++;
			if (chunk > CROSS_DOMAIN_MAX_SEND_DATA)
				break;
		}

		/* Before anything of these messages is made (read pipes). */
		pthread_mutex_lock(&t->lock);
		/* Once the connection failed no fence may come: the SEND
		 * itself then says what became of the host. */
		full = !t->rx_error && send_queue_full_locked(t);
		if (full) {
			display_block_locked(t);
			t->flush_eagain++;
		} else {
			display_unblock_locked(t);
		}
		fenced = !full && send_wants_fence_locked(t, chunk);
		pthread_mutex_unlock(&t->lock);
		if (full) {
			errno = EAGAIN;
			goto out;
		}

		for (i = 0; i < nids; i++) {
			int fd = fds[fd_index + i];

			switch (classify_fd(t, fd, &bos[nbos], what, sizeof what)) {
			case FD_DMABUF:
				if (virtgpu_resource_info(&cd->dev, bos[nbos],
							  &ids[i], NULL) < 0) {
					wl_log("wayland-virtgpu: RESOURCE_INFO "
					       "failed (%s)\n", strerror(errno));
					virtgpu_gem_close(&cd->dev, bos[nbos]);
					errno = EINVAL;
					goto out_bos;
				}
				types[i] = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
				nbos++;
				break;
			case FD_READ_PIPE: {
				struct read_pipe *rp = calloc(1, sizeof *rp);
				int dup_fd = wl_os_dupfd_cloexec(fd, 0);

				if (rp == NULL || dup_fd < 0) {
					free(rp);
					if (dup_fd >= 0)
						close(dup_fd);
					errno = ENOMEM;
					goto out_bos;
				}
				fcntl(dup_fd, F_SETFL, O_WRONLY | O_NONBLOCK);
				ids[i] = cross_domain_next_read_pipe_id(cd);
				types[i] = CROSS_DOMAIN_ID_TYPE_READ_PIPE;
				rp->id = ids[i];
				rp->fd = dup_fd;
				pthread_mutex_lock(&t->lock);
				rp->next = t->read_pipes;
				t->read_pipes = rp;
				pthread_mutex_unlock(&t->lock);
				wake_pump(t);
				break;
			}
			default:
				wl_log("wayland-virtgpu: an fd that is %s cannot "
				       "cross to the host\n", what);
				errno = EINVAL;
				goto out_bos;
			}
		}

		/* One SEND, or a message larger than one in pieces, its fds
		 * with the first. A message is never cut by EAGAIN: its
		 * pieces all go, and the last one's fence covers them. */
		for (size_t piece, done = 0; ret == 0 && done < chunk; done += piece) {
			int piece_bos = done ? 0 : nbos;
			bool last;

			piece = chunk - done;
			if (piece > CROSS_DOMAIN_MAX_SEND_DATA)
				piece = CROSS_DOMAIN_MAX_SEND_DATA;
			last = done + piece == chunk;
			ret = cross_domain_send(cd, bytes + off + done,
						(uint32_t) piece, ids, types,
						done ? 0 : nids, bos, piece_bos,
						!(fenced && last) && piece_bos == 0 &&
						take_deferred_poll(t),
						fenced && last ? &fence : NULL);
			t->base.stats.sends += ret == 0;
			if (ret == 0) {
				pthread_mutex_lock(&t->lock);
				send_submitted_locked(t, piece, fence);
				pthread_mutex_unlock(&t->lock);
			}
		}

		for (i = 0; i < nbos; i++)
			virtgpu_gem_close(&cd->dev, bos[i]);

		if (ret < 0) {
			wl_log("wayland-virtgpu: SEND to the host failed (%s)\n",
			       strerror(errno));
			/* Nothing more can go either way: readers must
			 * learn it too, not wait for a reply. */
			pthread_mutex_lock(&t->lock);
			fail_locked(t, EPIPE);
			pthread_mutex_unlock(&t->lock);
			errno = EPIPE;
			goto out;
		}

		off += chunk;
		fd_index += nids;
		t->base.stats.sent_bytes += chunk;
		t->base.stats.fds_sent += (uint64_t) nids;
		continue;

out_bos:
		for (i = 0; i < nbos; i++)
			virtgpu_gem_close(&cd->dev, bos[i]);
		goto out;
	}

out:
	*fds_taken = fd_index;
	if (off > 0)
		return (ssize_t) off;
	return -1;
}

static ssize_t
virtgpu_recv(struct wl_transport *transport, void *data, size_t len,
	     int *fds, int *nfds, int max_fds)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	ssize_t ret;
	int n;

	adopt_after_fork(t);
	pthread_mutex_lock(&t->lock);

	if (t->rx_len == 0) {
		t->reader_draining = true;
		ring_drain_locked(t);
		t->reader_draining = false;
		/* Nothing for this reader: it will wait on the display fd,
		 * which needs a POLL outstanding. */
		if (t->rx_len == 0 && t->poll_deferred)
			ring_repoll_locked(t, false);
	}
	/* A receive of an earlier reply: the compositor is alive. */

	*nfds = 0;
	if (t->rx_len > 0) {
		/* fds go with bytes, never alone (0 bytes means EOF). */
		if (len > t->rx_len)
			len = t->rx_len;
		memcpy(data, t->rx, len);
		memmove(t->rx, t->rx + len, t->rx_len - len);
		t->rx_len -= len;

		n = t->rx_nfds < max_fds ? t->rx_nfds : max_fds;
		if (n > 0) {
			memcpy(fds, t->rx_fds, n * sizeof(int));
			memmove(t->rx_fds, t->rx_fds + n,
				(t->rx_nfds - n) * sizeof(int));
			t->rx_nfds -= n;
		}
		*nfds = n;
		ret = (ssize_t) len;
	} else if (t->rx_error) {
		errno = t->rx_error;
		ret = -1;
	} else if (t->rx_eof) {
		if (!t->received_any)
			wl_log("wayland-virtgpu: the host closed the connection "
			       "before the compositor said anything; a host "
			       "from before 2024 (crosvm, libkrun < 1.10) may "
			       "need WAYLAND_VIRTGPU_IDENTIFIERS=4\n");
		ret = 0;
	} else {
		errno = EAGAIN;
		ret = -1;
	}

	/* The display fd stays readable exactly while something waits:
	 * bytes, or the end (left for the next read to report). */
	if (t->rx_len > 0 || t->rx_error || t->rx_eof) {
		notify(t);
	} else if (t->notified) {
		uint64_t v;
		ssize_t ignored = read(t->display_fd, &v, sizeof v);

		(void) ignored;
		t->notified = false;
	}

	pthread_mutex_unlock(&t->lock);

	return ret;
}

/* The client has nothing left to send and may wait on the display fd. */
static void
virtgpu_idle(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	adopt_after_fork(t);
	pthread_mutex_lock(&t->lock);
	if (t->poll_deferred)
		ring_repoll_locked(t, false);
	pthread_mutex_unlock(&t->lock);
}

static int
virtgpu_get_fd(struct wl_transport *transport)
{
	return ((struct virtgpu_transport *) transport)->display_fd;
}

static int
virtgpu_get_wait_fd(struct wl_transport *transport)
{
	return ((struct virtgpu_transport *) transport)->wait_fd;
}

static void
virtgpu_fd_exported(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	bool first;

	pthread_mutex_lock(&t->lock);
	first = !t->fd_exported;
	t->fd_exported = true;
	pthread_mutex_unlock(&t->lock);
	if (first)
		wake_pump(t);
}

static void
virtgpu_reader_waiting(struct wl_transport *transport, bool waiting)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	pthread_mutex_lock(&t->lock);
	if (waiting) {
		t->readers_waiting++;
	} else if (t->readers_waiting > 0 && --t->readers_waiting == 0) {
		pthread_cond_broadcast(&t->readers_done);
	}
	pthread_mutex_unlock(&t->lock);
}

static void
virtgpu_destroy(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	int i;

	pump_stop(t);
	if (t->link.next) {
		if (t->owner_pid == getpid())
			write_pipes_drain(t);
		pthread_mutex_lock(&all_transports_lock);
		wl_list_remove(&t->link);
		pthread_mutex_unlock(&all_transports_lock);
	}

	while (t->read_pipes)
		read_pipe_free(t, t->read_pipes);
	while (t->write_pipes) {
		struct write_pipe *wp = t->write_pipes;

		t->write_pipes = wp->next;
		close(wp->fd);
		free(wp);
	}
	for (i = 0; i < t->rx_nfds; i++)
		close(t->rx_fds[i]);
	free(t->rx_fds);
	free(t->rx);

	if (t->shm)
		virt_shm_destroy(t->shm);
	if (t->cd_open)
		cross_domain_close(&t->cd);
	close(t->wake_fd);
	if (t->notify_tx >= 0)
		close(t->notify_tx);
	if (t->wait_fd >= 0)
		close(t->wait_fd);
	close(t->poll_timer_fd);
	if (t->send_fence >= 0)
		close(t->send_fence);
	if (t->user_pid)
		munmap((void *) t->user_pid, sizeof *t->user_pid);
	if (t->display_fd >= 0)
		close(t->display_fd);
	free(t->msg);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->readers_done);
	free(t);
}

static int
virtgpu_request(struct wl_transport *transport, struct wl_object *target,
		uint32_t *sender_id, uint32_t opcode,
		const struct wl_message *message, union wl_argument *args)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	const char *signature = message->signature;
	struct argument_details arg;
	char what[64];
	uint32_t bo;
	int i, ret;

	if (opcode == WL_DISPLAY_SYNC && target->id == 1) {
		/* A reply is due: the watchdog's starting point. */
		pthread_mutex_lock(&t->lock);
		if (!t->awaiting_since_ms && t->reply_timeout_ms) {
			t->awaiting_since_ms = now_ms();
			if (t->pump_sleeps_forever) {
				t->pump_sleeps_forever = false;
				wake_pump(t);
			}
		}
		pthread_mutex_unlock(&t->lock);
	}

	ret = virt_shm_request(t->shm, transport, target, sender_id, opcode,
			       args);
	if (ret < 0)
		return -1;
	if (ret > 0)
		return 0;

	/* Every other fd must be one the host can take: say which
	 * request carried one that is not, rather than failing later. */
	for (i = 0; (signature = wire_next_argument(signature, &arg)), arg.type; i++) {
		if (arg.type != 'h')
			continue;

		switch (classify_fd(t, args[i].h, &bo, what, sizeof what)) {
		case FD_DMABUF:
			virtgpu_gem_close(&t->cd.dev, bo);
			break;
		case FD_READ_PIPE:
			break;
		default:
			wl_log("wayland-virtgpu: %s.%s: fd %d is %s and cannot "
			       "cross to the host\n", target->interface->name,
			       message->name, args[i].h, what);
			errno = EINVAL;
			return -1;
		}
	}

	return 0;
}

/* Keymaps and format tables are read-only and small; clients map them
 * MAP_PRIVATE, which host memory may not allow, so give them a sealed
 * guest copy (cross-domain-protocol.md §4.5). */
static int
seal_copy(int *fd, uint32_t size)
{
	void *src;
	int copy;

	if (size == 0 || size > SEALED_COPY_MAX)
		return 0;

	src = mmap(NULL, size, PROT_READ, MAP_SHARED, *fd, 0);
	if (src == MAP_FAILED) {
		wl_log("wayland-virtgpu: cannot map host memory of %u bytes "
		       "(%s)\n", size, strerror(errno));
		return -1;
	}

	copy = memfd_create("wayland-virtgpu-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0 || ftruncate(copy, size) < 0 ||
	    pwrite(copy, src, size, 0) != (ssize_t) size) {
		munmap(src, size);
		if (copy >= 0)
			close(copy);
		return -1;
	}
	munmap(src, size);
	fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

	close(*fd);
	*fd = copy;

	return 0;
}

static int
virtgpu_event(struct wl_transport *transport, struct wl_object *target,
	      uint32_t opcode, const struct wl_message *message,
	      union wl_argument *args)
{
	const char *name = target->interface->name;

	if (strcmp(name, "wl_keyboard") == 0 && opcode == 0)	/* keymap */
		return seal_copy(&args[1].h, args[2].u);
	if (strcmp(name, "zwp_linux_dmabuf_feedback_v1") == 0 && opcode == 1)
		return seal_copy(&args[0].h, args[1].u);	/* format_table */

	return 0;
}

static void
virtgpu_print_stats(struct wl_transport *transport, FILE *f)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	pthread_mutex_lock(&t->lock);
	fprintf(f, " pipe_bytes_in=%llu pipe_bytes_out=%llu identifiers=%d"
		" shm_host_pools=%llu polls=%llu polls_with_send=%llu"
		" flush_eagain=%llu",
		(unsigned long long) t->pipe_bytes_in,
		(unsigned long long) t->pipe_bytes_out, t->cd.max_ids,
		(unsigned long long) t->base.stats.shm_host_pools,
		(unsigned long long) t->polls,
		(unsigned long long) t->polls_with_send,
		(unsigned long long) t->flush_eagain);
	pthread_mutex_unlock(&t->lock);
}

static int
virtgpu_shm_memory(struct wl_transport *transport, size_t *size, void **data)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	adopt_after_fork(t);
	return virt_shm_memory_create(t->shm, size, data);
}

static const struct wl_transport_ops virtgpu_ops = {
	.name = "virtgpu",
	.send = virtgpu_send,
	.recv = virtgpu_recv,
	.get_fd = virtgpu_get_fd,
	.get_wait_fd = virtgpu_get_wait_fd,
	.reader_waiting = virtgpu_reader_waiting,
	.fd_exported = virtgpu_fd_exported,
	.destroy = virtgpu_destroy,
	.request = virtgpu_request,
	.event = virtgpu_event,
	.print_stats = virtgpu_print_stats,
	.idle = virtgpu_idle,
	.shm_memory = virtgpu_shm_memory,
};

static int
epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct wl_transport *
wl_transport_virtgpu_create(const char *device, char *why, size_t why_size)
{
	struct virtgpu_transport *t;
	int err, pair[2];

	t = calloc(1, sizeof *t);
	if (t == NULL) {
		snprintf(why, why_size, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	t->base.ops = &virtgpu_ops;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->readers_done, NULL);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->display_fd = t->notify_tx = t->wait_fd = t->send_fence = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		       pair) == 0) {
		int least = 1;

		t->display_fd = pair[0];
		t->notify_tx = pair[1];
		/* The kernel's least: display_block_locked fills a few KiB. */
		setsockopt(t->display_fd, SOL_SOCKET, SO_SNDBUF, &least,
			   sizeof least);
	}
	t->poll_timer_fd = timerfd_create(CLOCK_MONOTONIC,
					  TFD_CLOEXEC | TFD_NONBLOCK);
	t->cd.dev.fd = -1;
	t->reply_timeout_ms = 10000;
	if (getenv("WAYLAND_VIRTGPU_REPLY_TIMEOUT"))
		t->reply_timeout_ms =
			strtoull(getenv("WAYLAND_VIRTGPU_REPLY_TIMEOUT"), NULL, 10) * 1000;
	t->keepalive_ms = 30000;
	if (getenv("WAYLAND_VIRTGPU_KEEPALIVE"))
		t->keepalive_ms =
			strtoull(getenv("WAYLAND_VIRTGPU_KEEPALIVE"), NULL, 10) * 1000;
	t->last_receive_ms = now_ms();

	if (t->wake_fd < 0 || t->display_fd < 0 || t->poll_timer_fd < 0) {
		snprintf(why, why_size, "eventfd/socketpair/timerfd: %s",
			 strerror(errno));
		goto err;
	}

	if (cross_domain_open(&t->cd, device, why, why_size) < 0)
		goto err;
	t->cd_open = true;
	t->poll_outstanding = true;	/* cross_domain_open sent the first */
	t->polls = 1;

	t->msg = malloc((size_t) t->cd.dev.page_size);
	t->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (t->msg == NULL || t->wait_fd < 0 ||
	    epoll_add(t->wait_fd, t->display_fd) < 0 ||
	    epoll_add(t->wait_fd, t->cd.dev.fd) < 0) {
		snprintf(why, why_size, "cannot set up the display fd (%s)",
			 strerror(errno));
		goto err;
	}

	t->shm = virt_shm_create(&t->cd, &t->base.stats);
	if (t->shm == NULL) {
		snprintf(why, why_size, "out of memory");
		errno = ENOMEM;
		goto err;
	}

	/* Before the pump starts: it reads both (is_user). */
	t->owner_pid = getpid();
	t->user_pid = mmap(NULL, sizeof *t->user_pid, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->user_pid == MAP_FAILED)
		t->user_pid = NULL;	/* then no keepalives */
	else
		*t->user_pid = t->owner_pid;

	if (pthread_create(&t->pump, NULL, pump_main, t) != 0) {
		snprintf(why, why_size, "cannot start the pump thread");
		errno = EAGAIN;
		goto err;
	}
	t->pump_running = true;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&all_transports_lock);
	wl_list_insert(&all_transports, &t->link);
	pthread_mutex_unlock(&all_transports_lock);

	return &t->base;

err:
	err = errno;
	virtgpu_destroy(&t->base);
	errno = err ? err : ENODEV;
	return NULL;
}
