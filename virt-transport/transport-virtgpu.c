/*
 * SPDX-License-Identifier: MIT
 * The virtgpu transport: the Wayland byte stream over a cross-domain
 * channel (cross-domain-protocol.md §4). This file is its ops and
 * lifetime; its parts, each in a file of its own, share
 * transport-virtgpu.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mremap-scan.h"
#include "transport-virtgpu.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

/* WAYLAND_DEBUG asks for the client side's messages ("1" or "client"). */
bool
virtgpu_debug_client(void)
{
	const char *debug = getenv("WAYLAND_DEBUG");

	return debug && (strstr(debug, "client") || strcmp(debug, "1") == 0);
}

/* With the lock held: the connection is over; readers see errno. */
void
virtgpu_fail_locked(struct virtgpu_transport *t, int error)
{
	if (!t->rx_error)
		t->rx_error = error;
	display_fd_notify_locked(t);
	/* A client waiting to write must wake and learn it too. */
	display_fd_unblock_locked(t);
}

/* The client has nothing left to send and may wait on the display fd. */
static void
virtgpu_idle(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	fork_adopt(t);
	if (!poll_schedule_maybe_deferred(t))
		return;
	pthread_mutex_lock(&t->lock);
	poll_schedule_release_locked(t);
	pthread_mutex_unlock(&t->lock);
}

static int
virtgpu_get_fd(struct wl_transport *transport)
{
	return ((struct virtgpu_transport *) transport)->display.fd;
}

static int
virtgpu_get_wait_fd(struct wl_transport *transport)
{
	return ((struct virtgpu_transport *) transport)->display.wait_fd;
}

static void
virtgpu_fd_exported(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	bool first;

	pthread_mutex_lock(&t->lock);
	first = !t->display.exported;
	t->display.exported = true;
	pthread_mutex_unlock(&t->lock);
	if (first)
		pump_wake(t);
}

static void
virtgpu_reader_waiting(struct wl_transport *transport, bool waiting)
{
	pump_reader_waiting((struct virtgpu_transport *) transport, waiting);
}

static void
virtgpu_destroy(struct wl_transport *transport)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	pump_stop(t);
	fork_fini(t);
	pipes_fini(t);
	receive_fini(t);
	fixups_fini(t);
	gpu_buffers_fini(t);
	if (t->shm)
		virt_shm_destroy(t->shm);
	if (t->cd_open)
		cross_domain_close(&t->cd);
	pump_fini(t);
	poll_schedule_fini(t);
	send_queue_fini(t);
	display_fd_fini(t);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static int
virtgpu_request(struct wl_transport *transport, struct wl_object *target,
		uint32_t *sender_id, uint32_t opcode,
		const struct wl_message *message, union wl_argument *args)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	int ret;

	/* wl_display's requests (sync, get_registry) carry no fd and name
	 * no buffer: no other part looks at them. */
	if (target->id == 1) {
		if (opcode == WL_DISPLAY_SYNC) {
			pthread_mutex_lock(&t->lock);
			pump_reply_due_locked(t);
			pthread_mutex_unlock(&t->lock);
		}
		return 0;
	}
	fixups_request(t, target, message);
	ret = gpu_buffers_request(t, target, message, args);
	if (ret != 0)
		return ret;

	ret = virt_shm_request(t->shm, transport, target, sender_id, opcode,
			       message, args);
	if (ret < 0)
		return -1;
	if (ret > 0)
		return 0;

	return fd_translate_check_request(t, target, message, args);
}

static int
virtgpu_event(struct wl_transport *transport, struct wl_object *target,
	      uint32_t opcode, const struct wl_message *message,
	      union wl_argument *args)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	int ret;

	virt_shm_event(t->shm, target, opcode, args);
	/* wl_display's events (error, delete_id): only the loans of
	 * virt_shm_event follow them. */
	if (target->id == 1)
		return 0;
	ret = fixups_event(t, target, opcode, message, args);

	if (ret == 0)
		ret = gpu_buffers_event(t, target, message, args);
	return ret;
}

/* Which objects' messages the parts look at, asked once per object: any
 * other request costs nothing for the hooks (one with fds still comes,
 * for fd-translate.c). wl_display: a sync starts the reply watchdog. */
static bool
virtgpu_hooks_interface(struct wl_transport *transport,
			const struct wl_interface *interface)
{
	const char *name = interface->name;

	return strcmp(name, "wl_display") == 0 || fixups_hooks(name) ||
	       gpu_buffers_hooks(name) || virt_shm_hooks(name);
}

static void
virtgpu_print_stats(struct wl_transport *transport, FILE *f)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	pthread_mutex_lock(&t->lock);
	fprintf(f, " pipe_bytes_in=%llu pipe_bytes_out=%llu identifiers=%d"
		" shm_host_pools=%llu polls=%llu polls_with_send=%llu"
		" flush_eagain=%llu hidden_globals=%llu gpu_waits=%llu"
		" gpu_wait_us=%llu gpu_sync=%s shm_mode=%s memory_fds=%llu"
		" memory_fd_bytes=%llu shm_bytes_copied_back=%llu",
		(unsigned long long) t->pipes.bytes_in,
		(unsigned long long) t->pipes.bytes_out, t->cd.max_ids,
		(unsigned long long) t->base.stats.shm_host_pools,
		(unsigned long long) t->poll.count,
		(unsigned long long) t->poll.with_send,
		(unsigned long long) t->send_queue.flush_eagain,
		(unsigned long long) t->fixups.globals_hidden,
		(unsigned long long) t->gpu.waits,
		(unsigned long long) t->gpu.wait_ns / 1000,
		t->gpu.sync_way ? t->gpu.sync_way : "none", t->shm_mode,
		(unsigned long long) t->memory_fds.count,
		(unsigned long long) t->memory_fds.bytes,
		(unsigned long long) t->base.stats.shm_bytes_copied_back);
	if (t->shm)
		virt_shm_print_stats(t->shm, f);
	pthread_mutex_unlock(&t->lock);
}

static int
virtgpu_shm_memory(struct wl_transport *transport, size_t *size, void **data)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	fork_adopt(t);
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
	.hooks_interface = virtgpu_hooks_interface,
	.event = virtgpu_event,
	.print_stats = virtgpu_print_stats,
	.idle = virtgpu_idle,
	.shm_memory = virtgpu_shm_memory,
};

/* Whether wl_shm pools are copied on commit rather than remapped: asked
 * for (WAYLAND_VIRTGPU_SHM=copy), or code in this process may grow pool
 * mappings with mremap(), which a mapping of host memory cannot do on a
 * real kernel (mremap-scan.c; WAYLAND_VIRTGPU_SHM=zero-copy keeps
 * remapping). */
static bool
shm_mode_choose(struct virtgpu_transport *t)
{
	const char *mode = getenv("WAYLAND_VIRTGPU_SHM");
	char who[256];

	if (mode && strcmp(mode, "copy") == 0) {
		t->shm_mode = "copy";
		return true;
	}
	if (mode && strcmp(mode, "zero-copy") == 0) {
		t->shm_mode = "zero-copy";
		return false;
	}
	if (mremap_scan_process(who, sizeof who)) {
		t->shm_mode = "copy-mremap";
		if (virtgpu_debug_client())
			wl_log("wayland-virtgpu: %s grows mappings with mremap(), "
			       "which host memory cannot do: wl_shm pools are "
			       "copied on commit (WAYLAND_VIRTGPU_SHM=zero-copy "
			       "keeps them zero-copy)\n", who);
		return true;
	}
	t->shm_mode = "zero-copy";
	return false;
}

struct wl_transport *
wl_transport_virtgpu_create(const char *device, char *why, size_t why_size)
{
	struct virtgpu_transport *t;
	bool copy;
	int err;

	t = calloc(1, sizeof *t);
	if (t == NULL) {
		snprintf(why, why_size, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	t->base.ops = &virtgpu_ops;
	pthread_mutex_init(&t->lock, NULL);
	t->send_queue.fence = -1;
	t->pipes.fence = -1;
	t->cd.dev.fd = -1;
	t->pump.wake_fd = t->poll.timer_fd = -1;
	t->display.fd = t->display.notify_tx = t->display.wait_fd = -1;
	if (pump_init(t) < 0 || display_fd_init(t) < 0 ||
	    poll_schedule_init(t) < 0) {
		snprintf(why, why_size, "eventfd/socketpair/timerfd: %s",
			 strerror(errno));
		goto err;
	}

	if (cross_domain_open(&t->cd, device, why, why_size) < 0)
		goto err;
	t->cd_open = true;
	t->poll.outstanding = true;	/* cross_domain_open sent the first */
	t->poll.count = 1;

	t->rx.msg = malloc((size_t) t->cd.dev.page_size);
	if (t->rx.msg == NULL || display_fd_watch_device(t) < 0 ||
	    fixups_init(t) < 0) {
		snprintf(why, why_size, "cannot set up the display fd (%s)",
			 strerror(errno));
		goto err;
	}

	copy = shm_mode_choose(t);
	t->shm = virt_shm_create(&t->cd, &t->base.stats, copy,
				 strcmp(t->shm_mode, "copy-mremap") == 0,
				 virtgpu_debug_client());
	if (t->shm == NULL) {
		snprintf(why, why_size, "out of memory");
		errno = ENOMEM;
		goto err;
	}

	fork_init(t);
	if (pump_start(t) < 0) {
		snprintf(why, why_size, "cannot start the pump thread");
		errno = EAGAIN;
		goto err;
	}
	fork_register(t);

	return &t->base;

err:
	err = errno;
	virtgpu_destroy(&t->base);
	errno = err ? err : ENODEV;
	return NULL;
}
