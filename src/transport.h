/*
 * SPDX-License-Identifier: MIT
 * The seam between the client core and how bytes travel. The core
 * marshals messages into a byte stream with fds; a transport moves that
 * stream to the compositor and back. Two exist: the Unix socket
 * (transport-unix.c) and the virtio-gpu cross-domain channel
 * (virt-transport/). The core never includes a transport's own header.
 */
#ifndef WAYLAND_TRANSPORT_H
#define WAYLAND_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct wl_transport;

struct wl_transport_ops {
	const char *name;

	/* Send up to len bytes that start at a message boundary, with the
	 * nfds fds the first of those messages and the following ones
	 * carry (in order). Returns the bytes taken (> 0) and sets
	 * *fds_taken; the caller closes the fds taken. -1 with errno
	 * (EAGAIN when it would block). */
	ssize_t (*send)(struct wl_transport *transport, const void *data,
			size_t len, const int *fds, int nfds, int *fds_taken);

	/* Receive up to len bytes and up to max_fds fds (close-on-exec).
	 * Returns bytes (0 at end of stream) or -1 with errno (EAGAIN when
	 * nothing is available). */
	ssize_t (*recv)(struct wl_transport *transport, void *data, size_t len,
			int *fds, int *nfds, int max_fds);

	/* The fd to poll: readable when recv has something to return,
	 * writable when send may make progress. */
	int (*get_fd)(struct wl_transport *transport);

	/* Release everything, including the fd. */
	void (*destroy)(struct wl_transport *transport);
};

struct wl_transport {
	const struct wl_transport_ops *ops;
};

/* transport-unix.c: a connected stream socket; takes ownership of fd. */
struct wl_transport *
wl_transport_unix_create(int fd);

#endif
