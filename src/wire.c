/*
 * SPDX-License-Identifier: MIT
 * The Wayland wire format: message signatures, marshalling requests into
 * bytes and demarshalling events from bytes, calling listeners, and the
 * WAYLAND_DEBUG line. No other file reads or writes message bytes.
 */
#include <errno.h>
#include <ffi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wayland-private.h"

static inline uint32_t
div_roundup(uint32_t n, size_t a)
{
	return (uint32_t) (((uint64_t) n + (a - 1)) / a);
}

int
wire_arg_count(const char *signature)
{
	struct argument_details arg;
	int count = 0;

	for (;;) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == '\0')
			return count;
		count++;
	}
}

int
wire_message_since(const struct wl_message *message)
{
	const char *s = message->signature;
	int since = 0;

	while (*s >= '0' && *s <= '9') {
		since = since * 10 + (*s - '0');
		s++;
	}

	return since > 0 ? since : 1;
}

int
wire_message_fd_count(const struct wl_message *message)
{
	const char *s = message->signature;
	struct argument_details arg;
	int count = 0;

	for (;;) {
		s = wire_next_argument(s, &arg);
		if (arg.type == '\0')
			return count;
		if (arg.type == 'h')
			count++;
	}
}

bool
wl_interface_equal(const struct wl_interface *a, const struct wl_interface *b)
{
	/* Several copies of one interface may exist (one per module that
	 * generated its own code), so compare by name as upstream does. */
	return a == b || strcmp(a->name, b->name) == 0;
}

void
wl_argument_from_va_list(const char *signature, union wl_argument *args,
			 int count, va_list ap)
{
	struct argument_details arg;
	const char *sig = signature;
	int i;

	for (i = 0; i < count; i++) {
		sig = wire_next_argument(sig, &arg);

		switch (arg.type) {
		case 'i':
			args[i].i = va_arg(ap, int32_t);
			break;
		case 'u':
			args[i].u = va_arg(ap, uint32_t);
			break;
		case 'f':
			args[i].f = va_arg(ap, wl_fixed_t);
			break;
		case 's':
			args[i].s = va_arg(ap, const char *);
			break;
		case 'o':
			args[i].o = va_arg(ap, struct wl_object *);
			break;
		case 'n':
			args[i].o = va_arg(ap, struct wl_object *);
			break;
		case 'a':
			args[i].a = va_arg(ap, struct wl_array *);
			break;
		case 'h':
			args[i].h = va_arg(ap, int32_t);
			break;
		default:
			return;
		}
	}
}

static struct wl_closure *
closure_alloc(const struct wl_message *message, int count, size_t extra)
{
	struct wl_closure *closure;

	if (count > WL_CLOSURE_MAX_ARGS) {
		wl_log("too many args (%d) in message %s\n", count, message->name);
		errno = EINVAL;
		return NULL;
	}

	closure = wl_zalloc(sizeof *closure + extra);
	if (closure == NULL) {
		errno = ENOMEM;
		return NULL;
	}

	closure->message = message;
	closure->count = count;
	wl_list_init(&closure->link);

	return closure;
}

/* One argument of a request checked (a null object, string or array only
 * where nullable: -1) and its fd duplicated (the caller may close its own
 * as soon as the call returns, before the bytes are flushed: else dup's
 * errno, the argument then holding no fd). 0 when it may go. */
static int
wire_request_argument(const struct argument_details *arg,
		      union wl_argument *value)
{
	switch (arg->type) {
	case 's':
		return !arg->nullable && value->s == NULL ? -1 : 0;
	case 'o':
		return !arg->nullable && value->o == NULL ? -1 : 0;
	case 'a':
		return !arg->nullable && value->a == NULL ? -1 : 0;
	case 'h':
		value->h = wl_os_dupfd_cloexec(value->h, 0);
		return value->h < 0 ? errno : 0;
	default:
		return 0;
	}
}

/* A request's closure in the caller's memory (it lives as long as the
 * request's marshalling: no allocation per request), its fds duplicated.
 * 0, or -1 with errno after a line. */
int
wire_closure_init_request(struct wl_closure *closure, struct wl_object *sender,
			  uint32_t opcode, union wl_argument *args,
			  const struct wl_message *message)
{
	struct argument_details arg;
	const char *signature = message->signature;
	int i, err;

	closure->message = message;
	closure->opcode = opcode;
	closure->sender_id = sender->id;
	closure->proxy = NULL;
	wl_list_init(&closure->link);

	/* One walk of the signature; count covers the arguments taken so
	 * far, so a failure closes exactly the fds duplicated. */
	for (i = 0; (signature = wire_next_argument(signature, &arg)), arg.type;
	     i++) {
		if (i == WL_CLOSURE_MAX_ARGS) {
			wl_log("too many args (%d) in message %s\n",
			       wire_arg_count(message->signature),
			       message->name);
			err = EINVAL;
			goto err;
		}
		closure->args[i] = args[i];
		closure->count = i + 1;
		err = wire_request_argument(&arg, &closure->args[i]);
		if (err < 0) {
			wl_log("error marshalling arguments for %s (signature "
			       "%s): null value passed for arg %i\n",
			       message->name, message->signature, i);
			err = EINVAL;
			goto err;
		} else if (err) {
			wl_log("error marshalling arguments for %s: dup "
			       "failed: %s\n", message->name, strerror(err));
			goto err;
		}
	}
	closure->count = i;
	return 0;

err:
	closure->count = i;	/* the failed argument holds no fd of ours */
	wire_closure_close_fds(closure);
	errno = err;
	return -1;
}

struct wl_closure *
wire_closure_marshal(struct wl_object *sender, uint32_t opcode,
		     union wl_argument *args,
		     const struct wl_message *message)
{
	struct wl_closure *closure = malloc(sizeof *closure);

	if (closure == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (wire_closure_init_request(closure, sender, opcode, args,
				      message) < 0) {
		free(closure);
		return NULL;
	}
	return closure;
}

size_t
wire_closure_size(const struct wl_closure *closure)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	size_t size = WIRE_HEADER_SIZE;
	int i;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);

		switch (arg.type) {
		case 'h':
			break;
		case 's':
			size += 4;
			if (closure->args[i].s)
				size += div_roundup(strlen(closure->args[i].s) + 1, 4) * 4;
			break;
		case 'a':
			size += 4;
			if (closure->args[i].a)
				size += div_roundup(closure->args[i].a->size, 4) * 4;
			break;
		default:
			size += 4;
			break;
		}
	}

	return size;
}

void
wire_closure_serialize(const struct wl_closure *closure, uint32_t *buf)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	uint32_t *p = buf + 2;
	size_t size, len;
	int i;

	for (i = 0; i < closure->count; i++) {
		const union wl_argument *a = &closure->args[i];

		signature = wire_next_argument(signature, &arg);

		switch (arg.type) {
		case 'u':
			*p++ = a->u;
			break;
		case 'i':
			*p++ = (uint32_t) a->i;
			break;
		case 'f':
			*p++ = (uint32_t) a->f;
			break;
		case 'o':
		case 'n':
			*p++ = a->o ? a->o->id : 0;
			break;
		case 's':
			if (a->s == NULL) {
				*p++ = 0;
				break;
			}
			len = strlen(a->s) + 1;
			*p++ = (uint32_t) len;
			memcpy(p, a->s, len);
			size = div_roundup(len, 4);
			memset((char *) p + len, 0, size * 4 - len);
			p += size;
			break;
		case 'a':
			if (a->a == NULL) {
				*p++ = 0;
				break;
			}
			len = a->a->size;
			*p++ = (uint32_t) len;
			if (len > 0)
				memcpy(p, a->a->data, len);
			size = div_roundup(len, 4);
			memset((char *) p + len, 0, size * 4 - len);
			p += size;
			break;
		default:
			break;
		}
	}

	size = (char *) p - (char *) buf;
	buf[0] = closure->sender_id;
	buf[1] = (uint32_t) (size << 16) | (closure->opcode & 0xffff);
}

/* Bad input: the message ends before its arguments do. */
static void
log_too_short(const struct wl_closure *closure)
{
	wl_log("message too short, object (%u), message %s(%s)\n",
	       closure->sender_id, closure->message->name,
	       closure->message->signature);
	errno = EINVAL;
}

/*
 * Where demarshalling stands within one message: the words not yet read,
 * the fds not yet taken and the next free wl_array slot in the closure.
 */
struct wire_reader {
	struct wl_closure *closure;
	struct wl_map *objects;
	const uint32_t *p, *end;
	const int *fds;
	int nfds, nfd;
	struct wl_array *array;
};

/* Strings point into the closure's copy of the message; 0 length is NULL. */
static int
wire_read_string(struct wire_reader *r, const struct argument_details *arg,
		 union wl_argument *out)
{
	const struct wl_message *message = r->closure->message;
	uint32_t length, length_in_u32;
	char *s;

	length = *r->p++;
	if (length == 0) {
		if (!arg->nullable) {
			wl_log("NULL string received on non-nullable "
			       "type, message %s(%s)\n",
			       message->name, message->signature);
			errno = EINVAL;
			return -1;
		}
		out->s = NULL;
		return 0;
	}
	length_in_u32 = div_roundup(length, sizeof *r->p);
	if ((uint32_t) (r->end - r->p) < length_in_u32) {
		log_too_short(r->closure);
		return -1;
	}
	s = (char *) r->p;
	if (s[length - 1] != '\0') {
		wl_log("string not nul-terminated, message %s(%s)\n",
		       message->name, message->signature);
		errno = EINVAL;
		return -1;
	}
	out->s = s;
	r->p += length_in_u32;
	return 0;
}

static int
wire_read_object(struct wire_reader *r, const struct argument_details *arg,
		 union wl_argument *out)
{
	const struct wl_message *message = r->closure->message;
	uint32_t id = *r->p++;

	out->n = id;
	if (id == 0 && !arg->nullable) {
		wl_log("NULL object received on non-nullable "
		       "type, message %s(%s)\n", message->name,
		       message->signature);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* A new id is reserved in the map now, so a later message cannot take it. */
static int
wire_read_new_id(struct wire_reader *r, const struct argument_details *arg,
		 union wl_argument *out)
{
	const struct wl_message *message = r->closure->message;
	uint32_t id = *r->p++;

	out->n = id;
	if (id == 0 && !arg->nullable) {
		wl_log("NULL new ID received on non-nullable "
		       "type, message %s(%s)\n", message->name,
		       message->signature);
		errno = EINVAL;
		return -1;
	}
	if (id != 0 && wl_map_reserve_new(r->objects, id) < 0) {
		if (errno == EINVAL)
			wl_log("not a valid new object id (%u), "
			       "message %s(%s)\n", id,
			       message->name, message->signature);
		else
			wl_log("too many objects (%u), message "
			       "%s(%s)\n", id, message->name,
			       message->signature);
		return -1;
	}
	return 0;
}

static int
wire_read_array(struct wire_reader *r, union wl_argument *out)
{
	struct wl_array *array = r->array;
	uint32_t length, length_in_u32;

	length = *r->p++;
	length_in_u32 = div_roundup(length, sizeof *r->p);
	if ((uint32_t) (r->end - r->p) < length_in_u32) {
		log_too_short(r->closure);
		return -1;
	}
	array->size = length;
	array->alloc = 0;
	/* Never NULL, even when empty (memcpy of 0 bytes). */
	array->data = (void *) r->p;
	out->a = r->array++;
	r->p += length_in_u32;
	return 0;
}

/* An fd argument takes the next fd that came with the message's bytes. */
static int
wire_read_fd(struct wire_reader *r, union wl_argument *out)
{
	const struct wl_closure *closure = r->closure;

	if (r->nfd >= r->nfds) {
		wl_log("file descriptor expected, object (%u), "
		       "message %s(%s)\n", closure->sender_id,
		       closure->message->name, closure->message->signature);
		errno = EINVAL;
		return -1;
	}
	out->h = r->fds[r->nfd++];
	return 0;
}

static int
wire_read_argument(struct wire_reader *r, const struct argument_details *arg,
		   union wl_argument *out)
{
	if (arg->type != 'h' && r->p + 1 > r->end) {
		log_too_short(r->closure);
		return -1;
	}

	switch (arg->type) {
	case 'u':
		out->u = *r->p++;
		return 0;
	case 'i':
		out->i = (int32_t) *r->p++;
		return 0;
	case 'f':
		out->f = (wl_fixed_t) *r->p++;
		return 0;
	case 's':
		return wire_read_string(r, arg, out);
	case 'o':
		return wire_read_object(r, arg, out);
	case 'n':
		return wire_read_new_id(r, arg, out);
	case 'a':
		return wire_read_array(r, out);
	case 'h':
		return wire_read_fd(r, out);
	default:
		wl_log("unknown type '%c' in signature of %s\n",
		       arg->type, r->closure->message->name);
		errno = EINVAL;
		return -1;
	}
}

static int
wire_array_count(const char *signature)
{
	struct argument_details arg;
	int narrays = 0;

	for (;;) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == '\0')
			return narrays;
		if (arg.type == 'a')
			narrays++;
	}
}

struct wl_closure *
wire_closure_demarshal(const void *data, uint32_t size,
		       const int *fds, int nfds, int *fds_used,
		       struct wl_map *objects,
		       const struct wl_message *message)
{
	const char *signature = message->signature;
	struct argument_details arg;
	struct wl_closure *closure;
	struct wire_reader r;
	uint32_t length;
	int i, count, narrays;
	char *copy;

	count = wire_arg_count(signature);
	narrays = wire_array_count(signature);

	if (count > WL_CLOSURE_MAX_ARGS) {
		wl_log("too many args (%d) in message %s\n", count, message->name);
		errno = EINVAL;
		return NULL;
	}

	closure = closure_alloc(message, count,
				narrays * sizeof(struct wl_array) + size);
	if (closure == NULL)
		return NULL;

	/* Strings and arrays point into this private copy of the message. */
	copy = (char *) &closure->arrays[narrays];
	memcpy(copy, data, size);

	wire_header_parse((const uint32_t *) copy, &closure->sender_id,
			  &closure->opcode, &length);
	r = (struct wire_reader) {
		.closure = closure,
		.objects = objects,
		.p = (const uint32_t *) copy + 2,
		.end = (const uint32_t *) (copy + size),
		.fds = fds,
		.nfds = nfds,
		.array = closure->arrays,
	};

	for (i = 0; i < count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (wire_read_argument(&r, &arg, &closure->args[i]) < 0) {
			/* fds not yet taken stay with the connection,
			 * which closes them. */
			free(closure);
			return NULL;
		}
	}

	*fds_used = r.nfd;
	return closure;
}

int
wire_closure_lookup_objects(struct wl_closure *closure, struct wl_map *objects)
{
	const struct wl_message *message = closure->message;
	const char *signature = message->signature;
	struct argument_details arg;
	struct wl_object *object;
	uint32_t id;
	int i;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type != 'o')
			continue;

		id = closure->args[i].n;
		closure->args[i].o = NULL;

		object = wl_map_lookup(objects, id);
		if (wl_map_lookup_flags(objects, id) & WL_MAP_ENTRY_ZOMBIE) {
			/* An object the client already destroyed. */
			object = NULL;
		} else if (object == NULL && id != 0) {
			wl_log("unknown object (%u), message %s(%s)\n", id,
			       message->name, message->signature);
			errno = EINVAL;
			return -1;
		}

		if (object != NULL && message->types[i] != NULL &&
		    !wl_interface_equal(object->interface, message->types[i])) {
			wl_log("invalid object (%u), type (%s), message %s(%s)\n",
			       id, object->interface->name, message->name,
			       message->signature);
			errno = EINVAL;
			return -1;
		}
		closure->args[i].o = object;
	}

	return 0;
}

void
wire_closure_close_fds(struct wl_closure *closure)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	int i;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == 'h' && closure->args[i].h >= 0) {
			close(closure->args[i].h);
			closure->args[i].h = -1;
		}
	}
}

void
wire_closure_destroy(struct wl_closure *closure)
{
	free(closure);
}

void
wire_closure_invoke(struct wl_closure *closure, struct wl_object *target,
		    uint32_t opcode, void *data)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	ffi_type *types[WL_CLOSURE_MAX_ARGS + 2];
	void *values[WL_CLOSURE_MAX_ARGS + 2];
	void (* const *implementation)(void);
	ffi_cif cif;
	int i;

	types[0] = &ffi_type_pointer;
	values[0] = &data;
	types[1] = &ffi_type_pointer;
	values[1] = &target;

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);

		/* Every member of the union starts at its start. */
		values[i + 2] = &closure->args[i];
		switch (arg.type) {
		case 'i':
		case 'f':
		case 'h':
			types[i + 2] = &ffi_type_sint32;
			break;
		case 'u':
			types[i + 2] = &ffi_type_uint32;
			break;
		case 's':
		case 'o':
		case 'n':
		case 'a':
			types[i + 2] = &ffi_type_pointer;
			break;
		default:
			return;
		}
	}

	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, closure->count + 2,
			 &ffi_type_void, types) != FFI_OK) {
		wl_log("cannot call listener for %s\n", closure->message->name);
		return;
	}

	implementation = target->implementation;
	if (!implementation[opcode])
		wl_abort("listener function for opcode %u of %s is NULL\n",
			 opcode, target->interface->name);

	ffi_call(&cif, implementation[opcode], NULL, values);
}

void
wire_closure_print(const struct wl_closure *closure, struct wl_object *target,
		   bool send, bool discarded, const char *queue_name)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	struct timespec tp;
	unsigned int time;
	size_t buffer_length;
	char *buffer;
	FILE *f;
	int i;

	f = open_memstream(&buffer, &buffer_length);
	if (f == NULL)
		return;

	clock_gettime(CLOCK_REALTIME, &tp);
	time = (unsigned int) ((tp.tv_sec * 1000000L) + (tp.tv_nsec / 1000));

	fprintf(f, "[%7u.%03u] ", time / 1000, time % 1000);
	if (queue_name)
		fprintf(f, "{%s} ", queue_name);
	fprintf(f, "%s%s%s#%u.%s(",
		discarded ? "discarded " : "",
		send ? " -> " : "",
		target->interface->name, target->id,
		closure->message->name);

	for (i = 0; i < closure->count; i++) {
		const union wl_argument *a = &closure->args[i];

		signature = wire_next_argument(signature, &arg);
		if (i > 0)
			fprintf(f, ", ");

		switch (arg.type) {
		case 'u':
			fprintf(f, "%u", a->u);
			break;
		case 'i':
			fprintf(f, "%d", a->i);
			break;
		case 'f':
			/* Eight exact decimals: 1/256 = 0.00390625. */
			if (a->f >= 0)
				fprintf(f, "%d.%08d", a->f / 256,
					390625 * (a->f % 256));
			else
				fprintf(f, "-%d.%08d", a->f / -256,
					-390625 * (a->f % 256));
			break;
		case 's':
			if (a->s)
				fprintf(f, "\"%s\"", a->s);
			else
				fprintf(f, "nil");
			break;
		case 'o':
			if (a->o)
				fprintf(f, "%s#%u", a->o->interface->name,
					a->o->id);
			else
				fprintf(f, "nil");
			break;
		case 'n':
			fprintf(f, "new id %s#",
				closure->message->types[i] ?
				closure->message->types[i]->name : "[unknown]");
			if (a->o)
				fprintf(f, "%u", a->o->id);
			else
				fprintf(f, "nil");
			break;
		case 'a':
			fprintf(f, "array[%zu]", a->a ? a->a->size : 0);
			break;
		case 'h':
			fprintf(f, "fd %d", a->h);
			break;
		default:
			break;
		}
	}

	fprintf(f, ")\n");

	if (fclose(f) == 0) {
		fprintf(stderr, "%s", buffer);
		free(buffer);
	}
}
