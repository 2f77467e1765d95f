/*
 * Fences of the rutabaga_gfx_ffi library, as rutabaga signals them (README.md): fences
 * without a ring and ring 0 (queries) once the commands before them ran (at once, unless
 * they wait for a full socket or pipe), a fence on ring 1 (the channel) once the worker
 * thread wrote one message into the channel ring: the compositor's bytes and fds, a pipe's
 * data, or EOF (cross-domain-protocol.md §2), or at once with nothing once the context is
 * lost (cd_context_service). The worker also runs waiting commands when their socket or
 * pipe takes more (rutabaga-context.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rutabaga-private.h"

void
rtb_fences_free(struct rtb_fence *list)
{
	while (list) {
		struct rtb_fence *next = list->next;
		free(list);
		list = next;
	}
}

void
rtb_worker_wake(struct rutabaga *rtb)
{
	uint64_t one = 1;

	if (rtb->wake_fd >= 0 && write(rtb->wake_fd, &one, sizeof one) < 0) {
		/* The counter is full: the worker has a wake-up pending anyway. */
	}
}

static int
rtb_queue_fence(struct rtb_fence **list, uint64_t ticket, const struct rutabaga_fence *fence)
{
	struct rtb_fence *f = calloc(1, sizeof *f), **tail;

	if (!f)
		return -ENOMEM;
	f->fence = *fence;
	f->ticket = ticket;
	for (tail = list; *tail; tail = &(*tail)->next)
		;
	*tail = f;
	return 0;
}

/* The commands before the oldest fence of list ran (or never will: the context is lost). */
static bool
rtb_fence_due(const struct rtb_context *ctx, const struct rtb_fence *list)
{
	return list && rtb_ticket_reached(ctx, list->ticket);
}

void
rtb_signal_held_fences(struct rutabaga *rtb, struct rtb_context *ctx)
{
	while (rtb_fence_due(ctx, ctx->held_fences)) {
		struct rtb_fence *f = ctx->held_fences;

		ctx->held_fences = f->next;
		rtb_fence_signal(rtb, &f->fence, "held, commands ran");
		free(f);
	}
}

/* A channel fence does not wait for the commands before it (ticket 0): the channel is how
 * the guest reads what frees them. A client pasting its own selection WRITEs into a pipe
 * whose other end is one of its read pipes; once that pipe is full, the WRITE and every
 * command after it wait until a RECEIVE drains the pipe, which needs a channel fence. */
static int
rtb_queue_channel_fence(struct rtb_context *ctx, const struct rutabaga_fence *fence)
{
	return rtb_queue_fence(&ctx->channel_fences, 0, fence);
}

/* Every fence QEMU makes is signalled, at once when there is nothing to wait for or it
 * cannot be kept: QEMU queues a fenced command until a fence answers it, whatever this
 * returns (an error only makes it log "CHECK failed"), so a fence never signalled pins the
 * command's descriptor and the guest's fence for good, and a guest making such fences
 * could fill the control queue. rutabaga drops a channel fence of a context without INIT
 * (there is no channel ring to write into): it signals here at once, with nothing in a
 * ring. A lost context's channel fences are queued like any other: the worker signals
 * them at once, empty. */
RTB_EXPORT int32_t
rutabaga_create_fence(struct rutabaga *rtb, const struct rutabaga_fence *fence)
{
	bool ring = fence && (fence->flags & RUTABAGA_FLAG_INFO_RING_IDX);
	struct rtb_context *ctx;
	const char *what = "at once";
	int ret = 1;

	if (!rtb || !fence)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	/* Fences without a ring (kernels before 6.6 make them for cross-domain submits) and
	 * the query ring's (its reply was written when the submit ran, §5.1) wait only for
	 * the commands before them. */
	ctx = rtb_context_find(rtb, fence->ctx_id);
	if (ring && (!ctx || fence->ring_idx > CROSS_DOMAIN_CHANNEL_RING)) {
		ret = -EINVAL;
		what = "refused, signalled at once";
	} else if (ring && fence->ring_idx == CROSS_DOMAIN_CHANNEL_RING) {
		if (cd_context_initialized(ctx->file->ctx)) {
			ret = rtb_queue_channel_fence(ctx, fence);
			what = "channel";
		} else {
			what = "at once, no INIT";
		}
	} else if (ctx && rtb_context_waiting(ctx)) {
		ret = rtb_queue_fence(&ctx->held_fences, cd_context_accepted(ctx->file->ctx), fence);
		what = "held";
	}
	pthread_mutex_unlock(&rtb->lock);
	if (ret == -ENOMEM)
		what = "out of memory, signalled at once";
	rtb_trace("fence ctx %u flags 0x%x ring %u id %llu: %s", fence->ctx_id, fence->flags,
		  fence->ring_idx, (unsigned long long)fence->fence_id, what);
	if (ret != 0) {
		rtb_fence_signal(rtb, fence, ret == 1 ? "at once" : "not kept");
		if (ret == 1)
			ret = 0;
	}
	rtb_worker_wake(rtb);
	return ret;
}

/* The fds the worker waits on: its wake-up eventfd, then for each context the socket or pipe
 * its waiting commands need room in, and every source when a channel fence is due. Returns
 * how many, or -ENOMEM. */
static int
rtb_worker_watch(struct rutabaga *rtb, struct pollfd **pfds, size_t *cap)
{
	size_t n = 0;

	for (;;) {
		n = 0;
		(*pfds)[n++] = (struct pollfd){ rtb->wake_fd, POLLIN, 0 };
		for (struct rtb_context *ctx = rtb->contexts; ctx && n < *cap; ctx = ctx->next) {
			int fd = cd_context_send_fd(ctx->file->ctx);

			if (fd >= 0)
				(*pfds)[n++] = (struct pollfd){ fd, POLLOUT, 0 };
			if (rtb_fence_due(ctx, ctx->channel_fences) && n < *cap)
				n += cd_context_watch(ctx->file->ctx, *pfds + n, (int)(*cap - n));
		}
		if (n < *cap)
			return (int)n;
		/* Maybe cut short: grow and ask again. */
		struct pollfd *grown = realloc(*pfds, *cap * 2 * sizeof **pfds);
		if (!grown)
			return -ENOMEM;
		*pfds = grown;
		*cap *= 2;
	}
}

/* Waiting commands that can run now, the fences they held, then one message per due channel
 * fence (none for a lost context's: they all signal), each context in turn. */
static void
rtb_worker_serve(struct rutabaga *rtb)
{
	for (struct rtb_context *ctx = rtb->contexts; ctx; ctx = ctx->next) {
		rtb_context_resume(ctx);
		rtb_signal_held_fences(rtb, ctx);
		while (rtb_fence_due(ctx, ctx->channel_fences) && cd_context_service(ctx->file->ctx)) {
			struct rtb_fence *f = ctx->channel_fences;

			ctx->channel_fences = f->next;
			rtb_fence_signal(rtb, &f->fence, "channel");
			free(f);
		}
	}
}

static void *
rtb_worker_main(void *data)
{
	struct rutabaga *rtb = data;
	size_t cap = 64;
	struct pollfd *pfds = calloc(cap, sizeof *pfds);

	pthread_mutex_lock(&rtb->lock);
	while (pfds && !rtb->quit) {
		int n = rtb_worker_watch(rtb, &pfds, &cap);
		uint64_t count;

		if (n < 0)
			break;
		pthread_mutex_unlock(&rtb->lock);
		if (poll(pfds, n, -1) < 0 && errno != EINTR)
			rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: worker poll: %s", strerror(errno));
		if (pfds[0].revents & POLLIN && read(rtb->wake_fd, &count, sizeof count) < 0) {
			/* Nothing to read after all. */
		}
		pthread_mutex_lock(&rtb->lock);
		rtb_worker_serve(rtb);
	}
	pthread_mutex_unlock(&rtb->lock);
	if (!pfds)
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: worker: out of memory");
	free(pfds);
	return NULL;
}

int
rtb_worker_start(struct rutabaga *rtb)
{
	int ret;

	rtb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rtb->wake_fd < 0)
		return -errno;
	ret = pthread_create(&rtb->worker, NULL, rtb_worker_main, rtb);
	if (ret != 0) {
		close(rtb->wake_fd);
		rtb->wake_fd = -1;
		return -ret;
	}
	rtb->worker_running = true;
	return 0;
}

void
rtb_worker_stop(struct rutabaga *rtb)
{
	if (rtb->worker_running) {
		pthread_mutex_lock(&rtb->lock);
		rtb->quit = true;
		pthread_mutex_unlock(&rtb->lock);
		rtb_worker_wake(rtb);
		pthread_join(rtb->worker, NULL);
		rtb->worker_running = false;
	}
	if (rtb->wake_fd >= 0)
		close(rtb->wake_fd);
	rtb->wake_fd = -1;
}
