/*
 * SPDX-License-Identifier: MIT
 * The virtgpu transport's own thread: it moves pipe data while transfers
 * are open, whatever the client is doing (wl-paste reads its pipe and
 * dispatches nothing), wakes clients that poll the display fd in loops of
 * their own, and gives up on a compositor that stopped answering (the
 * reply watchdog and keepalives). Otherwise it sleeps, and the client's
 * own reads drain the ring: one thread hop less per message.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* The pump's own fds, first in its poll; pipes follow. */
enum {
	PUMP_WAKE,
	PUMP_DEVICE,
	PUMP_POLL_TIMER,
	PUMP_SEND_FENCE,
	PUMP_PIPE_FENCE,
	PUMP_FIXED_FDS,
};

int
pump_init(struct virtgpu_transport *t)
{
	struct vt_pump *p = &t->pump;

	pthread_cond_init(&p->readers_done, NULL);
	p->reply_timeout_ms = virtgpu_env_seconds_ms("WAYLAND_VIRTGPU_REPLY_TIMEOUT", 10000);
	p->keepalive_ms = virtgpu_env_seconds_ms("WAYLAND_VIRTGPU_KEEPALIVE", 30000);
	p->last_receive_ms = virtgpu_now_ms();
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return p->wake_fd < 0 ? -1 : 0;
}

void
pump_fini(struct virtgpu_transport *t)
{
	if (t->pump.wake_fd >= 0)
		close(t->pump.wake_fd);
	pthread_cond_destroy(&t->pump.readers_done);
}

void
pump_wake(struct virtgpu_transport *t)
{
	uint64_t one = 1;
	ssize_t ignored = write(t->pump.wake_fd, &one, sizeof one);

	(void) ignored;
}

/* With the lock held: a wl_display.sync went out, so a reply is due: the
 * watchdog's starting point. */
void
pump_reply_due_locked(struct virtgpu_transport *t)
{
	struct vt_pump *p = &t->pump;

	if (p->awaiting_since_ms || !p->reply_timeout_ms)
		return;
	p->awaiting_since_ms = virtgpu_now_ms();
	if (p->sleeps_forever) {
		p->sleeps_forever = false;
		pump_wake(t);
	}
}

/* With the lock held: the compositor is alive. */
void
pump_heard_from_host_locked(struct virtgpu_transport *t)
{
	t->pump.awaiting_since_ms = 0;
	t->pump.last_receive_ms = virtgpu_now_ms();
}

void
pump_reader_waiting(struct virtgpu_transport *t, bool waiting)
{
	struct vt_pump *p = &t->pump;

	pthread_mutex_lock(&t->lock);
	if (waiting) {
		p->readers_waiting++;
		/* Normally let go already (the reader flushed first). */
		poll_schedule_release_locked(t);
	} else if (p->readers_waiting > 0 && --p->readers_waiting == 0) {
		pthread_cond_broadcast(&p->readers_done);
	}
	pthread_mutex_unlock(&t->lock);
}

/* In a forked child, with the lock held: the parent's pump is not in this
 * process. It may have been waiting on readers_done: a copy with a waiter
 * that is not in this process blocks every broadcast. No thread of ours
 * waits here yet. */
void
pump_forget_parent_locked(struct virtgpu_transport *t)
{
	t->pump.running = false;
	pthread_cond_init(&t->pump.readers_done, NULL);
	t->pump.readers_waiting = 0;
}

/* With the lock held: how long the pump may sleep (-1: no limit), and
 * giving up when the compositor has not answered a sync in time. Some
 * hosts never report a closed connection (cross-domain-protocol.md §4.2,
 * crosvm up to rutabaga 0.1.71): without this a client whose compositor
 * died would wait forever. */
static int
reply_watchdog_locked(struct virtgpu_transport *t)
{
	struct vt_pump *p = &t->pump;
	uint64_t now, deadline;

	if (!p->awaiting_since_ms || !p->reply_timeout_ms || t->rx_error ||
	    t->rx_eof)
		return -1;

	now = virtgpu_now_ms();
	deadline = p->awaiting_since_ms + p->reply_timeout_ms;
	if (now < deadline)
		return (int) (deadline - now);

	wl_log("wayland-virtgpu: no reply from the compositor for %llu s; "
	       "taking it for gone (this host does not report a closed "
	       "connection; WAYLAND_VIRTGPU_REPLY_TIMEOUT sets the wait)\n",
	       (unsigned long long) p->reply_timeout_ms / 1000);
	virtgpu_fail_locked(t, EPIPE);
	return -1;
}

/* With the lock held, in the pump: whether to send a keepalive now; else
 * shortens *timeout to when one will be due. Never longer than the reply
 * timeout, so a sync sent meanwhile need not wake the pump (its deadline
 * is later than the pump's). */
static bool
keepalive_due_locked(struct virtgpu_transport *t, int *timeout)
{
	struct vt_pump *p = &t->pump;
	uint64_t now, due, wait;

	if (!p->keepalive_ms || !p->reply_timeout_ms || p->awaiting_since_ms ||
	    t->rx_error || t->rx_eof || !t->base.core || !t->base.core->keepalive ||
	    !fork_may_keepalive(t))
		return false;

	now = virtgpu_now_ms();
	due = p->last_receive_ms + p->keepalive_ms;
	if (now >= due) {
		p->last_receive_ms = now;	/* one per quiet interval */
		return true;
	}
	wait = due - now;
	if (wait > p->reply_timeout_ms)
		wait = p->reply_timeout_ms;
	if (*timeout < 0 || (uint64_t) *timeout > wait)
		*timeout = (int) wait;
	return false;
}

/* A fence event waits on the DRM fd. */
static bool
device_readable(struct virtgpu_transport *t)
{
	struct pollfd pfd = { .fd = t->cd.dev.fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* With the lock held: what the pump sleeps on, in *pfds (grown as
 * needed), each pipe end with its owner. The number of fds, or -1. */
static int
pump_watch_locked(struct virtgpu_transport *t, struct pollfd **pfds,
		  void ***owners, int *capacity)
{
	int n = PUMP_FIXED_FDS + pipes_watch_count_locked(t);

	if (n > *capacity) {
		void *grown_pfds, *grown_owners;

		grown_pfds = realloc(*pfds, n * 2 * sizeof **pfds);
		if (grown_pfds)
			*pfds = grown_pfds;
		grown_owners = realloc(*owners, n * 2 * sizeof **owners);
		if (grown_owners)
			*owners = grown_owners;
		if (!grown_pfds || !grown_owners)
			return -1;
		*capacity = n * 2;
	}

	(*pfds)[PUMP_WAKE] = (struct pollfd) {
		.fd = t->pump.wake_fd, .events = POLLIN,
	};
	/* Fences, for pipes and for clients polling display_fd; not in a
	 * process whose forked child took the connection over (they share
	 * the DRM file: the child's fences). */
	(*pfds)[PUMP_DEVICE] = (struct pollfd) {
		.fd = t->cd.dev.fd,
		.events = ((t->display.exported || pipes_open(t)) &&
			   !t->rx_error && !t->rx_eof && fork_is_user(t)) ?
			  POLLIN : 0,
	};
	(*pfds)[PUMP_POLL_TIMER] = (struct pollfd) {
		.fd = t->poll.timer_fd, .events = POLLIN,
	};
	/* A client told EAGAIN waits for display_fd to say writable. */
	(*pfds)[PUMP_SEND_FENCE] = (struct pollfd) {
		.fd = send_queue_wait_fd_locked(t), .events = POLLIN,
	};
	/* WRITEs held back until the host ran the earlier ones. */
	(*pfds)[PUMP_PIPE_FENCE] = (struct pollfd) {
		.fd = pipes_wait_fd_locked(t), .events = POLLIN,
	};
	return PUMP_FIXED_FDS +
	       pipes_watch_locked(t, *pfds + PUMP_FIXED_FDS,
				  *owners + PUMP_FIXED_FDS);
}

/* With the lock held: a fence woke the pump. A reader of the library's
 * own is awake for this fence too: let it read (it ends its wait within
 * its own loop). The fence may be gone already (read by it before this
 * thread ran): then nothing to wait for; and never long, whatever
 * happens. */
static void
pump_device_ready_locked(struct virtgpu_transport *t)
{
	while (t->pump.readers_waiting > 0 && !t->pump.quit &&
	       device_readable(t)) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 10 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&t->pump.readers_done, &t->lock,
					   &until) == ETIMEDOUT)
			break;
	}
	receive_drain_ring_locked(t);
}

/* With the lock held: what woke the pump. */
static void
pump_handle_locked(struct virtgpu_transport *t, struct pollfd *pfds,
		   void **owners, int n)
{
	int i;

	if (pfds[PUMP_WAKE].revents & POLLIN) {
		uint64_t v;
		ssize_t ignored = read(t->pump.wake_fd, &v, sizeof v);

		(void) ignored;
	}

	if (pfds[PUMP_DEVICE].revents && fork_is_user(t))
		pump_device_ready_locked(t);

	if (pfds[PUMP_POLL_TIMER].revents & POLLIN)
		poll_schedule_timer_fired_locked(t);

	if (pfds[PUMP_SEND_FENCE].revents)
		send_queue_fence_signalled_locked(t);

	if (pfds[PUMP_PIPE_FENCE].revents)
		pipes_fence_signalled_locked(t);

	for (i = PUMP_FIXED_FDS; i < n; i++) {
		if (pfds[i].revents)
			pipes_ready_locked(t, &pfds[i], owners[i]);
	}
}

/* Whether the calling thread is the pump. */
bool
pump_is_current(struct virtgpu_transport *t)
{
	return t->pump.running && pthread_equal(pthread_self(), t->pump.thread);
}

/* The lock is given up: a wake-up of the display fd the pump made while it
 * held the lock goes now, so the client it wakes does not find the lock
 * taken (a futex wait and a switch back on a busy CPU). */
static void
pump_unlock(struct virtgpu_transport *t)
{
	bool wake = display_fd_wake_due_locked(t);

	pthread_mutex_unlock(&t->lock);
	if (wake)
		display_fd_wake(t);
}

/* Sleeps in ppoll for at most timeout_ms (-1: no limit) and wait_ns (-1:
 * no limit), whichever is less. */
static int
pump_sleep(struct pollfd *pfds, int n, int timeout_ms, int64_t wait_ns)
{
	struct timespec ts;

	if (timeout_ms < 0 && wait_ns < 0)
		return ppoll(pfds, (nfds_t) n, NULL, NULL);
	if (wait_ns < 0 || (timeout_ms >= 0 &&
			    (int64_t) timeout_ms * 1000000 < wait_ns))
		wait_ns = (int64_t) timeout_ms * 1000000;
	ts.tv_sec = (time_t) (wait_ns / 1000000000);
	ts.tv_nsec = (long) (wait_ns % 1000000000);
	return ppoll(pfds, (nfds_t) n, &ts, NULL);
}

static void *
pump_main(void *data)
{
	struct virtgpu_transport *t = data;
	struct pollfd *pfds = NULL;
	void **owners = NULL;
	int capacity = 0;

	pthread_mutex_lock(&t->lock);
	while (!t->pump.quit) {
		int n, ret, timeout;
		int64_t wait_ns;

		/* A POLL held back for the client's next SEND is left to
		 * it, or to the timer, unless pipes need the channel now. */
		if (!poll_schedule_held_for_send_locked(t))
			poll_schedule_repoll_locked(t, false);

		n = pump_watch_locked(t, &pfds, &owners, &capacity);
		if (n < 0) {
			virtgpu_fail_locked(t, ENOMEM);
			break;
		}

		timeout = reply_watchdog_locked(t);
		if (keepalive_due_locked(t, &timeout)) {
			pump_unlock(t);
			t->base.core->keepalive(t->base.core_data);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		wait_ns = poll_schedule_pump_wait_ns_locked(t);
		t->pump.sleeps_forever = timeout < 0 && wait_ns < 0;
		pump_unlock(t);
		ret = pump_sleep(pfds, n, timeout, wait_ns);
		pthread_mutex_lock(&t->lock);
		t->pump.sleeps_forever = false;
		if (ret <= 0) {
			reply_watchdog_locked(t);
			continue;
		}
		pump_handle_locked(t, pfds, owners, n);
	}
	pump_unlock(t);

	free(pfds);
	free(owners);
	return NULL;
}

int
pump_start(struct virtgpu_transport *t)
{
	t->pump.running = pthread_create(&t->pump.thread, NULL, pump_main,
					 t) == 0;
	return t->pump.running ? 0 : -1;
}

void
pump_stop(struct virtgpu_transport *t)
{
	if (!t->pump.running)
		return;

	pthread_mutex_lock(&t->lock);
	t->pump.quit = true;
	pthread_cond_broadcast(&t->pump.readers_done);
	pthread_mutex_unlock(&t->lock);
	pump_wake(t);
	pthread_join(t->pump.thread, NULL);
	t->pump.running = false;
}
