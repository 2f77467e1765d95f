/*
 * SPDX-License-Identifier: MIT
 * Proxies: the client's handle on a protocol object. Creating and
 * destroying them (with zombies until the compositor confirms the id is
 * free), wrappers, listeners, user data, tags and sending requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-private.h"
#include "transport.h"
#include "wayland-client-protocol.h"

static void
proxy_attach_queue(struct wl_proxy *proxy, struct wl_event_queue *queue)
{
	proxy->queue = queue;
	if (queue)
		wl_list_insert(&queue->proxy_list, &proxy->queue_link);
	else
		wl_list_init(&proxy->queue_link);
}

/* Whether the transport's hooks see this proxy's messages: a request that
 * no hook cares about then costs nothing for them. The answer depends on
 * the interface only, so it is kept per interface (display mutex held). */
void
proxy_set_hooked(struct wl_proxy *proxy)
{
	struct wl_display *display = proxy->display;
	struct wl_transport *transport =
		wl_connection_get_transport(display->connection);
	const struct wl_transport_ops *ops = transport->ops;
	const struct wl_interface *interface = proxy->object.interface;
	size_t slot;

	if (!ops->request && !ops->event)
		return;
	if (!ops->hooks_interface) {
		proxy->flags |= WL_PROXY_FLAG_HOOKED;
		return;
	}
	/* Interfaces are static structs: their addresses spread well. */
	slot = ((uintptr_t) interface / sizeof(void *)) % DISPLAY_HOOKED_CACHE;
	if (display->hooked_interfaces[slot].interface != interface) {
		display->hooked_interfaces[slot].interface = interface;
		display->hooked_interfaces[slot].hooked =
			ops->hooks_interface(transport, interface);
	}
	if (display->hooked_interfaces[slot].hooked)
		proxy->flags |= WL_PROXY_FLAG_HOOKED;
}

/* Does a request name, as an argument, an object the transport watches?
 * Costs a look at the signature only while the transport watches any. */
static bool
names_watched_proxy(struct wl_display *display,
		    const struct wl_message *message, union wl_argument *args)
{
	const char *signature = message->signature;
	struct argument_details arg;
	int i;

	if (display->watched_proxies == 0 || !strchr(signature, 'o'))
		return false;
	for (i = 0; (signature = wire_next_argument(signature, &arg)), arg.type; i++)
		if (arg.type == 'o' && args[i].o &&
		    (((struct wl_proxy *) args[i].o)->flags & WL_PROXY_FLAG_WATCHED))
			return true;
	return false;
}

struct wl_proxy *
proxy_create(struct wl_proxy *factory, const struct wl_interface *interface,
	     uint32_t version)
{
	struct wl_display *display = factory->display;
	struct wl_proxy *proxy;

	proxy = wl_zalloc(sizeof *proxy);
	if (proxy == NULL)
		return NULL;

	proxy->object.interface = interface;
	proxy->display = display;
	proxy->refcount = 1;
	proxy->version = version;

	proxy->object.id = wl_map_insert_new(&display->objects, 0, proxy);
	if (proxy->object.id == 0) {
		free(proxy);
		return NULL;
	}
	proxy_attach_queue(proxy, factory->queue);
	proxy_set_hooked(proxy);

	return proxy;
}

WL_EXPORT struct wl_proxy *
wl_proxy_create(struct wl_proxy *factory, const struct wl_interface *interface)
{
	struct wl_display *display = factory->display;
	struct wl_proxy *proxy;

	pthread_mutex_lock(&display->mutex);
	proxy = proxy_create(factory, interface, factory->version);
	pthread_mutex_unlock(&display->mutex);

	return proxy;
}

/* A proxy for an object the compositor created (a new_id in an event). */
struct wl_proxy *
proxy_create_for_id(struct wl_proxy *factory, uint32_t id,
		    const struct wl_interface *interface)
{
	struct wl_display *display = factory->display;
	struct wl_proxy *proxy;

	proxy = wl_zalloc(sizeof *proxy);
	if (proxy == NULL)
		return NULL;

	proxy->object.interface = interface;
	proxy->object.id = id;
	proxy->display = display;
	proxy->refcount = 1;
	proxy->version = factory->version;

	if (wl_map_insert_at(&display->objects, 0, id, proxy) < 0) {
		free(proxy);
		return NULL;
	}
	proxy_attach_queue(proxy, factory->queue);
	proxy_set_hooked(proxy);

	return proxy;
}

/* What a zombie needs: how many fds each event carries, so the fds of
 * events that arrive before delete_id can be closed. */
static struct wl_zombie *
zombie_create(const struct wl_interface *interface)
{
	struct wl_zombie *zombie;
	int i, count = interface->event_count;

	zombie = calloc(1, sizeof *zombie + count * sizeof(int));
	if (zombie == NULL)
		return NULL;

	zombie->event_count = count;
	zombie->fd_count = (int *) (zombie + 1);
	for (i = 0; i < count; i++)
		zombie->fd_count[i] =
			wire_message_fd_count(&interface->events[i]);

	return zombie;
}

void
proxy_unref(struct wl_proxy *proxy)
{
	if (--proxy->refcount > 0)
		return;

	if (!(proxy->flags & WL_PROXY_FLAG_DESTROYED))
		wl_abort("proxy %p (%s#%u) freed before it was destroyed\n",
			 (void *) proxy, proxy->object.interface->name,
			 proxy->object.id);
	free(proxy);
}

void
proxy_destroy(struct wl_proxy *proxy)
{
	struct wl_display *display = proxy->display;

	if (proxy->flags & WL_PROXY_FLAG_ID_DELETED) {
		wl_map_remove(&display->objects, proxy->object.id);
	} else if (proxy->object.id < WL_SERVER_ID_START) {
		struct wl_zombie *zombie = zombie_create(proxy->object.interface);

		/* Without memory for the zombie the id stays taken. */
		if (zombie)
			wl_map_insert_at(&display->objects, WL_MAP_ENTRY_ZOMBIE,
					 proxy->object.id, zombie);
		else
			wl_map_insert_at(&display->objects, 0,
					 proxy->object.id, NULL);
	} else {
		wl_map_insert_at(&display->objects, 0, proxy->object.id, NULL);
	}

	if (proxy->flags & WL_PROXY_FLAG_WATCHED)
		display->watched_proxies--;
	proxy->flags |= WL_PROXY_FLAG_DESTROYED;
	proxy->flags &= ~WL_PROXY_FLAG_WATCHED;
	wl_list_remove(&proxy->queue_link);
	wl_list_init(&proxy->queue_link);
	proxy->queue = NULL;

	proxy_unref(proxy);
}

WL_EXPORT void
wl_proxy_destroy(struct wl_proxy *proxy)
{
	struct wl_display *display = proxy->display;

	if (proxy->flags & WL_PROXY_FLAG_WRAPPER)
		wl_abort("Tried to destroy wrapper with wl_proxy_destroy()\n");

	pthread_mutex_lock(&display->mutex);
	proxy_destroy(proxy);
	pthread_mutex_unlock(&display->mutex);
}

static int
proxy_set_listener(struct wl_proxy *proxy, const void *implementation,
		   wl_dispatcher_func_t dispatcher, void *data)
{
	if (proxy->flags & WL_PROXY_FLAG_WRAPPER)
		wl_abort("Proxy %p is a wrapper\n", (void *) proxy);

	if (proxy->object.implementation || proxy->dispatcher) {
		wl_log("proxy %p already has listener\n", (void *) proxy);
		return -1;
	}

	proxy->object.implementation = implementation;
	proxy->dispatcher = dispatcher;
	proxy->user_data = data;

	return 0;
}

WL_EXPORT int
wl_proxy_add_listener(struct wl_proxy *proxy,
		      void (**implementation)(void), void *data)
{
	return proxy_set_listener(proxy, implementation, NULL, data);
}

WL_EXPORT const void *
wl_proxy_get_listener(struct wl_proxy *proxy)
{
	return proxy->object.implementation;
}

WL_EXPORT int
wl_proxy_add_dispatcher(struct wl_proxy *proxy,
			wl_dispatcher_func_t dispatcher,
			const void *implementation, void *data)
{
	return proxy_set_listener(proxy, implementation, dispatcher, data);
}

/* The proxy a request's new_id argument stands for, created before the
 * request is sent so its id can be written. */
static struct wl_proxy *
create_outgoing_proxy(struct wl_proxy *proxy, const struct wl_message *message,
		      union wl_argument *args,
		      const struct wl_interface *interface, uint32_t version)
{
	const char *signature = message->signature;
	struct argument_details arg;
	struct wl_proxy *new_proxy = NULL;
	int i, count;

	count = wire_arg_count(signature);
	for (i = 0; i < count; i++) {
		signature = wire_next_argument(signature, &arg);
		if (arg.type != 'n')
			continue;

		new_proxy = proxy_create(proxy, interface, version);
		if (new_proxy == NULL)
			return NULL;

		args[i].o = &new_proxy->object;
	}

	return new_proxy;
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_array_flags(struct wl_proxy *proxy, uint32_t opcode,
			     const struct wl_interface *interface,
			     uint32_t version, uint32_t flags,
			     union wl_argument *args)
{
	struct wl_display *display = proxy->display;
	/* The request's closure lives only in this call: on the stack, no
	 * allocation per request. */
	struct wl_closure request;
	struct wl_closure *closure = &request;
	struct wl_proxy *new_proxy = NULL;
	const struct wl_message *message;
	struct wl_transport *transport;
	int hook;

	pthread_mutex_lock(&display->mutex);

	if ((int) opcode >= proxy->object.interface->method_count)
		wl_abort("request opcode %u out of range for %s#%u\n", opcode,
			 proxy->object.interface->name, proxy->object.id);

	message = &proxy->object.interface->methods[opcode];
	if (interface) {
		new_proxy = create_outgoing_proxy(proxy, message, args,
						  interface, version);
		if (new_proxy == NULL)
			goto err_unlock;
	}

	if (display->last_error)
		goto err_unlock;

	if (wire_closure_init_request(closure, &proxy->object, opcode, args,
				      message) < 0) {
		wl_log("Error marshalling request for %s.%s: %s\n",
		       proxy->object.interface->name, message->name,
		       strerror(errno));
		display_fatal_error(display, errno);
		goto err_unlock;
	}

	transport = wl_connection_get_transport(display->connection);
	hook = transport->ops->request &&
	       ((proxy->flags & WL_PROXY_FLAG_HOOKED) ||
		strchr(message->signature, 'h') ||
		names_watched_proxy(display, message, closure->args)) ?
	       transport->ops->request(transport, &proxy->object,
				       &closure->sender_id, opcode, message,
				       closure->args) : 0;
	if (hook > 0) {
		/* Taken by the transport: nothing goes out. */
		wire_closure_close_fds(closure);
		goto err_unlock;
	}
	if (hook < 0) {
		int err = errno ? errno : EINVAL;

		wire_closure_close_fds(closure);
		/* The host out of memory: what a compositor that is says
		 * (wl_display.error no_memory), so clients see ENOMEM and
		 * the protocol error alike. */
		if (err == ENOMEM)
			display_protocol_error_locked(display,
						      WL_DISPLAY_ERROR_NO_MEMORY,
						      1, &wl_display_interface);
		else
			display_fatal_error(display, err);
		goto err_unlock;
	}

	if (wl_debug_client)
		wire_closure_print(closure, &proxy->object, true, false,
				   proxy->queue ? proxy->queue->name : NULL);

	if (wl_connection_queue_closure(display->connection, closure) < 0) {
		int err = errno;

		wl_log("Error sending request for %s.%s: %s\n",
		       proxy->object.interface->name, message->name,
		       strerror(err));
		wire_closure_close_fds(closure);
		display_fatal_error(display, err);
	}

err_unlock:
	if (flags & WL_MARSHAL_FLAG_DESTROY)
		proxy_destroy(proxy);

	pthread_mutex_unlock(&display->mutex);

	return new_proxy;
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_flags(struct wl_proxy *proxy, uint32_t opcode,
		       const struct wl_interface *interface, uint32_t version,
		       uint32_t flags, ...)
{
	union wl_argument args[WL_CLOSURE_MAX_ARGS];
	va_list ap;

	va_start(ap, flags);
	wl_argument_from_va_list(proxy->object.interface->methods[opcode].signature,
				 args, WL_CLOSURE_MAX_ARGS, ap);
	va_end(ap);

	return wl_proxy_marshal_array_flags(proxy, opcode, interface, version,
					    flags, args);
}

WL_EXPORT void
wl_proxy_marshal(struct wl_proxy *proxy, uint32_t opcode, ...)
{
	union wl_argument args[WL_CLOSURE_MAX_ARGS];
	va_list ap;

	va_start(ap, opcode);
	wl_argument_from_va_list(proxy->object.interface->methods[opcode].signature,
				 args, WL_CLOSURE_MAX_ARGS, ap);
	va_end(ap);

	wl_proxy_marshal_array_flags(proxy, opcode, NULL, 0, 0, args);
}

WL_EXPORT void
wl_proxy_marshal_array(struct wl_proxy *proxy, uint32_t opcode,
		       union wl_argument *args)
{
	wl_proxy_marshal_array_flags(proxy, opcode, NULL, 0, 0, args);
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_constructor(struct wl_proxy *proxy, uint32_t opcode,
			     const struct wl_interface *interface, ...)
{
	union wl_argument args[WL_CLOSURE_MAX_ARGS];
	va_list ap;

	va_start(ap, interface);
	wl_argument_from_va_list(proxy->object.interface->methods[opcode].signature,
				 args, WL_CLOSURE_MAX_ARGS, ap);
	va_end(ap);

	return wl_proxy_marshal_array_flags(proxy, opcode, interface,
					    proxy->version, 0, args);
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_constructor_versioned(struct wl_proxy *proxy, uint32_t opcode,
				       const struct wl_interface *interface,
				       uint32_t version, ...)
{
	union wl_argument args[WL_CLOSURE_MAX_ARGS];
	va_list ap;

	va_start(ap, version);
	wl_argument_from_va_list(proxy->object.interface->methods[opcode].signature,
				 args, WL_CLOSURE_MAX_ARGS, ap);
	va_end(ap);

	return wl_proxy_marshal_array_flags(proxy, opcode, interface, version,
					    0, args);
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_array_constructor(struct wl_proxy *proxy, uint32_t opcode,
				   union wl_argument *args,
				   const struct wl_interface *interface)
{
	return wl_proxy_marshal_array_flags(proxy, opcode, interface,
					    proxy->version, 0, args);
}

WL_EXPORT struct wl_proxy *
wl_proxy_marshal_array_constructor_versioned(struct wl_proxy *proxy,
					     uint32_t opcode,
					     union wl_argument *args,
					     const struct wl_interface *interface,
					     uint32_t version)
{
	return wl_proxy_marshal_array_flags(proxy, opcode, interface, version,
					    0, args);
}

WL_EXPORT void
wl_proxy_set_user_data(struct wl_proxy *proxy, void *user_data)
{
	proxy->user_data = user_data;
}

WL_EXPORT void *
wl_proxy_get_user_data(struct wl_proxy *proxy)
{
	return proxy->user_data;
}

WL_EXPORT uint32_t
wl_proxy_get_version(struct wl_proxy *proxy)
{
	return proxy->version;
}

WL_EXPORT uint32_t
wl_proxy_get_id(struct wl_proxy *proxy)
{
	return proxy->object.id;
}

WL_EXPORT void
wl_proxy_set_tag(struct wl_proxy *proxy, const char * const *tag)
{
	proxy->tag = tag;
}

WL_EXPORT const char * const *
wl_proxy_get_tag(struct wl_proxy *proxy)
{
	return proxy->tag;
}

WL_EXPORT const char *
wl_proxy_get_class(struct wl_proxy *proxy)
{
	return proxy->object.interface->name;
}

WL_EXPORT const struct wl_interface *
wl_proxy_get_interface(struct wl_proxy *proxy)
{
	return proxy->object.interface;
}

WL_EXPORT struct wl_display *
wl_proxy_get_display(struct wl_proxy *proxy)
{
	return proxy->display;
}

WL_EXPORT void
wl_proxy_set_queue(struct wl_proxy *proxy, struct wl_event_queue *queue)
{
	struct wl_display *display = proxy->display;

	pthread_mutex_lock(&display->mutex);

	wl_list_remove(&proxy->queue_link);
	if (queue) {
		if (queue->display != display)
			wl_abort("Tried to set a queue of another display\n");
		proxy->queue = queue;
	} else {
		proxy->queue = &display->default_queue;
	}
	wl_list_insert(&proxy->queue->proxy_list, &proxy->queue_link);

	pthread_mutex_unlock(&display->mutex);
}

WL_EXPORT struct wl_event_queue *
wl_proxy_get_queue(const struct wl_proxy *proxy)
{
	return proxy->queue;
}

WL_EXPORT void *
wl_proxy_create_wrapper(void *proxy_ptr)
{
	struct wl_proxy *proxy = proxy_ptr;
	struct wl_proxy *wrapper;

	wrapper = wl_zalloc(sizeof *wrapper);
	if (wrapper == NULL)
		return NULL;

	pthread_mutex_lock(&proxy->display->mutex);

	wrapper->object.interface = proxy->object.interface;
	wrapper->object.id = proxy->object.id;
	wrapper->version = proxy->version;
	wrapper->display = proxy->display;
	wrapper->flags = WL_PROXY_FLAG_WRAPPER |
			 (proxy->flags & WL_PROXY_FLAG_HOOKED);
	wrapper->refcount = 1;
	wrapper->tag = proxy->tag;
	proxy_attach_queue(wrapper, proxy->queue);

	pthread_mutex_unlock(&proxy->display->mutex);

	return wrapper;
}

WL_EXPORT void
wl_proxy_wrapper_destroy(void *proxy_wrapper)
{
	struct wl_proxy *wrapper = proxy_wrapper;
	struct wl_display *display = wrapper->display;

	if (!(wrapper->flags & WL_PROXY_FLAG_WRAPPER))
		wl_abort("Tried to destroy non-wrapper proxy with "
			 "wl_proxy_wrapper_destroy\n");

	pthread_mutex_lock(&display->mutex);
	wl_list_remove(&wrapper->queue_link);
	pthread_mutex_unlock(&display->mutex);

	free(wrapper);
}

/* The transport's requests to the core (transport.h), display locked. */
static struct wl_proxy *
live_proxy(struct wl_display *display, uint32_t id)
{
	struct wl_proxy *proxy = wl_map_lookup(&display->objects, id);

	if (proxy == NULL ||
	    (wl_map_lookup_flags(&display->objects, id) & WL_MAP_ENTRY_ZOMBIE) ||
	    (proxy->flags & WL_PROXY_FLAG_DESTROYED))
		return NULL;
	return proxy;
}

static struct wl_object *
core_create_object(void *core, uint32_t factory_id,
		   const struct wl_interface *interface, uint32_t version)
{
	struct wl_proxy *factory = live_proxy(core, factory_id), *proxy;

	if (factory == NULL)
		return NULL;
	proxy = proxy_create(factory, interface, version);
	return proxy ? &proxy->object : NULL;
}

static int
core_queue_request(void *core, uint32_t target_id, uint32_t opcode,
		   union wl_argument *args)
{
	struct wl_display *display = core;
	struct wl_proxy *proxy = live_proxy(display, target_id);
	const struct wl_message *message;
	struct wl_closure *closure;
	int ret;

	if (proxy == NULL ||
	    (int) opcode >= proxy->object.interface->method_count) {
		errno = EINVAL;
		return -1;
	}

	message = &proxy->object.interface->methods[opcode];
	closure = wire_closure_marshal(&proxy->object, opcode, args, message);
	if (closure == NULL)
		return -1;

	if (wl_debug_client)
		wire_closure_print(closure, &proxy->object, true, false,
				   proxy->queue ? proxy->queue->name : NULL);

	ret = wl_connection_queue_closure(display->connection, closure);
	if (ret < 0)
		wire_closure_close_fds(closure);
	wire_closure_destroy(closure);

	return ret;
}

static int
core_queue_event(void *core, uint32_t target_id, uint32_t opcode)
{
	struct wl_display *display = core;
	struct wl_proxy *proxy = live_proxy(display, target_id);
	const struct wl_message *message;
	struct argument_details arg;
	struct wl_closure *closure;
	uint32_t header[2];
	int used = 0;

	if (proxy == NULL ||
	    (int) opcode >= proxy->object.interface->event_count) {
		errno = EINVAL;
		return -1;
	}
	message = &proxy->object.interface->events[opcode];
	if (wire_next_argument(message->signature, &arg), arg.type) {
		errno = EINVAL;		/* events without arguments only */
		return -1;
	}

	header[0] = target_id;
	header[1] = (WIRE_HEADER_SIZE << 16) | opcode;
	closure = wire_closure_demarshal(header, WIRE_HEADER_SIZE, NULL, 0,
					 &used, &display->objects, message);
	if (closure == NULL)
		return -1;
	display_queue_closure(display, proxy, closure);
	return 0;
}

static int
core_watch_object(void *core, uint32_t id)
{
	struct wl_display *display = core;
	struct wl_proxy *proxy = live_proxy(display, id);

	if (proxy == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!(proxy->flags & WL_PROXY_FLAG_WATCHED)) {
		proxy->flags |= WL_PROXY_FLAG_WATCHED;
		display->watched_proxies++;
	}
	return 0;
}

static int
core_hook_object(void *core, uint32_t id)
{
	struct wl_proxy *proxy = live_proxy(core, id);

	if (proxy == NULL) {
		errno = EINVAL;
		return -1;
	}
	proxy->flags |= WL_PROXY_FLAG_HOOKED;
	return 0;
}

static void
core_destroy_object(void *core, struct wl_object *object)
{
	proxy_destroy((struct wl_proxy *) object);
}

static void
core_swap_ids(void *core, struct wl_object *a, struct wl_object *b)
{
	struct wl_display *display = core;
	uint32_t id = a->id;

	wl_map_insert_at(&display->objects, 0, b->id, a);
	wl_map_insert_at(&display->objects, 0, id, b);
	a->id = b->id;
	b->id = id;
}

static void
core_keepalive(void *core)
{
	struct wl_display *display = core;
	struct wl_callback *callback;

	/* A zombie at once: the done event is dropped, delete_id frees the
	 * id, whichever queue the client dispatches. */
	callback = wl_display_sync(display);
	if (callback)
		wl_callback_destroy(callback);
	wl_display_flush(display);
}

const struct wl_transport_core wl_proxy_transport_core = {
	.create_object = core_create_object,
	.queue_request = core_queue_request,
	.destroy_object = core_destroy_object,
	.swap_ids = core_swap_ids,
	.queue_event = core_queue_event,
	.watch_object = core_watch_object,
	.hook_object = core_hook_object,
	.keepalive = core_keepalive,
};
