/*
 * Wire format, byte for byte: requests of every argument type as the client
 * writes them, and events of every argument type as a compositor writes
 * them, decoded to the same values. fds keep their order both ways.
 */

#include <fcntl.h>

#include "raw.h"

static void
read_request(struct raw *raw, uint32_t *buf, size_t words, int *fds,
	     int *nfds)
{
	check_int(wl_display_flush(raw->display), ==, words * 4);
	raw_read(raw, buf, words * 4, fds, nfds);
}

static void
check_words(const uint32_t *got, const uint32_t *want, size_t words)
{
	size_t i;

	for (i = 0; i < words; i++)
		if (got[i] != want[i])
			beh_fail(__FILE__, __LINE__,
				 "word %zu: got 0x%08x, want 0x%08x",
				 i, got[i], want[i]);
}

BEH_TEST(wire_connect_requests)
{
	/* get_registry, then wl_registry.bind with its untyped new_id:
	 * interface name, version and id on the wire. */
	struct raw raw;
	uint32_t buf[12];
	const uint32_t want[] = {
		1, raw_header(12, 1), 2,
		2, raw_header(36, 0), 7,
		9, 0x5f686562, 0x74736574, 0x00000000,	/* "beh_test\0" */
		2, 3,
	};
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	raw.fd = sv[1];
	raw.display = wl_display_connect_to_fd(sv[0]);
	check(raw.display != NULL);
	check_int(wl_proxy_get_id((struct wl_proxy *) raw.display), ==, 1);
	raw.registry = wl_display_get_registry(raw.display);
	raw.test = wl_registry_bind(raw.registry, 7, &beh_test_interface, 2);
	read_request(&raw, buf, 12, NULL, NULL);
	check_words(buf, want, 12);
	raw_disconnect(&raw);
}

BEH_TEST(wire_request_every_type)
{
	struct raw raw;
	struct beh_obj *obj, *obj2;
	struct wl_array array;
	uint32_t buf[32];
	int fd, fds[RAW_MAX_FDS], nfds;
	const uint32_t want1[] = {
		3, raw_header(56, 1),
		(uint32_t) -5, 0xdeadbeef, (uint32_t) -384,
		6, 0x6c6c6568, 0x0000006f,	/* "hello\0" + 2 zero bytes */
		0,				/* null string */
		0,				/* null object */
		4,				/* new id */
		5, 0x04030201, 0x00000005,	/* 5-byte array + padding */
	};
	const uint32_t want2[] = {
		3, raw_header(48, 1),
		0x7fffffff, 0, 256 * 1000,
		1, 0,				/* "" */
		2, 0x00000078,			/* "x" */
		4,				/* beh_obj#4 */
		5,				/* new id */
		0,				/* empty array */
	};
	unsigned char bytes[] = { 1, 2, 3, 4, 5 };

	raw_connect(&raw);
	fd = beh_memfd("every type");

	wl_array_init(&array);
	memcpy(wl_array_add(&array, sizeof bytes), bytes, sizeof bytes);
	obj = beh_test_everything(raw.test, -5, 0xdeadbeef,
				  wl_fixed_from_double(-1.5), "hello", NULL,
				  NULL, &array, fd);
	check(obj != NULL);
	check_int(wl_proxy_get_id((struct wl_proxy *) obj), ==, 4);
	read_request(&raw, buf, 14, fds, &nfds);
	check_words(buf, want1, 14);
	check_int(nfds, ==, 1);
	/* The fd sent is a duplicate of ours, and ours stays open. */
	check(fds[0] != fd);
	check(beh_same_file(fds[0], fd));
	close(fds[0]);
	check(fcntl(fd, F_GETFD) >= 0);

	wl_array_release(&array);
	wl_array_init(&array);
	obj2 = beh_test_everything(raw.test, 0x7fffffff, 0,
				   wl_fixed_from_int(1000), "", "x", obj,
				   &array, fd);
	check_int(wl_proxy_get_id((struct wl_proxy *) obj2), ==, 5);
	read_request(&raw, buf, 12, fds, &nfds);
	check_words(buf, want2, 12);
	check_int(nfds, ==, 1);
	close(fds[0]);

	close(fd);
	beh_obj_destroy(obj);
	beh_obj_destroy(obj2);
	raw_disconnect(&raw);
}

BEH_TEST(wire_request_untyped_new_id)
{
	struct raw raw;
	struct beh_obj *obj;
	uint32_t buf[8];
	const uint32_t want[] = {
		3, raw_header(28, 2),
		8, 0x5f686562, 0x006a626f,	/* "beh_obj\0" */
		2,				/* version */
		4,				/* id */
	};

	raw_connect(&raw);
	obj = beh_test_bind_any(raw.test, &beh_obj_interface, 2);
	check(obj != NULL);
	check_int(wl_proxy_get_version((struct wl_proxy *) obj), ==, 2);
	check_str(wl_proxy_get_class((struct wl_proxy *) obj), "beh_obj");
	read_request(&raw, buf, 7, NULL, NULL);
	check_words(buf, want, 7);
	wl_proxy_destroy((struct wl_proxy *) obj);
	raw_disconnect(&raw);
}

BEH_TEST(wire_request_fds_in_order)
{
	struct raw raw;
	uint32_t buf[4];
	int mine[6], got[RAW_MAX_FDS], ngot;
	int i;
	const uint32_t want[] = {
		3, raw_header(8, 3), 3, raw_header(8, 3),
	};

	raw_connect(&raw);
	for (i = 0; i < 6; i++)
		mine[i] = beh_memfd("x");
	beh_test_send_fds(raw.test, mine[0], mine[1], mine[2]);
	beh_test_send_fds(raw.test, mine[3], mine[4], mine[5]);
	read_request(&raw, buf, 4, got, &ngot);
	check_words(buf, want, 4);
	check_int(ngot, ==, 6);
	for (i = 0; i < 6; i++) {
		if (!beh_same_file(got[i], mine[i]))
			beh_fail(__FILE__, __LINE__, "fd %d out of order", i);
		close(got[i]);
		close(mine[i]);
	}
	raw_disconnect(&raw);
}

BEH_TEST(wire_request_exactly_4096_bytes)
{
	/* The largest request every libwayland accepts by default. */
	struct raw raw;
	struct wl_array array;
	static uint32_t buf[1024];
	const size_t payload = 4096 - 12;

	raw_connect(&raw);
	wl_array_init(&array);
	memset(wl_array_add(&array, payload), 0xab, payload);
	beh_test_noop(raw.test, &array);
	read_request(&raw, buf, 1024, NULL, NULL);
	check_int(buf[0], ==, 3);
	check_int(buf[1], ==, raw_header(4096, 5));
	check_int(buf[2], ==, payload);
	check_int(buf[3], ==, 0xabababab);
	check_int(buf[1023], ==, 0xabababab);
	check_int(wl_display_get_error(raw.display), ==, 0);
	wl_array_release(&array);
	raw_disconnect(&raw);
}

struct events {
	int everything, fds, pong;
	int32_t i;
	uint32_t u;
	wl_fixed_t f;
	char s[64];
	bool ns_null;
	struct beh_obj *o;
	void *any;
	struct beh_obj *id;
	unsigned char a[16];
	size_t a_size;
	int fd;
	int fd_list[6];
	uint32_t serial;
};

static void
test_everything(void *data, struct beh_test *test, int32_t i, uint32_t u,
		wl_fixed_t f, const char *s, const char *ns, struct beh_obj *o,
		void *any, struct beh_obj *id, struct wl_array *a, int32_t fd)
{
	struct events *ev = data;

	ev->everything++;
	ev->i = i;
	ev->u = u;
	ev->f = f;
	snprintf(ev->s, sizeof ev->s, "%s", s);
	ev->ns_null = ns == NULL;
	ev->o = o;
	ev->any = any;
	ev->id = id;
	check(a->size <= sizeof ev->a);
	memcpy(ev->a, a->data, a->size);
	ev->a_size = a->size;
	ev->fd = fd;
}

static void
test_fds(void *data, struct beh_test *test, int32_t a, int32_t b, int32_t c)
{
	struct events *ev = data;

	check(ev->fds < 2);
	ev->fd_list[ev->fds * 3 + 0] = a;
	ev->fd_list[ev->fds * 3 + 1] = b;
	ev->fd_list[ev->fds * 3 + 2] = c;
	ev->fds++;
}

static void
test_noop_count(void *data, struct beh_test *test, uint32_t count)
{
}

static void
test_pong(void *data, struct beh_test *test, uint32_t serial)
{
	struct events *ev = data;

	ev->pong++;
	ev->serial = serial;
}

static const struct beh_test_listener events_listener = {
	test_everything, test_fds, test_noop_count, test_pong,
};

BEH_TEST(wire_event_every_type)
{
	struct raw raw;
	struct events ev = { 0 };
	struct beh_obj *obj;
	char text[32];
	int fd;
	const uint32_t msg[] = {
		3, raw_header(60, 0),
		(uint32_t) -123456, 0xfffffffe, (uint32_t) -1,	/* f = -1/256 */
		9, 0, 0, 0,					/* "hello w!" */
		0,						/* null string */
		4,						/* beh_obj#4 */
		3,						/* beh_test#3 */
		0xff000000,					/* new id */
		3, 0x00ccbbaa,					/* 3-byte array */
	};

	raw_connect(&raw);
	obj = beh_test_create_obj(raw.test);
	check_int(wl_proxy_get_id((struct wl_proxy *) obj), ==, 4);
	beh_test_add_listener(raw.test, &events_listener, &ev);
	fd = beh_memfd("event fd");
	/* "hello w!" is 9 bytes with its NUL, padded to 12. */
	{
		uint32_t m[16];

		memcpy(m, msg, sizeof msg);
		memcpy(&m[6], "hello w!", 9);
		memset((char *) &m[6] + 9, 0, 3);
		raw_write(&raw, m, sizeof msg, &fd, 1);
	}
	check_int(wl_display_dispatch(raw.display), ==, 1);
	check_int(ev.everything, ==, 1);
	check_int(ev.i, ==, -123456);
	check_int(ev.u, ==, 0xfffffffe);
	check_int(ev.f, ==, -1);
	check_str(ev.s, "hello w!");
	check(ev.ns_null);
	check(ev.o == obj);
	check(ev.any == (void *) raw.test);
	check(ev.id != NULL);
	check_int(wl_proxy_get_id((struct wl_proxy *) ev.id), ==, 0xff000000);
	check_str(wl_proxy_get_class((struct wl_proxy *) ev.id), "beh_obj");
	/* A server-created object inherits the version of its creator. */
	check_int(wl_proxy_get_version((struct wl_proxy *) ev.id), ==, 3);
	check_int(ev.a_size, ==, 3);
	check_int(ev.a[0], ==, 0xaa);
	check_int(ev.a[2], ==, 0xcc);
	check(ev.fd >= 0 && ev.fd != fd);
	check(beh_same_file(ev.fd, fd));
	check(fcntl(ev.fd, F_GETFD) & FD_CLOEXEC);
	beh_read_fd(ev.fd, text, sizeof text);
	check_str(text, "event fd");
	close(ev.fd);
	close(fd);
	wl_proxy_destroy((struct wl_proxy *) ev.id);
	beh_obj_destroy(obj);
	raw_disconnect(&raw);
}

BEH_TEST(wire_event_fds_in_order)
{
	struct raw raw;
	struct events ev = { 0 };
	int mine[6], i;
	const uint32_t msg[] = {
		3, raw_header(8, 1), 3, raw_header(8, 1),
	};

	raw_connect(&raw);
	beh_test_add_listener(raw.test, &events_listener, &ev);
	for (i = 0; i < 6; i++)
		mine[i] = beh_memfd("x");
	/* Both messages' fds in one SCM_RIGHTS, as a compositor may do. */
	raw_write(&raw, msg, sizeof msg, mine, 6);
	check_int(wl_display_dispatch_pending(raw.display), ==, 0);
	while (ev.fds < 2)
		check_int(wl_display_dispatch(raw.display), >, 0);
	for (i = 0; i < 6; i++) {
		if (!beh_same_file(ev.fd_list[i], mine[i]))
			beh_fail(__FILE__, __LINE__, "fd %d out of order", i);
		check(ev.fd_list[i] != mine[i]);
		close(ev.fd_list[i]);
	}
	for (i = 0; i < 6; i++)
		close(mine[i]);
	raw_disconnect(&raw);
}

BEH_TEST(wire_event_split_across_reads)
{
	/* A message cut anywhere arrives whole once its last byte does. */
	struct raw raw;
	struct events ev = { 0 };
	const uint32_t msg[] = { 3, raw_header(12, 3), 77 };

	raw_connect(&raw);
	beh_test_add_listener(raw.test, &events_listener, &ev);
	raw_write(&raw, msg, 5, NULL, 0);
	check_int(wl_display_prepare_read(raw.display), ==, 0);
	check_int(wl_display_read_events(raw.display), ==, 0);
	check_int(wl_display_dispatch_pending(raw.display), ==, 0);
	check_int(ev.pong, ==, 0);
	raw_write(&raw, (const char *) msg + 5, 7, NULL, 0);
	check_int(wl_display_dispatch(raw.display), ==, 1);
	check_int(ev.pong, ==, 1);
	check_int(ev.serial, ==, 77);
	raw_disconnect(&raw);
}
