/*
 * SPDX-License-Identifier: MIT
 * The display: connecting to the compositor (WAYLAND_SOCKET,
 * WAYLAND_DISPLAY, XDG_RUNTIME_DIR), the wl_display object's own events
 * (error, delete_id), the error state, flushing and disconnecting.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-private.h"
#include "transport.h"
#include "wayland-client-protocol.h"

int wl_debug_client = 0;

void
display_fatal_error(struct wl_display *display, int error)
{
	if (display->last_error)
		return;

	if (!error)
		error = EFAULT;

	display->last_error = error;

	/* Wake readers blocked in read_events so they see the error. */
	display->read_serial++;
	pthread_cond_broadcast(&display->reader_cond);
}

/* With the display locked. */
void
display_protocol_error_locked(struct wl_display *display, uint32_t code,
			      uint32_t id, const struct wl_interface *intf)
{
	int err;

	if (display->last_error)
		return;

	/* Errors of wl_display itself map to errnos; every other
	 * interface's error is EPROTO. */
	if (intf && wl_interface_equal(intf, &wl_display_interface)) {
		switch (code) {
		case WL_DISPLAY_ERROR_INVALID_OBJECT:
		case WL_DISPLAY_ERROR_INVALID_METHOD:
			err = EINVAL;
			break;
		case WL_DISPLAY_ERROR_NO_MEMORY:
			err = ENOMEM;
			break;
		case WL_DISPLAY_ERROR_IMPLEMENTATION:
			err = EPROTO;
			break;
		default:
			err = EFAULT;
		}
	} else {
		err = EPROTO;
	}

	display->last_error = err;
	display->protocol_error.code = code;
	display->protocol_error.id = id;
	display->protocol_error.interface = intf;
	display->read_serial++;
	pthread_cond_broadcast(&display->reader_cond);
}

void
display_protocol_error(struct wl_display *display, uint32_t code,
		       uint32_t id, const struct wl_interface *intf)
{
	pthread_mutex_lock(&display->mutex);
	display_protocol_error_locked(display, code, id, intf);
	pthread_mutex_unlock(&display->mutex);
}

static void
display_handle_error(void *data, struct wl_display *display, void *object,
		     uint32_t code, const char *message)
{
	struct wl_proxy *proxy = object;
	const struct wl_interface *interface;
	uint32_t object_id;

	if (proxy) {
		wl_log("%s#%u: error %u: %s\n", proxy->object.interface->name,
		       proxy->object.id, code, message);
		interface = proxy->object.interface;
		object_id = proxy->object.id;
	} else {
		wl_log("[destroyed object]: error %u: %s\n", code, message);
		interface = NULL;
		object_id = 0;
	}

	display_protocol_error(display, code, object_id, interface);
}

static void
display_handle_delete_id(void *data, struct wl_display *display, uint32_t id)
{
	struct wl_proxy *proxy;

	pthread_mutex_lock(&display->mutex);

	proxy = wl_map_lookup(&display->objects, id);
	if (wl_map_lookup_flags(&display->objects, id) & WL_MAP_ENTRY_ZOMBIE) {
		/* The zombie's id is free for reuse now. */
		free(proxy);
		wl_map_remove(&display->objects, id);
	} else if (proxy) {
		proxy->flags |= WL_PROXY_FLAG_ID_DELETED;
	} else {
		wl_log("error: received delete_id for unknown id (%u)\n", id);
	}

	pthread_mutex_unlock(&display->mutex);
}

static const struct wl_display_listener display_listener = {
	display_handle_error,
	display_handle_delete_id
};

/* The socket name as the user would recognise it, for error lines. */
static const char *
socket_name(const char *name)
{
	if (name == NULL)
		name = getenv("WAYLAND_DISPLAY");
	return name ? name : "wayland-0";
}

static int
connect_to_socket(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_LOCAL };
	const char *runtime_dir;
	socklen_t size;
	int name_size, fd;
	bool path_is_absolute;

	if (name == NULL)
		name = getenv("WAYLAND_DISPLAY");
	if (name == NULL)
		name = "wayland-0";

	path_is_absolute = name[0] == '/';

	runtime_dir = getenv("XDG_RUNTIME_DIR");
	if ((runtime_dir == NULL || runtime_dir[0] != '/') &&
	    !path_is_absolute) {
		wl_log("error: XDG_RUNTIME_DIR is invalid or not set in the "
		       "environment.\n");
		errno = ENOENT;
		return -1;
	}

	if (path_is_absolute)
		name_size = snprintf(addr.sun_path, sizeof addr.sun_path,
				     "%s", name) + 1;
	else
		name_size = snprintf(addr.sun_path, sizeof addr.sun_path,
				     "%s/%s", runtime_dir, name) + 1;

	if (name_size > (int) sizeof addr.sun_path) {
		if (path_is_absolute)
			wl_log("error: socket path \"%s\" plus null terminator "
			       "exceeds %d bytes\n", name,
			       (int) sizeof(addr.sun_path));
		else
			wl_log("error: socket path \"%s/%s\" plus null "
			       "terminator exceeds %d bytes\n", runtime_dir,
			       name, (int) sizeof(addr.sun_path));
		errno = ENAMETOOLONG;
		return -1;
	}

	fd = socket(PF_LOCAL, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;

	size = offsetof(struct sockaddr_un, sun_path) + name_size;
	if (connect(fd, (struct sockaddr *) &addr, size) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}

	return fd;
}

static enum wl_iterator_result
free_zombies(void *element, void *data, uint32_t flags)
{
	if (flags & WL_MAP_ENTRY_ZOMBIE)
		free(element);

	return WL_ITERATOR_CONTINUE;
}

static struct wl_display *
display_create(struct wl_transport *transport)
{
	struct wl_display *display;
	const char *debug;

	debug = getenv("WAYLAND_DEBUG");
	if (debug && (strstr(debug, "client") || strstr(debug, "1")))
		wl_debug_client = 1;

	display = calloc(1, sizeof *display);
	if (display == NULL)
		return NULL;

	wl_map_init(&display->objects);
	wl_event_queue_init(&display->default_queue, display, "Default Queue");
	wl_event_queue_init(&display->display_queue, display, "Display Queue");
	pthread_mutex_init(&display->mutex, NULL);
	pthread_cond_init(&display->reader_cond, NULL);

	/* Id 0 is never used; the display is object 1. */
	wl_map_insert_new(&display->objects, 0, NULL);

	display->proxy.object.interface = &wl_display_interface;
	display->proxy.object.id =
		wl_map_insert_new(&display->objects, 0, display);
	display->proxy.display = display;
	display->proxy.object.implementation = (void (**)(void)) &display_listener;
	display->proxy.user_data = display;
	display->proxy.queue = &display->default_queue;
	display->proxy.refcount = 1;
	display->proxy.version = 0;
	wl_list_init(&display->proxy.queue_link);

	/* Client buffers are unbounded unless the client sets a limit
	 * (upstream since 1.22.90). */
	display->connection = wl_connection_create(transport, 0);
	if (display->connection != NULL)
		proxy_set_hooked(&display->proxy);
	if (display->connection == NULL || display->proxy.object.id != 1) {
		free(display->connection);
		wl_map_release(&display->objects);
		wl_event_queue_release(&display->default_queue);
		wl_event_queue_release(&display->display_queue);
		pthread_mutex_destroy(&display->mutex);
		pthread_cond_destroy(&display->reader_cond);
		free(display);
		errno = ENOMEM;
		return NULL;
	}

	return display;
}

/* Displays alive, so the stats of those never disconnected are printed
 * at exit. */
static pthread_mutex_t live_displays_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct wl_list live_displays = { &live_displays, &live_displays };
static bool stats_atexit_registered;

static bool
stats_enabled(void)
{
	const char *v = getenv("WAYLAND_VIRTGPU_STATS");

	return v && strcmp(v, "1") == 0;
}

static void
display_print_stats(struct wl_display *display)
{
	struct wl_transport *t;
	char *line = NULL;
	size_t size = 0;
	FILE *f;

	if (display->stats_printed)
		return;
	display->stats_printed = true;

	t = wl_connection_get_transport(display->connection);
	f = open_memstream(&line, &size);
	if (f == NULL)
		return;

	fprintf(f, "wayland-virtgpu stats: transport=%s sent_bytes=%" PRIu64
		" recv_bytes=%" PRIu64 " sends=%" PRIu64 " receives=%" PRIu64
		" shm_pools=%" PRIu64 " zero_copy_pools=%" PRIu64
		" shm_bytes_copied=%" PRIu64 " fds_sent=%" PRIu64
		" fds_received=%" PRIu64, t->ops->name, t->stats.sent_bytes,
		t->stats.recv_bytes, t->stats.sends, t->stats.receives,
		t->stats.shm_pools, t->stats.zero_copy_pools,
		t->stats.shm_bytes_copied, t->stats.fds_sent,
		t->stats.fds_received);
	if (t->ops->print_stats)
		t->ops->print_stats(t, f);
	fprintf(f, "\n");

	if (fclose(f) == 0) {
		/* One write, so lines of several processes do not mix. */
		ssize_t ignored = write(STDERR_FILENO, line, size);

		(void) ignored;
	}
	free(line);
}

static void
print_stats_at_exit(void)
{
	struct wl_display *display;

	pthread_mutex_lock(&live_displays_mutex);
	wl_list_for_each(display, &live_displays, live_link) {
		/* Not in a forked child that merely exits. */
		if (display->pid == getpid())
			display_print_stats(display);
	}
	pthread_mutex_unlock(&live_displays_mutex);
}

static struct wl_display *
display_create_on(struct wl_transport *transport)
{
	struct wl_display *display;

	display = display_create(transport);
	if (display == NULL) {
		int err = errno;

		transport->ops->destroy(transport);
		errno = err;
		return NULL;
	}
	transport->core = &wl_proxy_transport_core;
	transport->core_data = display;

	display->pid = getpid();
	pthread_mutex_lock(&live_displays_mutex);
	wl_list_insert(&live_displays, &display->live_link);
	if (stats_enabled() && !stats_atexit_registered) {
		stats_atexit_registered = true;
		atexit(print_stats_at_exit);
	}
	pthread_mutex_unlock(&live_displays_mutex);

	return display;
}

WL_EXPORT struct wl_display *
wl_display_connect_to_fd(int fd)
{
	struct wl_transport *transport;

	transport = wl_transport_unix_create(fd);
	if (transport == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}

	return display_create_on(transport);
}

/*
 * Which way to the compositor (DESIGN.md, "Choosing the transport"):
 * WAYLAND_SOCKET wins (handled by the caller); else a socket that accepts
 * a connection; else a virtio-gpu node with the cross-domain Wayland
 * channel. WAYLAND_VIRTGPU=0 never probes, =1 skips the socket.
 */
static struct wl_transport *
connect_transport(const char *name)
{
	const char *mode = getenv("WAYLAND_VIRTGPU");
	const char *device = getenv("WAYLAND_VIRTGPU_DEVICE");
	struct wl_transport *transport;
	char why[256] = "";
	int fd, socket_errno = 0;
	bool try_socket = !(mode && strcmp(mode, "1") == 0);
	bool try_virtgpu = !(mode && strcmp(mode, "0") == 0);

	if (try_socket) {
		fd = connect_to_socket(name);
		if (fd >= 0) {
			transport = wl_transport_unix_create(fd);
			if (transport == NULL) {
				close(fd);
				errno = ENOMEM;
			}
			return transport;
		}
		socket_errno = errno;
		if (!try_virtgpu)
			return NULL;
	}

	transport = wl_transport_virtgpu_create(device, why, sizeof why);
	if (transport)
		return transport;

	if (try_socket) {
		wl_log("wayland-virtgpu: no compositor: socket %s: %s; "
		       "virtio-gpu: %s\n", socket_name(name),
		       strerror(socket_errno), why);
		errno = socket_errno;
	} else {
		int err = errno;

		wl_log("wayland-virtgpu: no compositor: virtio-gpu: %s "
		       "(WAYLAND_VIRTGPU=1 skips the socket)\n", why);
		errno = err;
	}

	return NULL;
}

WL_EXPORT struct wl_display *
wl_display_connect(const char *name)
{
	struct wl_transport *transport;
	const char *connection;
	char *end;
	int flags, fd, prev_errno;
	long value;

	connection = getenv("WAYLAND_SOCKET");
	if (connection) {
		prev_errno = errno;
		errno = 0;
		value = strtol(connection, &end, 10);
		if (errno != 0 || connection == end || *end != '\0' ||
		    value < 0 || value > INT32_MAX)
			return NULL;
		errno = prev_errno;
		fd = (int) value;

		flags = fcntl(fd, F_GETFD);
		if (flags == -1 && errno == EBADF)
			return NULL;
		else if (flags != -1)
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
		unsetenv("WAYLAND_SOCKET");
		return wl_display_connect_to_fd(fd);
	}

	transport = connect_transport(name);
	if (transport == NULL)
		return NULL;

	return display_create_on(transport);
}

WL_EXPORT void
wl_display_disconnect(struct wl_display *display)
{
	pthread_mutex_lock(&live_displays_mutex);
	wl_list_remove(&display->live_link);
	pthread_mutex_unlock(&live_displays_mutex);

	if (stats_enabled())
		display_print_stats(display);

	wl_connection_destroy(display->connection);
	/* Queued events still reference the map (their new objects). */
	wl_event_queue_release(&display->default_queue);
	wl_event_queue_release(&display->display_queue);
	wl_map_for_each(&display->objects, free_zombies, NULL);
	wl_map_release(&display->objects);
	pthread_mutex_destroy(&display->mutex);
	pthread_cond_destroy(&display->reader_cond);

	free(display);
}

WL_EXPORT int
wl_display_get_fd(struct wl_display *display)
{
	struct wl_transport *t = wl_connection_get_transport(display->connection);

	if (t->ops->fd_exported)
		t->ops->fd_exported(t);
	return wl_connection_get_fd(display->connection);
}

WL_EXPORT int
wl_display_get_error(struct wl_display *display)
{
	int ret;

	pthread_mutex_lock(&display->mutex);
	ret = display->last_error;
	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT uint32_t
wl_display_get_protocol_error(struct wl_display *display,
			      const struct wl_interface **interface,
			      uint32_t *id)
{
	uint32_t ret;

	pthread_mutex_lock(&display->mutex);

	ret = display->protocol_error.code;
	if (interface)
		*interface = display->protocol_error.interface;
	if (id)
		*id = display->protocol_error.id;

	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wl_display_flush(struct wl_display *display)
{
	int ret;

	pthread_mutex_lock(&display->mutex);

	if (display->last_error) {
		errno = display->last_error;
		ret = -1;
	} else {
		/* EAGAIN: try again when writable. EPIPE is left for the
		 * reader, which may still find the compositor's error. */
		ret = wl_connection_flush(display->connection);
		if (ret < 0 && errno != EAGAIN && errno != EPIPE)
			display_fatal_error(display, errno);
	}

	pthread_mutex_unlock(&display->mutex);

	return ret;
}

WL_EXPORT int
wayland_virtgpu_shm_memory_create(struct wl_shm *shm, size_t *size,
				  void **data)
{
	struct wl_proxy *proxy = (struct wl_proxy *) shm;
	struct wl_display *display = proxy->display;
	struct wl_transport *t;
	int fd;

	pthread_mutex_lock(&display->mutex);
	t = wl_connection_get_transport(display->connection);
	if (display->last_error) {
		errno = display->last_error;
		fd = -1;
	} else if (t->ops->shm_memory == NULL) {
		errno = ENOTSUP;
		fd = -1;
	} else {
		fd = t->ops->shm_memory(t, size, data);
	}
	pthread_mutex_unlock(&display->mutex);

	return fd;
}

WL_EXPORT void
wl_display_set_max_buffer_size(struct wl_display *display,
			       size_t max_buffer_size)
{
	pthread_mutex_lock(&display->mutex);
	wl_connection_set_max_buffer_size(display->connection, max_buffer_size);
	pthread_mutex_unlock(&display->mutex);
}
