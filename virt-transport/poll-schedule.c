/*
 * SPDX-License-Identifier: MIT
 * When a POLL goes out (§2: exactly one outstanding). After a message was
 * taken, the next POLL is held back so that it rides with the client's
 * next SEND, in the same submit: half the EXECBUFFERs of a roundtrip
 * (struct vt_poll). What lets it go alone if no SEND comes depends on who
 * may be waiting for events (enum poll_hold).
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* The most one guest process keeps of pipe data the client has not read
 * yet; beyond it the pump stops asking the host for more. */
#define PIPE_PENDING_MAX (4u << 20)
/* Received bytes the client has not read yet, beyond which no POLL. */
#define RX_PENDING_MAX (4u << 20)
/* How long a POLL may wait for a SEND to ride with. */
#define POLL_DEFER_NS 1000000

int
poll_schedule_init(struct virtgpu_transport *t)
{
	t->poll.timer_fd = timerfd_create(CLOCK_MONOTONIC,
					  TFD_CLOEXEC | TFD_NONBLOCK);
	return t->poll.timer_fd < 0 ? -1 : 0;
}

void
poll_schedule_fini(struct virtgpu_transport *t)
{
	if (t->poll.timer_fd >= 0)
		close(t->poll.timer_fd);
}

/* In a forked child: the timer is one file with the parent's; take one of
 * our own. */
int
poll_schedule_timer_renew(struct virtgpu_transport *t)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -1;
	close(t->poll.timer_fd);
	t->poll.timer_fd = fd;
	t->poll.timer_armed = false;
	return 0;
}

static bool
poll_timer_arm(struct virtgpu_transport *t, uint64_t ns)
{
	struct itimerspec later = {
		.it_value = { (time_t) (ns / 1000000000), (long) (ns % 1000000000) },
	};

	t->poll.timer_armed =
		timerfd_settime(t->poll.timer_fd, 0, &later, NULL) == 0;
	return t->poll.timer_armed;
}

/* With the lock held; read without it by poll_schedule_maybe_deferred. */
static void
poll_deferred_set(struct vt_poll *p, bool deferred)
{
	__atomic_store_n(&p->deferred, deferred, __ATOMIC_RELAXED);
}

/* With the lock held: whether a POLL may go at all: none outstanding
 * (§2: exactly one), the channel alive, and the client not leaving much
 * pipe data unread (the host then keeps it). The rx bound comes after. */
static bool
poll_possible_locked(struct virtgpu_transport *t)
{
	return !t->poll.outstanding && !t->rx_error && !t->rx_eof &&
	       pipes_pending_bytes(t) < PIPE_PENDING_MAX;
}

/* With the lock held, after a message was taken: whether the next POLL
 * waits for the client's next SEND, and what lets it go if none comes. */
static bool
poll_defer_locked(struct virtgpu_transport *t)
{
	struct vt_poll *p = &t->poll;

	if (pipes_open(t))
		return false;	/* the pump needs the channel now */
	if (t->rx.reader_draining && !t->display.exported &&
	    t->pump.readers_waiting == 0) {
		/* Nobody can wait for events but through the library, and
		 * each wait lets it go first (idle, a reader finding nothing
		 * or starting to wait): no timer. */
		p->hold = POLL_HOLD_WAITER;
	} else if (t->rx.reader_draining) {
		/* A client polling the display fd itself, or another thread
		 * waiting, while the pump sleeps: the timer wakes it. An
		 * armed timer that fires early looks at deferred_ns and
		 * sleeps again: no system call per deferral. */
		if (!p->timer_armed && !poll_timer_arm(t, POLL_DEFER_NS))
			return false;
		p->hold = POLL_HOLD_TIMER;
	} else if (t->display.exported) {
		/* The pump took the message for a client polling the display
		 * fd: it sleeps at most the rest of the time itself. */
		p->hold = POLL_HOLD_PUMP;
	} else {
		return false;
	}
	poll_deferred_set(p, true);
	p->deferred_ns = virtgpu_now_ns();
	return true;
}

/* With the lock held: keep one POLL outstanding (§2), except while the
 * client leaves much pipe data unread (the host then keeps it). With
 * may_defer, after a message was taken, it may wait for a SEND. */
void
poll_schedule_repoll_locked(struct virtgpu_transport *t, bool may_defer)
{
	struct vt_poll *p = &t->poll;

	if (!poll_possible_locked(t))
		return;
	/* A client that does not read: the host keeps the rest (a reader
	 * that empties rx asks again, as for a deferred POLL). */
	if (t->rx.len >= RX_PENDING_MAX) {
		poll_deferred_set(p, true);
		p->hold = POLL_HOLD_WAITER;
		return;
	}
	if (may_defer && poll_defer_locked(t))
		return;

	poll_deferred_set(p, false);
	p->count++;
	if (cross_domain_poll(&t->cd) < 0) {
		wl_log("wayland-virtgpu: the host refused POLL (%s)\n",
		       strerror(errno));
		virtgpu_fail_locked(t, EPIPE);
		return;
	}
	p->outstanding = true;
	send_queue_poll_submitted_locked(t);
}

/* With the lock held: the host answered the outstanding POLL. */
void
poll_schedule_answered_locked(struct virtgpu_transport *t)
{
	t->poll.outstanding = false;
	send_queue_poll_answered_locked(t);
}

/* With the lock held: the client may wait now (it read nothing, or has
 * nothing to send): a POLL held back for its SEND goes alone. Not while
 * received bytes wait: the client reads them first (the display fd says
 * readable), and its next wait lets the POLL go. Its flush would
 * otherwise let go the POLL held back for its next SEND whenever the
 * answer to this one came before the flush returned: two EXECBUFFERs per
 * round trip from then on. */
void
poll_schedule_release_locked(struct virtgpu_transport *t)
{
	if (t->poll.deferred && t->rx.len == 0)
		poll_schedule_repoll_locked(t, false);
}

/* With the lock held, in the pump: whether a POLL is held back for the
 * client's next SEND and may still wait (no pipe needs the channel now). */
bool
poll_schedule_held_for_send_locked(struct virtgpu_transport *t)
{
	struct vt_poll *p = &t->poll;

	if (!p->deferred || pipes_open(t))
		return false;
	switch (p->hold) {
	case POLL_HOLD_WAITER:
		/* Until the client may wait where only the pump can help. */
		return !t->display.exported && t->pump.readers_waiting == 0;
	case POLL_HOLD_PUMP:
		return virtgpu_now_ns() - p->deferred_ns < POLL_DEFER_NS;
	case POLL_HOLD_TIMER:
		return p->timer_armed;
	}
	return false;
}

/* With the lock held, in the pump: how long it may sleep before a POLL it
 * holds back must go (ns), or -1. */
int64_t
poll_schedule_pump_wait_ns_locked(struct virtgpu_transport *t)
{
	struct vt_poll *p = &t->poll;
	uint64_t waited;

	if (!p->deferred || p->hold != POLL_HOLD_PUMP)
		return -1;
	waited = virtgpu_now_ns() - p->deferred_ns;
	return waited < POLL_DEFER_NS ? (int64_t) (POLL_DEFER_NS - waited) : 0;
}

/* With the lock held, in the pump: the timer fired. A POLL deferred for
 * long enough goes now; a younger one gets the rest of its time. */
void
poll_schedule_timer_fired_locked(struct virtgpu_transport *t)
{
	uint64_t expirations, waited;
	ssize_t ignored = read(t->poll.timer_fd, &expirations,
			       sizeof expirations);

	(void) ignored;
	t->poll.timer_armed = false;
	if (!t->poll.deferred || t->poll.hold != POLL_HOLD_TIMER)
		return;
	waited = virtgpu_now_ns() - t->poll.deferred_ns;
	if (waited < POLL_DEFER_NS && poll_timer_arm(t, POLL_DEFER_NS - waited))
		return;
	poll_schedule_repoll_locked(t, false);
}

/* With the lock held: whether the next SEND should carry the deferred
 * POLL; if so, it counts as outstanding from now (a failed SEND fails the
 * connection anyway). */
bool
poll_schedule_take_for_send_locked(struct virtgpu_transport *t)
{
	bool take = t->poll.deferred && poll_possible_locked(t) &&
		    t->rx.len < RX_PENDING_MAX;

	if (take) {
		poll_deferred_set(&t->poll, false);
		t->poll.outstanding = true;
		t->poll.count++;
		t->poll.with_send++;
	}
	return take;
}

/* Without the lock: whether a POLL may be held back. A hint for the
 * client's flush, which must not wait for the lock when nothing is held
 * (the pump may hold it, taking the answer to what was just sent); a
 * POLL held back after this look is let go by the client's next wait. */
bool
poll_schedule_maybe_deferred(struct virtgpu_transport *t)
{
	return __atomic_load_n(&t->poll.deferred, __ATOMIC_RELAXED);
}
