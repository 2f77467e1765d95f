/*
 * Contexts of the rutabaga_gfx_ffi library: each one a cross-domain context of the host
 * core, behind a host_file that holds the resources the guest attached to it. Commands run
 * in QEMU's thread until one waits for room in the compositor's socket or a pipe; that one
 * and every later command of the context wait in the host core, and the worker runs them
 * when the socket takes more (rutabaga-private.h: why QEMU's thread must not wait).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "rutabaga-private.h"

#define RTB_CONTEXT_INIT_CAPSET_ID_MASK 0xffu

struct rtb_context *
rtb_context_find(struct rutabaga *rtb, uint32_t ctx_id)
{
	for (struct rtb_context *ctx = rtb->contexts; ctx; ctx = ctx->next)
		if (ctx->ctx_id == ctx_id)
			return ctx;
	return NULL;
}

static void
rtb_closes_free(struct rtb_close *list)
{
	while (list) {
		struct rtb_close *next = list->next;
		free(list);
		list = next;
	}
}

static void
rtb_context_free(struct rtb_context *ctx)
{
	rtb_fences_free(ctx->channel_fences);
	rtb_fences_free(ctx->held_fences);
	rtb_closes_free(ctx->closes);
	host_file_destroy(ctx->file);	/* the cross-domain context with it */
	free(ctx);
}

void
rtb_contexts_destroy(struct rutabaga *rtb)
{
	while (rtb->contexts) {
		struct rtb_context *ctx = rtb->contexts;
		rtb->contexts = ctx->next;
		rtb_context_free(ctx);
	}
}

static int
rtb_context_create_locked(struct rutabaga *rtb, uint32_t ctx_id, uint32_t context_init)
{
	uint32_t capset_id = context_init & RTB_CONTEXT_INIT_CAPSET_ID_MASK;
	struct rtb_context *ctx;

	/* 0 is the default context of a kernel without CONTEXT_INIT; rutabaga makes any other
	 * id a cross-domain context too, we refuse them (the issue: other capsets refused). */
	if (capset_id != 0 && capset_id != RUTABAGA_CAPSET_CROSS_DOMAIN) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: context %u asks for capset %u, only "
			"cross-domain (5) is served", ctx_id, capset_id);
		return -EINVAL;
	}
	if (ctx_id == 0 || rtb_context_find(rtb, ctx_id))
		return -EINVAL;
	ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return -ENOMEM;
	ctx->ctx_id = ctx_id;
	ctx->file = host_file_create(-1);
	if (ctx->file)
		ctx->file->ctx = cd_context_create(&rtb->cd, ctx->file, ctx_id);
	if (!ctx->file || !ctx->file->ctx) {
		if (ctx->file)
			host_file_destroy(ctx->file);
		free(ctx);
		return -ENOMEM;
	}
	ctx->next = rtb->contexts;
	rtb->contexts = ctx;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_context_create(struct rutabaga *rtb, uint32_t ctx_id, uint32_t context_init,
			const char *context_name, uint32_t context_name_len)
{
	int ret;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ret = rtb_context_create_locked(rtb, ctx_id, context_init);
	pthread_mutex_unlock(&rtb->lock);
	rtb_trace("context create %u init 0x%x: %d", ctx_id, context_init, ret);
	return ret;
}

/* Signals and frees a list of fences of a context that goes. */
static void
rtb_fences_signal(struct rutabaga *rtb, struct rtb_fence *list)
{
	for (struct rtb_fence *f = list; f; f = f->next)
		rtb_fence_signal(rtb, &f->fence, "context destroyed");
	rtb_fences_free(list);
}

/* Every fence the context still holds signals as it goes, the channel's too: QEMU keeps the
 * guest's command queued until its fence signals, and a QEMU that answers a ring's commands
 * only with fences of their own context (build-qemu.sh's patch) would keep it for good. Linux
 * 6.1 destroys a closing file's context without waiting for its POLL (README.md). */
RTB_EXPORT int32_t
rutabaga_context_destroy(struct rutabaga *rtb, uint32_t ctx_id)
{
	struct rtb_fence *held = NULL, *channel = NULL;
	int ret = -EINVAL;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	for (struct rtb_context **link = &rtb->contexts; *link; link = &(*link)->next) {
		if ((*link)->ctx_id == ctx_id) {
			struct rtb_context *ctx = *link;
			*link = ctx->next;
			held = ctx->held_fences;
			channel = ctx->channel_fences;
			ctx->held_fences = ctx->channel_fences = NULL;
			rtb_context_free(ctx);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&rtb->lock);
	rtb_trace("context destroy %u: %d", ctx_id, ret);
	rtb_fences_signal(rtb, held);
	rtb_fences_signal(rtb, channel);
	rtb_worker_wake(rtb);
	return ret;
}

/* A context's hold on a resource: open (attach) or close (detach) its handle. */
static int
rtb_context_hold(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id,
		 int (*change)(struct host_file *file, uint32_t res_id))
{
	struct rtb_context *ctx;
	int ret = -EINVAL;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ctx = rtb_context_find(rtb, ctx_id);
	if (ctx)
		ret = change(ctx->file, resource_id) < 0 ? -EINVAL : 0;
	pthread_mutex_unlock(&rtb->lock);
	rtb_trace("context %u attach res %u: %d", ctx_id, resource_id, ret);
	return ret;
}

/* The kernel attaches a resource at GEM open (CTX_ATTACH_RESOURCE, §2): the rings and the
 * blobs a SEND names are looked up among these. */
RTB_EXPORT int32_t
rutabaga_context_attach_resource(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id)
{
	return rtb_context_hold(rtb, ctx_id, resource_id, host_file_handle_open);
}

bool
rtb_context_waiting(const struct rtb_context *ctx)
{
	return cd_context_completed(ctx->file->ctx) < cd_context_accepted(ctx->file->ctx);
}

bool
rtb_ticket_reached(const struct rtb_context *ctx, uint64_t ticket)
{
	return ticket <= cd_context_completed(ctx->file->ctx) || cd_context_lost(ctx->file->ctx);
}

/* Detached after commands that may still name it: closed once they ran, as the kernel
 * orders a GEM close after the submits before it. */
static int
rtb_close_later(struct rtb_context *ctx, uint32_t resource_id)
{
	struct rtb_close *c = calloc(1, sizeof *c), **tail;

	if (!c)
		return -ENOMEM;
	c->resource_id = resource_id;
	c->ticket = cd_context_accepted(ctx->file->ctx);
	for (tail = &ctx->closes; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_context_detach_resource(struct rutabaga *rtb, uint32_t ctx_id, uint32_t resource_id)
{
	struct rtb_context *ctx;
	int ret = -EINVAL;

	if (!rtb)
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ctx = rtb_context_find(rtb, ctx_id);
	if (ctx && rtb_context_waiting(ctx))
		ret = rtb_close_later(ctx, resource_id);
	else if (ctx)
		ret = host_file_handle_close(ctx->file, resource_id) < 0 ? -EINVAL : 0;
	pthread_mutex_unlock(&rtb->lock);
	rtb_trace("context %u detach res %u: %d", ctx_id, resource_id, ret);
	return ret;
}

void
rtb_context_resume(struct rtb_context *ctx)
{
	struct pollfd pfd = { cd_context_send_fd(ctx->file->ctx), POLLOUT, 0 };

	if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 1)
		cd_context_resume(ctx->file->ctx);
	while (ctx->closes && rtb_ticket_reached(ctx, ctx->closes->ticket)) {
		struct rtb_close *c = ctx->closes;

		ctx->closes = c->next;
		host_file_handle_close(ctx->file, c->resource_id);
		free(c);
	}
}

RTB_EXPORT int32_t
rutabaga_submit_command(struct rutabaga *rtb, struct rutabaga_command *cmd)
{
	struct rtb_context *ctx;
	int ret;

	if (!rtb || !cmd || (!cmd->cmd && cmd->cmd_size))
		return -EINVAL;
	pthread_mutex_lock(&rtb->lock);
	ctx = rtb_context_find(rtb, cmd->ctx_id);
	if (!ctx) {
		pthread_mutex_unlock(&rtb->lock);
		return -EINVAL;
	}
	/* 1: they wait, copied; the worker watches the socket or pipe they wait on. */
	ret = cd_context_submit(ctx->file->ctx, cmd->cmd, cmd->cmd_size);
	if (rtb_tracing())
		rtb_trace("submit ctx %u cmd %u size %u: %d (accepted %llu completed %llu)",
			  cmd->ctx_id, cmd->cmd_size >= 4 ? cmd->cmd[0] : 0u, cmd->cmd_size, ret,
			  (unsigned long long)cd_context_accepted(ctx->file->ctx),
			  (unsigned long long)cd_context_completed(ctx->file->ctx));
	pthread_mutex_unlock(&rtb->lock);
	/* INIT may have connected a socket, a SEND made read pipes: the worker watches them. */
	rtb_worker_wake(rtb);
	return ret >= 0 ? 0 : -EINVAL;
}
