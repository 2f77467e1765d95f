/*
 * SPDX-License-Identifier: MIT
 * What the files of libwayland-client share and nothing outside sees:
 * the object map, closures (one message with its arguments), the
 * connection buffers and the logging helpers.
 */
#ifndef WAYLAND_PRIVATE_H
#define WAYLAND_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "wayland-util.h"

#define WL_SERVER_ID_START 0xff000000
#define WL_MAP_MAX_OBJECTS 0x00f00000
#define WL_CLOSURE_MAX_ARGS 20
/* At most this many fds travel in one sendmsg (as upstream). */
#define WL_MAX_FDS_OUT 28

struct wl_object {
	const struct wl_interface *interface;
	const void *implementation;
	uint32_t id;
};

/* ---- util.c: ids <-> objects ---------------------------------------- */

/* Entry flag: the object was destroyed by the client and waits for
 * delete_id; the entry's pointer is then a struct wl_zombie. */
#define WL_MAP_ENTRY_ZOMBIE (1 << 0)

struct wl_map {
	struct wl_array client_entries;
	struct wl_array server_entries;
	uint32_t free_list;
};

void
wl_map_init(struct wl_map *map);

void
wl_map_release(struct wl_map *map);

uint32_t
wl_map_insert_new(struct wl_map *map, uint32_t flags, void *data);

int
wl_map_insert_at(struct wl_map *map, uint32_t flags, uint32_t id, void *data);

int
wl_map_reserve_new(struct wl_map *map, uint32_t id);

void
wl_map_remove(struct wl_map *map, uint32_t id);

void *
wl_map_lookup(struct wl_map *map, uint32_t id);

uint32_t
wl_map_lookup_flags(struct wl_map *map, uint32_t id);

typedef enum wl_iterator_result (*wl_iterator_func_t)(void *element,
						      void *data,
						      uint32_t flags);
void
wl_map_for_each(struct wl_map *map, wl_iterator_func_t func, void *data);

void
wl_log(const char *fmt, ...) WL_PRINTF(1, 2);

void __attribute__((noreturn))
wl_abort(const char *fmt, ...) WL_PRINTF(1, 2);

int
wl_os_dupfd_cloexec(int fd, int minfd);

/* Zeroed memory for what is made and freed at every message (closures,
 * proxies): glibc's calloc() never takes from the per-thread cache that
 * malloc() does, and costs several times as much. */
void *
wl_zalloc(size_t size);

/* ---- wire.c: signatures and closures --------------------------------- */

struct argument_details {
	char type;
	int nullable;
};

/* The next argument of a signature and the rest after it; type '\0' at its
 * end. Inline: every marshalled or dispatched message walks its signature
 * several times. */
static inline const char *
wire_next_argument(const char *signature, struct argument_details *details)
{
	details->nullable = 0;
	for (; *signature; ++signature) {
		switch (*signature) {
		case 'i':
		case 'u':
		case 'f':
		case 's':
		case 'o':
		case 'n':
		case 'a':
		case 'h':
			details->type = *signature;
			return signature + 1;
		case '?':
			details->nullable = 1;
			break;
		default:
			break;
		}
	}
	details->type = '\0';
	return signature;
}

int
wire_arg_count(const char *signature);

int
wire_message_since(const struct wl_message *message);

int
wire_message_fd_count(const struct wl_message *message);

bool
wl_interface_equal(const struct wl_interface *a, const struct wl_interface *b);

/* One request or event with its arguments. For a received event the
 * strings and arrays point into a private copy of the message bytes. */
struct wl_closure {
	int count;
	const struct wl_message *message;
	uint32_t opcode;
	uint32_t sender_id;
	union wl_argument args[WL_CLOSURE_MAX_ARGS];
	struct wl_list link;
	struct wl_proxy *proxy;
	struct wl_array arrays[];
};

void
wl_argument_from_va_list(const char *signature, union wl_argument *args,
			 int count, va_list ap);

int
wire_closure_init_request(struct wl_closure *closure, struct wl_object *sender,
			  uint32_t opcode, union wl_argument *args,
			  const struct wl_message *message);
struct wl_closure *
wire_closure_marshal(struct wl_object *sender, uint32_t opcode,
		     union wl_argument *args,
		     const struct wl_message *message);

/* Size in bytes the closure takes on the wire. */
size_t
wire_closure_size(const struct wl_closure *closure);

/* Write the closure's header and arguments (not its fds) to buf, which
 * holds wire_closure_size() bytes. */
void
wire_closure_serialize(const struct wl_closure *closure, uint32_t *buf);

/* Parse one received message of `size` bytes addressed to an object of
 * the given message table; fds are taken from fds[0..nfds). On success
 * *fds_used says how many were taken. NULL with errno set on bad input. */
struct wl_closure *
wire_closure_demarshal(const void *data, uint32_t size,
		       const int *fds, int nfds, int *fds_used,
		       struct wl_map *objects,
		       const struct wl_message *message);

/* Replace object ids by the objects in the map; checks interface types. */
int
wire_closure_lookup_objects(struct wl_closure *closure, struct wl_map *objects);

void
wire_closure_close_fds(struct wl_closure *closure);

void
wire_closure_destroy(struct wl_closure *closure);

/* Call implementation[opcode](data, target, args...). */
void
wire_closure_invoke(struct wl_closure *closure, struct wl_object *target,
		    uint32_t opcode, void *data);

/* The WAYLAND_DEBUG line for a closure, upstream's format. */
void
wire_closure_print(const struct wl_closure *closure, struct wl_object *target,
		   bool send, bool discarded, const char *queue_name);

/* Message header helpers: the only place the header layout is known. */
#define WIRE_HEADER_SIZE 8

static inline void
wire_header_parse(const uint32_t p[2], uint32_t *id, uint32_t *opcode,
		  uint32_t *size)
{
	*id = p[0];
	*opcode = p[1] & 0xffff;
	*size = p[1] >> 16;
}

/* ---- connection.c: buffered bytes and fds over a transport ----------- */

struct wl_transport;
struct wl_connection;

struct wl_connection *
wl_connection_create(struct wl_transport *transport, size_t max_buffer_size);

void
wl_connection_destroy(struct wl_connection *connection);

void
wl_connection_set_max_buffer_size(struct wl_connection *connection,
				  size_t max_buffer_size);

int
wl_connection_get_fd(struct wl_connection *connection);

/* What the library itself polls for readable (transport.h, get_wait_fd). */
int
wl_connection_get_wait_fd(struct wl_connection *connection);

void
wl_connection_reader_waiting(struct wl_connection *connection, bool waiting);

struct wl_transport *
wl_connection_get_transport(struct wl_connection *connection);

/* Queue a closure's bytes and fds for sending (flushing when full). */
int
wl_connection_queue_closure(struct wl_connection *connection,
			    const struct wl_closure *closure);

int
wl_connection_flush(struct wl_connection *connection);

/* Exported but not upstream API (README.md, "Libraries of this package
 * only"): wl_shm pool memory from the transport, for our
 * libwayland-cursor, which looks it up with dlsym() so that it also runs
 * on another libwayland-client. Returns an fd for wl_shm.create_pool on
 * `shm`'s connection with *size bytes or more (*size then says how many)
 * mapped at *data; the caller munmaps and closes both. -1 with errno:
 * ENOTSUP when the connection has no such memory (a Unix socket: use a
 * memfd). */
struct wl_shm;
int
wayland_virtgpu_shm_memory_create(struct wl_shm *shm, size_t *size,
				  void **data);

/* A reader is about to wait: tells the transport when nothing waits to be
 * sent (else the flush that comes next does). */
void
wl_connection_idle(struct wl_connection *connection);

/* Read what is available; returns bytes now buffered, 0 at end of
 * stream, -1 with errno. */
int
wl_connection_read(struct wl_connection *connection);

/* The buffered incoming bytes and fds (contiguous). */
const void *
wl_connection_in_data(struct wl_connection *connection, size_t *len);

const int *
wl_connection_in_fds(struct wl_connection *connection, int *nfds);

void
wl_connection_consume(struct wl_connection *connection, size_t bytes,
		      int fds);

void
wl_connection_close_fds_in(struct wl_connection *connection, int max);

#endif
