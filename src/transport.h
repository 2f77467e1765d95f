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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct wl_transport;
struct wl_object;
struct wl_interface;
struct wl_message;
union wl_argument;

/* One queued message as the connection hands it to send(): its size and
 * how many of the fds belong to it. */
struct wl_transport_message {
	uint32_t size;
	uint32_t nfds;
};

/* Counters every transport keeps; printed by WAYLAND_VIRTGPU_STATS=1. */
struct wl_transport_stats {
	uint64_t sent_bytes;
	uint64_t recv_bytes;
	uint64_t sends;
	uint64_t receives;
	uint64_t fds_sent;
	uint64_t fds_received;
	uint64_t shm_pools;
	uint64_t zero_copy_pools;
	uint64_t shm_bytes_copied;
	uint64_t shm_host_pools;	/* pools whose fd already was host memory */
	uint64_t shm_bytes_copied_back;	/* written by the compositor (capture) */
};

struct wl_transport_ops {
	const char *name;

	/* Send up to len bytes that start at a message boundary, with the
	 * nfds fds the first of those messages and the following ones
	 * carry (in order). Returns the bytes taken (> 0) and sets
	 * *fds_taken; the caller closes the fds taken. -1 with errno
	 * (EAGAIN when it would block). */
	ssize_t (*send)(struct wl_transport *transport, const void *data,
			size_t len, const int *fds, int nfds, int *fds_taken,
			const struct wl_transport_message *messages,
			int nmessages);

	/* Receive up to len bytes and up to max_fds fds (close-on-exec).
	 * Returns bytes (0 at end of stream) or -1 with errno (EAGAIN when
	 * nothing is available). */
	ssize_t (*recv)(struct wl_transport *transport, void *data, size_t len,
			int *fds, int *nfds, int max_fds);

	/* The fd to poll: readable when recv has something to return,
	 * writable when send may make progress. */
	int (*get_fd)(struct wl_transport *transport);

	/* Optional: an fd the library's own waits for readable poll instead
	 * (readable at least whenever get_fd's is), when it is cheaper. */
	int (*get_wait_fd)(struct wl_transport *transport);

	/* Optional: a thread of the library starts (true) or ends (false)
	 * a wait on get_wait_fd that ends in reading: the transport may
	 * leave the reading to it. Every start is followed by one end, in
	 * the same thread, before it waits for other readers. */
	void (*reader_waiting)(struct wl_transport *transport, bool waiting);

	/* Optional: the client asked for get_fd (wl_display_get_fd), so it
	 * may poll it in a loop of its own. */
	void (*fd_exported)(struct wl_transport *transport);

	/* Release everything, including the fd. */
	void (*destroy)(struct wl_transport *transport);

	/* Optional: a request about to be queued, its fds already
	 * duplicated into args (the hook may replace them, closing the
	 * old, and may address it to another object of the same interface
	 * through *sender_id). Returns 0 to send it, 1 when the transport
	 * took it and it is not sent (never a request with a new_id: the
	 * compositor's ids must follow on), -1 (after one log line) if it
	 * cannot be sent; with errno ENOMEM (the host is out of memory) the
	 * display fails as on a compositor's wl_display.error no_memory. */
	int (*request)(struct wl_transport *transport,
		       struct wl_object *target, uint32_t *sender_id,
		       uint32_t opcode, const struct wl_message *message,
		       union wl_argument *args);

	/* Optional: whether the request and event hooks want the messages
	 * of objects of this interface, asked once per object as it is made
	 * (a request carrying fds reaches the request hook whatever the
	 * answer). Without it, every message reaches the hooks. */
	bool (*hooks_interface)(struct wl_transport *transport,
				const struct wl_interface *interface);

	/* Optional: an event just received, before it is queued; the hook
	 * may change its arguments (fds, arrays in place, a string for one of
	 * its own). Returns 0 to queue it, 1 to drop it (its fds closed), -1
	 * on failure. */
	int (*event)(struct wl_transport *transport,
		     struct wl_object *target, uint32_t opcode,
		     const struct wl_message *message,
		     union wl_argument *args);

	/* Optional: the stats line's transport-specific keys, appended to
	 * the common ones (" key=value ..."). */
	void (*print_stats)(struct wl_transport *transport, FILE *f);

	/* Optional: everything queued has been sent and the client may
	 * wait on the fd next (a flush emptied the buffer, or a reader
	 * prepared to read with nothing to send). A transport that put off
	 * work such a wait depends on does it now. */
	void (*idle)(struct wl_transport *transport);

	/* Optional: memory for a wl_shm pool that the compositor reads
	 * where the client writes (no copy, no remapping). Returns an fd
	 * for wl_shm.create_pool and maps *size bytes or more at *data
	 * (*size says how many); -1 with errno on failure. Without it:
	 * ENOTSUP. */
	int (*shm_memory)(struct wl_transport *transport, size_t *size,
			  void **data);
};

/* What a transport may ask of the core from inside its request hook,
 * while the display is locked: objects of the library's own (a second
 * wl_shm_pool behind the client's, say) and requests on them. */
struct wl_transport_core {
	/* A new object made by the object `factory_id` (same queue and
	 * display); NULL when that object is gone. */
	struct wl_object *(*create_object)(void *core, uint32_t factory_id,
					   const struct wl_interface *interface,
					   uint32_t version);
	/* Queue a request on object `target_id` ahead of the hooked one; fd
	 * arguments are duplicated. No hook sees it. */
	int (*queue_request)(void *core, uint32_t target_id, uint32_t opcode,
			     union wl_argument *args);
	/* Forget an object made by create_object, after its destructor
	 * request was queued. */
	void (*destroy_object)(void *core, struct wl_object *object);
	/* The two objects (made on this side, not sent yet) trade ids: an
	 * object of the library's own made for a request that creates one
	 * of the client's goes out first, and the compositor wants new ids
	 * in order. */
	void (*swap_ids)(void *core, struct wl_object *a, struct wl_object *b);
	/* An event without arguments on object `target_id`, as if the
	 * compositor had sent it, queued behind what was received (a
	 * zwp_linux_buffer_params_v1.failed for a buffer the transport
	 * cannot pass on, say). */
	int (*queue_event)(void *core, uint32_t target_id, uint32_t opcode);
	/* From now until object `id` is destroyed, a request of any object
	 * that names it as an argument reaches the request hook, whatever
	 * hooks_interface said of that object (a wl_buffer handed to a
	 * screen capture, say). */
	int (*watch_object)(void *core, uint32_t id);
	/* From now on object `id`'s events and requests reach the hooks,
	 * whatever hooks_interface said of its interface. */
	int (*hook_object)(void *core, uint32_t id);
	/* Not from a hook: from a thread of the transport's own, with none
	 * of its locks held. Sends a wl_display.sync of the library's own
	 * (its reply is dropped) and flushes: a host that never reports a
	 * closed connection shows a dead compositor only by not answering.
	 * The transport's destroy must stop such threads. */
	void (*keepalive)(void *core);
};

struct wl_transport {
	const struct wl_transport_ops *ops;
	struct wl_transport_stats stats;
	const struct wl_transport_core *core;
	void *core_data;
};

/* transport-unix.c: a connected stream socket; takes ownership of fd. */
struct wl_transport *
wl_transport_unix_create(int fd);

/* virt-transport/: the virtio-gpu cross-domain channel on the render node
 * `device` (NULL: probe renderD128..191). On failure returns NULL with
 * errno set and a short reason in `why` for the connect error line. */
struct wl_transport *
wl_transport_virtgpu_create(const char *device, char *why, size_t why_size);

#endif
