/*
 * SPDX-License-Identifier: MIT
 * What the host sends: fence events on the DRM fd answer POLLs; each
 * brings one message at the channel ring (§2, §4.2), RECEIVE or READ; a
 * RECEIVE's bytes and fds join the stream the core reads (struct vt_rx).
 * Whichever thread sees a fence first takes the message: the client's
 * reader (its own waits poll the DRM fd) or the pump.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

static int
rx_append(struct virtgpu_transport *t, const void *data, size_t len,
	  const int *fds, int nfds)
{
	struct vt_rx *rx = &t->rx;

	if (rx->len + len > rx->capacity) {
		size_t capacity = rx->capacity ? rx->capacity : 8192;
		uint8_t *grown;

		while (capacity < rx->len + len)
			capacity *= 2;
		grown = realloc(rx->buf, capacity);
		if (grown == NULL)
			return -1;
		rx->buf = grown;
		rx->capacity = capacity;
	}
	if (rx->nfds + nfds > rx->fds_capacity) {
		int capacity = rx->nfds + nfds + 32;
		int *grown = realloc(rx->fds, capacity * sizeof(int));

		if (grown == NULL)
			return -1;
		rx->fds = grown;
		rx->fds_capacity = capacity;
	}

	if (len)
		memcpy(rx->buf + rx->len, data, len);
	rx->len += len;
	if (nfds)
		memcpy(rx->fds + rx->nfds, fds, nfds * sizeof(int));
	rx->nfds += nfds;
	display_fd_notify_locked(t);

	return 0;
}

static void
handle_receive(struct virtgpu_transport *t, const uint8_t *msg, size_t avail)
{
	struct cross_domain_receive rx;
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS], ret;
	uint32_t i;

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
		virtgpu_fail_locked(t, EPROTO);
		return;
	}
	if (ret < 0) {
		wl_log("wayland-virtgpu: the host sent a malformed RECEIVE "
		       "(%u identifiers, %u bytes)\n",
		       ((const struct cross_domain_sr_head *) msg)->num_identifiers,
		       ((const struct cross_domain_sr_head *) msg)->opaque_data_size);
		virtgpu_fail_locked(t, EPROTO);
		return;
	}

	if (rx.num_ids == 0 && rx.size == 0) {
		/* §4.2: an empty RECEIVE is the compositor hanging up. */
		t->rx_eof = true;
		display_fd_notify_locked(t);
		return;
	}

	if (fd_translate_in(t, &rx, fds) < 0) {
		virtgpu_fail_locked(t, EPROTO);
		return;
	}

	pump_heard_from_host_locked(t);
	t->base.stats.receives++;
	t->base.stats.recv_bytes += rx.size;
	t->base.stats.fds_received += rx.num_ids;
	t->rx.received_any = true;
	if (rx_append(t, rx.data, rx.size, fds, (int) rx.num_ids) < 0) {
		for (i = 0; i < rx.num_ids; i++)
			close(fds[i]);
		virtgpu_fail_locked(t, ENOMEM);
	}
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
		pipes_handle_read_locked(t, msg, page);
		break;
	default:
		wl_log("wayland-virtgpu: the host sent unknown command %u on "
		       "the channel ring\n", hdr->cmd);
		virtgpu_fail_locked(t, EPROTO);
		break;
	}
}

/* A message out of the channel ring. What lies past its extent in `dst`
 * is an older message's, which the parsers, reading the copied head, never
 * reach. */
static void
receive_copy_message(uint8_t *dst, const uint8_t *ring, size_t page)
{
	size_t head = CROSS_DOMAIN_MESSAGE_HEAD < page ?
		      CROSS_DOMAIN_MESSAGE_HEAD : page;
	size_t extent;

	memcpy(dst, ring, head);
	extent = cross_domain_message_extent(dst, page);
	if (extent > head)
		memcpy(dst + head, ring + head, extent - head);
}

/* With the lock held: handle the fence events waiting on the DRM fd,
 * without blocking (the fd is O_NONBLOCK): one read() takes them all. No
 * second look: with exactly one POLL outstanding (§2) the next event
 * answers the POLL submitted after this one, and whoever waits next (the
 * client's reader, or the pump) sees it. Whichever thread gets here
 * first does the work: the client's reader (the display fd polls the
 * DRM fd too) or the pump. */
void
receive_drain_ring_locked(struct virtgpu_transport *t)
{
	size_t page = (size_t) t->cd.dev.page_size;
	struct { uint32_t type, length; } events[16];
	ssize_t len;
	int i;

	if (t->rx_error)
		return;
	len = read(t->cd.dev.fd, events, sizeof events);
	if (len < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len <= 0) {
		wl_log("wayland-virtgpu: the virtio-gpu device went away (%s)\n",
		       len < 0 ? strerror(errno) : "end of file");
		virtgpu_fail_locked(t, EPIPE);
		return;
	}

	for (i = 0; i < len / (ssize_t) sizeof events[0]; i++) {
		struct cross_domain_header *hdr = t->cd.channel_ring;

		if (events[i].type != VIRTGPU_EVENT_FENCE_SIGNALED ||
		    !t->poll.outstanding)
			continue;	/* not the answer to a POLL */
		/* The page is cleared after each message, so a fence with
		 * nothing new in it (signalled twice, or for nothing) shows.
		 * Reading the old message again would deliver it twice. */
		if (hdr->cmd == 0) {
			/* An error, never "poll again": on a host that answers
			 * other contexts' fences that would lose messages. */
			wl_log("wayland-virtgpu: the host signalled the channel "
			       "without a message (it lost the context, or it "
			       "answers other contexts' fences: QEMU's rutabaga "
			       "device, see README.md \"Running a program in a "
			       "real guest\")\n");
			virtgpu_fail_locked(t, EPROTO);
			return;
		}
		/* Copy out (the next POLL reuses the page): the head, then
		 * only what it says the message holds, not the whole page
		 * for the few bytes of a round trip. */
		receive_copy_message(t->rx.msg, t->cd.channel_ring, page);
		hdr->cmd = 0;
		poll_schedule_answered_locked(t);
		handle_channel_message(t, t->rx.msg, page);
	}
	poll_schedule_repoll_locked(t, true);
}

/* Takes up to len received bytes and the fds that came with them. */
static ssize_t
rx_take_locked(struct virtgpu_transport *t, void *data, size_t len,
	       int *fds, int *nfds, int max_fds)
{
	struct vt_rx *rx = &t->rx;
	int n;

	/* fds go with bytes, never alone (0 bytes means EOF). */
	if (len > rx->len)
		len = rx->len;
	memcpy(data, rx->buf, len);
	memmove(rx->buf, rx->buf + len, rx->len - len);
	rx->len -= len;

	n = rx->nfds < max_fds ? rx->nfds : max_fds;
	if (n > 0) {
		memcpy(fds, rx->fds, n * sizeof(int));
		memmove(rx->fds, rx->fds + n, (rx->nfds - n) * sizeof(int));
		rx->nfds -= n;
	}
	*nfds = n;
	return (ssize_t) len;
}

ssize_t
virtgpu_recv(struct wl_transport *transport, void *data, size_t len,
	     int *fds, int *nfds, int max_fds)
{
	struct virtgpu_transport *t = (struct virtgpu_transport *) transport;
	ssize_t ret;

	fork_adopt(t);
	pthread_mutex_lock(&t->lock);

	if (t->rx.len == 0) {
		t->rx.reader_draining = true;
		receive_drain_ring_locked(t);
		t->rx.reader_draining = false;
		/* Nothing for this reader: it will wait on the display fd,
		 * which needs a POLL outstanding. */
		if (t->rx.len == 0)
			poll_schedule_release_locked(t);
	}

	*nfds = 0;
	if (t->rx.len > 0) {
		ret = rx_take_locked(t, data, len, fds, nfds, max_fds);
	} else if (t->rx_error) {
		errno = t->rx_error;
		ret = -1;
	} else if (t->rx_eof) {
		if (!t->rx.received_any)
			wl_log("wayland-virtgpu: the host closed the connection "
			       "before the compositor said anything; a host "
			       "from before 2024 (crosvm, libkrun < 1.10) may "
			       "need WAYLAND_VIRTGPU_IDENTIFIERS=4\n");
		ret = 0;
	} else {
		errno = EAGAIN;
		ret = -1;
	}

	display_fd_settle_locked(t);
	pthread_mutex_unlock(&t->lock);

	return ret;
}

void
receive_fini(struct virtgpu_transport *t)
{
	int i;

	for (i = 0; i < t->rx.nfds; i++)
		close(t->rx.fds[i]);
	free(t->rx.fds);
	free(t->rx.buf);
	free(t->rx.msg);
}
