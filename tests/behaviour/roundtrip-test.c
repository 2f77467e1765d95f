/*
 * Values of every argument type survive a trip through a real compositor
 * (the system's libwayland-server) and back, fds included, in order.
 */

#include <fcntl.h>

#include "harness.h"

struct echo {
	int everything, fds, pongs;
	int32_t i;
	uint32_t u;
	wl_fixed_t f;
	char s[5000];
	char ns[64];
	bool ns_null;
	struct beh_obj *o;
	void *any;
	struct beh_obj *id;
	unsigned char a[256];
	size_t a_size;
	int fd;
	int fd3[3];
	const int *expect;	/* when set, fds events must match it, in order */
	uint32_t serial;
};

static void
test_everything(void *data, struct beh_test *test, int32_t i, uint32_t u,
		wl_fixed_t f, const char *s, const char *ns, struct beh_obj *o,
		void *any, struct beh_obj *id, struct wl_array *a, int32_t fd)
{
	struct echo *e = data;

	e->everything++;
	e->i = i;
	e->u = u;
	e->f = f;
	snprintf(e->s, sizeof e->s, "%s", s);
	e->ns_null = ns == NULL;
	snprintf(e->ns, sizeof e->ns, "%s", ns ? ns : "");
	e->o = o;
	e->any = any;
	e->id = id;
	check(a->size <= sizeof e->a);
	memcpy(e->a, a->data, a->size);
	e->a_size = a->size;
	e->fd = fd;
}

static void
test_fds(void *data, struct beh_test *test, int32_t a, int32_t b, int32_t c)
{
	struct echo *e = data;

	e->fd3[0] = a;
	e->fd3[1] = b;
	e->fd3[2] = c;
	if (e->expect) {
		int k;

		for (k = 0; k < 3; k++) {
			if (!beh_same_payload(e->expect[e->fds * 3 + k],
					      e->fd3[k]))
				beh_fail(__FILE__, __LINE__,
					 "event %d: fd %d out of order",
					 e->fds, k);
			close(e->fd3[k]);
		}
	}
	e->fds++;
}

static void
test_noop_count(void *data, struct beh_test *test, uint32_t count)
{
}

static void
test_pong(void *data, struct beh_test *test, uint32_t serial)
{
	struct echo *e = data;

	e->pongs++;
	e->serial = serial;
}

static const struct beh_test_listener echo_listener = {
	test_everything, test_fds, test_noop_count, test_pong,
};

static void
echo_everything(struct beh_client *c, struct echo *e, int32_t i, uint32_t u,
		wl_fixed_t f, const char *s, const char *ns, struct beh_obj *o,
		const void *bytes, size_t size)
{
	struct wl_array array;
	struct beh_obj *created;
	char text[64];
	int fd;

	wl_array_init(&array);
	if (size)
		memcpy(wl_array_add(&array, size), bytes, size);
	fd = beh_sendable_fd(s);
	memset(e, 0, sizeof *e);
	created = beh_test_everything(c->test, i, u, f, s, ns, o, &array, fd);
	check(created != NULL);
	check_int(wl_display_roundtrip(c->display), >, 0);
	check_int(e->everything, ==, 1);
	check_int(e->i, ==, i);
	check_int(e->u, ==, u);
	check_int(e->f, ==, f);
	check_str(e->s, s);
	check(e->ns_null == (ns == NULL));
	if (ns)
		check_str(e->ns, ns);
	check(e->o == o);
	check(e->any == (void *) c->test);
	check(e->id != NULL && e->id != created);
	check_int(wl_proxy_get_id((struct wl_proxy *) e->id), >=, 0xff000000);
	check_int(e->a_size, ==, size);
	check(size == 0 || memcmp(e->a, bytes, size) == 0);
	check(beh_same_payload(fd, e->fd));
	beh_fd_text(e->fd, text, sizeof text);
	check(strncmp(text, s, sizeof text - 1) == 0);
	close(e->fd);
	close(fd);
	wl_array_release(&array);
	beh_obj_destroy(created);
	beh_obj_destroy(e->id);
}

BEH_TEST(roundtrip_every_type)
{
	struct beh_client c;
	struct echo *e = calloc(1, sizeof *e);
	struct beh_obj *obj;
	static char long_string[4000];
	unsigned char bytes[200];
	size_t i;

	beh_client_connect(&c, 3);
	beh_test_add_listener(c.test, &echo_listener, e);
	obj = beh_test_create_obj(c.test);

	for (i = 0; i < sizeof bytes; i++)
		bytes[i] = i * 7;
	memset(long_string, 'q', sizeof long_string - 1);

	echo_everything(&c, e, 0, 0, 0, "", NULL, NULL, NULL, 0);
	echo_everything(&c, e, -1, 0xffffffff, wl_fixed_from_double(-0.5),
			"a", "", obj, bytes, 1);
	echo_everything(&c, e, INT32_MIN, 1, INT32_MAX, "utf-8 \xc3\xa9", "ns",
			obj, bytes, sizeof bytes);
	echo_everything(&c, e, INT32_MAX, 0x80000000, INT32_MIN, long_string,
			NULL, NULL, bytes, 3);

	beh_obj_destroy(obj);
	free(e);
	beh_client_disconnect(&c);
}

BEH_TEST(roundtrip_fds_both_ways_in_order)
{
	struct beh_client c;
	struct echo e = { 0 };
	int mine[3], round, k;

	beh_client_connect(&c, 3);
	beh_test_add_listener(c.test, &echo_listener, &e);
	for (round = 0; round < 20; round++) {
		for (k = 0; k < 3; k++) {
			char text[2] = { 'a' + k, '\0' };

			mine[k] = beh_sendable_fd(text);
		}
		e.fds = 0;
		beh_test_send_fds(c.test, mine[0], mine[1], mine[2]);
		check_int(wl_display_roundtrip(c.display), >, 0);
		check_int(e.fds, ==, 1);
		for (k = 0; k < 3; k++) {
			if (!beh_same_payload(mine[k], e.fd3[k]))
				beh_fail(__FILE__, __LINE__,
					 "round %d: fd %d out of order",
					 round, k);
			close(e.fd3[k]);
			close(mine[k]);
		}
	}
	beh_client_disconnect(&c);
}

BEH_TEST(roundtrip_many_fds_queued)
{
	/* More fds than one sendmsg carries (28): all arrive, in order. */
	struct beh_client c;
	struct echo e = { 0 };
	int mine[60], i;

	beh_client_connect(&c, 3);
	beh_test_add_listener(c.test, &echo_listener, &e);
	for (i = 0; i < 60; i++) {
		char text[8];

		/* Distinct, so order shows where files cannot be compared
		 * (over virtgpu the fds come back as new host memory). */
		snprintf(text, sizeof text, "m%d", i);
		mine[i] = beh_sendable_fd(text);
	}
	for (i = 0; i < 60; i += 3)
		beh_test_send_fds(c.test, mine[i], mine[i + 1], mine[i + 2]);
	e.expect = mine;
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(e.fds, ==, 20);
	for (i = 0; i < 60; i++)
		close(mine[i]);
	beh_client_disconnect(&c);
}

struct obj_events {
	uint32_t version;
	int versions, pings, fds;
	uint32_t last_ping;
	char fd_text[16][16];
};

static void
obj_fd(void *data, struct beh_obj *obj, int32_t fd)
{
	struct obj_events *ev = data;

	check(ev->fds < 16);
	beh_fd_text(fd, ev->fd_text[ev->fds], sizeof ev->fd_text[0]);
	ev->fds++;
	close(fd);
}

static void
obj_ping(void *data, struct beh_obj *obj, uint32_t n)
{
	struct obj_events *ev = data;

	check_int(n, ==, ev->pings);
	ev->pings++;
	ev->last_ping = n;
}

static void
obj_version(void *data, struct beh_obj *obj, uint32_t version)
{
	struct obj_events *ev = data;

	ev->versions++;
	ev->version = version;
}

static const struct beh_obj_listener obj_listener = {
	obj_fd, obj_ping, obj_version,
};

static uint32_t
server_version(struct beh_client *c, struct beh_obj *obj)
{
	struct obj_events ev = { 0 };

	check(beh_obj_add_listener(obj, &obj_listener, &ev) == 0);
	beh_obj_query_version(obj);
	check_int(wl_display_roundtrip(c->display), >, 0);
	check_int(ev.versions, ==, 1);
	wl_proxy_set_user_data((struct wl_proxy *) obj, NULL);
	return ev.version;
}

BEH_TEST(roundtrip_versions)
{
	struct beh_client c;
	struct beh_obj *typed, *untyped, *flagged;

	beh_client_connect(&c, 2);
	check_int(wl_proxy_get_version((struct wl_proxy *) c.display), ==, 0);
	check_int(wl_proxy_get_version((struct wl_proxy *) c.registry), ==, 0);
	check_int(wl_proxy_get_version((struct wl_proxy *) c.test), ==, 2);

	/* A typed new_id inherits the factory's version. */
	typed = beh_test_create_obj(c.test);
	check_int(wl_proxy_get_version((struct wl_proxy *) typed), ==, 2);
	check_int(server_version(&c, typed), ==, 2);

	/* An untyped new_id takes the version given. */
	untyped = beh_test_bind_any(c.test, &beh_obj_interface, 1);
	check_int(wl_proxy_get_version((struct wl_proxy *) untyped), ==, 1);
	check_int(server_version(&c, untyped), ==, 1);

	/* marshal_flags with an explicit version sets the proxy's. */
	flagged = (struct beh_obj *) wl_proxy_marshal_flags(
		(struct wl_proxy *) c.test, BEH_TEST_CREATE_OBJ,
		&beh_obj_interface, 3, 0, NULL);
	check(flagged != NULL);
	check_int(wl_proxy_get_version((struct wl_proxy *) flagged), ==, 3);
	/* The compositor gives objects from create_obj its own version. */
	check_int(server_version(&c, flagged), ==, 2);

	beh_obj_destroy(typed);
	beh_obj_destroy(untyped);
	beh_obj_destroy(flagged);
	beh_client_disconnect(&c);
}

BEH_TEST(roundtrip_events_in_order)
{
	struct beh_client c;
	struct beh_obj *obj;
	struct obj_events ev = { 0 };
	int i;

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	beh_obj_add_listener(obj, &obj_listener, &ev);
	beh_obj_send_pings(obj, 1000);
	beh_obj_send_fds(obj, 10);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(ev.pings, ==, 1000);
	check_int(ev.fds, ==, 10);
	for (i = 0; i < 10; i++) {
		char want[16];

		snprintf(want, sizeof want, "fd%d", i);
		check_str(ev.fd_text[i], want);
	}
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(roundtrip_marshal_flags_destroy)
{
	/* WL_MARSHAL_FLAG_DESTROY sends the request and destroys the proxy:
	 * the compositor sees the destructor (delete_id comes back) and the id
	 * is reused. The roundtrip's own callback id is freed too, so the
	 * id comes back in one of the next two proxies. */
	struct beh_client c;
	struct beh_obj *obj, *a, *b;
	uint32_t id;

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	id = wl_proxy_get_id((struct wl_proxy *) obj);
	wl_proxy_marshal_flags((struct wl_proxy *) obj, BEH_OBJ_DESTROY, NULL,
			       wl_proxy_get_version((struct wl_proxy *) obj),
			       WL_MARSHAL_FLAG_DESTROY);
	check_int(wl_display_roundtrip(c.display), >, 0);
	a = beh_test_create_obj(c.test);
	b = beh_test_create_obj(c.test);
	check(wl_proxy_get_id((struct wl_proxy *) a) == id ||
	      wl_proxy_get_id((struct wl_proxy *) b) == id);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_obj_destroy(a);
	beh_obj_destroy(b);
	beh_client_disconnect(&c);
}
