/*
 * Proxies: user data, tags, listeners, dispatchers, wrappers, delete_id and
 * events that arrive for proxies the client already destroyed (zombies),
 * whose fds must be closed.
 */

#include <fcntl.h>

#include "harness.h"

struct pings {
	int count;
	void *data_seen;
	uint32_t last;
};

static void
obj_ping(void *data, struct beh_obj *obj, uint32_t n)
{
	struct pings *p = wl_proxy_get_user_data((struct wl_proxy *) obj);

	check(p == data);
	p->count++;
	p->data_seen = data;
	p->last = n;
}

static const struct beh_obj_listener obj_listener = {
	beh_obj_close_fd, obj_ping, beh_obj_ignore_version,
};

BEH_TEST(proxy_user_data_and_listener)
{
	struct beh_client c;
	struct beh_obj *obj;
	struct pings a = { 0 }, b = { 0 };

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	check(wl_proxy_get_user_data((struct wl_proxy *) obj) == NULL);
	check(wl_proxy_get_listener((struct wl_proxy *) obj) == NULL);
	check_int(beh_obj_add_listener(obj, &obj_listener, &a), ==, 0);
	check(wl_proxy_get_listener((struct wl_proxy *) obj) == &obj_listener);
	check(beh_obj_get_user_data(obj) == &a);

	/* A second listener is refused and changes nothing. */
	beh_log_capture();
	check_int(beh_obj_add_listener(obj, &obj_listener, &b), ==, -1);
	check(beh_obj_get_user_data(obj) == &a);
	check(beh_log_contains("already has listener"));

	beh_obj_send_pings(obj, 3);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(a.count, ==, 3);
	check(a.data_seen == &a);

	/* set_user_data changes what the next event's handler gets. */
	beh_obj_set_user_data(obj, &b);
	beh_obj_send_pings(obj, 2);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(a.count, ==, 3);
	check_int(b.count, ==, 2);
	check_int(b.last, ==, 1);

	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_no_listener_drops_events)
{
	struct beh_client c;
	struct beh_obj *obj;

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	beh_obj_send_pings(obj, 5);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_tags)
{
	static const char *tag_a = "tag a";
	static const char *tag_b = "tag b";
	struct beh_client c;
	struct beh_obj *obj;

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	check(wl_proxy_get_tag((struct wl_proxy *) obj) == NULL);
	wl_proxy_set_tag((struct wl_proxy *) obj, &tag_a);
	check(wl_proxy_get_tag((struct wl_proxy *) obj) == &tag_a);
	wl_proxy_set_tag((struct wl_proxy *) obj, &tag_b);
	check(wl_proxy_get_tag((struct wl_proxy *) obj) == &tag_b);
	wl_proxy_set_tag((struct wl_proxy *) obj, NULL);
	check(wl_proxy_get_tag((struct wl_proxy *) obj) == NULL);
	check(wl_proxy_get_tag((struct wl_proxy *) c.test) == NULL);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_id_and_class)
{
	struct beh_client c;
	struct beh_obj *obj;

	beh_client_connect(&c, 3);
	check_int(wl_proxy_get_id((struct wl_proxy *) c.display), ==, 1);
	check_str(wl_proxy_get_class((struct wl_proxy *) c.display),
		  "wl_display");
	check_int(wl_proxy_get_id((struct wl_proxy *) c.registry), ==, 2);
	check_str(wl_proxy_get_class((struct wl_proxy *) c.registry),
		  "wl_registry");
	check_str(wl_proxy_get_class((struct wl_proxy *) c.test), "beh_test");
	obj = beh_test_create_obj(c.test);
	check_str(wl_proxy_get_class((struct wl_proxy *) obj), "beh_obj");
	check_int(wl_proxy_get_id((struct wl_proxy *) obj), <, 0xff000000);
	check_int(wl_proxy_get_id((struct wl_proxy *) obj), >, 2);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

struct dispatched {
	int count;
	uint32_t opcode;
	char name[32];
	char signature[32];
	uint32_t n;
	const void *implementation;
	struct wl_proxy *target;
};

static int
dispatcher(const void *implementation, void *target, uint32_t opcode,
	   const struct wl_message *message, union wl_argument *args)
{
	struct wl_proxy *proxy = target;
	struct dispatched *d = wl_proxy_get_user_data(proxy);

	d->count++;
	d->opcode = opcode;
	snprintf(d->name, sizeof d->name, "%s", message->name);
	snprintf(d->signature, sizeof d->signature, "%s", message->signature);
	d->n = args[0].u;
	d->implementation = implementation;
	d->target = proxy;
	return 0;
}

BEH_TEST(proxy_dispatcher)
{
	static const int impl_token;
	struct beh_client c;
	struct beh_obj *obj;
	struct dispatched d = { 0 };

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	check_int(wl_proxy_add_dispatcher((struct wl_proxy *) obj, dispatcher,
					  &impl_token, &d), ==, 0);
	check(wl_proxy_get_listener((struct wl_proxy *) obj) == &impl_token);
	check(wl_proxy_get_user_data((struct wl_proxy *) obj) == &d);
	/* Listener and dispatcher exclude each other. */
	beh_log_capture();
	check_int(beh_obj_add_listener(obj, &obj_listener, NULL), ==, -1);
	check_int(wl_proxy_add_dispatcher((struct wl_proxy *) obj, dispatcher,
					  &impl_token, &d), ==, -1);

	beh_obj_send_pings(obj, 4);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(d.count, ==, 4);
	check_int(d.opcode, ==, 1);	/* beh_obj.ping */
	check_str(d.name, "ping");
	check_str(d.signature, "u");
	check_int(d.n, ==, 3);
	check(d.implementation == &impl_token);
	check(d.target == (struct wl_proxy *) obj);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_wrapper)
{
	struct beh_client c;
	struct beh_test *wrapper;
	struct wl_event_queue *queue;
	struct beh_obj *obj;
	struct pings p = { 0 };

	beh_client_connect(&c, 2);
	queue = wl_display_create_queue(c.display);
	wrapper = wl_proxy_create_wrapper(c.test);
	check(wrapper != NULL);
	check(wrapper != c.test);
	check_int(wl_proxy_get_id((struct wl_proxy *) wrapper), ==,
		  wl_proxy_get_id((struct wl_proxy *) c.test));
	check_str(wl_proxy_get_class((struct wl_proxy *) wrapper), "beh_test");
	check_int(wl_proxy_get_version((struct wl_proxy *) wrapper), ==, 2);
	wl_proxy_set_queue((struct wl_proxy *) wrapper, queue);

	/* Objects created through the wrapper start on its queue. */
	obj = beh_test_create_obj(wrapper);
	check_int(wl_proxy_get_version((struct wl_proxy *) obj), ==, 2);
	beh_obj_add_listener(obj, &obj_listener, &p);
	beh_obj_send_pings(obj, 2);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(p.count, ==, 0);
	check_int(wl_display_dispatch_queue_pending(c.display, queue), ==, 2);
	check_int(p.count, ==, 2);

	/* The wrapped proxy's own queue did not change. */
	beh_obj_destroy(obj);
	wl_proxy_wrapper_destroy(wrapper);
	obj = beh_test_create_obj(c.test);
	p.count = 0;
	beh_obj_add_listener(obj, &obj_listener, &p);
	beh_obj_send_pings(obj, 1);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(p.count, ==, 1);
	beh_obj_destroy(obj);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_wrapper_events_go_to_wrapped_proxy)
{
	/* Requests sent through a wrapper are the wrapped object's; its
	 * events reach the wrapped proxy's listener. */
	struct beh_client c;
	struct beh_obj *obj, *wrapper;
	struct pings p = { 0 };

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	beh_obj_add_listener(obj, &obj_listener, &p);
	wrapper = wl_proxy_create_wrapper(obj);
	beh_obj_send_pings(wrapper, 3);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(p.count, ==, 3);
	wl_proxy_wrapper_destroy(wrapper);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

static void
zombie_fds(void *data)
{
	struct beh_client c;
	struct beh_obj *obj, *keep;
	struct pings p = { 0 };
	int before, i;

	beh_client_connect(&c, 3);
	keep = beh_test_create_obj(c.test);
	beh_obj_add_listener(keep, &obj_listener, &p);
	check_int(wl_display_roundtrip(c.display), >, 0);
	before = beh_fd_count();

	/* The compositor sends 50 fd events (and pings) to obj after the
	 * client destroyed it: all are dropped and every fd closed. */
	for (i = 0; i < 5; i++) {
		obj = beh_test_create_obj(c.test);
		beh_obj_add_listener(obj, &obj_listener, &p);
		beh_obj_send_fds(obj, 10);
		beh_obj_send_pings(obj, 10);
		beh_obj_destroy(obj);
		check_int(wl_display_roundtrip(c.display), >, 0);
	}
	check_int(p.count, ==, 0);
	check_int(beh_fd_count(), ==, before);

	/* Live objects are unaffected. */
	beh_obj_send_pings(keep, 2);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(p.count, ==, 2);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_obj_destroy(keep);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_zombie_events_close_fds)
{
	zombie_fds(NULL);
}

static int zombie_calls;

static void
zombie_ping(void *data, struct beh_obj *obj, uint32_t n)
{
	zombie_calls++;
}

static const struct beh_obj_listener zombie_listener = {
	beh_obj_close_fd, zombie_ping, beh_obj_ignore_version,
};

BEH_TEST(proxy_destroyed_with_queued_events)
{
	/* Events already queued for a proxy destroyed before dispatch are
	 * dropped, their fds closed. */
	struct beh_client c;
	struct beh_obj *obj;
	int before;

	beh_client_connect(&c, 3);
	before = beh_fd_count();
	obj = beh_test_create_obj(c.test);
	beh_obj_add_listener(obj, &zombie_listener, NULL);
	beh_obj_send_pings(obj, 3);
	beh_obj_send_fds(obj, 3);
	check_int(wl_display_flush(c.display), >, 0);
	/* Read and queue, do not dispatch. */
	while (beh_fd_count() < before + 3) {
		check_int(wl_display_prepare_read(c.display), ==, 0);
		check_int(wl_display_read_events(c.display), ==, 0);
	}
	beh_obj_destroy(obj);
	check_int(wl_display_dispatch_pending(c.display), >=, 0);
	check_int(zombie_calls, ==, 0);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(beh_fd_count(), ==, before);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_delete_id_frees_id)
{
	/* After delete_id an id is reused; before it, never. */
	struct beh_client c;
	struct beh_obj *objs[10];
	uint32_t ids[10], max_id = 0;
	int i, j, reused = 0;

	beh_client_connect(&c, 3);
	for (i = 0; i < 10; i++) {
		objs[i] = beh_test_create_obj(c.test);
		ids[i] = wl_proxy_get_id((struct wl_proxy *) objs[i]);
		if (ids[i] > max_id)
			max_id = ids[i];
	}
	for (i = 0; i < 10; i++)
		beh_obj_destroy(objs[i]);
	/* No delete_id read yet: new ids are fresh. */
	for (i = 0; i < 10; i++) {
		objs[i] = beh_test_create_obj(c.test);
		for (j = 0; j < 10; j++)
			check(wl_proxy_get_id((struct wl_proxy *) objs[i]) !=
			      ids[j]);
		if (wl_proxy_get_id((struct wl_proxy *) objs[i]) > max_id)
			max_id = wl_proxy_get_id((struct wl_proxy *) objs[i]);
	}
	for (i = 0; i < 10; i++)
		beh_obj_destroy(objs[i]);
	check_int(wl_display_roundtrip(c.display), >, 0);
	for (i = 0; i < 10; i++) {
		objs[i] = beh_test_create_obj(c.test);
		/* max_id + 1 is the roundtrip callback's, freed too. */
		if (wl_proxy_get_id((struct wl_proxy *) objs[i]) <= max_id + 1)
			reused++;
	}
	check_int(reused, ==, 10);
	for (i = 0; i < 10; i++)
		beh_obj_destroy(objs[i]);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_client_disconnect(&c);
}

BEH_TEST(proxy_server_created_object)
{
	/* A new_id in an event creates a proxy on the sender's queue with the
	 * server's id; destroying it locally needs no delete_id. */
	struct beh_client c;
	struct wl_array array;
	struct beh_obj *created;
	int fd, before;

	beh_client_connect(&c, 3);
	before = beh_fd_count();
	wl_array_init(&array);
	fd = beh_sendable_fd("x");
	created = beh_test_everything(c.test, 1, 2, 3, "s", NULL, NULL, &array,
				      fd);
	close(fd);
	/* No listener on beh_test: the everything event is dropped, but
	 * its new object is created (and its fd closed) anyway. */
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(wl_display_get_error(c.display), ==, 0);
	check_int(beh_fd_count(), ==, before);
	beh_obj_destroy(created);
	wl_array_release(&array);
	check_int(wl_display_roundtrip(c.display), >, 0);
	beh_client_disconnect(&c);
}
