/*
 * SPDX-License-Identifier: MIT
 * The virtgpu transport: the Wayland byte stream over a cross-domain
 * channel (cross-domain-protocol.md §4). This file is its ops and
 * lifetime; its parts share transport-virtgpu.h, and those not yet in
 * files of their own follow the ops, one section each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

uint64_t
virtgpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

uint64_t
virtgpu_now_ms(void)
{
	return virtgpu_now_ns() / 1000000;
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

	if (opcode == WL_DISPLAY_SYNC && target->id == 1) {
		pthread_mutex_lock(&t->lock);
		pump_reply_due_locked(t);
		pthread_mutex_unlock(&t->lock);
	}

	ret = virt_shm_request(t->shm, transport, target, sender_id, opcode,
			       args);
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
	return fixups_event((struct virtgpu_transport *) transport, target,
			    opcode, args);
}

static void
virtgpu_print_stats(struct wl_transport *transport, FILE *f)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;

	pthread_mutex_lock(&t->lock);
	fprintf(f, " pipe_bytes_in=%llu pipe_bytes_out=%llu identifiers=%d"
		" shm_host_pools=%llu polls=%llu polls_with_send=%llu"
		" flush_eagain=%llu",
		(unsigned long long) t->pipes.bytes_in,
		(unsigned long long) t->pipes.bytes_out, t->cd.max_ids,
		(unsigned long long) t->base.stats.shm_host_pools,
		(unsigned long long) t->poll.count,
		(unsigned long long) t->poll.with_send,
		(unsigned long long) t->send_queue.flush_eagain);
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
	.event = virtgpu_event,
	.print_stats = virtgpu_print_stats,
	.idle = virtgpu_idle,
	.shm_memory = virtgpu_shm_memory,
};

struct wl_transport *
wl_transport_virtgpu_create(const char *device, char *why, size_t why_size)
{
	struct virtgpu_transport *t;
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
	if (t->rx.msg == NULL || display_fd_watch_device(t) < 0) {
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

/* --- send ------------------------------------------------------------ */

/* The messages of one SEND: their bytes and fds. */
struct send_chunk {
	size_t size;
	int nids;
};

/* Whole messages that fit one SEND with their fds (§3.4), one read pipe
 * per SEND (§4.3); a message larger than a SEND goes alone, in pieces.
 * Returns the index after the chunk's last message, or -1 (EINVAL) for a
 * message with more fds than the host takes. */
static int
send_chunk_measure(struct virtgpu_transport *t, const int *fds,
		   const struct wl_transport_message *messages, int first,
		   int nmessages, struct send_chunk *chunk)
{
	int m = first, read_pipes = 0;

	chunk->size = 0;
	chunk->nids = 0;
	while (m < nmessages) {
		uint32_t k, pipes = 0;

		if (messages[m].nfds > (uint32_t) t->cd.max_ids) {
			wl_log("wayland-virtgpu: a message carries %u fds; the "
			       "host takes %d\n", messages[m].nfds,
			       t->cd.max_ids);
			errno = EINVAL;
			return -1;
		}
		for (k = 0; k < messages[m].nfds; k++) {
			struct stat st;

			if (fstat(fds[chunk->nids + k], &st) == 0 &&
			    S_ISFIFO(st.st_mode))
				pipes++;
		}
		if (m > first &&
		    (chunk->size + messages[m].size > CROSS_DOMAIN_MAX_SEND_DATA ||
		     chunk->nids + (int) messages[m].nfds > t->cd.max_ids ||
		     read_pipes + pipes > 1))
			break;
		chunk->size += messages[m].size;
		chunk->nids += (int) messages[m].nfds;
		read_pipes += (int) pipes;
		m++;
		if (chunk->size > CROSS_DOMAIN_MAX_SEND_DATA)
			break;
	}
	return m;
}

/* One SEND, or a message larger than one in pieces, its fds with the
 * first. A message is never cut by EAGAIN: its pieces all go, and the
 * last one's fence covers them. */
static int
send_chunk_submit(struct virtgpu_transport *t, const uint8_t *bytes,
		  size_t size, const uint32_t *ids, const uint32_t *types,
		  int nids, const uint32_t *bos, int nbos, bool fenced)
{
	size_t piece, done;
	int ret = 0;

	for (done = 0; ret == 0 && done < size; done += piece) {
		int piece_bos = done ? 0 : nbos, fence = -1;
		bool last;

		piece = size - done;
		if (piece > CROSS_DOMAIN_MAX_SEND_DATA)
			piece = CROSS_DOMAIN_MAX_SEND_DATA;
		last = done + piece == size;
		ret = cross_domain_send(&t->cd, bytes + done, (uint32_t) piece,
					ids, types, done ? 0 : nids, bos,
					piece_bos,
					!(fenced && last) && piece_bos == 0 &&
					poll_schedule_take_for_send(t),
					fenced && last ? &fence : NULL);
		t->base.stats.sends += ret == 0;
		if (ret == 0) {
			pthread_mutex_lock(&t->lock);
			send_queue_submitted_locked(t, piece, fence);
			pthread_mutex_unlock(&t->lock);
		}
	}
	return ret;
}

/* The identifiers of a chunk's fds; the GEM handles of its dma-bufs in
 * bos (*nbos), which the caller closes, also on failure. */
static int
send_chunk_identify(struct virtgpu_transport *t, const int *fds, int nids,
		    uint32_t *ids, uint32_t *types, uint32_t *bos, int *nbos)
{
	int i;

	*nbos = 0;
	for (i = 0; i < nids; i++) {
		bool has_bo;

		if (fd_translate_out(t, fds[i], &ids[i], &types[i],
				     &bos[*nbos], &has_bo) < 0)
			return -1;
		*nbos += has_bo;
	}
	return 0;
}

/* The SEND is made (or failed): the GEM handles may go. */
static void
send_chunk_close_bos(struct virtgpu_transport *t, const uint32_t *bos,
		     int nbos)
{
	int i;

	for (i = 0; i < nbos; i++)
		virtgpu_gem_close(&t->cd.dev, bos[i]);
}

ssize_t
virtgpu_send(struct wl_transport *transport, const void *data, size_t len,
	     const int *fds, int nfds, int *fds_taken,
	     const struct wl_transport_message *messages, int nmessages)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	uint32_t ids[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t types[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t bos[CROSS_DOMAIN_MAX_IDENTIFIERS];
	const uint8_t *bytes = data;
	size_t off = 0;
	int m = 0, fd_index = 0;

	fork_adopt(t);
	while (m < nmessages && off < len) {
		struct send_chunk chunk;
		int nbos, ret;
		bool fenced;

		m = send_chunk_measure(t, fds + fd_index, messages, m,
				       nmessages, &chunk);
		if (m < 0)
			break;
		/* Before anything of these messages is made (read pipes). */
		if (!send_queue_admit(t, chunk.size, &fenced))
			break;

		if (send_chunk_identify(t, fds + fd_index, chunk.nids, ids,
					types, bos, &nbos) < 0) {
			/* An fd that cannot cross: said already. */
			send_chunk_close_bos(t, bos, nbos);
			break;
		}
		ret = send_chunk_submit(t, bytes + off, chunk.size, ids, types,
					chunk.nids, bos, nbos, fenced);
		send_chunk_close_bos(t, bos, nbos);
		if (ret < 0) {
			wl_log("wayland-virtgpu: SEND to the host failed (%s)\n",
			       strerror(errno));
			/* Nothing more can go either way: readers must
			 * learn it too, not wait for a reply. */
			pthread_mutex_lock(&t->lock);
			virtgpu_fail_locked(t, EPIPE);
			pthread_mutex_unlock(&t->lock);
			errno = EPIPE;
			break;
		}

		off += chunk.size;
		fd_index += chunk.nids;
		t->base.stats.sent_bytes += chunk.size;
		t->base.stats.fds_sent += (uint64_t) chunk.nids;
	}

	*fds_taken = fd_index;
	if (off > 0)
		return (ssize_t) off;
	return -1;
}
