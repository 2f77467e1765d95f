/*
 * SPDX-License-Identifier: MIT
 * A forked process and the virtgpu transport: only the forking thread
 * survives in the child, and clients such as wl-copy fork and go on using
 * the display there, so the child gets a pump of its own when it first
 * uses it. At exit, pipe data the client wrote still reaches the host.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport-virtgpu.h"

/* Every live transport, so a fork can give the child its own pumps. */
static pthread_mutex_t all_transports_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wl_list all_transports = { &all_transports, &all_transports };
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* This process's pid: getpid() is a system call, and fork_adopt runs for
 * every send, read and flush. Set anew in each forked child (a child of
 * vfork or posix_spawn runs no atfork handler, but only execs or exits). */
static pid_t process_pid;

static pid_t
process_self(void)
{
	pid_t pid = __atomic_load_n(&process_pid, __ATOMIC_RELAXED);

	if (pid == 0) {
		pid = getpid();
		__atomic_store_n(&process_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

static void
atfork_prepare(void)
{
	struct virtgpu_transport *t;

	pthread_mutex_lock(&all_transports_lock);
	wl_list_for_each(t, &all_transports, fork.link)
		pthread_mutex_lock(&t->lock);
}

static void
atfork_parent(void)
{
	struct virtgpu_transport *t;

	wl_list_for_each(t, &all_transports, fork.link)
		pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&all_transports_lock);
}

static void
atfork_child(void)
{
	struct virtgpu_transport *t;

	__atomic_store_n(&process_pid, getpid(), __ATOMIC_RELAXED);
	wl_list_for_each(t, &all_transports, fork.link) {
		pthread_mutex_unlock(&t->lock);
		/* The DRM file (so the context and its one POLL) is shared
		 * with the parent. A child that only execs must not take
		 * fence events from the parent: it gets a pump of its own
		 * only when it uses the display itself (fork_adopt). */
		pump_forget_parent_locked(t);
		/* The parent may close those handles without the child
		 * hearing of it: the child's SENDs ask the kernel. */
		virtgpu_exports_forget(&t->cd.dev);
	}
	pthread_mutex_unlock(&all_transports_lock);
}

static void
drain_at_exit(void)
{
	struct virtgpu_transport *t;

	pthread_mutex_lock(&all_transports_lock);
	wl_list_for_each(t, &all_transports, fork.link) {
		if (t->fork.owner_pid == process_self()) {
			/* The drain alone moves pipe data from here on. */
			pump_stop(t);
			pipes_drain(t);
		}
	}
	pthread_mutex_unlock(&all_transports_lock);
}

static void
register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	atexit(drain_at_exit);
}

/* Before the pump starts: it reads both (fork_is_user). */
int
fork_init(struct virtgpu_transport *t)
{
	struct vt_fork *f = &t->fork;

	/* First: a fork from here on updates process_pid. */
	pthread_once(&atfork_once, register_atfork);
	f->owner_pid = process_self();
	f->user_pid = mmap(NULL, sizeof *f->user_pid, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f->user_pid == MAP_FAILED)
		f->user_pid = NULL;	/* then no keepalives */
	else
		*f->user_pid = f->owner_pid;
	return 0;
}

void
fork_register(struct virtgpu_transport *t)
{
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&all_transports_lock);
	wl_list_insert(&all_transports, &t->fork.link);
	pthread_mutex_unlock(&all_transports_lock);
}

/* After the pump stopped: what this process's client wrote into pipes
 * still goes, then the transport is forgotten. */
void
fork_fini(struct virtgpu_transport *t)
{
	if (t->fork.link.next) {
		if (fork_is_owner(t))
			pipes_drain(t);
		pthread_mutex_lock(&all_transports_lock);
		wl_list_remove(&t->fork.link);
		pthread_mutex_unlock(&all_transports_lock);
	}
	if (t->fork.user_pid)
		munmap((void *) t->fork.user_pid, sizeof *t->fork.user_pid);
}

/* Before each use of the display: a forked child using it is the owner
 * now, with a pump of its own. */
void
fork_adopt(struct virtgpu_transport *t)
{
	struct vt_fork *f = &t->fork;
	pid_t self = process_self();

	if (f->owner_pid == self) {
		/* A parent using the display again after a child did. */
		if (f->user_pid && *f->user_pid != f->owner_pid)
			*f->user_pid = f->owner_pid;
		return;
	}
	f->owner_pid = self;
	if (f->user_pid)
		*f->user_pid = f->owner_pid;
	poll_schedule_timer_renew(t);
	pump_start(t);
}

bool
fork_is_owner(struct virtgpu_transport *t)
{
	return t->fork.owner_pid == process_self();
}

/* Whether this process uses the display (not a parent whose forked child
 * took it over). */
bool
fork_is_user(struct virtgpu_transport *t)
{
	return !t->fork.user_pid || *t->fork.user_pid == t->fork.owner_pid;
}

/* Keepalives need to know who uses the display: without the shared page,
 * none. */
bool
fork_may_keepalive(struct virtgpu_transport *t)
{
	return t->fork.user_pid && fork_is_user(t);
}
