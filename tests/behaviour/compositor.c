/*
 * The behaviour suite's test compositor: a separate program on the system's
 * libwayland-server, so the client under test is the only libwayland-client
 * in its process. It serves one client, on an inherited fd or a named socket.
 */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wayland-server.h>

#include "test-protocol-server.h"

struct compositor {
	struct wl_display *display;
	struct wl_listener client_destroy;
	uint32_t noop_count;
};

static struct compositor compositor;

static void
die(const char *what)
{
	fprintf(stderr, "beh-compositor: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
obj_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static int
memfd_with_text(const char *text)
{
	int fd;

	fd = memfd_create("beh-compositor", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create");
	if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
		die("write memfd");
	return fd;
}

static void
obj_handle_send_fds(struct wl_client *client, struct wl_resource *resource,
		    uint32_t count)
{
	char text[32];
	uint32_t i;
	int fd;

	for (i = 0; i < count; i++) {
		snprintf(text, sizeof text, "fd%u", i);
		fd = memfd_with_text(text);
		beh_obj_send_fd(resource, fd);
		close(fd);
	}
}

static void
obj_handle_send_pings(struct wl_client *client, struct wl_resource *resource,
		      uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		beh_obj_send_ping(resource, i);
}

static void
obj_handle_query_version(struct wl_client *client, struct wl_resource *resource)
{
	beh_obj_send_version(resource, wl_resource_get_version(resource));
}

static const struct beh_obj_interface obj_impl = {
	.destroy = obj_handle_destroy,
	.send_fds = obj_handle_send_fds,
	.send_pings = obj_handle_send_pings,
	.query_version = obj_handle_query_version,
};

static struct wl_resource *
obj_create(struct wl_client *client, uint32_t version, uint32_t id)
{
	struct wl_resource *resource;

	resource = wl_resource_create(client, &beh_obj_interface, version, id);
	if (!resource) {
		wl_client_post_no_memory(client);
		return NULL;
	}
	wl_resource_set_implementation(resource, &obj_impl, NULL, NULL);
	return resource;
}

static void
test_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static void
test_handle_everything(struct wl_client *client, struct wl_resource *resource,
		       int32_t i, uint32_t u, wl_fixed_t f, const char *s,
		       const char *ns, struct wl_resource *o, uint32_t id,
		       struct wl_array *a, int32_t fd)
{
	struct wl_resource *created, *fresh;
	uint32_t version = wl_resource_get_version(resource);

	created = obj_create(client, version, id);
	fresh = obj_create(client, version, 0);
	if (!created || !fresh) {
		close(fd);
		return;
	}
	beh_test_send_everything(resource, i, u, f, s, ns, o, resource, fresh,
				 a, fd);
	close(fd);
}

static void
test_handle_bind_any(struct wl_client *client, struct wl_resource *resource,
		     const char *interface, uint32_t version, uint32_t id)
{
	if (strcmp(interface, beh_obj_interface.name) != 0) {
		wl_resource_post_error(resource, 0,
				       "bind_any: unknown interface %s",
				       interface);
		return;
	}
	obj_create(client, version, id);
}

static void
test_handle_send_fds(struct wl_client *client, struct wl_resource *resource,
		     int32_t a, int32_t b, int32_t c)
{
	beh_test_send_fds(resource, a, b, c);
	close(a);
	close(b);
	close(c);
}

static void
test_handle_stall(struct wl_client *client, struct wl_resource *resource,
		  int32_t wake)
{
	char byte;

	/* Block the whole compositor: the client's socket fills up. */
	while (read(wake, &byte, 1) < 0 && errno == EINTR)
		;
	close(wake);
}

static void
test_handle_noop(struct wl_client *client, struct wl_resource *resource,
		 struct wl_array *payload)
{
	compositor.noop_count++;
}

static void
test_handle_get_noop_count(struct wl_client *client,
			   struct wl_resource *resource)
{
	beh_test_send_noop_count(resource, compositor.noop_count);
}

static void
test_handle_post_error(struct wl_client *client, struct wl_resource *resource,
		       struct wl_resource *target, uint32_t code,
		       const char *message)
{
	wl_resource_post_error(target ? target : resource, code, "%s", message);
}

static void
test_handle_create_obj(struct wl_client *client, struct wl_resource *resource,
		       uint32_t id)
{
	obj_create(client, wl_resource_get_version(resource), id);
}

static void
test_handle_ping(struct wl_client *client, struct wl_resource *resource,
		 uint32_t serial)
{
	beh_test_send_pong(resource, serial);
}

static const struct beh_test_interface test_impl = {
	.destroy = test_handle_destroy,
	.everything = test_handle_everything,
	.bind_any = test_handle_bind_any,
	.send_fds = test_handle_send_fds,
	.stall = test_handle_stall,
	.noop = test_handle_noop,
	.get_noop_count = test_handle_get_noop_count,
	.post_error = test_handle_post_error,
	.create_obj = test_handle_create_obj,
	.ping = test_handle_ping,
};

static void
bind_test(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *resource;

	resource = wl_resource_create(client, &beh_test_interface, version, id);
	if (!resource) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(resource, &test_impl, NULL, NULL);
}

/* beh_fd_test: the fd kinds a virtio-gpu host can move (memory, pipe write
 * ends), inspected here on the compositor's side of the transport. */

#define DESCRIBE_MAX 256

static void
describe_fd(struct wl_resource *resource, uint32_t index, int fd)
{
	struct wl_array bytes;
	uint32_t kind = 0, size = 0;
	struct stat st;
	off_t end;
	int flags;

	wl_array_init(&bytes);
	end = lseek(fd, 0, SEEK_END);
	flags = fcntl(fd, F_GETFL);
	if (end >= 0) {
		size_t n = end < DESCRIBE_MAX ? (size_t) end : DESCRIBE_MAX;

		kind = 1;
		size = (uint32_t) end;
		if (n > 0) {
			void *map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);

			if (map == MAP_FAILED) {
				kind = 3;	/* memory that does not map */
			} else {
				memcpy(wl_array_add(&bytes, n), map, n);
				munmap(map, n);
			}
		}
	} else if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
		   flags >= 0 && (flags & O_ACCMODE) == O_WRONLY) {
		char text[64];
		int len = snprintf(text, sizeof text, "written to fd %u", index);

		kind = 2;
		if (write(fd, text, len) == len)
			memcpy(wl_array_add(&bytes, len), text, len);
	}
	close(fd);
	beh_fd_test_send_described(resource, index, kind, size, &bytes);
	wl_array_release(&bytes);
}

static void
fdt_handle_inspect(struct wl_client *client, struct wl_resource *resource,
		   int32_t fd)
{
	describe_fd(resource, 0, fd);
}

static void
fdt_handle_inspect3(struct wl_client *client, struct wl_resource *resource,
		    int32_t a, int32_t b, int32_t c)
{
	describe_fd(resource, 0, a);
	describe_fd(resource, 1, b);
	describe_fd(resource, 2, c);
}

/* Reads [from, to) of fd in pieces: the bytes read (stops at the end or
 * an error, *error set), hashed with FNV-1a into *hash; *nonzero when one
 * of them is not 0. head, when not NULL, gets the first 64. */
static size_t
read_range(int fd, size_t from, size_t to, uint32_t *hash, bool *nonzero,
	   struct wl_array *head, int *error)
{
	unsigned char buf[65536];
	size_t at = from, i;
	ssize_t n;

	while (at < to) {
		n = pread(fd, buf, to - at < sizeof buf ? to - at : sizeof buf,
			  (off_t) at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				*error = errno;
			break;
		}
		for (i = 0; i < (size_t) n; i++) {
			*hash = (*hash ^ buf[i]) * 16777619u;
			*nonzero |= buf[i] != 0;
		}
		if (head && head->size < 64) {
			size_t k = 64 - head->size < (size_t) n ?
				   64 - head->size : (size_t) n;

			memcpy(wl_array_add(head, k), buf, k);
		}
		at += (size_t) n;
	}
	return at - from;
}

static void
fdt_handle_read_file(struct wl_client *client, struct wl_resource *resource,
		     int32_t fd, uint32_t len)
{
	uint32_t hash = 2166136261u, tail_hash = 0;
	bool nonzero = false, tail_nonzero = false;
	struct wl_array head;
	size_t size = 0, got = 0;
	struct stat st;
	int error = 0;

	wl_array_init(&head);
	if (fstat(fd, &st) < 0) {
		error = errno;
	} else {
		size = (size_t) st.st_size;
		got = read_range(fd, 0, len, &hash, &nonzero, &head, &error);
		if (size > len)
			read_range(fd, len, size, &tail_hash, &tail_nonzero,
				   NULL, &error);
	}
	close(fd);
	beh_fd_test_send_file_read(resource, (uint32_t) size, (uint32_t) got,
				   hash, !tail_nonzero, (uint32_t) error, &head);
	wl_array_release(&head);
}

static int
memfd_of_size(const char *text, uint32_t size)
{
	size_t len = strlen(text) + 1;
	unsigned char *map;
	uint32_t k;
	int fd;

	fd = memfd_create("beh-compositor-memory", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create");
	if (size < len)
		size = len;
	if (ftruncate(fd, size) < 0)
		die("ftruncate");
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	for (k = 0; k < size; k++)
		map[k] = (k * 31 + 7) & 0xff;
	memcpy(map, text, len);
	munmap(map, size);
	return fd;
}

static void
fdt_handle_get_memory(struct wl_client *client, struct wl_resource *resource,
		      const char *text, uint32_t size)
{
	int fd = memfd_of_size(text, size);

	beh_fd_test_send_memory(resource, fd, size);
	close(fd);
}

/* The read end of a pipe whose write end went to the client. */
struct pipe_reader {
	struct wl_resource *resource;	/* NULL once destroyed */
	struct wl_listener resource_destroy;
	struct wl_event_source *source;
	struct wl_array data;
	int fd;
};

static void
pipe_reader_free(struct pipe_reader *r)
{
	if (r->resource)
		wl_list_remove(&r->resource_destroy.link);
	wl_event_source_remove(r->source);
	close(r->fd);
	wl_array_release(&r->data);
	free(r);
}

static int
pipe_readable(int fd, uint32_t mask, void *data)
{
	struct pipe_reader *r = data;
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n > 0) {
			memcpy(wl_array_add(&r->data, n), buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		break;	/* EOF or error */
	}
	if (r->resource) {
		struct wl_array head;
		uint32_t hash = 2166136261u;
		size_t k, n = r->data.size < DESCRIBE_MAX ? r->data.size :
			DESCRIBE_MAX;

		for (k = 0; k < r->data.size; k++)
			hash = (hash ^ ((unsigned char *) r->data.data)[k]) *
				16777619u;
		wl_array_init(&head);
		if (n)
			memcpy(wl_array_add(&head, n), r->data.data, n);
		beh_fd_test_send_pipe_data(r->resource, r->data.size, hash,
					   &head);
		wl_array_release(&head);
	}
	pipe_reader_free(r);
	return 0;
}

static void
pipe_reader_resource_destroyed(struct wl_listener *listener, void *data)
{
	struct pipe_reader *r = wl_container_of(listener, r, resource_destroy);

	r->resource = NULL;
}

/* Returns the write end for the client; the read end is watched. */
static int
pipe_for_client(struct wl_resource *resource)
{
	struct wl_event_loop *loop =
		wl_display_get_event_loop(compositor.display);
	struct pipe_reader *r;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe2");
	r = calloc(1, sizeof *r);
	if (!r)
		die("calloc");
	r->fd = fds[0];
	r->resource = resource;
	wl_array_init(&r->data);
	r->resource_destroy.notify = pipe_reader_resource_destroyed;
	wl_resource_add_destroy_listener(resource, &r->resource_destroy);
	r->source = wl_event_loop_add_fd(loop, fds[0], WL_EVENT_READABLE,
					 pipe_readable, r);
	if (!r->source)
		die("wl_event_loop_add_fd");
	return fds[1];
}

static void
fdt_handle_get_pipe(struct wl_client *client, struct wl_resource *resource)
{
	int fd = pipe_for_client(resource);

	beh_fd_test_send_pipe(resource, fd);
	close(fd);
}

static void
fdt_handle_get_mixed(struct wl_client *client, struct wl_resource *resource)
{
	int a = memfd_with_text("first");
	int b = pipe_for_client(resource);
	int c = memfd_with_text("third");

	beh_fd_test_send_mixed(resource, a, b, c);
	close(a);
	close(b);
	close(c);
}

static void
fdt_handle_echo(struct wl_client *client, struct wl_resource *resource,
		struct wl_array *data)
{
	beh_fd_test_send_array(resource, data);
}

static void
fdt_handle_sleep(struct wl_client *client, struct wl_resource *resource,
		 uint32_t ms)
{
	/* Events queued before the sleep leave before it. */
	wl_client_flush(client);
	usleep(ms * 1000);
}

static const struct beh_fd_test_interface fd_test_impl = {
	.destroy = obj_handle_destroy,
	.inspect = fdt_handle_inspect,
	.inspect3 = fdt_handle_inspect3,
	.get_memory = fdt_handle_get_memory,
	.get_pipe = fdt_handle_get_pipe,
	.get_mixed = fdt_handle_get_mixed,
	.echo = fdt_handle_echo,
	.sleep = fdt_handle_sleep,
	.read_file = fdt_handle_read_file,
};

static void
bind_fd_test(struct wl_client *client, void *data, uint32_t version,
	     uint32_t id)
{
	struct wl_resource *resource;

	resource = wl_resource_create(client, &beh_fd_test_interface, version,
				      id);
	if (!resource) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(resource, &fd_test_impl, NULL, NULL);
}

static void
handle_client_destroy(struct wl_listener *listener, void *data)
{
	/* One client per compositor: when it goes, so do we. */
	wl_display_terminate(compositor.display);
}

static void
handle_client_created(struct wl_listener *listener, void *data)
{
	struct wl_client *client = data;

	compositor.client_destroy.notify = handle_client_destroy;
	wl_client_add_destroy_listener(client, &compositor.client_destroy);
}

static struct wl_listener client_created = {
	.notify = handle_client_created,
};

static void
usage(void)
{
	fprintf(stderr, "usage: beh-compositor --fd N | "
		"--socket NAME --ready-fd N\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *socket_name = NULL;
	int client_fd = -1, ready_fd = -1;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--fd") == 0)
			client_fd = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--socket") == 0)
			socket_name = argv[i + 1];
		else if (strcmp(argv[i], "--ready-fd") == 0)
			ready_fd = atoi(argv[i + 1]);
		else
			usage();
	}
	if ((client_fd < 0) == (socket_name == NULL))
		usage();

	compositor.display = wl_display_create();
	if (!compositor.display)
		die("wl_display_create");
	if (!wl_global_create(compositor.display, &beh_test_interface, 3,
			      NULL, bind_test))
		die("wl_global_create");
	if (!wl_global_create(compositor.display, &beh_fd_test_interface, 1,
			      NULL, bind_fd_test))
		die("wl_global_create");
	/* wl_shm only when a case asks (its formats are events other cases
	 * would count): a pool's memfd sent in another request too. */
	if (getenv("BEH_COMPOSITOR_SHM") &&
	    wl_display_init_shm(compositor.display) < 0)
		die("wl_display_init_shm");
	wl_display_add_client_created_listener(compositor.display,
					       &client_created);

	if (socket_name) {
		if (wl_display_add_socket(compositor.display, socket_name) < 0)
			die("wl_display_add_socket");
		if (ready_fd >= 0) {
			if (write(ready_fd, "r", 1) != 1)
				die("write ready fd");
			close(ready_fd);
		}
	} else if (!wl_client_create(compositor.display, client_fd)) {
		die("wl_client_create");
	}

	wl_display_run(compositor.display);
	wl_display_destroy_clients(compositor.display);
	wl_display_destroy(compositor.display);
	return 0;
}
