/*
 * SPDX-License-Identifier: MIT
 * The wire format (src/wire.c): exact bytes of every argument type, the
 * round trip through the demarshaller, and each malformed input the
 * demarshaller must refuse with EINVAL instead of reading past the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wayland-client-core.h"
#include "wayland-private.h"

#include "check.h"

static const struct wl_interface thing_interface;

static const struct wl_interface *all_types[] = {
	NULL, NULL, NULL, NULL, &thing_interface, &thing_interface,
	NULL, NULL, NULL, NULL,
};

static const struct wl_message thing_messages[] = {
	{ "all", "iufsonah?s?o", all_types },
	{ "untyped", "usun", all_types },
	{ "since", "3u", all_types },
};

static const struct wl_interface thing_interface = {
	"thing", 3, 3, thing_messages, 3, thing_messages,
};

static void
silent_log(const char *fmt, va_list ap)
{
}

static void
test_serialize_every_type(void)
{
	struct wl_object sender = { &thing_interface, NULL, 7 };
	struct wl_object obj = { &thing_interface, NULL, 9 };
	struct wl_object new_obj = { &thing_interface, NULL, 10 };
	uint8_t bytes[3] = { 1, 2, 3 };
	struct wl_array array = { 3, 3, bytes };
	union wl_argument args[10];
	struct wl_closure *closure;
	uint32_t buf[64];
	size_t size;
	int fd = memfd_create("wire-test", MFD_CLOEXEC);

	memset(args, 0, sizeof args);
	args[0].i = -2;
	args[1].u = 0xdeadbeef;
	args[2].f = wl_fixed_from_double(2.5);
	args[3].s = "hello";
	args[4].o = &obj;
	args[5].o = &new_obj;
	args[6].a = &array;
	args[7].h = fd;
	args[8].s = NULL;
	args[9].o = NULL;

	closure = wire_closure_marshal(&sender, 0, args, &thing_messages[0]);
	CHECK(closure != NULL);
	if (!closure)
		return;
	/* The fd is duplicated: the caller may close its own at once. */
	CHECK(closure->args[7].h != fd && closure->args[7].h >= 0);

	size = wire_closure_size(closure);
	/* header 8, i u f 12, "hello\0" 4+8, o n 8, array 4+4, ?s 4, ?o 4 */
	CHECK(size == 8 + 12 + 12 + 8 + 8 + 4 + 4);
	wire_closure_serialize(closure, buf);

	CHECK(buf[0] == 7);
	CHECK(buf[1] == ((uint32_t) size << 16 | 0));
	CHECK((int32_t) buf[2] == -2);
	CHECK(buf[3] == 0xdeadbeef);
	CHECK(buf[4] == 640);
	CHECK(buf[5] == 6);
	CHECK(memcmp(&buf[6], "hello\0\0\0", 8) == 0);
	CHECK(buf[8] == 9);
	CHECK(buf[9] == 10);
	CHECK(buf[10] == 3);
	CHECK(memcmp(&buf[11], "\1\2\3\0", 4) == 0);
	CHECK(buf[12] == 0);
	CHECK(buf[13] == 0);

	wire_closure_close_fds(closure);
	wire_closure_destroy(closure);
	close(fd);
}

static void
test_null_for_non_nullable(void)
{
	struct wl_object sender = { &thing_interface, NULL, 7 };
	union wl_argument args[10];
	struct wl_closure *closure;

	memset(args, 0, sizeof args);
	args[7].h = -1;
	errno = 0;
	closure = wire_closure_marshal(&sender, 0, args, &thing_messages[0]);
	CHECK(closure == NULL);
	CHECK(errno == EINVAL);
}

/* A well-formed "all" event from object 7, and its fd. */
static size_t
build_event(uint32_t *buf, uint32_t new_id)
{
	uint32_t *p = buf + 2;

	*p++ = (uint32_t) -2;
	*p++ = 42;
	*p++ = 256;
	*p++ = 6;
	memcpy(p, "hello\0\0\0", 8);
	p += 2;
	*p++ = 1;		/* object 1 exists in the map */
	*p++ = new_id;
	*p++ = 3;
	memcpy(p++, "\1\2\3\0", 4);
	*p++ = 0;
	*p++ = 0;
	buf[0] = 7;
	buf[1] = (uint32_t) ((p - buf) * 4) << 16;

	return (p - buf) * 4;
}

static void
test_demarshal_round_trip(void)
{
	struct wl_object obj1 = { &thing_interface, NULL, 1 };
	struct wl_closure *closure;
	uint32_t buf[64];
	struct wl_map map;
	size_t size;
	int fds[1] = { 5 }, used = -1;

	wl_map_init(&map);
	wl_map_insert_new(&map, 0, NULL);
	wl_map_insert_new(&map, 0, &obj1);

	size = build_event(buf, WL_SERVER_ID_START);
	closure = wire_closure_demarshal(buf, size, fds, 1, &used, &map,
					 &thing_messages[0]);
	CHECK(closure != NULL);
	if (closure) {
		CHECK(used == 1);
		CHECK(closure->args[0].i == -2);
		CHECK(closure->args[1].u == 42);
		CHECK(closure->args[2].f == 256);
		CHECK(strcmp(closure->args[3].s, "hello") == 0);
		CHECK(closure->args[5].n == WL_SERVER_ID_START);
		CHECK(closure->args[6].a->size == 3);
		CHECK(memcmp(closure->args[6].a->data, "\1\2\3", 3) == 0);
		CHECK(closure->args[7].h == 5);
		CHECK(closure->args[8].s == NULL);
		CHECK(wire_closure_lookup_objects(closure, &map) == 0);
		CHECK(closure->args[4].o == &obj1);
		CHECK(closure->args[9].o == NULL);
		wire_closure_destroy(closure);
	}

	/* The same new id again collides with the one just reserved. */
	wl_map_insert_at(&map, 0, WL_SERVER_ID_START, &obj1);
	errno = 0;
	closure = wire_closure_demarshal(buf, size, fds, 1, &used, &map,
					 &thing_messages[0]);
	CHECK(closure == NULL && errno == EINVAL);

	/* A server may not name a client-range id as new. */
	size = build_event(buf, 55);
	errno = 0;
	closure = wire_closure_demarshal(buf, size, fds, 1, &used, &map,
					 &thing_messages[0]);
	CHECK(closure == NULL && errno == EINVAL);

	wl_map_release(&map);
}

static void
expect_refused(const char *what, uint32_t *buf, size_t size, int nfds)
{
	struct wl_closure *closure;
	struct wl_map map;
	int fds[1] = { 5 }, used;

	wl_map_init(&map);
	errno = 0;
	closure = wire_closure_demarshal(buf, size, fds, nfds, &used, &map,
					 &thing_messages[0]);
	if (closure != NULL || errno != EINVAL) {
		fprintf(stderr, "malformed input accepted: %s\n", what);
		failures++;
		if (closure)
			wire_closure_destroy(closure);
	}
	wl_map_release(&map);
}

static void
test_demarshal_malformed(void)
{
	uint32_t buf[64];
	size_t size;

	size = build_event(buf, WL_SERVER_ID_START);
	expect_refused("missing fd", buf, size, 0);

	for (size_t cut = 8; cut < size; cut += 4)
		expect_refused("truncated message", buf, cut, 1);

	size = build_event(buf, WL_SERVER_ID_START);
	buf[5] = 1000;		/* string longer than the message */
	expect_refused("string past the end", buf, size, 1);

	size = build_event(buf, WL_SERVER_ID_START);
	memcpy(&buf[6], "hellohel", 8);	/* no NUL */
	expect_refused("string without NUL", buf, size, 1);

	size = build_event(buf, WL_SERVER_ID_START);
	buf[5] = 0;		/* NULL for a non-nullable string */
	expect_refused("null string", buf, size, 1);

	size = build_event(buf, WL_SERVER_ID_START);
	buf[8] = 0;		/* NULL for a non-nullable object */
	expect_refused("null object", buf, size, 1);

	size = build_event(buf, WL_SERVER_ID_START);
	buf[10] = 0x7fffffff;	/* array longer than the message */
	expect_refused("array past the end", buf, size, 1);

	size = build_event(buf, 0);
	expect_refused("null new id", buf, size, 1);
}

static void
test_since_and_fd_count(void)
{
	CHECK(wire_message_since(&thing_messages[0]) == 1);
	CHECK(wire_message_since(&thing_messages[2]) == 3);
	CHECK(wire_arg_count(thing_messages[0].signature) == 10);
	CHECK(wire_message_fd_count(&thing_messages[0]) == 1);
}

int
main(void)
{
	wl_log_set_handler_client(silent_log);

	test_serialize_every_type();
	test_null_for_non_nullable();
	test_demarshal_round_trip();
	test_demarshal_malformed();
	test_since_and_fd_count();

	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("wire: all checks passed\n");
	return 0;
}
