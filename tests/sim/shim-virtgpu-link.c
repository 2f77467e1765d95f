/*
 * The fake virtio_gpu driver's connections to the host device process: what a real kernel
 * puts on the virtqueue goes out here, a SUBMIT or a handle close as one sim-ipc message on
 * the file's primary connection that nobody waits for, anything else as a request with one
 * reply on a joined
 * connection (a file's idle one kept for the next call), in the order sim-ipc.h describes.
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
vg_link_call_on(int conn, uint32_t op, uint32_t seq, const void *a, size_t a_size,
		const void *b, size_t b_size, const int *fds, unsigned num_fds, void *reply,
		size_t reply_size, int *reply_fd)
{
	struct sim_ipc_hdr hdr;
	int rfds[SIM_IPC_MAX_FDS];
	int ret;

	if (reply_fd)
		*reply_fd = -1;
	ret = sim_ipc_send_seq(conn, op, seq, a, a_size, b, b_size, fds, num_fds);
	if (ret < 0)
		return -ENODEV;
	/* Nothing else comes on conn before this reply: one recvmsg takes it whole. */
	ret = sim_ipc_recv_reply(conn, &hdr, reply, reply ? reply_size : 0, rfds);
	if (ret < 0)
		return -ENODEV;
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
	pthread_mutex_init(&link->submit_lock, NULL);
	link->pool_pid = shim_self_pid();
	link->owner_pid = link->pool_pid;
	link->credit = SIM_IPC_QUEUE_DEPTH;
}

int
vg_link_open(struct vg_link *link, int event_fd, struct sim_ipc_device *dev)
{
	int ret;

	link->primary = vg_link_connect();
	if (link->primary < 0)
		return link->primary;
	ret = vg_link_call_on(link->primary, SIM_IPC_HELLO, 0, NULL, 0, NULL, 0, &event_fd, 1,
			      dev, sizeof *dev, NULL);
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
	ret = vg_link_call_on(conn, SIM_IPC_JOIN, 0, &join, sizeof join, NULL, 0, NULL, 0, NULL,
			      0, NULL);
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
	/* After every SUBMIT this thread (or one before it) sent. */
	ret = vg_link_call_on(conn, op, __atomic_load_n(&link->submits, __ATOMIC_ACQUIRE), a,
			      a_size, b, b_size, fds, num_fds, reply, reply_size, reply_fd);
	if (ret == -ENODEV) {
		shim_real.close(conn);
		return ret;
	}
	vg_link_give_back(link, conn);
	return ret;
}

/* Room in the file's queue: asked of the host once the credit is spent (the kernel's wait
 * for free descriptors). Called with submit_lock held. */
static int
vg_link_wait_room(struct vg_link *link)
{
	struct sim_ipc_queue_credit room = { 0 };
	int ret;

	while (link->credit == 0) {
		ret = vg_link_call(link, SIM_IPC_QUEUE_WAIT, NULL, 0, NULL, 0, NULL, 0, &room,
				   sizeof room, NULL);
		if (ret < 0)
			return ret;
		link->credit = room.credit;
	}
	return 0;
}

/* A command queued on the primary connection, not answered: a SUBMIT spends a place of the
 * queue's credit (a handle close holds none: the host runs it once the submits before it
 * ran). */
static int
vg_link_queue(struct vg_link *link, uint32_t op, const void *a, size_t a_size, const void *b,
	      size_t b_size, int fd)
{
	int ret = 0;

	/* A forked child shares the primary with its parent, which numbers what goes on it:
	 * the child's commands are requests of their own, answered once queued. */
	if (link->owner_pid != shim_self_pid())
		return vg_link_call(link, op, a, a_size, b, b_size, &fd, fd >= 0 ? 1 : 0, NULL, 0,
				    NULL);
	pthread_mutex_lock(&link->submit_lock);
	if (op == SIM_IPC_SUBMIT)
		ret = vg_link_wait_room(link);
	if (ret == 0 && sim_ipc_send(link->primary, op, 0, a, a_size, b, b_size, &fd,
				     fd >= 0 ? 1 : 0) < 0)
		ret = -ENODEV;
	if (ret == 0) {
		if (op == SIM_IPC_SUBMIT)
			link->credit--;
		__atomic_store_n(&link->submits, link->submits + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&link->submit_lock);
	return ret;
}

int
vg_link_submit(struct vg_link *link, const void *a, size_t a_size, const void *b,
	       size_t b_size, int fence_fd)
{
	return vg_link_queue(link, SIM_IPC_SUBMIT, a, a_size, b, b_size, fence_fd);
}

int
vg_link_close_handle(struct vg_link *link, const struct sim_ipc_res *req)
{
	return vg_link_queue(link, SIM_IPC_HANDLE_CLOSE, req, sizeof *req, NULL, 0, -1);
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
	pthread_mutex_destroy(&link->submit_lock);
}

void
vg_link_atfork_child(struct vg_link *link)
{
	pthread_mutex_init(&link->lock, NULL);
	pthread_mutex_init(&link->submit_lock, NULL);
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
	ret = vg_link_call_on(conn, SIM_IPC_HELLO, 0, NULL, 0, NULL, 0, &sv[1], 1, &dev,
			      sizeof dev, NULL);
	if (ret == 0)
		ret = vg_link_call_on(conn, op, 0, req, req_size, NULL, 0, NULL, 0, reply,
				      reply_size, reply_fd);
	shim_real.close(conn);
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	return ret;
}
