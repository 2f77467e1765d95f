/*
 * SPDX-License-Identifier: MIT
 * The client's bytes cut into SENDs (§3.4): whole messages that fit one
 * SEND with their fds, a larger message in pieces with its fds in the
 * first; a POLL held back rides in a SEND's submit (poll-schedule.c), and
 * the send queue says when a flush must say EAGAIN (send-queue.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* The messages of one SEND: their bytes and fds, and what fstat said of
 * each fd (stat_ok[i]: it said). */
struct send_chunk {
	size_t size;
	int nids;
	struct stat st[CROSS_DOMAIN_MAX_IDENTIFIERS];
	bool stat_ok[CROSS_DOMAIN_MAX_IDENTIFIERS];
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
			int i = chunk->nids + (int) k;
			struct stat st;
			bool ok = fstat(fds[i], &st) == 0;

			if (ok && S_ISFIFO(st.st_mode))
				pipes++;
			/* Kept for the SEND when the message is in it. */
			if (i < CROSS_DOMAIN_MAX_IDENTIFIERS) {
				chunk->stat_ok[i] = ok;
				if (ok)
					chunk->st[i] = st;
			}
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
		bool last, with_poll;
		uint64_t seq;

		piece = size - done;
		if (piece > CROSS_DOMAIN_MAX_SEND_DATA)
			piece = CROSS_DOMAIN_MAX_SEND_DATA;
		last = done + piece == size;
		with_poll = send_queue_sending(t, piece, !(fenced && last) &&
					       piece_bos == 0, &seq);
		ret = cross_domain_send(&t->cd, bytes + done, (uint32_t) piece,
					ids, types, done ? 0 : nids, bos,
					piece_bos, with_poll,
					fenced && last ? &fence : NULL);
		send_queue_sent(t, seq, ret == 0 ? fence : -1);
		t->base.stats.sends += ret == 0;
	}
	return ret;
}

/* The identifiers of a chunk's fds; the GEM handles of its dma-bufs in
 * bos (*nbos), which the caller closes, also on failure. */
static int
send_chunk_identify(struct virtgpu_transport *t, const int *fds,
		    const struct send_chunk *chunk, uint32_t *ids,
		    uint32_t *types, uint32_t *bos, int *nbos)
{
	int i;

	*nbos = 0;
	for (i = 0; i < chunk->nids; i++) {
		bool has_bo;

		if (fd_translate_out(t, fds[i],
				     chunk->stat_ok[i] ? &chunk->st[i] : NULL,
				     &ids[i], &types[i], &bos[*nbos],
				     &has_bo) < 0)
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

		if (send_chunk_identify(t, fds + fd_index, &chunk, ids, types,
					bos, &nbos) < 0) {
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
