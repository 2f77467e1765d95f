/*
 * SPDX-License-Identifier: MIT
 * The client objects shared by display.c, proxy.c, queue.c and
 * dispatch.c: the display, proxies and event queues.
 */
#ifndef CLIENT_PRIVATE_H
#define CLIENT_PRIVATE_H

#include <pthread.h>
#include <sys/types.h>

#include "wayland-client-core.h"
#include "wayland-private.h"

enum wl_proxy_flag {
	WL_PROXY_FLAG_ID_DELETED = (1 << 0),
	WL_PROXY_FLAG_DESTROYED = (1 << 1),
	WL_PROXY_FLAG_WRAPPER = (1 << 2),
	/* The transport's hooks want this proxy's messages (transport.h
	 * hooks_interface); asked once, when the proxy is made. */
	WL_PROXY_FLAG_HOOKED = (1 << 3),
	/* A request of any object that names this one as an argument reaches
	 * the transport's request hook (transport.h watch_object). */
	WL_PROXY_FLAG_WATCHED = (1 << 4),
};

struct wl_zombie {
	int event_count;
	int *fd_count;
};

struct wl_proxy {
	struct wl_object object;
	struct wl_display *display;
	struct wl_event_queue *queue;
	uint32_t flags;
	int refcount;
	void *user_data;
	wl_dispatcher_func_t dispatcher;
	uint32_t version;
	const char * const *tag;
	struct wl_list queue_link;
};

struct wl_event_queue {
	struct wl_list event_list;
	struct wl_list proxy_list;
	struct wl_display *display;
	char *name;
};

#define DISPLAY_HOOKED_CACHE 32

struct wl_display {
	struct wl_proxy proxy;
	struct wl_connection *connection;

	/* errno of the first fatal error; 0 while the display works. */
	int last_error;
	struct {
		uint32_t code;
		const struct wl_interface *interface;
		uint32_t id;
	} protocol_error;

	struct wl_map objects;
	struct wl_event_queue display_queue;
	struct wl_event_queue default_queue;
	pthread_mutex_t mutex;

	int reader_count;
	uint32_t read_serial;
	pthread_cond_t reader_cond;

	struct wl_list live_link;
	bool stats_printed;
	int watched_proxies;	/* live ones with WL_PROXY_FLAG_WATCHED */
	/* The transport's hooks_interface answers, by interface: asked once
	 * per interface rather than per proxy (proxy_set_hooked). */
	struct {
		const struct wl_interface *interface;
		bool hooked;
	} hooked_interfaces[DISPLAY_HOOKED_CACHE];
	pid_t pid;		/* the process that connected */
};

extern int wl_debug_client;

/* display.c */
void
display_fatal_error(struct wl_display *display, int error);

void
proxy_set_hooked(struct wl_proxy *proxy);

void
display_queue_closure(struct wl_display *display, struct wl_proxy *proxy,
		      struct wl_closure *closure);

void
display_protocol_error(struct wl_display *display, uint32_t code,
		       uint32_t id, const struct wl_interface *intf);

void
display_protocol_error_locked(struct wl_display *display, uint32_t code,
			      uint32_t id, const struct wl_interface *intf);

/* proxy.c */
struct wl_proxy *
proxy_create(struct wl_proxy *factory, const struct wl_interface *interface,
	     uint32_t version);

struct wl_proxy *
proxy_create_for_id(struct wl_proxy *factory, uint32_t id,
		    const struct wl_interface *interface);

void
proxy_destroy(struct wl_proxy *proxy);

void
proxy_unref(struct wl_proxy *proxy);

struct wl_transport_core;
extern const struct wl_transport_core wl_proxy_transport_core;

/* queue.c */
void
wl_event_queue_init(struct wl_event_queue *queue, struct wl_display *display,
		    const char *name);

void
wl_event_queue_release(struct wl_event_queue *queue);

void
queue_destroy_closure(struct wl_closure *closure, bool delivered);

/* dispatch.c */
int
display_dispatch_queue(struct wl_display *display,
		       struct wl_event_queue *queue, bool single);

#endif
