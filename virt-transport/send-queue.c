/*
 * SPDX-License-Identifier: MIT
 * How many SENDs the host has not run yet, counted with fences, and when
 * a flush says EAGAIN: the virtgpu transport's stand-in for a socket's
 * send buffer (struct vt_send_queue).
 */
#include <errno.h>
#include <unistd.h>

#include "transport-virtgpu.h"

/* SENDs the host may not have run yet. A real kernel queues an
 * EXECBUFFER and returns; it waits only while the device's queue is full
 * (a host whose compositor does not read stops taking SENDs). Beyond
 * these, flush says EAGAIN and the display fd stops saying writable until
 * a fence says the host ran them, as a full socket would. */
#define SEND_QUEUE_MAX 32
#define SEND_QUEUE_MAX_BYTES (256u << 10)
/* A SEND asks for a fence (FENCE_FD_OUT) only this often: the host runs
 * submits in order, so one fence covers every SEND before it. Every 16th
 * rather than 8th leaves the count the queue goes by up to 16 SENDs stale
 * of SEND_QUEUE_MAX, and flush said EAGAIN as often (80 against 78 times in
 * floor.sh --bench marshal --count 100000) for 0.25 system calls fewer per
 * SEND (the fake kernel's eventfd and the library's poll and close). */
#define SEND_FENCE_EVERY 16
#define SEND_FENCE_EVERY_BYTES (32u << 10)

/* SENDs (and their bytes) submitted that the host may not have run yet. */
static uint64_t
unrun_sends(const struct vt_send_queue *q)
{
	return q->sent - q->run;
}

static uint64_t
unrun_bytes(const struct vt_send_queue *q)
{
	return q->sent_bytes - q->run_bytes;
}

/* The host ran every SEND up to a mark (counts of SENDs and bytes). */
static void
send_queue_ran(struct vt_send_queue *q, uint64_t sends, uint64_t bytes)
{
	if (sends > q->run) {
		q->run = sends;
		q->run_bytes = bytes;
	}
}

/* True when the outstanding fence signalled: what it covered has run. */
static bool
send_fence_retire_locked(struct vt_send_queue *q)
{
	if (!virtgpu_fence_retire(&q->fence))
		return false;
	send_queue_ran(q, q->fence_sends, q->fence_bytes);
	return true;
}

bool
send_queue_full_locked(struct virtgpu_transport *t)
{
	struct vt_send_queue *q = &t->send_queue;

	if (unrun_sends(q) < SEND_QUEUE_MAX &&
	    unrun_bytes(q) < SEND_QUEUE_MAX_BYTES)
		return false;
	send_fence_retire_locked(q);
	/* Without a fence to wait for (the kernel gave none), the kernel's
	 * own wait in EXECBUFFER is all there is. */
	return q->fence >= 0 &&
	       (unrun_sends(q) >= SEND_QUEUE_MAX ||
		unrun_bytes(q) >= SEND_QUEUE_MAX_BYTES);
}

/* Whether the next SEND of size bytes should carry a fence. */
bool
send_queue_wants_fence_locked(struct virtgpu_transport *t, size_t size)
{
	struct vt_send_queue *q = &t->send_queue;

	if (q->fence >= 0 &&
	    (q->sent - q->fence_sends < SEND_FENCE_EVERY &&
	     q->sent_bytes - q->fence_bytes < SEND_FENCE_EVERY_BYTES))
		return false;
	if (q->fence >= 0 && !send_fence_retire_locked(q))
		return false;
	return unrun_sends(q) + 1 >= SEND_FENCE_EVERY ||
	       unrun_bytes(q) + size >= SEND_FENCE_EVERY_BYTES;
}

/* Before a SEND of size bytes is submitted: counted now, with the POLL
 * held back if may_poll and there is one (the return value), so that no
 * lock is taken after the submit, when the pump may hold it to take the
 * answer. *seq is the SEND's number for send_queue_sent. */
bool
send_queue_sending(struct virtgpu_transport *t, size_t size, bool may_poll,
		   uint64_t *seq)
{
	struct vt_send_queue *q = &t->send_queue;
	bool with_poll;

	pthread_mutex_lock(&t->lock);
	with_poll = may_poll && poll_schedule_take_for_send_locked(t);
	q->sent++;
	q->sent_bytes += size;
	*seq = q->sent;
	if (with_poll) {
		/* It rides after this SEND, in the same submit. */
		q->poll_sends = q->sent;
		q->poll_bytes = q->sent_bytes;
	}
	__atomic_store_n(&q->in_flight, size, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
	return with_poll;
}

/* After the SEND numbered seq was submitted (or failed, which ends the
 * connection), with its fence (-1: none). */
void
send_queue_sent(struct virtgpu_transport *t, uint64_t seq, int fence)
{
	struct vt_send_queue *q = &t->send_queue;

	__atomic_store_n(&q->in_flight, 0, __ATOMIC_RELEASE);
	if (fence < 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (q->fence >= 0)
		close(q->fence);
	q->fence = fence;
	/* Sends come from one thread at a time: seq is the newest. */
	q->fence_sends = seq;
	q->fence_bytes = q->sent_bytes;
	pthread_mutex_unlock(&t->lock);
}

/* A POLL was submitted alone. The host runs a context's commands in order
 * and makes a POLL's fence a poll job only once it ran the commands
 * before it (§2; rutabaga's one command thread, the simulator's queue
 * behind a SEND the compositor has not taken), so its answer says the
 * SENDs submitted before it ran: a client doing round trips needs no
 * fence (an EXECBUFFER of its own, since a POLL cannot ride with one). */
void
send_queue_poll_submitted_locked(struct virtgpu_transport *t)
{
	struct vt_send_queue *q = &t->send_queue;
	size_t in_flight = __atomic_load_n(&q->in_flight, __ATOMIC_ACQUIRE);

	q->poll_sends = q->sent - (in_flight > 0);
	q->poll_bytes = q->sent_bytes - in_flight;
}

void
send_queue_poll_answered_locked(struct virtgpu_transport *t)
{
	struct vt_send_queue *q = &t->send_queue;

	send_queue_ran(q, q->poll_sends, q->poll_bytes);
	if (t->display.blocked && !send_queue_full_locked(t))
		display_fd_unblock_locked(t);
}

/* Before the next SEND of size bytes is made (and anything of its
 * messages, such as read pipes): false with errno EAGAIN while the host
 * is too far behind, the display fd then saying not writable. *fenced
 * says whether that SEND should carry a fence. */
bool
send_queue_admit(struct virtgpu_transport *t, size_t size, bool *fenced)
{
	bool full;

	pthread_mutex_lock(&t->lock);
	/* Once the connection failed no fence may come: the SEND itself
	 * then says what became of the host. */
	full = !t->rx_error && send_queue_full_locked(t);
	if (full) {
		display_fd_block_locked(t);
		t->send_queue.flush_eagain++;
	} else {
		display_fd_unblock_locked(t);
	}
	*fenced = !full && send_queue_wants_fence_locked(t, size);
	pthread_mutex_unlock(&t->lock);
	if (full)
		errno = EAGAIN;
	return !full;
}

/* What the pump waits on for a client told EAGAIN (-1: nothing). */
int
send_queue_wait_fd_locked(struct virtgpu_transport *t)
{
	return t->display.blocked ? t->send_queue.fence : -1;
}

/* The fence the pump waited on signalled: the display fd may say
 * writable again. */
void
send_queue_fence_signalled_locked(struct virtgpu_transport *t)
{
	if (t->display.blocked && !send_queue_full_locked(t))
		display_fd_unblock_locked(t);
}

void
send_queue_fini(struct virtgpu_transport *t)
{
	if (t->send_queue.fence >= 0)
		close(t->send_queue.fence);
}
