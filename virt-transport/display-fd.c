/*
 * SPDX-License-Identifier: MIT
 * The fd the client polls (wl_display_get_fd) over the virtgpu transport:
 * readable while received bytes wait, writable unless the host is behind
 * on SENDs, as a socket would be (transport-virtgpu.h, struct vt_display).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport-virtgpu.h"

int
display_fd_init(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;
	int pair[2], least = 1;

	d->fd = d->notify_tx = d->wait_fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		       pair) < 0)
		return -1;
	d->fd = pair[0];
	d->notify_tx = pair[1];
	/* The kernel's least: display_fd_block_locked fills a few KiB. */
	setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &least, sizeof least);
	return 0;
}

static int
epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The library's own waits: the display fd, and fences on the DRM fd. */
int
display_fd_watch_device(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;

	d->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->wait_fd < 0 || epoll_add(d->wait_fd, d->fd) < 0 ||
	    epoll_add(d->wait_fd, t->cd.dev.fd) < 0)
		return -1;
	return 0;
}

void
display_fd_fini(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;

	if (d->notify_tx >= 0)
		close(d->notify_tx);
	if (d->wait_fd >= 0)
		close(d->wait_fd);
	if (d->fd >= 0)
		close(d->fd);
}

/* With the lock held: make the display fd readable (once). The pump
 * makes the write after it gives up the lock (display_fd_wake_due_locked). */
void
display_fd_notify_locked(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;

	/* The reader draining the ring itself needs no wake-up. */
	if (d->notified || t->rx.reader_draining)
		return;
	d->notified = true;
	if (pump_is_current(t))
		d->wake_due = true;
	else
		display_fd_wake(t);
}

/* With the lock held, in the pump: whether a wake-up waits to be written;
 * the caller writes it (display_fd_wake) once it gave up the lock. */
bool
display_fd_wake_due_locked(struct virtgpu_transport *t)
{
	bool due = t->display.wake_due;

	t->display.wake_due = false;
	return due;
}

void
display_fd_wake(struct virtgpu_transport *t)
{
	uint64_t one = 1;
	ssize_t ignored = write(t->display.notify_tx, &one, 1);

	(void) ignored;
}

/* With the lock held, after a read: the display fd stays readable exactly
 * while something waits: bytes, or the end (left for the next read to
 * report). A wake-up the pump has not written yet (it gave up the lock
 * just before) stays notified: a later read takes its byte. */
void
display_fd_settle_locked(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;

	if (t->rx.len > 0 || t->rx_error || t->rx_eof) {
		display_fd_notify_locked(t);
	} else if (d->notified) {
		uint64_t v;

		if (read(d->fd, &v, sizeof v) > 0)
			d->notified = false;
	}
}

/* display_fd stops saying writable: its send buffer is filled with bytes
 * that wait at notify_tx, which nobody reads until the unblock. */
void
display_fd_block_locked(struct virtgpu_transport *t)
{
	static const uint8_t filler[4096];
	struct vt_display *d = &t->display;

	if (d->blocked)
		return;
	while (send(d->fd, filler, sizeof filler,
		    MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		;
	d->blocked = true;
	pump_wake(t);	/* to wait for the send queue's fence */
}

void
display_fd_unblock_locked(struct virtgpu_transport *t)
{
	struct vt_display *d = &t->display;
	uint8_t sink[4096];

	if (!d->blocked)
		return;
	while (recv(d->notify_tx, sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
	d->blocked = false;
}
