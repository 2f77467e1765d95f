/*
 * SPDX-License-Identifier: MIT
 * Reading and dispatching events: turning received bytes into queued
 * events, the prepare_read / read_events / cancel_read protocol between
 * threads, and the dispatch and roundtrip entry points.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client-private.h"
#include "transport.h"
#include "wayland-client-protocol.h"

/* The display this thread waits on in display_poll, until it reads or
 * cancels (transport.h, reader_waiting). */
static __thread struct wl_display *waiting_on;

static void
reader_wait_end(struct wl_display *display)
{
	if (waiting_on != display)
		return;
	waiting_on = NULL;
	wl_connection_reader_waiting(display->connection, false);
}

/* Give proxies to the objects the compositor created in this event. */
static int
create_proxies(struct wl_proxy *sender, struct wl_closure *closure)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	struct wl_proxy *proxy;
	uint32_t id;
	int i;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type != 'n')
			continue;

		id = closure->args[i].n;
		if (id == 0) {
			closure->args[i].o = NULL;
			continue;
		}
		if (closure->message->types[i] == NULL) {
			wl_log("new id %u of unknown interface in %s.%s\n", id,
			       sender->object.interface->name,
			       closure->message->name);
			errno = EPROTO;
			return -1;
		}
		proxy = proxy_create_for_id(sender, id,
					    closure->message->types[i]);
		if (proxy == NULL)
			return -1;
		closure->args[i].o = &proxy->object;
	}

	return 0;
}

static void
closure_ref_objects(struct wl_closure *closure)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	int i;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == 'o' && closure->args[i].o)
			((struct wl_proxy *) closure->args[i].o)->refcount++;
	}
	closure->proxy->refcount++;
}

/* Close the fds and free the new ids of a closure that failed before it
 * was queued. */
static void
closure_abandon(struct wl_closure *closure, bool proxies_created)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	int i;

	wire_closure_close_fds(closure);
	for (i = 0; proxies_created && i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == 'n' && closure->args[i].o)
			proxy_destroy((struct wl_proxy *) closure->args[i].o);
	}
	wire_closure_destroy(closure);
}

/* An event for proxy, at the end of its queue: it holds the objects it
 * names until it is dispatched. */
void
display_queue_closure(struct wl_display *display, struct wl_proxy *proxy,
		      struct wl_closure *closure)
{
	struct wl_event_queue *queue;

	closure->proxy = proxy;
	closure_ref_objects(closure);

	if (proxy == &display->proxy)
		queue = &display->display_queue;
	else
		queue = proxy->queue;

	if (queue == NULL)
		wl_abort("Tried to add event to destroyed queue\n");

	wl_list_insert(queue->event_list.prev, &closure->link);
}

/*
 * An event for an object the client destroyed (or never had): drop it, and
 * the fds it carries as far as we know them. Returns the bytes consumed.
 */
static int
discard_event(struct wl_display *display, struct wl_proxy *proxy,
	      uint32_t id, uint32_t opcode, uint32_t size)
{
	struct wl_connection *connection = display->connection;
	struct wl_zombie *zombie = NULL;
	int zombie_fds = 0;

	if (proxy)
		zombie = (struct wl_zombie *) proxy;
	if (zombie && (int) opcode < zombie->event_count)
		zombie_fds = zombie->fd_count[opcode];

	if (wl_debug_client) {
		struct timespec tp;
		unsigned int time;

		clock_gettime(CLOCK_REALTIME, &tp);
		time = (unsigned int) ((tp.tv_sec * 1000000L) +
				       (tp.tv_nsec / 1000));
		fprintf(stderr, "[%7u.%03u] discarded [%s]#%u.[event %u]"
			"(%d fd, %u byte)\n", time / 1000, time % 1000,
			zombie ? "zombie" : "unknown", id, opcode,
			zombie_fds, size);
	}

	wl_connection_close_fds_in(connection, zombie_fds);
	wl_connection_consume(connection, size, 0);
	return (int) size;
}

/*
 * Offer a demarshalled event to the transport's hook, if the proxy asked
 * for it. Returns 0 to queue the event; otherwise the closure is gone and
 * the result is queue_event's.
 */
static int
transport_filter_event(struct wl_display *display, struct wl_proxy *proxy,
		       uint32_t opcode, struct wl_closure *closure,
		       uint32_t size)
{
	struct wl_transport *transport;
	int hook;

	transport = wl_connection_get_transport(display->connection);
	hook = transport->ops->event && (proxy->flags & WL_PROXY_FLAG_HOOKED) ?
	       transport->ops->event(transport, &proxy->object, opcode,
				     closure->message, closure->args) : 0;
	if (hook == 0)
		return 0;

	/* Dropped: the client never learns of it. */
	if (hook < 0 && errno == 0)
		errno = EPROTO;
	closure_abandon(closure, true);
	return hook < 0 ? -1 : (int) size;
}

/*
 * Parse the first buffered message and queue it. Returns its size, 0 when
 * the message is not complete yet, -1 with errno on bad input.
 */
static int
queue_event(struct wl_display *display, size_t len)
{
	struct wl_connection *connection = display->connection;
	const struct wl_message *message;
	struct wl_closure *closure;
	struct wl_proxy *proxy;
	uint32_t header[2], id, opcode, size;
	const uint8_t *data;
	const int *fds;
	int nfds, used = 0, filtered;

	data = wl_connection_in_data(connection, &len);
	if (len < WIRE_HEADER_SIZE)
		return 0;
	memcpy(header, data, sizeof header);
	wire_header_parse(header, &id, &opcode, &size);

	if (size < WIRE_HEADER_SIZE || size % 4 != 0) {
		wl_log("error: invalid message size %u from the compositor "
		       "(object %u, opcode %u)\n", size, id, opcode);
		errno = EINVAL;
		return -1;
	}
	if (len < size)
		return 0;

	fds = wl_connection_in_fds(connection, &nfds);

	proxy = wl_map_lookup(&display->objects, id);
	if (proxy == NULL ||
	    (wl_map_lookup_flags(&display->objects, id) & WL_MAP_ENTRY_ZOMBIE))
		return discard_event(display, proxy, id, opcode, size);

	if ((int) opcode >= proxy->object.interface->event_count) {
		wl_log("interface '%s' has no event %u\n",
		       proxy->object.interface->name, opcode);
		errno = EPROTO;
		return -1;
	}

	message = &proxy->object.interface->events[opcode];
	closure = wire_closure_demarshal(data, size, fds, nfds, &used,
					 &display->objects, message);
	if (closure == NULL)
		return -1;
	wl_connection_consume(connection, size, used);

	if (create_proxies(proxy, closure) < 0) {
		closure_abandon(closure, false);
		return -1;
	}

	if (wire_closure_lookup_objects(closure, &display->objects) != 0) {
		closure_abandon(closure, true);
		return -1;
	}

	filtered = transport_filter_event(display, proxy, opcode, closure, size);
	if (filtered != 0)
		return filtered;

	display_queue_closure(display, proxy, closure);
	return (int) size;
}

static void
display_wakeup_threads(struct wl_display *display)
{
	/* Readers waiting for this round can leave; a later round has a new
	 * serial. */
	++display->read_serial;
	pthread_cond_broadcast(&display->reader_cond);
}

static int
read_events(struct wl_display *display)
{
	int total, size;
	uint32_t serial;

	display->reader_count--;
	if (display->reader_count == 0) {
		total = wl_connection_read(display->connection);
		if (total == -1) {
			if (errno == EAGAIN) {
				/* Spurious wakeup: nothing to read yet. */
				display_wakeup_threads(display);
				return 0;
			}
			display_fatal_error(display, errno);
			return -1;
		} else if (total == 0) {
			/* The compositor closed the connection. */
			errno = EPIPE;
			display_fatal_error(display, errno);
			return -1;
		}

		for (;;) {
			size = queue_event(display, (size_t) total);
			if (size == -1) {
				display_fatal_error(display, errno);
				return -1;
			} else if (size == 0) {
				break;
			}
		}

		display_wakeup_threads(display);
	} else {
		serial = display->read_serial;
		while (display->read_serial == serial)
			pthread_cond_wait(&display->reader_cond,
					  &display->mutex);

		if (display->last_error) {
			errno = display->last_error;
			return -1;
		}
	}

	return 0;
}

static void
cancel_read(struct wl_display *display)
{
	display->reader_count--;
	if (display->reader_count == 0)
		display_wakeup_threads(display);
}

WL_EXPORT int
wl_display_read_events(struct wl_display *display)
{
	int ret;

	reader_wait_end(display);
	pthread_mutex_lock(&display->mutex);

	if (display->last_error) {
		cancel_read(display);
		pthread_mutex_unlock(&display->mutex);
		errno = display->last_error;
		return -1;
	}

	ret = read_events(display);

	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wl_display_prepare_read_queue(struct wl_display *display,
			      struct wl_event_queue *queue)
{
	int ret;

	pthread_mutex_lock(&display->mutex);

	if (!wl_list_empty(&queue->event_list)) {
		errno = EAGAIN;
		ret = -1;
	} else {
		display->reader_count++;
		wl_connection_idle(display->connection);
		ret = 0;
	}

	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wl_display_prepare_read(struct wl_display *display)
{
	return wl_display_prepare_read_queue(display, &display->default_queue);
}

WL_EXPORT void
wl_display_cancel_read(struct wl_display *display)
{
	reader_wait_end(display);
	pthread_mutex_lock(&display->mutex);
	cancel_read(display);
	pthread_mutex_unlock(&display->mutex);
}

static void
dispatch_event(struct wl_display *display, struct wl_event_queue *queue)
{
	struct wl_object *held[WL_CLOSURE_MAX_ARGS];
	const char *signature;
	struct argument_details arg;
	struct wl_closure *closure;
	struct wl_proxy *proxy;
	bool delivered = false;
	uint32_t opcode;
	int i;

	closure = wl_container_of(queue->event_list.next, closure, link);
	wl_list_remove(&closure->link);
	opcode = closure->opcode;
	proxy = closure->proxy;

	/* Objects the client destroyed since the event was queued are
	 * passed as NULL. */
	signature = closure->message->signature;
	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		held[i] = closure->args[i].o;
		if (arg.type == 'o' && closure->args[i].o &&
		    (((struct wl_proxy *) closure->args[i].o)->flags &
		     WL_PROXY_FLAG_DESTROYED))
			closure->args[i].o = NULL;
	}

	if (proxy->flags & WL_PROXY_FLAG_DESTROYED) {
		if (wl_debug_client)
			wire_closure_print(closure, &proxy->object, false, true,
					   queue->name);
	} else if (proxy->dispatcher) {
		if (wl_debug_client)
			wire_closure_print(closure, &proxy->object, false, false,
					   queue->name);
		delivered = true;
		pthread_mutex_unlock(&display->mutex);
		proxy->dispatcher(proxy->object.implementation, proxy, opcode,
				  closure->message, closure->args);
		pthread_mutex_lock(&display->mutex);
	} else if (proxy->object.implementation) {
		if (wl_debug_client)
			wire_closure_print(closure, &proxy->object, false, false,
					   queue->name);
		delivered = true;
		pthread_mutex_unlock(&display->mutex);
		wire_closure_invoke(closure, &proxy->object, opcode,
				    proxy->user_data);
		pthread_mutex_lock(&display->mutex);
	} else if (wl_debug_client) {
		wire_closure_print(closure, &proxy->object, false, true,
				   queue->name);
	}

	for (i = 0; i < closure->count; i++)
		closure->args[i].o = held[i];
	queue_destroy_closure(closure, delivered);
}

/* With the display locked: dispatch the display's own events, then the
 * queue's (all, or one when `single`). Returns the number dispatched. */
int
display_dispatch_queue(struct wl_display *display,
		       struct wl_event_queue *queue, bool single)
{
	int count = 0;

	if (display->last_error)
		goto err;

	while (!wl_list_empty(&display->display_queue.event_list)) {
		dispatch_event(display, &display->display_queue);
		if (display->last_error)
			goto err;
		count++;
	}

	while (!wl_list_empty(&queue->event_list)) {
		dispatch_event(display, queue);
		if (display->last_error)
			goto err;
		count++;
		if (single)
			return 1;
	}

	return single ? 0 : count;

err:
	errno = display->last_error;
	return -1;
}

WL_EXPORT int
wl_display_dispatch_queue_pending(struct wl_display *display,
				  struct wl_event_queue *queue)
{
	int ret;

	pthread_mutex_lock(&display->mutex);
	ret = display_dispatch_queue(display, queue, false);
	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wl_display_dispatch_queue_pending_single(struct wl_display *display,
					 struct wl_event_queue *queue)
{
	int ret;

	pthread_mutex_lock(&display->mutex);
	ret = display_dispatch_queue(display, queue, true);
	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wl_display_dispatch_pending(struct wl_display *display)
{
	return wl_display_dispatch_queue_pending(display,
						 &display->default_queue);
}

WL_EXPORT int
wl_display_dispatch_pending_single(struct wl_display *display)
{
	return wl_display_dispatch_queue_pending_single(display,
							&display->default_queue);
}

static void
timespec_sub_now(struct timespec *remaining, const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	remaining->tv_sec = deadline->tv_sec - now.tv_sec;
	remaining->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (remaining->tv_nsec < 0) {
		remaining->tv_sec--;
		remaining->tv_nsec += 1000000000L;
	}
	if (remaining->tv_sec < 0) {
		remaining->tv_sec = 0;
		remaining->tv_nsec = 0;
	}
}

/* Wait for `events` on the display fd; 1 when ready, 0 on timeout. */
static int
display_poll(struct wl_display *display, short events,
	     const struct timespec *deadline)
{
	struct pollfd pfd = {
		.fd = events & POLLOUT ?
			wl_connection_get_fd(display->connection) :
			wl_connection_get_wait_fd(display->connection),
		.events = events,
	};
	struct timespec remaining;
	int ret;

	if ((events & POLLIN) && waiting_on != display) {
		if (waiting_on)
			reader_wait_end(waiting_on);
		waiting_on = display;
		wl_connection_reader_waiting(display->connection, true);
	}
	do {
		if (deadline) {
			timespec_sub_now(&remaining, deadline);
			ret = ppoll(&pfd, 1, &remaining, NULL);
		} else {
			ret = ppoll(&pfd, 1, NULL, NULL);
		}
	} while (ret == -1 && errno == EINTR);

	return ret;
}

static int
dispatch_queue_until(struct wl_display *display, struct wl_event_queue *queue,
		     const struct timespec *timeout)
{
	struct timespec deadline, *deadline_p = NULL;
	int ret;

	if (timeout) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout->tv_sec;
		deadline.tv_nsec += timeout->tv_nsec;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		deadline_p = &deadline;
	}

	if (wl_display_prepare_read_queue(display, queue) == -1)
		return wl_display_dispatch_queue_pending(display, queue);

	for (;;) {
		ret = wl_display_flush(display);
		if (ret != -1 || errno != EAGAIN)
			break;

		ret = display_poll(display, POLLOUT, deadline_p);
		if (ret <= 0) {
			wl_display_cancel_read(display);
			return ret;
		}
	}

	/* A flush hitting EPIPE goes on, so the protocol error that made
	 * the compositor hang up can still be read. */
	if (ret < 0 && errno != EPIPE) {
		wl_display_cancel_read(display);
		return -1;
	}

	ret = display_poll(display, POLLIN, deadline_p);
	if (ret <= 0) {
		wl_display_cancel_read(display);
		return ret;
	}

	if (wl_display_read_events(display) == -1)
		return -1;

	return wl_display_dispatch_queue_pending(display, queue);
}

WL_EXPORT int
wl_display_dispatch_queue(struct wl_display *display,
			  struct wl_event_queue *queue)
{
	return dispatch_queue_until(display, queue, NULL);
}

WL_EXPORT int
wl_display_dispatch_queue_timeout(struct wl_display *display,
				  struct wl_event_queue *queue,
				  const struct timespec *timeout)
{
	return dispatch_queue_until(display, queue, timeout);
}

WL_EXPORT int
wl_display_dispatch(struct wl_display *display)
{
	return dispatch_queue_until(display, &display->default_queue, NULL);
}

WL_EXPORT int
wl_display_dispatch_timeout(struct wl_display *display,
			    const struct timespec *timeout)
{
	return dispatch_queue_until(display, &display->default_queue, timeout);
}

static void
sync_callback(void *data, struct wl_callback *callback, uint32_t serial)
{
	int *done = data;

	*done = 1;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener sync_listener = {
	sync_callback
};

WL_EXPORT int
wl_display_roundtrip_queue(struct wl_display *display,
			   struct wl_event_queue *queue)
{
	struct wl_display *display_wrapper;
	struct wl_callback *callback;
	int done = 0, ret = 0;

	display_wrapper = wl_proxy_create_wrapper(display);
	if (!display_wrapper)
		return -1;

	wl_proxy_set_queue((struct wl_proxy *) display_wrapper, queue);
	callback = wl_display_sync(display_wrapper);
	wl_proxy_wrapper_destroy(display_wrapper);

	if (callback == NULL)
		return -1;

	wl_callback_add_listener(callback, &sync_listener, &done);
	while (!done && ret >= 0)
		ret = wl_display_dispatch_queue(display, queue);

	if (ret == -1 && !done)
		wl_callback_destroy(callback);

	return ret;
}

WL_EXPORT int
wl_display_roundtrip(struct wl_display *display)
{
	return wl_display_roundtrip_queue(display, &display->default_queue);
}
