/*
 * SPDX-License-Identifier: MIT
 * Pipe data both ways over the cross-domain channel (§4.3): a pipe the
 * client reads from (a clipboard offer it receives) gets READs from the
 * host; a pipe it writes into (its own clipboard source) is forwarded
 * with WRITEs by the pump, whatever the client is doing (struct vt_pipes).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

struct read_pipe {
	uint32_t id;
	int fd;			/* the client's write end */
	uint8_t *pending;
	size_t pending_len;
	bool hang_up;
	struct read_pipe *next;
};

struct write_pipe {
	uint32_t id;
	int fd;			/* our read end; the client has the write end */
	int client_fd;		/* the number the client got for its end */
	ino_t ino;		/* the pipe's, to recognise that fd */
	struct write_pipe *next;
};

/* WRITEs the host may not have run yet. The host holds a WRITE while the
 * compositor's end of the pipe is full, and every command after it (§4.3:
 * its write blocks), and the kernel's queue is finite: unbounded, a client
 * pasting its own large selection filled the queue with WRITEs, and the
 * POLL that would drain the pipe waited for room behind them for good.
 * Beyond these the pump leaves the client's pipes unread (its writer then
 * blocks on a full pipe, as over a socket) until a fence says the host ran
 * them. SENDs have their own bound (send-queue.c); both together stay
 * well inside a queue. */
#define PIPE_WRITES_UNRUN 16
/* A WRITE asks for a fence this often: the host runs them in order, so
 * one fence covers every WRITE before it. */
#define PIPE_FENCE_EVERY 4

/* True when the outstanding fence signalled: its WRITEs have run. */
static bool
pipes_fence_retire_locked(struct vt_pipes *p)
{
	if (!virtgpu_fence_retire(&p->fence))
		return false;
	if (p->fence_writes > p->writes_run)
		p->writes_run = p->fence_writes;
	return true;
}

/* Whether the host is too far behind for another WRITE. Without a fence
 * to wait for (the kernel gave none), the kernel's own wait in EXECBUFFER
 * is all there is. */
static bool
pipes_throttled_locked(struct vt_pipes *p)
{
	if (p->writes - p->writes_run < PIPE_WRITES_UNRUN)
		return false;
	pipes_fence_retire_locked(p);
	return p->fence >= 0 && p->writes - p->writes_run >= PIPE_WRITES_UNRUN;
}

/* Whether the next WRITE should carry a fence. */
static bool
pipes_wants_fence_locked(struct vt_pipes *p)
{
	if (p->fence >= 0 && !pipes_fence_retire_locked(p))
		return false;
	return p->writes + 1 - p->writes_run >= PIPE_FENCE_EVERY;
}

/* What the pump waits on while WRITEs are held back (-1: nothing). */
int
pipes_wait_fd_locked(struct virtgpu_transport *t)
{
	return pipes_throttled_locked(&t->pipes) ? t->pipes.fence : -1;
}

/* The fence the pump waited on signalled: the pipes are read again. */
void
pipes_fence_signalled_locked(struct virtgpu_transport *t)
{
	pipes_fence_retire_locked(&t->pipes);
}

/* With the lock held: whether any pipe transfer is open (the pump then
 * keeps the channel busy for it). */
bool
pipes_open(struct virtgpu_transport *t)
{
	return t->pipes.read || t->pipes.write;
}

/* With the lock held: data from the host the client has not read yet. */
size_t
pipes_pending_bytes(struct virtgpu_transport *t)
{
	struct read_pipe *rp;
	size_t total = 0;

	for (rp = t->pipes.read; rp; rp = rp->next)
		total += rp->pending_len;
	return total;
}

/* A pipe's write end the client sends (it will read the other end): the
 * host's READs for *id, the id the host will give it (§4.3), are written
 * to a copy of it. The id is taken only on success: the host counts the
 * read pipes it is sent. */
int
pipes_read_pipe_add(struct virtgpu_transport *t, int client_fd, uint32_t *id)
{
	struct read_pipe *rp = calloc(1, sizeof *rp);
	int fd = wl_os_dupfd_cloexec(client_fd, 0);

	if (rp == NULL || fd < 0) {
		free(rp);
		if (fd >= 0)
			close(fd);
		errno = ENOMEM;
		return -1;
	}
	fcntl(fd, F_SETFL, O_WRONLY | O_NONBLOCK);
	*id = cross_domain_next_read_pipe_id(&t->cd);
	rp->id = *id;
	rp->fd = fd;
	pthread_mutex_lock(&t->lock);
	rp->next = t->pipes.read;
	t->pipes.read = rp;
	pthread_mutex_unlock(&t->lock);
	pump_wake(t);

	return 0;
}

/* §4.2 type 4: the compositor's write end becomes a local pipe whose
 * write end the client gets; the pump forwards what it reads. */
int
pipes_write_pipe_add(struct virtgpu_transport *t, uint32_t id)
{
	struct write_pipe *wp;
	struct stat st;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);

	wp = calloc(1, sizeof *wp);
	if (wp == NULL) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	wp->id = id;
	wp->fd = fds[0];
	wp->client_fd = fds[1];
	if (fstat(fds[0], &st) == 0)
		wp->ino = st.st_ino;
	wp->next = t->pipes.write;
	t->pipes.write = wp;
	pump_wake(t);

	return fds[1];
}

static void
read_pipe_free(struct virtgpu_transport *t, struct read_pipe *rp)
{
	struct read_pipe **p = &t->pipes.read;

	while (*p && *p != rp)
		p = &(*p)->next;
	if (*p)
		*p = rp->next;
	close(rp->fd);
	free(rp->pending);
	free(rp);
}

static void
write_pipe_free(struct virtgpu_transport *t, struct write_pipe *wp)
{
	struct write_pipe **p = &t->pipes.write;

	while (*p && *p != wp)
		p = &(*p)->next;
	if (*p)
		*p = wp->next;
	close(wp->fd);
	free(wp);
}

/* Write what is pending to the client's pipe, without blocking. */
static void
read_pipe_flush(struct virtgpu_transport *t, struct read_pipe *rp)
{
	ssize_t n;

	while (rp->pending_len > 0) {
		n = write(rp->fd, rp->pending, rp->pending_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* The client closed its end: drop the data. */
			rp->pending_len = 0;
			rp->hang_up = true;
			break;
		}
		memmove(rp->pending, rp->pending + n, rp->pending_len - (size_t) n);
		rp->pending_len -= (size_t) n;
		t->pipes.bytes_in += (uint64_t) n;
	}

	if (rp->hang_up)
		read_pipe_free(t, rp);
}

/* A READ at the channel ring: data (or the hang-up) for a read pipe. */
void
pipes_handle_read_locked(struct virtgpu_transport *t, const uint8_t *msg,
			 size_t avail)
{
	struct cross_domain_read r;
	struct read_pipe *rp;
	uint8_t *grown;

	if (cross_domain_parse_read(msg, avail, &r) < 0) {
		wl_log("wayland-virtgpu: the host sent a malformed READ "
		       "(%u bytes)\n",
		       ((const struct cross_domain_read_write *) msg)->opaque_data_size);
		virtgpu_fail_locked(t, EPROTO);
		return;
	}

	for (rp = t->pipes.read; rp && rp->id != r.id; rp = rp->next)
		;
	if (rp == NULL) {
		wl_log("wayland-virtgpu: the host sent data for unknown pipe "
		       "0x%x; dropped\n", r.id);
		return;
	}

	if (r.size > 0) {
		grown = realloc(rp->pending, rp->pending_len + r.size);
		if (grown == NULL) {
			virtgpu_fail_locked(t, ENOMEM);
			return;
		}
		rp->pending = grown;
		memcpy(rp->pending + rp->pending_len, r.data, r.size);
		rp->pending_len += r.size;
	}
	if (r.hang_up)
		rp->hang_up = true;

	read_pipe_flush(t, rp);
}

/* A readable write-pipe end: forward up to one WRITE (§4.3); EOF only
 * hangs up. */
static void
write_pipe_pump(struct virtgpu_transport *t, struct write_pipe *wp)
{
	uint8_t buf[CROSS_DOMAIN_MAX_WRITE_DATA];
	uint32_t id = wp->id;
	uint64_t seq;
	bool fenced;
	int ret, fence = -1;
	ssize_t n;

	if (pipes_throttled_locked(&t->pipes))
		return;
	n = read(wp->fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;

	if (n <= 0)
		write_pipe_free(t, wp);

	/* The host writes to the compositor's pipe with a blocking write
	 * (§4.3): a compositor slow to read must not stall the client's
	 * reader, so the lock is not held across it. Only the pump sends
	 * pipe data while the display lives, so the order holds. */
	fenced = pipes_wants_fence_locked(&t->pipes);
	seq = ++t->pipes.writes;
	pthread_mutex_unlock(&t->lock);
	if (n > 0)
		ret = cross_domain_write(&t->cd, id, false, buf, (uint32_t) n,
					 fenced ? &fence : NULL);
	else
		ret = cross_domain_write(&t->cd, id, true, NULL, 0,
					 fenced ? &fence : NULL);
	pthread_mutex_lock(&t->lock);
	if (ret == 0 && fence >= 0) {
		if (t->pipes.fence >= 0)
			close(t->pipes.fence);
		t->pipes.fence = fence;
		t->pipes.fence_writes = seq;
	}

	if (n > 0 && ret < 0) {
		if (!t->rx_error)
			wl_log("wayland-virtgpu: pipe data to the host failed "
			       "(%s)\n", strerror(errno));
		virtgpu_fail_locked(t, EPIPE);
	}
	if (n > 0)
		t->pipes.bytes_out += (uint64_t) n;
}

/* How many fds pipes_watch_locked adds to the pump's poll. */
int
pipes_watch_count_locked(struct virtgpu_transport *t)
{
	struct write_pipe *wp;
	struct read_pipe *rp;
	int n = 0;

	for (wp = t->pipes.write; wp; wp = wp->next)
		n++;
	for (rp = t->pipes.read; rp; rp = rp->next)
		n++;
	return n;
}

/* Fills the pump's poll with every pipe end, each with its owner for
 * pipes_ready_locked. */
int
pipes_watch_locked(struct virtgpu_transport *t, struct pollfd *pfds,
		   void **owners)
{
	struct write_pipe *wp;
	struct read_pipe *rp;
	bool throttled = pipes_throttled_locked(&t->pipes);
	int n = 0;

	for (wp = t->pipes.write; wp; wp = wp->next) {
		pfds[n] = (struct pollfd) {
			.fd = wp->fd, .events = throttled ? 0 : POLLIN,
		};
		owners[n++] = wp;
	}
	for (rp = t->pipes.read; rp; rp = rp->next) {
		pfds[n] = (struct pollfd) {
			.fd = rp->fd,
			.events = rp->pending_len ? POLLOUT : 0,
		};
		owners[n++] = rp;
	}
	return n;
}

/* A pipe end the pump watched is ready. Owners may have been freed
 * meanwhile: each is looked up again. */
void
pipes_ready_locked(struct virtgpu_transport *t, const struct pollfd *pfd,
		   void *owner)
{
	struct write_pipe *wp;
	struct read_pipe *rp;

	for (wp = t->pipes.write; wp && (void *) wp != owner; wp = wp->next)
		;
	if (wp && wp->fd == pfd->fd) {
		write_pipe_pump(t, wp);
		return;
	}
	for (rp = t->pipes.read; rp && (void *) rp != owner; rp = rp->next)
		;
	if (rp && rp->fd == pfd->fd) {
		if (pfd->revents & (POLLERR | POLLHUP)) {
			rp->pending_len = 0;
			rp->hang_up = true;
		}
		read_pipe_flush(t, rp);
	}
}

/* Before the process goes, what the client wrote into a write pipe and
 * the pump has not forwarded yet must still reach the host, then the
 * hang-up (wl-copy writes its data and exits at once). */
void
pipes_drain(struct virtgpu_transport *t)
{
	uint8_t buf[CROSS_DOMAIN_MAX_WRITE_DATA];
	struct write_pipe *wp;
	struct pollfd pfd;
	ssize_t n;

	pthread_mutex_lock(&t->lock);
	while ((wp = t->pipes.write)) {
		struct stat st;

		if (t->rx_error) {
			/* The channel is gone: nothing more can be sent. */
			write_pipe_free(t, wp);
			continue;
		}
		/* While this process still holds the write end, no end of
		 * file can come: take what is there. Otherwise another
		 * process (a forked writer) may still be at it: follow it
		 * to its end while it keeps writing. */
		bool held = fstat(wp->client_fd, &st) == 0 &&
			    S_ISFIFO(st.st_mode) && st.st_ino == wp->ino;

		pfd = (struct pollfd) { .fd = wp->fd, .events = POLLIN };
		while (poll(&pfd, 1, held ? 100 : 2000) > 0) {
			n = read(wp->fd, buf, sizeof buf);
			if (n <= 0)
				break;
			if (cross_domain_write(&t->cd, wp->id, false, buf,
					       (uint32_t) n, NULL) < 0)
				break;
			t->pipes.bytes_out += (uint64_t) n;
		}
		cross_domain_write(&t->cd, wp->id, true, NULL, 0, NULL);
		write_pipe_free(t, wp);
	}
	pthread_mutex_unlock(&t->lock);
}

void
pipes_fini(struct virtgpu_transport *t)
{
	while (t->pipes.read)
		read_pipe_free(t, t->pipes.read);
	while (t->pipes.write)
		write_pipe_free(t, t->pipes.write);
	if (t->pipes.fence >= 0)
		close(t->pipes.fence);
	t->pipes.fence = -1;
}
