/*
 * SPDX-License-Identifier: MIT
 * Event queues: where received events wait until the client dispatches
 * them, each with the proxies assigned to it and an optional name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-private.h"

void
wl_event_queue_init(struct wl_event_queue *queue, struct wl_display *display,
		    const char *name)
{
	wl_list_init(&queue->event_list);
	wl_list_init(&queue->proxy_list);
	queue->display = display;
	queue->name = name ? strdup(name) : NULL;
}

/* Free a queued event and the references it held. An event never
 * delivered still owns its fds and the proxies it created: close and
 * destroy them. */
void
queue_destroy_closure(struct wl_closure *closure, bool delivered)
{
	const char *signature = closure->message->signature;
	struct argument_details arg;
	int i;

	if (!delivered)
		wire_closure_close_fds(closure);

	for (i = 0; i < closure->count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type == 'o' && closure->args[i].o) {
			proxy_unref((struct wl_proxy *) closure->args[i].o);
		} else if (arg.type == 'n' && closure->args[i].o && !delivered) {
			/* Nobody will ever see this new object. */
			struct wl_proxy *proxy =
				(struct wl_proxy *) closure->args[i].o;

			if (!(proxy->flags & WL_PROXY_FLAG_DESTROYED))
				proxy_destroy(proxy);
		}
	}

	proxy_unref(closure->proxy);
	wire_closure_destroy(closure);
}

void
wl_event_queue_release(struct wl_event_queue *queue)
{
	struct wl_display *display = queue->display;
	struct wl_closure *closure;
	struct wl_proxy *proxy, *tmp;

	if (!wl_list_empty(&queue->proxy_list)) {
		if (queue != &display->default_queue) {
			if (queue->name)
				wl_log("warning: queue \"%s\" %p destroyed while "
				       "proxies still attached:\n", queue->name,
				       (void *) queue);
			else
				wl_log("warning: queue %p destroyed while "
				       "proxies still attached:\n",
				       (void *) queue);
		}

		wl_list_for_each_safe(proxy, tmp, &queue->proxy_list,
				      queue_link) {
			if (queue != &display->default_queue)
				wl_log("  %s#%u still attached\n",
				       proxy->object.interface->name,
				       proxy->object.id);
			proxy->queue = NULL;
			wl_list_remove(&proxy->queue_link);
			wl_list_init(&proxy->queue_link);
		}
	}

	while (!wl_list_empty(&queue->event_list)) {
		closure = wl_container_of(queue->event_list.next, closure, link);
		wl_list_remove(&closure->link);
		queue_destroy_closure(closure, false);
	}

	free(queue->name);
	queue->name = NULL;
}

WL_EXPORT struct wl_event_queue *
wl_display_create_queue_with_name(struct wl_display *display, const char *name)
{
	struct wl_event_queue *queue;

	queue = malloc(sizeof *queue);
	if (queue == NULL)
		return NULL;

	wl_event_queue_init(queue, display, name);
	if (name && queue->name == NULL) {
		free(queue);
		return NULL;
	}

	return queue;
}

WL_EXPORT struct wl_event_queue *
wl_display_create_queue(struct wl_display *display)
{
	return wl_display_create_queue_with_name(display, NULL);
}

WL_EXPORT void
wl_event_queue_destroy(struct wl_event_queue *queue)
{
	struct wl_display *display = queue->display;

	pthread_mutex_lock(&display->mutex);
	wl_event_queue_release(queue);
	free(queue);
	pthread_mutex_unlock(&display->mutex);
}

WL_EXPORT const char *
wl_event_queue_get_name(const struct wl_event_queue *queue)
{
	return queue->name;
}
