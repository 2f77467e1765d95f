/*
 * Behaviour of the API libwayland 1.22-1.26 added (not in Debian 12's 1.21,
 * so this program runs on our library only): named queues, proxy getters,
 * dispatch with a timeout, dispatch_pending_single, set_max_buffer_size,
 * and what happens to proxies of a destroyed queue.
 */

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

static void
callback_done(void *data, struct wl_callback *callback, uint32_t serial)
{
	(*(int *) data)++;
}

static const struct wl_callback_listener callback_listener = {
	callback_done,
};

static struct wl_callback *
sync_on_queue(struct wl_display *display, struct wl_event_queue *queue)
{
	struct wl_display *wrapped;
	struct wl_callback *callback;

	wrapped = wl_proxy_create_wrapper(display);
	wl_proxy_set_queue((struct wl_proxy *) wrapped, queue);
	callback = wl_display_sync(wrapped);
	wl_proxy_wrapper_destroy(wrapped);
	return callback;
}

BEH_TEST(new_api_queue_names_and_proxy_getters)
{
	struct beh_client c;
	struct wl_event_queue *named, *unnamed, *def;

	beh_client_connect(&c, 3);
	named = wl_display_create_queue_with_name(c.display, "beh queue");
	unnamed = wl_display_create_queue(c.display);
	check_str(wl_event_queue_get_name(named), "beh queue");
	check(wl_event_queue_get_name(unnamed) == NULL);

	def = wl_proxy_get_queue((struct wl_proxy *) c.test);
	check(def != NULL);
	check_str(wl_event_queue_get_name(def), "Default Queue");
	wl_proxy_set_queue((struct wl_proxy *) c.test, named);
	check(wl_proxy_get_queue((struct wl_proxy *) c.test) == named);
	wl_proxy_set_queue((struct wl_proxy *) c.test, NULL);
	check(wl_proxy_get_queue((struct wl_proxy *) c.test) == def);

	check(wl_proxy_get_display((struct wl_proxy *) c.test) == c.display);
	check(wl_proxy_get_interface((struct wl_proxy *) c.test) ==
	      &beh_test_interface);
	check(wl_proxy_get_interface((struct wl_proxy *) c.display) ==
	      &wl_display_interface);
	check(wl_proxy_get_interface((struct wl_proxy *) c.registry) ==
	      &wl_registry_interface);
	wl_event_queue_destroy(named);
	wl_event_queue_destroy(unnamed);
	beh_client_disconnect(&c);
}

static long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

BEH_TEST(new_api_dispatch_timeout)
{
	struct beh_client c;
	struct timespec start, timeout = { 0, 150 * 1000000L }, zero = { 0, 0 };
	struct wl_callback *callback;
	int done = 0;

	beh_client_connect(&c, 3);
	/* Nothing to read: 0 after the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_int(wl_display_dispatch_timeout(c.display, &timeout), ==, 0);
	check_int(elapsed_ms(&start), >=, 140);
	check_int(elapsed_ms(&start), <, 5000);
	/* A zero timeout returns at once. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_int(wl_display_dispatch_timeout(c.display, &zero), ==, 0);
	check_int(elapsed_ms(&start), <, 100);

	/* An event in time: dispatched, > 0. */
	callback = wl_display_sync(c.display);
	wl_callback_add_listener(callback, &callback_listener, &done);
	timeout.tv_sec = 5;
	while (!done)
		check_int(wl_display_dispatch_timeout(c.display, &timeout), >,
			  0);
	wl_callback_destroy(callback);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_client_disconnect(&c);
}

BEH_TEST(new_api_dispatch_queue_timeout)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct wl_callback *callback;
	struct timespec start, timeout = { 0, 100 * 1000000L };
	int done = 0;

	beh_client_connect(&c, 3);
	queue = wl_display_create_queue(c.display);
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_int(wl_display_dispatch_queue_timeout(c.display, queue,
						    &timeout), ==, 0);
	check_int(elapsed_ms(&start), >=, 90);
	callback = sync_on_queue(c.display, queue);
	wl_callback_add_listener(callback, &callback_listener, &done);
	timeout.tv_sec = 5;
	while (!done)
		check_int(wl_display_dispatch_queue_timeout(c.display, queue,
							    &timeout), >, 0);
	wl_callback_destroy(callback);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

static void
obj_ping(void *data, struct beh_obj *obj, uint32_t n)
{
	(*(int *) data)++;
}

static const struct beh_obj_listener obj_listener = {
	beh_obj_close_fd, obj_ping, beh_obj_ignore_version,
};

BEH_TEST(new_api_dispatch_pending_single)
{
	struct beh_client c;
	struct beh_obj *obj;
	struct wl_event_queue *queue;
	int pings = 0, i;

	beh_client_connect(&c, 3);
	obj = beh_test_create_obj(c.test);
	beh_obj_add_listener(obj, &obj_listener, &pings);
	queue = wl_display_create_queue(c.display);
	wl_proxy_set_queue((struct wl_proxy *) obj, queue);
	beh_obj_send_pings(obj, 3);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(wl_display_dispatch_pending_single(c.display), ==, 0);
	for (i = 1; i <= 3; i++) {
		check_int(wl_display_dispatch_queue_pending_single(c.display,
								   queue), ==, 1);
		check_int(pings, ==, i);
	}
	check_int(wl_display_dispatch_queue_pending_single(c.display, queue),
		  ==, 0);

	wl_proxy_set_queue((struct wl_proxy *) obj, NULL);
	beh_obj_send_pings(obj, 2);
	beh_obj_send_pings(obj, 0);
	check_int(wl_display_flush(c.display), >, 0);
	/* Read without dispatching, then one at a time. */
	while (pings == 3) {
		check_int(wl_display_roundtrip_queue(c.display, queue), >=, 0);
		if (wl_display_dispatch_pending_single(c.display) == 1)
			break;
	}
	check_int(pings, ==, 4);
	check_int(wl_display_dispatch_pending_single(c.display), ==, 1);
	check_int(pings, ==, 5);
	beh_obj_destroy(obj);
	wl_event_queue_destroy(queue);
	beh_client_disconnect(&c);
}

BEH_TEST(new_api_max_buffer_size_bounds_requests)
{
	/* With a 4096-byte limit, a bigger request is E2BIG, logged, and
	 * the display is dead. */
	struct beh_client c;

	beh_client_connect(&c, 3);
	beh_log_capture();
	wl_display_set_max_buffer_size(c.display, 4096);
	beh_send_noop_of_size(&c, 4096);
	check_int(wl_display_roundtrip(c.display), >, 0);
	beh_send_noop_of_size(&c, 4100);
	check_int(wl_display_get_error(c.display), ==, E2BIG);
	check(beh_log_contains("Data too big for buffer"));
	check_errno(wl_display_flush(c.display), E2BIG);
	beh_client_disconnect_after_error(&c);
}

/* With the buffer limit set to max, a request of size bytes is accepted
 * locally. */
static void
check_request_fits(size_t max, size_t size)
{
	struct beh_client c;

	beh_client_connect(&c, 3);
	beh_log_capture();
	wl_display_set_max_buffer_size(c.display, max);
	beh_send_noop_of_size(&c, size);
	check_int(wl_display_get_error(c.display), ==, 0);
	beh_client_disconnect_after_error(&c);
}

BEH_TEST(new_api_max_buffer_size_zero_is_unbounded)
{
	/* 1.26 documents client buffers as unbounded by default and 0 as
	 * unbounded: an 8 KiB request is accepted locally. */
	check_request_fits(0, 8192);
}

BEH_TEST(new_api_max_buffer_size_raised)
{
	/* A larger limit lets larger requests through (rounded up to a
	 * power of two: 5000 -> 8192). */
	check_request_fits(5000, 8000);
}

BEH_TEST(new_api_destroy_queue_with_proxies_warns)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct wl_callback *callback;
	char line[128];

	beh_client_connect(&c, 3);
	beh_log_capture();
	queue = wl_display_create_queue_with_name(c.display, "beh queue");
	callback = sync_on_queue(c.display, queue);
	wl_event_queue_destroy(queue);
	check(beh_log_contains("warning: queue \"beh queue\""));
	check(beh_log_contains("destroyed while proxies still attached"));
	snprintf(line, sizeof line, "wl_callback#%u still attached",
		 wl_proxy_get_id((struct wl_proxy *) callback));
	check(beh_log_contains(line));
	/* The proxy has no queue now. */
	check(wl_proxy_get_queue((struct wl_proxy *) callback) == NULL);
	wl_callback_destroy(callback);
	beh_client_disconnect_after_error(&c);
}

BEH_TEST(new_api_destroy_unnamed_queue_warns)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct wl_callback *callback;

	beh_client_connect(&c, 3);
	beh_log_capture();
	queue = wl_display_create_queue(c.display);
	callback = sync_on_queue(c.display, queue);
	wl_event_queue_destroy(queue);
	check(beh_log_contains("warning: queue 0x"));
	check(beh_log_contains("still attached"));
	wl_callback_destroy(callback);
	beh_client_disconnect_after_error(&c);
}

BEH_TEST(new_api_destroy_empty_queue_is_quiet)
{
	struct beh_client c;
	struct wl_event_queue *queue;

	beh_client_connect(&c, 3);
	beh_log_capture();
	queue = wl_display_create_queue_with_name(c.display, "quiet");
	wl_event_queue_destroy(queue);
	check_str(beh_log_text(), "");
	beh_client_disconnect(&c);
}

static void
event_for_destroyed_queue(void *data)
{
	struct beh_client c;
	struct wl_event_queue *queue;
	struct wl_callback *callback;
	int done = 0;

	beh_client_connect(&c, 3);
	beh_log_capture();
	queue = wl_display_create_queue_with_name(c.display, "gone");
	callback = sync_on_queue(c.display, queue);
	wl_callback_add_listener(callback, &callback_listener, &done);
	wl_event_queue_destroy(queue);
	/* The done event arrives for a proxy whose queue is gone. */
	wl_display_roundtrip(c.display);
	/* Not reached upstream. */
	fprintf(stderr, "no abort; log: %s\n", beh_log_text());
	_exit(0);
}

BEH_TEST(new_api_event_for_destroyed_queue_aborts)
{
	int status;

	status = beh_run_forked(event_for_destroyed_queue, NULL);
	check(WIFSIGNALED(status));
	check_int(WTERMSIG(status), ==, SIGABRT);
}

static void
abort_message_to_stderr(void *data)
{
	/* Without our log handler, wl_log goes to stderr: capture it in a
	 * pipe to see upstream's message. */
	int *pipefd = data;

	dup2(pipefd[1], STDERR_FILENO);
	close(pipefd[0]);
	{
		struct beh_client c;
		struct wl_event_queue *queue;
		struct wl_callback *callback;
		int done = 0;

		beh_client_connect(&c, 3);
		queue = wl_display_create_queue(c.display);
		callback = sync_on_queue(c.display, queue);
		wl_callback_add_listener(callback, &callback_listener, &done);
		wl_event_queue_destroy(queue);
		wl_display_roundtrip(c.display);
	}
	_exit(0);
}

BEH_TEST(new_api_event_for_destroyed_queue_message)
{
	int pipefd[2], status;
	static char text[4096];
	ssize_t n, total = 0;

	check(pipe(pipefd) == 0);
	status = beh_run_forked(abort_message_to_stderr, pipefd);
	close(pipefd[1]);
	while ((n = read(pipefd[0], text + total,
			 sizeof text - 1 - total)) > 0)
		total += n;
	text[total] = '\0';
	close(pipefd[0]);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	if (!strstr(text, "Tried to add event to destroyed queue"))
		beh_fail(__FILE__, __LINE__, "stderr was: %s", text);
}
