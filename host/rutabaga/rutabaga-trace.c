/*
 * A trace of what the library did with QEMU's fences, for a guest that stalls
 * (tests/vm/README.md): with WAYLAND_VIRTGPU_HOST_TRACE=FILE in QEMU's environment, one line
 * per context, submit, detach, fence made and fence signalled, and rtb_debug_dump() (called
 * from gdb on QEMU) writes the fences each context still holds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rutabaga-private.h"

static FILE *rtb_trace_file;

void
rtb_trace_open(void)
{
	const char *path = getenv("WAYLAND_VIRTGPU_HOST_TRACE");

	if (!path || !*path || rtb_trace_file)
		return;
	rtb_trace_file = fopen(path, "ae");
	if (!rtb_trace_file)
		perror(path);
	else
		setvbuf(rtb_trace_file, NULL, _IOLBF, 0);
}

bool
rtb_tracing(void)
{
	return rtb_trace_file != NULL;
}

void
rtb_trace(const char *fmt, ...)
{
	struct timespec now;
	va_list ap;

	if (!rtb_trace_file)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	flockfile(rtb_trace_file);
	fprintf(rtb_trace_file, "%ld.%06ld ", (long)now.tv_sec, now.tv_nsec / 1000);
	va_start(ap, fmt);
	vfprintf(rtb_trace_file, fmt, ap);
	va_end(ap);
	fputc('\n', rtb_trace_file);
	funlockfile(rtb_trace_file);
}

/* Every fence goes to QEMU through here. */
void
rtb_fence_signal(struct rutabaga *rtb, const struct rutabaga_fence *fence, const char *why)
{
	rtb_trace("signal ctx %u %s%u id %llu (%s)", fence->ctx_id,
		  fence->flags & RUTABAGA_FLAG_INFO_RING_IDX ? "ring " : "global",
		  fence->flags & RUTABAGA_FLAG_INFO_RING_IDX ? fence->ring_idx : 0u,
		  (unsigned long long)fence->fence_id, why);
	rtb->fence_cb(rtb->user_data, fence);
}

static void
rtb_dump_fences(FILE *out, const char *what, const struct rtb_fence *list)
{
	for (const struct rtb_fence *f = list; f; f = f->next)
		fprintf(out, "  %s fence: flags 0x%x ring %u id %llu ticket %llu\n", what,
			f->fence.flags, f->fence.ring_idx, (unsigned long long)f->fence.fence_id,
			(unsigned long long)f->ticket);
}

/* For gdb (`call rtb_debug_dump()` with QEMU stopped): takes no lock, the threads are
 * stopped. To the trace file, else stderr. */
__attribute__((used)) void
rtb_debug_dump(void)
{
	struct rutabaga *rtb = rtb_instance_get();
	FILE *out = rtb_trace_file ? rtb_trace_file : stderr;

	if (!rtb) {
		fprintf(out, "dump: no instance\n");
		return;
	}
	fprintf(out, "dump: contexts of the instance\n");
	for (struct rtb_context *ctx = rtb->contexts; ctx; ctx = ctx->next) {
		struct cd_context *cd = ctx->file->ctx;

		fprintf(out, "ctx %u: initialized %d lost %d accepted %llu completed %llu "
			"send_fd %d\n", ctx->ctx_id, cd_context_initialized(cd),
			cd_context_lost(cd), (unsigned long long)cd_context_accepted(cd),
			(unsigned long long)cd_context_completed(cd), cd_context_send_fd(cd));
		rtb_dump_fences(out, "channel", ctx->channel_fences);
		rtb_dump_fences(out, "held", ctx->held_fences);
		for (struct rtb_close *c = ctx->closes; c; c = c->next)
			fprintf(out, "  close later: res %u ticket %llu\n", c->resource_id,
				(unsigned long long)c->ticket);
	}
	fflush(out);
}
