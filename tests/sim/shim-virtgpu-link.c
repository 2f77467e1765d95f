/*
 * The fake virtio_gpu driver's connections to the host device process: what a real kernel
 * puts on the virtqueue goes out here as one sim-ipc request with one reply, a file's idle
 * connection kept for the next call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim-virtgpu.h"

int
vg_link_connect(void)
{
	const char *path = getenv("VIRTGPU_SIM_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof addr.sun_path)
		return -ENODEV;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		shim_real.close(fd);
		return -ENODEV;
	}
	return fd;
}

int
vg_link_call_on(int conn, uint32_t op, const void *a, size_t a_size, const void *b,
		size_t b_size, const int *fds, unsigned num_fds, void *reply, size_t reply_size,
		int *reply_fd)
{
	struct sim_ipc_hdr hdr;
	int rfds[SIM_IPC_MAX_FDS];
	void *payload;
	int ret;

	if (reply_fd)
		*reply_fd = -1;
	ret = sim_ipc_send(conn, op, 0, a, a_size, b, b_size, fds, num_fds);
	if (ret < 0)
		return -ENODEV;
	ret = sim_ipc_recv(conn, &hdr, &payload, rfds);
	if (ret < 0)
		return -ENODEV;
	if (reply && payload)
		memcpy(reply, payload, hdr.size < reply_size ? hdr.size : reply_size);
	free(payload);
	for (uint32_t i = 0; i < hdr.num_fds; i++) {
		if (i == 0 && reply_fd)
			*reply_fd = rfds[0];
		else
			shim_real.close(rfds[i]);
	}
	return hdr.status;
}

void
vg_link_setup(struct vg_link *link)
{
	pthread_mutex_init(&link->lock, NULL);
	link->pool_pid = shim_self_pid();
}

int
vg_link_open(struct vg_link *link, int event_fd, struct sim_ipc_device *dev)
{
	int ret;

	link->primary = vg_link_connect();
	if (link->primary < 0)
		return link->primary;
	ret = vg_link_call_on(link->primary, SIM_IPC_HELLO, NULL, 0, NULL, 0, &event_fd, 1, dev,
			      sizeof *dev, NULL);
	if (ret < 0) {
		shim_real.close(link->primary);
		return ret;
	}
	link->file_id = dev->file_id;
	return 0;
}

/* The pooled connection, or a new one that joins the file. */
static int
vg_link_take(struct vg_link *link)
{
	struct sim_ipc_join join = { link->file_id };
	int conn = -1, ret;

	pthread_mutex_lock(&link->lock);
	if (link->pool_pid != shim_self_pid()) {
		/* After fork the pooled connections are the parent's. */
		for (int i = 0; i < link->num_pool; i++)
			shim_real.close(link->pool[i]);
		link->num_pool = 0;
		link->pool_pid = shim_self_pid();
	}
	if (link->num_pool > 0)
		conn = link->pool[--link->num_pool];
	pthread_mutex_unlock(&link->lock);
	if (conn >= 0)
		return conn;

	conn = vg_link_connect();
	if (conn < 0)
		return conn;
	ret = vg_link_call_on(conn, SIM_IPC_JOIN, &join, sizeof join, NULL, 0, NULL, 0, NULL, 0,
			      NULL);
	if (ret < 0) {
		shim_real.close(conn);
		return ret;
	}
	return conn;
}

/* A connection back to the pool, or closed when the pool is full or the parent's. */
static void
vg_link_give_back(struct vg_link *link, int conn)
{
	pthread_mutex_lock(&link->lock);
	if (link->num_pool < (int)(sizeof link->pool / sizeof link->pool[0]) &&
	    link->pool_pid == shim_self_pid())
		link->pool[link->num_pool++] = conn;
	else
		shim_real.close(conn);
	pthread_mutex_unlock(&link->lock);
}

int
vg_link_call(struct vg_link *link, uint32_t op, const void *a, size_t a_size, const void *b,
	     size_t b_size, const int *fds, unsigned num_fds, void *reply, size_t reply_size,
	     int *reply_fd)
{
	int conn, ret;

	conn = vg_link_take(link);
	if (conn < 0)
		return conn;
	ret = vg_link_call_on(conn, op, a, a_size, b, b_size, fds, num_fds, reply, reply_size,
			      reply_fd);
	if (ret == -ENODEV) {
		shim_real.close(conn);
		return ret;
	}
	vg_link_give_back(link, conn);
	return ret;
}

void
vg_link_cleanup(struct vg_link *link)
{
	if (link->pool_pid == shim_self_pid())
		for (int i = 0; i < link->num_pool; i++)
			shim_real.close(link->pool[i]);
	/* The host drops the file, its context and its handles. */
	shim_real.close(link->primary);
	pthread_mutex_destroy(&link->lock);
}

void
vg_link_atfork_child(struct vg_link *link)
{
	pthread_mutex_init(&link->lock, NULL);
}

int
vg_link_internal_fds(struct vg_link *link, int *fds, int max)
{
	int n = 0;

	if (n < max && link->primary >= 0)
		fds[n++] = link->primary;
	for (int i = 0; i < link->num_pool && n < max; i++)
		fds[n++] = link->pool[i];
	return n;
}

/* One request on a connection of its own, as a DRM file of its own: for what is no DRM
 * file's (a dma-buf's ioctls, the test API). */
int
vg_link_call_own(uint32_t op, const void *req, size_t req_size, void *reply, size_t reply_size,
		 int *reply_fd)
{
	struct sim_ipc_device dev;
	int conn, ret, sv[2];

	conn = vg_link_connect();
	if (conn < 0)
		return conn;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		shim_real.close(conn);
		return ret;
	}
	ret = vg_link_call_on(conn, SIM_IPC_HELLO, NULL, 0, NULL, 0, &sv[1], 1, &dev, sizeof dev,
			      NULL);
	if (ret == 0)
		ret = vg_link_call_on(conn, op, req, req_size, NULL, 0, NULL, 0, reply, reply_size,
				      reply_fd);
	shim_real.close(conn);
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	return ret;
}
