/*
 * SPDX-License-Identifier: MIT
 * Feeds arbitrary bytes (and fds) to the client library as if they came
 * from the compositor, through the real read/queue/dispatch path. Built
 * as a libFuzzer target, and as a replay program for the normal suite
 * (tests/fuzz/replay.c) that also checks no fd leaks.
 *
 * Input format: byte 0 = number of memfds to pass (mod 8), the rest is
 * the byte stream the compositor sends.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wayland-client.h"
#include "event-fuzz.h"

static int
close_fds_dispatcher(const void *data, void *target, uint32_t opcode,
		     const struct wl_message *msg, union wl_argument *args)
{
	const char *s = msg->signature;
	int i = 0;

	/* Delivered fds belong to the listener: close them as a client
	 * would. */
	for (; *s; s++) {
		if (*s == '?' || (*s >= '0' && *s <= '9'))
			continue;
		if (*s == 'h')
			close(args[i].h);
		if (*s == 'n' && args[i].o)
			wl_proxy_destroy((struct wl_proxy *) args[i].o);
		i++;
	}
	return 0;
}

static void
quiet_log(const char *fmt, va_list ap)
{
}

static void
send_input(int fd, const uint8_t *data, size_t size)
{
	char cmsg_buf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov;
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;
	int fds[8], nfds, i;

	nfds = size > 0 ? data[0] % 8 : 0;
	if (size > 0) {
		data++;
		size--;
	}
	for (i = 0; i < nfds; i++)
		fds[i] = memfd_create("fuzz", MFD_CLOEXEC);

	iov.iov_base = (void *) data;
	iov.iov_len = size;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(cmsg_buf, 0, sizeof cmsg_buf);
		msg.msg_control = cmsg_buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	if (size > 0 || nfds > 0)
		sendmsg(fd, &msg, MSG_NOSIGNAL);

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int
event_fuzz_one(const uint8_t *data, size_t size)
{
	static const struct wl_interface *interfaces[] = {
		&wl_seat_interface, &wl_keyboard_interface,
		&wl_pointer_interface, &wl_data_device_interface,
		&wl_data_offer_interface, &wl_data_source_interface,
		&wl_output_interface, &wl_surface_interface, &wl_shm_interface,
		&wl_buffer_interface, &wl_touch_interface,
		&wl_fixes_interface,
	};
	struct wl_proxy *proxies[sizeof interfaces / sizeof interfaces[0]];
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_callback *callback;
	int sv[2], i, n = sizeof interfaces / sizeof interfaces[0];

	if (size > 65536)
		return 0;

	wl_log_set_handler_client(quiet_log);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();

	display = wl_display_connect_to_fd(sv[0]);
	if (!display)
		abort();

	/* Objects 2.., so events can address every kind of argument. */
	registry = wl_display_get_registry(display);
	callback = wl_display_sync(display);
	wl_proxy_add_dispatcher((struct wl_proxy *) registry,
				close_fds_dispatcher, NULL, NULL);
	wl_proxy_add_dispatcher((struct wl_proxy *) callback,
				close_fds_dispatcher, NULL, NULL);
	for (i = 0; i < n; i++) {
		proxies[i] = wl_proxy_create((struct wl_proxy *) registry,
					     interfaces[i]);
		wl_proxy_add_dispatcher(proxies[i], close_fds_dispatcher,
					NULL, NULL);
	}
	/* One destroyed client object, to exercise zombies. */
	wl_proxy_destroy(proxies[n - 1]);

	send_input(sv[1], data, size);
	close(sv[1]);

	while (wl_display_dispatch(display) >= 0)
		;

	for (i = 0; i < n - 1; i++)
		wl_proxy_destroy(proxies[i]);
	wl_callback_destroy(callback);
	wl_registry_destroy(registry);
	wl_display_disconnect(display);

	return 0;
}

#ifdef EVENT_FUZZ_LIBFUZZER
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return event_fuzz_one(data, size);
}
#endif
