/*
 * The multi-threaded read protocol: prepare_read / read_events /
 * cancel_read with several threads, each on its own queue.
 */

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "harness.h"

#define THREADS 6
#define ROUNDS 50

struct worker {
	struct wl_display *display;
	struct beh_test *test;
	struct wl_event_queue *queue;
	int done;
	int pongs;
	uint32_t serial;
	int reads, cancels;
	pthread_t thread;
};

static void
callback_done(void *data, struct wl_callback *callback, uint32_t serial)
{
	int *done = data;

	(*done)++;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener callback_listener = {
	callback_done,
};

static void
test_pong(void *data, struct beh_test *test, uint32_t serial)
{
	struct worker *w = data;

	check_int(serial, ==, w->serial);
	w->pongs++;
}

static const struct beh_test_listener test_listener = {
	beh_test_close_everything,
	beh_test_close_fds,
	beh_test_ignore_noop_count,
	test_pong,
};

/* The documented loop: prepare, flush, poll, read or cancel, dispatch. */
static void
wait_with_prepare_read(struct worker *w, int *flag, int want, bool cancel_some)
{
	struct pollfd pfd = { wl_display_get_fd(w->display), POLLIN, 0 };
	unsigned int seed = (unsigned int) (uintptr_t) w;

	while (*flag < want) {
		while (wl_display_prepare_read_queue(w->display, w->queue) != 0)
			check_int(wl_display_dispatch_queue_pending(
					w->display, w->queue), >=, 0);
		if (wl_display_flush(w->display) < 0)
			check_int(errno, ==, EAGAIN);
		if (cancel_some && rand_r(&seed) % 3 == 0) {
			wl_display_cancel_read(w->display);
			w->cancels++;
		} else if (poll(&pfd, 1, -1) < 0) {
			wl_display_cancel_read(w->display);
		} else {
			check_int(wl_display_read_events(w->display), ==, 0);
			w->reads++;
		}
		check_int(wl_display_dispatch_queue_pending(w->display,
							    w->queue), >=, 0);
	}
}

static void *
worker_main(void *data)
{
	struct worker *w = data;
	struct wl_display *wrapped;
	struct beh_test *test;
	struct wl_callback *callback;
	int round;

	wrapped = wl_proxy_create_wrapper(w->display);
	wl_proxy_set_queue((struct wl_proxy *) wrapped, w->queue);
	for (round = 0; round < ROUNDS; round++) {
		w->done = 0;
		callback = wl_display_sync(wrapped);
		wl_callback_add_listener(callback, &callback_listener,
					 &w->done);
		wait_with_prepare_read(w, &w->done, 1, round % 2);

		w->serial = round;
		test = w->test;
		beh_test_ping(test, round);
		wait_with_prepare_read(w, &w->pongs, round + 1, false);
	}
	wl_proxy_wrapper_destroy(wrapped);
	return NULL;
}

BEH_TEST(threads_prepare_read_many_queues)
{
	struct beh_client c;
	struct worker w[THREADS];
	int i;

	beh_client_connect(&c, 3);
	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].display = c.display;
		w[i].queue = wl_display_create_queue(c.display);
		/* One beh_test per thread, bound on its queue. */
		{
			struct wl_registry *wrapped_registry;

			wrapped_registry = wl_proxy_create_wrapper(c.registry);
			wl_proxy_set_queue((struct wl_proxy *) wrapped_registry,
					   w[i].queue);
			w[i].test = wl_registry_bind(wrapped_registry, 1,
						     &beh_test_interface, 3);
			wl_proxy_wrapper_destroy(wrapped_registry);
		}
		beh_test_add_listener(w[i].test, &test_listener, &w[i]);
	}
	for (i = 0; i < THREADS; i++)
		check(pthread_create(&w[i].thread, NULL, worker_main,
				     &w[i]) == 0);
	for (i = 0; i < THREADS; i++) {
		check(pthread_join(w[i].thread, NULL) == 0);
		check_int(w[i].pongs, ==, ROUNDS);
	}
	check_int(wl_display_get_error(c.display), ==, 0);
	for (i = 0; i < THREADS; i++) {
		beh_test_destroy(w[i].test);
		wl_event_queue_destroy(w[i].queue);
	}
	beh_client_disconnect(&c);
}

struct reader {
	struct wl_display *display;
	int ret;
	volatile int finished;
	pthread_t thread;
};

static void *
reader_main(void *data)
{
	struct reader *r = data;

	r->ret = wl_display_read_events(r->display);
	r->finished = 1;
	return NULL;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

BEH_TEST(threads_read_waits_for_other_readers)
{
	/* A reader that is not the last one sleeps until the last reader
	 * reads; then both return 0 and the events are queued. */
	struct beh_client c;
	struct wl_event_queue *queue;
	struct reader r = { 0 };
	struct wl_callback *callback;
	struct wl_display *wrapped;
	int done = 0;

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	wrapped = wl_proxy_create_wrapper(c.display);
	wl_proxy_set_queue((struct wl_proxy *) wrapped, queue);
	callback = wl_display_sync(wrapped);
	wl_proxy_wrapper_destroy(wrapped);
	wl_callback_add_listener(callback, &callback_listener, &done);
	check_int(wl_display_flush(c.display), >, 0);

	r.display = c.display;
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check_int(wl_display_prepare_read_queue(c.display, queue), ==, 0);
	check(pthread_create(&r.thread, NULL, reader_main, &r) == 0);
	sleep_ms(200);
	check_int(r.finished, ==, 0);
	/* We are the last reader: we read for both. */
	check_int(wl_display_read_events(c.display), ==, 0);
	check(pthread_join(r.thread, NULL) == 0);
	check_int(r.ret, ==, 0);
	while (done == 0) {
		check_int(wl_display_dispatch_queue_pending(c.display, queue),
			  >=, 0);
		if (done)
			break;
		check_int(wl_display_dispatch_queue(c.display, queue), >, 0);
	}
	check_int(done, ==, 1);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(threads_cancel_read_wakes_reader)
{
	/* When the last other prepared reader cancels, a sleeping reader
	 * returns 0 without anything read. */
	struct beh_client c;
	struct reader r = { 0 };

	beh_client_connect(&c, 3);
	r.display = c.display;
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check(pthread_create(&r.thread, NULL, reader_main, &r) == 0);
	sleep_ms(200);
	check_int(r.finished, ==, 0);
	wl_display_cancel_read(c.display);
	check(pthread_join(r.thread, NULL) == 0);
	check_int(r.ret, ==, 0);
	/* Still usable. */
	check_int(wl_display_roundtrip(c.display), >, 0);
	beh_client_disconnect(&c);
}

BEH_TEST(threads_prepare_read_fails_with_queued_events)
{
	struct beh_client c;
	struct wl_callback *callback;
	int done = 0;

	beh_client_connect(&c, 3);
	callback = wl_display_sync(c.display);
	wl_callback_add_listener(callback, &callback_listener, &done);
	check_int(wl_display_flush(c.display), >, 0);
	/* Read the done event without dispatching it. */
	while (1) {
		struct pollfd pfd = { wl_display_get_fd(c.display), POLLIN, 0 };

		check_int(wl_display_prepare_read(c.display), ==, 0);
		check_int(poll(&pfd, 1, -1), ==, 1);
		check_int(wl_display_read_events(c.display), ==, 0);
		errno = 0;
		if (wl_display_prepare_read(c.display) == -1)
			break;
		wl_display_cancel_read(c.display);
	}
	check_int(errno, ==, EAGAIN);
	check_int(done, ==, 0);
	/* done, and delete_id when it came in the same read. */
	check_int(wl_display_dispatch_pending(c.display), >=, 1);
	check_int(done, ==, 1);
	check_int(wl_display_prepare_read(c.display), ==, 0);
	wl_display_cancel_read(c.display);
	beh_client_disconnect(&c);
}

BEH_TEST(threads_read_events_after_error_fails)
{
	/* A fatal error wakes sleeping readers, who return -1 with it. */
	struct beh_client c;
	struct reader r = { 0 };
	struct pollfd pfd;

	beh_client_connect(&c, 3);
	r.display = c.display;
	beh_test_post_error(c.test, NULL, 7, "wake the readers");
	check_int(wl_display_flush(c.display), >, 0);
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check(pthread_create(&r.thread, NULL, reader_main, &r) == 0);
	pfd.fd = wl_display_get_fd(c.display);
	pfd.events = POLLIN;
	check_int(poll(&pfd, 1, -1), ==, 1);
	check_int(wl_display_read_events(c.display), ==, 0);
	check(pthread_join(r.thread, NULL) == 0);
	check_int(r.ret, ==, 0);
	check_errno(wl_display_dispatch_pending(c.display), EPROTO);
	/* Now in the error state: read_events fails at once. */
	check_int(wl_display_prepare_read(c.display), ==, 0);
	check_errno(wl_display_read_events(c.display), EPROTO);
	beh_client_disconnect(&c);
}
