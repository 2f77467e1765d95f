/*
 * Event queues: the default queue and custom ones, wl_proxy_set_queue,
 * roundtrip_queue, and which dispatch call delivers which event.
 */

#include "harness.h"

struct counter {
	int pings;
	int pongs;
	uint32_t order[64];
	int n;
};

static void
obj_ping(void *data, struct beh_obj *obj, uint32_t n)
{
	struct counter *c = data;

	c->pings++;
	if (c->n < 64)
		c->order[c->n++] = n;
}

static const struct beh_obj_listener obj_listener = {
	beh_obj_close_fd, obj_ping, beh_obj_ignore_version,
};

/* A new beh_obj counting its pings in counter, its events on queue (the
 * default queue when NULL). */
static struct beh_obj *
counted_obj(struct beh_client *c, struct counter *counter,
	    struct wl_event_queue *queue)
{
	struct beh_obj *obj = beh_test_create_obj(c->test);

	beh_obj_add_listener(obj, &obj_listener, counter);
	if (queue)
		wl_proxy_set_queue((struct wl_proxy *) obj, queue);
	return obj;
}

BEH_TEST(queue_custom_queue_holds_events)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_obj *on_default, *on_queue;
	struct counter d = { 0 }, q = { 0 };

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	check(queue != NULL);
	on_default = counted_obj(&c, &d, NULL);
	on_queue = counted_obj(&c, &q, queue);

	beh_obj_send_pings(on_queue, 3);
	beh_obj_send_pings(on_default, 2);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(d.pings, ==, 2);
	check_int(q.pings, ==, 0);
	check_int(wl_display_dispatch_pending(c.display), ==, 0);
	check_int(q.pings, ==, 0);
	check_int(wl_display_dispatch_queue_pending(c.display, queue), ==, 3);
	check_int(q.pings, ==, 3);
	check_int(q.order[0], ==, 0);
	check_int(q.order[2], ==, 2);
	check_int(wl_display_dispatch_queue_pending(c.display, queue), ==, 0);

	/* Back to the default queue with NULL. */
	wl_proxy_set_queue((struct wl_proxy *) on_queue, NULL);
	beh_obj_send_pings(on_queue, 1);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(q.pings, ==, 4);

	beh_obj_destroy(on_default);
	beh_obj_destroy(on_queue);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(queue_roundtrip_queue_dispatches_only_that_queue)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_obj *on_default, *on_queue;
	struct counter d = { 0 }, q = { 0 };

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	on_default = counted_obj(&c, &d, NULL);
	on_queue = counted_obj(&c, &q, queue);

	beh_obj_send_pings(on_default, 2);
	beh_obj_send_pings(on_queue, 3);
	check_int(wl_display_roundtrip_queue(c.display, queue), >, 0);
	check_int(q.pings, ==, 3);
	check_int(d.pings, ==, 0);
	check_int(wl_display_dispatch_pending(c.display), ==, 2);
	check_int(d.pings, ==, 2);

	beh_obj_destroy(on_default);
	beh_obj_destroy(on_queue);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(queue_dispatch_queue_blocks_until_event)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_obj *obj;
	struct counter q = { 0 };

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	obj = counted_obj(&c, &q, queue);
	beh_obj_send_pings(obj, 1);
	/* dispatch_queue flushes, reads, dispatches: at least our event. */
	while (q.pings == 0)
		check_int(wl_display_dispatch_queue(c.display, queue), >, 0);
	check_int(q.pings, ==, 1);
	beh_obj_destroy(obj);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(queue_new_proxy_inherits_factory_queue)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_test *test_q;
	struct beh_obj *child;
	struct counter q = { 0 };

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	/* A second beh_test on the queue: its children follow. */
	test_q = wl_registry_bind(c.registry, 1, &beh_test_interface, 3);
	wl_proxy_set_queue((struct wl_proxy *) test_q, queue);
	child = beh_test_create_obj(test_q);
	beh_obj_add_listener(child, &obj_listener, &q);
	beh_obj_send_pings(child, 2);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(q.pings, ==, 0);
	check_int(wl_display_roundtrip_queue(c.display, queue), >, 0);
	check_int(q.pings, ==, 2);
	beh_obj_destroy(child);
	beh_test_destroy(test_q);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(queue_destroy_discards_pending_events)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_obj *obj;
	struct counter q = { 0 };
	int before;

	beh_client_connect(&c, 3);
	before = beh_fd_count();
	queue = wl_display_create_queue(c.display);
	obj = counted_obj(&c, &q, queue);
	beh_obj_send_fds(obj, 4);
	beh_obj_send_pings(obj, 4);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(q.pings, ==, 0);
	/* Queued events (and their fds) go with the queue. */
	wl_proxy_set_queue((struct wl_proxy *) obj, NULL);
	wl_event_queue_destroy(queue);
	check_int(wl_display_dispatch_pending(c.display), ==, 0);
	check_int(q.pings, ==, 0);
	check_int(beh_fd_count(), ==, before);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(queue_display_events_always_dispatched)
{
	/* delete_id lives on the display's own queue: dispatching any queue
	 * processes it, so ids come back without the default queue. */
	struct beh_client c;
	struct wl_event_queue *queue;
	struct beh_obj *obj, *a, *b;
	uint32_t id;

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	obj = beh_test_create_obj(c.test);
	id = wl_proxy_get_id((struct wl_proxy *) obj);
	beh_obj_destroy(obj);
	check_int(wl_display_roundtrip_queue(c.display, queue), >, 0);
	/* The id is free again (so is the roundtrip callback's). */
	a = beh_test_create_obj(c.test);
	b = beh_test_create_obj(c.test);
	check(wl_proxy_get_id((struct wl_proxy *) a) == id ||
	      wl_proxy_get_id((struct wl_proxy *) b) == id);
	beh_obj_destroy(a);
	beh_obj_destroy(b);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}
