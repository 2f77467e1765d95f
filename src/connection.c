/*
 * SPDX-License-Identifier: MIT
 * The connection's buffers: outgoing bytes and fds waiting to be flushed,
 * incoming bytes and fds waiting to be parsed, both bounded by the
 * maximum buffer size (4096 bytes unless the client sets another).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"
#include "wayland-private.h"

/* Room for fds received in one read (the kernel's SCM_MAX_FD). */
#define CONNECTION_MAX_FDS_READ 253
#define CONNECTION_READ_CHUNK 4096

struct byte_buffer {
	uint8_t *data;
	size_t head;		/* first byte not yet consumed */
	size_t tail;		/* one past the last byte */
	size_t capacity;
};

struct wl_connection {
	struct wl_transport *transport;
	struct byte_buffer in;
	struct byte_buffer out;
	int *fds_in;
	int nfds_in;
	int fds_in_capacity;
	int fds_out[WL_MAX_FDS_OUT];
	int nfds_out;
	/* The queued messages: where each ends and which fds are its. */
	struct wl_transport_message *messages;
	int nmessages;
	int messages_capacity;
	size_t max_size;	/* 0: unbounded */
};

static size_t
buffer_used(const struct byte_buffer *b)
{
	return b->tail - b->head;
}

/* Make room for `need` more bytes after tail, growing within `max`. */
static int
buffer_reserve(struct byte_buffer *b, size_t need, size_t max)
{
	size_t used = buffer_used(b), capacity;
	uint8_t *data;

	if (b->capacity - b->tail >= need)
		return 0;

	if (b->head >= 4) {
		/* Keep the offset within a word so messages stay aligned. */
		size_t shift = b->head & ~(size_t) 3;

		memmove(b->data, b->data + shift, b->tail - shift);
		b->head -= shift;
		b->tail -= shift;
		if (b->capacity - b->tail >= need)
			return 0;
	}

	if (max != 0 && used + need > max) {
		wl_log("Data too big for buffer (%zu + %zu > %zu).\n",
		       used, need, max);
		errno = E2BIG;
		return -1;
	}

	capacity = b->capacity ? b->capacity : 4096;
	while (capacity < b->tail + need)
		capacity *= 2;
	if (max != 0 && capacity > max + 3)
		capacity = max + 3;

	data = realloc(b->data, capacity);
	if (data == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = data;
	b->capacity = capacity;

	return 0;
}

struct wl_connection *
wl_connection_create(struct wl_transport *transport, size_t max_buffer_size)
{
	struct wl_connection *connection;

	connection = calloc(1, sizeof *connection);
	if (connection == NULL)
		return NULL;

	connection->transport = transport;
	connection->max_size = max_buffer_size;

	return connection;
}

static void
close_fds(int *fds, int count)
{
	int i;

	for (i = 0; i < count; i++)
		close(fds[i]);
}

void
wl_connection_destroy(struct wl_connection *connection)
{
	/* The transport first: its threads may still use the connection
	 * (a keepalive flushes) until it has stopped them. */
	connection->transport->ops->destroy(connection->transport);
	close_fds(connection->fds_in, connection->nfds_in);
	close_fds(connection->fds_out, connection->nfds_out);
	free(connection->fds_in);
	free(connection->messages);
	free(connection->in.data);
	free(connection->out.data);
	free(connection);
}

void
wl_connection_set_max_buffer_size(struct wl_connection *connection,
				  size_t max_buffer_size)
{
	size_t size = 1;

	if (max_buffer_size == 0) {
		connection->max_size = 0;
		return;
	}

	/* The limit is a power of two, rounded up (as upstream). */
	while (size < max_buffer_size && size < ((size_t) 1 << 62))
		size <<= 1;
	connection->max_size = size;
}

struct wl_transport *
wl_connection_get_transport(struct wl_connection *connection)
{
	return connection->transport;
}

int
wl_connection_get_fd(struct wl_connection *connection)
{
	return connection->transport->ops->get_fd(connection->transport);
}

void
wl_connection_reader_waiting(struct wl_connection *connection, bool waiting)
{
	struct wl_transport *transport = connection->transport;

	if (transport->ops->reader_waiting)
		transport->ops->reader_waiting(transport, waiting);
}

int
wl_connection_get_wait_fd(struct wl_connection *connection)
{
	struct wl_transport *transport = connection->transport;

	if (transport->ops->get_wait_fd)
		return transport->ops->get_wait_fd(transport);
	return transport->ops->get_fd(transport);
}

/* Account for bytes and fds a send took: whole messages leave the list,
 * a partly sent one (Unix sockets) keeps its remaining size. */
static void
messages_consume(struct wl_connection *connection, size_t bytes, int fds)
{
	struct wl_transport_message *m = connection->messages;
	int i, done = 0;

	for (i = 0; i < connection->nmessages && fds > 0; i++) {
		uint32_t n = m[i].nfds < (uint32_t) fds ? m[i].nfds : (uint32_t) fds;

		m[i].nfds -= n;
		fds -= n;
	}

	while (done < connection->nmessages && bytes >= m[done].size) {
		bytes -= m[done].size;
		done++;
	}
	if (done < connection->nmessages)
		m[done].size -= (uint32_t) bytes;

	memmove(m, m + done, (connection->nmessages - done) * sizeof *m);
	connection->nmessages -= done;
}

static int
messages_append(struct wl_connection *connection, uint32_t size, int nfds)
{
	struct wl_transport_message *grown;

	if (connection->nmessages == connection->messages_capacity) {
		int capacity = connection->messages_capacity * 2 + 64;

		grown = realloc(connection->messages, capacity * sizeof *grown);
		if (grown == NULL) {
			errno = ENOMEM;
			return -1;
		}
		connection->messages = grown;
		connection->messages_capacity = capacity;
	}

	connection->messages[connection->nmessages].size = size;
	connection->messages[connection->nmessages].nfds = (uint32_t) nfds;
	connection->nmessages++;

	return 0;
}

void
wl_connection_idle(struct wl_connection *connection)
{
	struct wl_transport *transport = connection->transport;

	if (buffer_used(&connection->out) == 0 && transport->ops->idle)
		transport->ops->idle(transport);
}

int
wl_connection_flush(struct wl_connection *connection)
{
	struct wl_transport *transport = connection->transport;
	struct byte_buffer *out = &connection->out;
	int total = 0, taken;
	ssize_t len;

	while (buffer_used(out) > 0) {
		taken = 0;
		len = transport->ops->send(transport, out->data + out->head,
					   buffer_used(out),
					   connection->fds_out,
					   connection->nfds_out, &taken,
					   connection->messages,
					   connection->nmessages);
		if (len < 0)
			return -1;

		close_fds(connection->fds_out, taken);
		memmove(connection->fds_out, connection->fds_out + taken,
			(connection->nfds_out - taken) * sizeof(int));
		connection->nfds_out -= taken;
		messages_consume(connection, (size_t) len, taken);

		out->head += len;
		total += len;
	}
	out->head = out->tail = 0;
	if (transport->ops->idle)
		transport->ops->idle(transport);

	return total;
}

int
wl_connection_queue_closure(struct wl_connection *connection,
			    const struct wl_closure *closure)
{
	struct byte_buffer *out = &connection->out;
	const char *signature = closure->message->signature;
	struct argument_details arg;
	size_t size;
	int i, nfds;

	size = wire_closure_size(closure);
	if (size > 0xffff) {
		/* The header's size field has 16 bits. */
		wl_log("Data too big for a message (%zu > 65535).\n", size);
		errno = E2BIG;
		return -1;
	}

	nfds = wire_message_fd_count(closure->message);
	if (connection->nfds_out + nfds > WL_MAX_FDS_OUT) {
		if (wl_connection_flush(connection) < 0)
			return -1;
	}

	if (connection->max_size != 0 &&
	    buffer_used(out) + size > connection->max_size) {
		/* Only a full buffer is sent early (as upstream): one
		 * sendmsg per 4096 bytes, not one per small message. A full
		 * socket is fine as long as the buffer can take the
		 * message. */
		if (wl_connection_flush(connection) < 0 && errno != EAGAIN)
			return -1;
	}

	if (buffer_reserve(out, size, connection->max_size) < 0)
		return -1;
	if (messages_append(connection, (uint32_t) size, nfds) < 0)
		return -1;

	wire_closure_serialize(closure, (uint32_t *) (out->data + out->tail));
	out->tail += size;

	for (i = 0; nfds > 0 && i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == 'h') {
			/* The connection owns the closure's dup'ed fd now. */
			connection->fds_out[connection->nfds_out++] =
				closure->args[i].h;
		}
	}

	return 0;
}

int
wl_connection_read(struct wl_connection *connection)
{
	struct wl_transport *transport = connection->transport;
	struct byte_buffer *in = &connection->in;
	int fds[CONNECTION_MAX_FDS_READ];
	size_t room;
	ssize_t len;
	int nfds = 0;

	room = CONNECTION_READ_CHUNK;
	if (connection->max_size != 0) {
		if (buffer_used(in) >= connection->max_size) {
			/* A message larger than the buffer can never
			 * complete. */
			wl_log("Data too big for buffer (%zu + 1 > %zu).\n",
			       buffer_used(in), connection->max_size);
			errno = E2BIG;
			return -1;
		}
		if (room > connection->max_size - buffer_used(in))
			room = connection->max_size - buffer_used(in);
	}
	if (buffer_reserve(in, room, connection->max_size) < 0)
		return -1;

	len = transport->ops->recv(transport, in->data + in->tail, room,
				   fds, &nfds, CONNECTION_MAX_FDS_READ);
	if (len < 0)
		return -1;

	if (nfds > 0) {
		if (connection->nfds_in + nfds > connection->fds_in_capacity) {
			int capacity = connection->nfds_in + nfds + 16;
			int *grown = realloc(connection->fds_in,
					     capacity * sizeof(int));

			if (grown == NULL) {
				close_fds(fds, nfds);
				errno = ENOMEM;
				return -1;
			}
			connection->fds_in = grown;
			connection->fds_in_capacity = capacity;
		}
		memcpy(connection->fds_in + connection->nfds_in, fds,
		       nfds * sizeof(int));
		connection->nfds_in += nfds;
	}

	if (len == 0)
		return 0;

	in->tail += len;

	return (int) buffer_used(in);
}

const void *
wl_connection_in_data(struct wl_connection *connection, size_t *len)
{
	*len = buffer_used(&connection->in);
	return connection->in.data + connection->in.head;
}

const int *
wl_connection_in_fds(struct wl_connection *connection, int *nfds)
{
	*nfds = connection->nfds_in;
	return connection->fds_in;
}

void
wl_connection_consume(struct wl_connection *connection, size_t bytes, int fds)
{
	connection->in.head += bytes;
	if (connection->in.head == connection->in.tail)
		connection->in.head = connection->in.tail = 0;

	if (fds > 0) {
		memmove(connection->fds_in, connection->fds_in + fds,
			(connection->nfds_in - fds) * sizeof(int));
		connection->nfds_in -= fds;
	}
}

void
wl_connection_close_fds_in(struct wl_connection *connection, int max)
{
	int n = max < connection->nfds_in ? max : connection->nfds_in;

	close_fds(connection->fds_in, n);
	wl_connection_consume(connection, 0, n);
}
