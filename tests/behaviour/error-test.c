/*
 * Errors: wl_display.error from the compositor, get_error /
 * get_protocol_error, the fatal error state after it, flush with EAGAIN
 * when the compositor stops reading, and the message size limit.
 */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "harness.h"

static void
check_fatal_state(struct beh_client *c, int err)
{
	struct beh_obj *obj;

	check_int(wl_display_get_error(c->display), ==, err);
	check_errno(wl_display_dispatch_pending(c->display), err);
	check_errno(wl_display_dispatch(c->display), err);
	check_errno(wl_display_roundtrip(c->display), err);
	check_errno(wl_display_flush(c->display), err);
	/* Requests are dropped; constructors still hand out a proxy. */
	obj = beh_test_create_obj(c->test);
	check(obj != NULL);
	beh_obj_destroy(obj);
	check_int(wl_display_get_error(c->display), ==, err);
}

BEH_TEST(error_protocol_error_on_object)
{
	struct beh_client c;
	struct beh_obj *obj;
	const struct wl_interface *interface = NULL;
	uint32_t id = 0, obj_id;

	beh_client_connect(&c, 3);
	beh_log_capture();
	obj = beh_test_create_obj(c.test);
	obj_id = wl_proxy_get_id((struct wl_proxy *) obj);
	beh_test_post_error(c.test, obj, 42, "bad thing");
	check_errno(wl_display_roundtrip(c.display), EPROTO);
	check_int(wl_display_get_error(c.display), ==, EPROTO);
	check_int(wl_display_get_protocol_error(c.display, &interface, &id),
		  ==, 42);
	check(interface == &beh_obj_interface);
	check_int(id, ==, obj_id);
	/* Upstream logs "beh_obj#3: error 42: bad thing" (1.21: '@'). */
	check(beh_log_contains("error 42: bad thing"));
	check(beh_log_contains(beh_lib_is_1_23_plus() ? "beh_obj#" :
			       "beh_obj@"));
	check_fatal_state(&c, EPROTO);
	beh_obj_destroy(obj);
	beh_client_disconnect(&c);
}

BEH_TEST(error_protocol_error_on_global)
{
	struct beh_client c;
	const struct wl_interface *interface = NULL;
	uint32_t id = 0;

	beh_client_connect(&c, 3);
	beh_log_capture();
	beh_test_post_error(c.test, NULL, 0, "zero code");
	check_errno(wl_display_dispatch(c.display), EPROTO);
	check_int(wl_display_get_protocol_error(c.display, &interface, &id),
		  ==, 0);
	check(interface == &beh_test_interface);
	check_int(id, ==, wl_proxy_get_id((struct wl_proxy *) c.test));
	beh_client_disconnect(&c);
}

BEH_TEST(error_no_error_reports_zero)
{
	struct beh_client c;
	const struct wl_interface *interface = (void *) 1;
	uint32_t id = 99;

	beh_client_connect(&c, 3);
	check_int(wl_display_get_error(c.display), ==, 0);
	check_int(wl_display_get_protocol_error(c.display, &interface, &id),
		  ==, 0);
	check(interface == NULL);
	check_int(id, ==, 0);
	beh_client_disconnect(&c);
}

BEH_TEST(error_invalid_object_is_display_error)
{
	/* A request on an id the compositor never saw: wl_display error
	 * invalid_object, which upstream maps to EINVAL, not EPROTO. */
	struct beh_client c;
	struct wl_proxy *ghost;
	const struct wl_interface *interface = NULL;
	uint32_t id = 0;

	beh_client_connect(&c, 3);
	beh_log_capture();
	ghost = wl_proxy_create((struct wl_proxy *) c.test, &beh_obj_interface);
	check(ghost != NULL);
	wl_proxy_marshal(ghost, 2 /* beh_obj.send_pings */, 1u);
	check_errno(wl_display_roundtrip(c.display), EINVAL);
	check_int(wl_display_get_error(c.display), ==, EINVAL);
	check_int(wl_display_get_protocol_error(c.display, &interface, &id),
		  ==, WL_DISPLAY_ERROR_INVALID_OBJECT);
	check(interface == &wl_display_interface);
	check_int(id, ==, 1);
	check_fatal_state(&c, EINVAL);
	wl_proxy_destroy(ghost);
	beh_client_disconnect(&c);
}

BEH_TEST(error_compositor_gone_is_epipe)
{
	/* The compositor exits: the client's next read ends in EPIPE. */
	struct beh_client c;
	pid_t pid;

	beh_client_connect(&c, 3);
	pid = c.compositor;
	beh_compositor_kill(pid);
	beh_compositor_reap_killed(pid);
	c.compositor = 0;
	check(wl_display_roundtrip(c.display) == -1);
	check(errno == EPIPE || errno == ECONNRESET);
	check_int(wl_display_get_error(c.display), ==, errno);
	beh_client_disconnect(&c);
}

static const struct beh_test_listener count_listener = {
	beh_test_close_everything,
	beh_test_close_fds,
	beh_test_store_noop_count,
	beh_test_ignore_pong,
};

BEH_TEST_SOCKET_ONLY(error_flush_eagain_then_completes,
		     "SO_SNDBUF on the display socket, and a pipe read end "
		     "the compositor reads, which cannot cross a virtio-gpu; "
		     "beh-virtgpu has flush cases of its own")
{
	/* The compositor stops reading: flush fills the socket and returns
	 * -1/EAGAIN without entering the error state; once the compositor
	 * reads again, flushing completes and every request arrives. */
	struct beh_client c;
	struct wl_array payload;
	uint32_t sent = 0, count = 0;
	int wake[2], sndbuf = 4096, ret;
	struct pollfd pfd;

	beh_client_connect(&c, 3);
	beh_test_add_listener(c.test, &count_listener, &count);
	/* A small socket buffer so a few hundred KiB are not needed. */
	check(setsockopt(wl_display_get_fd(c.display), SOL_SOCKET, SO_SNDBUF,
			 &sndbuf, sizeof sndbuf) == 0);
	check(pipe2(wake, O_CLOEXEC) == 0);
	beh_test_stall(c.test, wake[0]);
	close(wake[0]);
	check_int(wl_display_flush(c.display), >, 0);
	/* Let the compositor reach the stall: until then it still reads,
	 * and the socket it drains takes more after an EAGAIN. */
	usleep(200000);

	wl_array_init(&payload);
	memset(wl_array_add(&payload, 200), 0x5a, 200);
	for (;;) {
		beh_test_noop(c.test, &payload);
		sent++;
		ret = wl_display_flush(c.display);
		if (ret == -1) {
			check_int(errno, ==, EAGAIN);
			break;
		}
		check(sent < 100000);
	}
	check_int(wl_display_get_error(c.display), ==, 0);
	/* Still EAGAIN while the compositor sleeps. */
	check_errno(wl_display_flush(c.display), EAGAIN);
	check_int(wl_display_get_error(c.display), ==, 0);

	check(write(wake[1], "w", 1) == 1);
	close(wake[1]);
	pfd.fd = wl_display_get_fd(c.display);
	pfd.events = POLLOUT;
	while ((ret = wl_display_flush(c.display)) == -1) {
		check_int(errno, ==, EAGAIN);
		check_int(poll(&pfd, 1, 5000), ==, 1);
	}
	check_int(ret, >=, 0);
	beh_test_get_noop_count(c.test);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(count, ==, sent);
	wl_array_release(&payload);
	beh_client_disconnect(&c);
}

BEH_TEST(error_request_of_4096_bytes_works)
{
	struct beh_client c;
	uint32_t count = 0;

	beh_client_connect(&c, 3);
	beh_test_add_listener(c.test, &count_listener, &count);
	beh_send_noop_of_size(&c, 4096);
	beh_send_noop_of_size(&c, 4096);
	beh_test_get_noop_count(c.test);
	check_int(wl_display_roundtrip(c.display), >, 0);
	check_int(count, ==, 2);
	beh_client_disconnect(&c);
}

BEH_TEST(error_request_over_4096_bytes)
{
	/* 1.21 has fixed 4096-byte buffers: a bigger request is E2BIG at
	 * once. 1.23+ (and 1.26) buffers are unbounded unless
	 * wl_display_set_max_buffer_size is called: the request is queued
	 * and sent, no local error (the compositor, whose own limit is 4096,
	 * is what refuses it; see new-api-test.c for the bounded case). */
	struct beh_client c;

	beh_client_connect(&c, 3);
	beh_log_capture();
	beh_send_noop_of_size(&c, 4100);
	if (beh_lib_is_1_23_plus()) {
		check_int(wl_display_get_error(c.display), ==, 0);
	} else {
		check_int(wl_display_get_error(c.display), ==, E2BIG);
		check(beh_log_contains("Data too big for buffer"));
		check_errno(wl_display_flush(c.display), E2BIG);
	}
	beh_client_disconnect_after_error(&c);
}

static void
marshal_null_string(void *data)
{
	struct beh_client c;
	struct wl_array array;
	struct beh_obj *obj;
	int fd;

	beh_client_connect(&c, 3);
	beh_log_capture();
	wl_array_init(&array);
	fd = beh_sendable_fd("x");
	obj = beh_test_everything(c.test, 1, 2, 3, NULL, NULL, NULL, &array,
				  fd);
	close(fd);
	check_int(wl_display_get_error(c.display), ==, EINVAL);
	check(beh_log_contains("null value passed for arg 3"));
	if (obj)
		beh_obj_destroy(obj);
	beh_client_disconnect_after_error(&c);
}

BEH_TEST(error_null_non_nullable_argument)
{
	/* A NULL for a non-nullable string: logged, nothing sent, and the
	 * display enters the error state with EINVAL (1.21 and 1.23+). */
	marshal_null_string(NULL);
}
