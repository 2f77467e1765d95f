/*
 * The generic heart of the fake guest kernel: finds the libc functions it wraps, reads which
 * render nodes exist (and their drivers) from the environment, and offers the drivers what
 * a kernel's core offers: copies to and from user memory, and one log line per kind of thing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

struct shim_real shim_real;

static pthread_mutex_t shim_core_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t shim_once = PTHREAD_ONCE_INIT;

static const struct shim_driver *shim_nodes[SHIM_MAX_NODES];
static int shim_num_nodes;

/* --- set-up --------------------------------------------------------------------------------- */

#define SHIM_REAL(name) do { \
		*(void **)&shim_real.name = dlsym(RTLD_NEXT, #name); \
	} while (0)

/* A forked child may use the device at once: a lock another thread of the parent held
 * must not stay held in it (the kernel's own locks are not inherited). */
/* This process's pid: getpid() is a system call, and every ioctl copies from and to the
 * caller with it (a kernel knows its current task for free). Set anew in a forked child. */
static pid_t shim_pid;

pid_t
shim_self_pid(void)
{
	pid_t pid = __atomic_load_n(&shim_pid, __ATOMIC_RELAXED);

	if (pid == 0) {
		pid = getpid();
		__atomic_store_n(&shim_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

static void
shim_atfork_child(void)
{
	__atomic_store_n(&shim_pid, getpid(), __ATOMIC_RELAXED);
	pthread_mutex_init(&shim_core_lock, NULL);
	shim_stat_atfork_child();
	shim_fd_atfork_child();
}

static void
shim_do_init(void)
{
	SHIM_REAL(open);
	SHIM_REAL(openat);
	SHIM_REAL(close);
	SHIM_REAL(ioctl);
	SHIM_REAL(mmap);
	SHIM_REAL(read);
	SHIM_REAL(pread);
	SHIM_REAL(preadv);
	SHIM_REAL(write);
	SHIM_REAL(dup);
	SHIM_REAL(dup2);
	SHIM_REAL(dup3);
	SHIM_REAL(fcntl);
	SHIM_REAL(close_range);
	SHIM_REAL(readlink);
	SHIM_REAL(readlinkat);
	pthread_atfork(NULL, NULL, shim_atfork_child);
}

void
shim_init(void)
{
	pthread_once(&shim_once, shim_do_init);
}

/* --- the node table ------------------------------------------------------------------------- */

/* The node table, read from the environment on first use. A sanitizer runtime may call the
 * wrappers before libc has set up the environment: nothing is cached then. */
static void
shim_nodes_init(void)
{
	static atomic_bool done;
	const char *nodes;
	char list[256];
	char *save = NULL;

	if (atomic_load(&done) || !environ || !environ[0])
		return;
	pthread_mutex_lock(&shim_core_lock);
	if (atomic_load(&done)) {
		pthread_mutex_unlock(&shim_core_lock);
		return;
	}
	nodes = getenv("VIRTGPU_SIM_NODES");
	/* VIRTGPU_SIM_NODES: driver names for renderD128, renderD129, ...; a virtio_gpu node
	 * exists only while a host device is named by VIRTGPU_SIM_SOCKET. */
	snprintf(list, sizeof list, "%s", nodes ? nodes : "virtio_gpu");
	for (char *name = strtok_r(list, ",", &save); name && shim_num_nodes < SHIM_MAX_NODES;
	     name = strtok_r(NULL, ",", &save)) {
		int i = shim_num_nodes++;

		if (strcmp(name, "virtio_gpu") == 0)
			shim_nodes[i] = getenv("VIRTGPU_SIM_SOCKET") ? &virtgpu_driver : NULL;
		else
			shim_nodes[i] = shim_foreign_driver(i, name);
	}
	atomic_store(&done, true);
	pthread_mutex_unlock(&shim_core_lock);
}

int
shim_node_of_path(const char *path)
{
	int minor, len = 0;

	if (!path || strncmp(path, "/dev/dri/renderD", 16) != 0)
		return -1;
	shim_init();
	shim_nodes_init();
	if (sscanf(path + 16, "%d%n", &minor, &len) != 1 || path[16 + len] != '\0' ||
	    path[16] == '0' || minor < 128 || minor >= 128 + shim_num_nodes ||
	    !shim_nodes[minor - 128])
		return -1;
	return minor - 128;
}

const char *
shim_node_path(int node, char *buf, size_t size)
{
	snprintf(buf, size, "/dev/dri/renderD%d", 128 + node);
	return buf;
}

const struct shim_driver *
shim_node_driver(int node)
{
	return shim_nodes[node];
}

/* --- what the core offers drivers ----------------------------------------------------------- */

void
shim_log_once(const char *key, const char *fmt, ...)
{
	static char seen[32][48];
	static int num_seen;
	char line[256];
	va_list ap;

	pthread_mutex_lock(&shim_core_lock);
	for (int i = 0; i < num_seen; i++) {
		if (strcmp(seen[i], key) == 0) {
			pthread_mutex_unlock(&shim_core_lock);
			return;
		}
	}
	if (num_seen < 32)
		snprintf(seen[num_seen++], sizeof seen[0], "%s", key);
	pthread_mutex_unlock(&shim_core_lock);
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "virtgpu-sim kernel: %s\n", line);
}

/* User memory read ahead during the thread's current ioctl (shim_copy_in_ahead): at most the
 * window after its struct and the region its last ioctl copied from elsewhere. */
#define SHIM_AHEAD_MAX 4352
#define SHIM_AHEAD_RECALL_MAX 256
struct shim_ahead {
	uint64_t uptr;
	size_t size;	/* 0: nothing read */
	uint8_t data[SHIM_AHEAD_MAX];
};
static __thread struct shim_ahead shim_ahead[2];
static __thread bool shim_ahead_active;
/* What a copy inside an ioctl last had to read by itself: read ahead at the next ones. */
static __thread uint64_t shim_recall_uptr;
static __thread size_t shim_recall_size;

/* A copy from user memory served from what was read ahead: true when all of it was. */
static bool
shim_ahead_take(void *dst, uint64_t uptr, size_t size)
{
	if (!shim_ahead_active)
		return false;
	for (int i = 0; i < 2; i++) {
		const struct shim_ahead *a = &shim_ahead[i];

		if (a->size && uptr >= a->uptr && size <= a->size && uptr - a->uptr <= a->size - size) {
			memcpy(dst, a->data + (uptr - a->uptr), size);
			return true;
		}
	}
	if (size <= SHIM_AHEAD_RECALL_MAX) {
		shim_recall_uptr = uptr;
		shim_recall_size = size;
	}
	return false;
}

/* The calling thread's stack, [base, top), looked up once per thread. */
static __thread uintptr_t shim_stack_base, shim_stack_top;
static __thread bool shim_stack_known;

/* Whether [uptr, uptr + size) lies on the calling thread's stack above this function's frame:
 * the caller's live frames (where ioctl structs and the commands of an EXECBUFFER are built),
 * mapped and writable, so the copy can be the plain one the kernel's copy_from_user and
 * copy_to_user are, without a system call. Anything else (another stack, a signal stack, the
 * heap, a bad pointer) goes through process_vm_readv/writev, which give EFAULT. */
static bool
shim_user_on_stack(uint64_t uptr, size_t size)
{
	volatile char here_marker = 0;
	uintptr_t here = (uintptr_t)&here_marker;

	if (!shim_stack_known) {
		pthread_attr_t attr;
		void *addr;
		size_t len;

		shim_stack_known = true;
		if (pthread_getattr_np(pthread_self(), &attr) == 0) {
			if (pthread_attr_getstack(&attr, &addr, &len) == 0) {
				shim_stack_base = (uintptr_t)addr;
				shim_stack_top = (uintptr_t)addr + len;
			}
			pthread_attr_destroy(&attr);
		}
	}
	return here >= shim_stack_base && here < shim_stack_top && uptr > here &&
	       uptr < shim_stack_top && size <= shim_stack_top - uptr;
}

/* process_vm_readv/writev fail, rather than fault, on an address the process has not
 * mapped; where they are not allowed (seccomp, ptrace rules), a plain copy. */
static int
shim_copy_user(void *kbuf, uint64_t uptr, size_t size, bool to_user)
{
	struct iovec local = { kbuf, size }, remote = { (void *)(uintptr_t)uptr, size };
	ssize_t n;

	if (size == 0)
		return 0;
	if (uptr == 0)
		return -EFAULT;
	/* What was read ahead may be written now: it is not read from again. */
	if (to_user)
		shim_ahead_active = false;
	else if (shim_ahead_take(kbuf, uptr, size))
		return 0;
	if (shim_user_on_stack(uptr, size)) {
		if (to_user)
			memcpy((void *)(uintptr_t)uptr, kbuf, size);
		else
			memcpy(kbuf, (void *)(uintptr_t)uptr, size);
		return 0;
	}
	n = to_user ? process_vm_writev(shim_self_pid(), &local, 1, &remote, 1, 0) :
		process_vm_readv(shim_self_pid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)size)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		if (to_user)
			memcpy((void *)(uintptr_t)uptr, kbuf, size);
		else
			memcpy(kbuf, (void *)(uintptr_t)uptr, size);
		return 0;
	}
	return -EFAULT;
}

int
shim_copy_from_user(void *dst, uint64_t uptr, size_t size)
{
	return shim_copy_user(dst, uptr, size, false);
}

/* Two copies from user memory in one process_vm_readv (the kernel's copies cost no system
 * call; the simulation's cost one). -EFAULT when either part is bad: the caller that must
 * tell which copies them one by one. */
int
shim_copy_from_user2(void *dst1, uint64_t uptr1, size_t size1, void *dst2, uint64_t uptr2,
		     size_t size2)
{
	struct iovec local[2], remote[2];
	unsigned n = 0;
	ssize_t got;

	if ((size1 && uptr1 == 0) || (size2 && uptr2 == 0))
		return -EFAULT;
	if (shim_ahead_active && (size1 == 0 || shim_ahead_take(dst1, uptr1, size1)))
		return shim_copy_user(dst2, uptr2, size2, false);
	/* A part on the caller's stack is a plain copy: the other one alone is left. */
	if (size1 && shim_user_on_stack(uptr1, size1)) {
		memcpy(dst1, (void *)(uintptr_t)uptr1, size1);
		return shim_copy_user(dst2, uptr2, size2, false);
	}
	if (size2 && shim_user_on_stack(uptr2, size2)) {
		memcpy(dst2, (void *)(uintptr_t)uptr2, size2);
		return shim_copy_user(dst1, uptr1, size1, false);
	}
	if (size1) {
		local[n] = (struct iovec){ dst1, size1 };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)uptr1, size1 };
	}
	if (size2) {
		local[n] = (struct iovec){ dst2, size2 };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)uptr2, size2 };
	}
	if (n < 2)
		return n == 0 ? 0 : shim_copy_user(local[0].iov_base,
						   (uintptr_t)remote[0].iov_base,
						   local[0].iov_len, false);
	got = process_vm_readv(shim_self_pid(), local, 2, remote, 2, 0);
	if (got == (ssize_t)(size1 + size2))
		return 0;
	if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst1, (void *)(uintptr_t)uptr1, size1);
		memcpy(dst2, (void *)(uintptr_t)uptr2, size2);
		return 0;
	}
	return -EFAULT;
}

int
shim_copy_in_ahead(void *dst, uint64_t uptr, size_t size, size_t ahead)
{
	struct iovec local[3], remote[3];
	uint64_t recall = shim_recall_uptr;
	size_t recall_size = shim_recall_size;
	unsigned n = 0;
	ssize_t got;

	shim_ahead[0].size = shim_ahead[1].size = 0;
	shim_ahead_active = false;
	/* On the caller's stack: a plain copy, as are the handler's copies from there later. */
	if (size == 0 || uptr == 0 || uptr + size < uptr || shim_user_on_stack(uptr, size))
		return shim_copy_user(dst, uptr, size, false);
	if (ahead > SHIM_AHEAD_MAX)
		ahead = SHIM_AHEAD_MAX;
	local[n] = (struct iovec){ dst, size };
	remote[n++] = (struct iovec){ (void *)(uintptr_t)uptr, size };
	if (ahead && uptr + size + ahead > uptr + size) {
		shim_ahead[0].uptr = uptr + size;
		local[n] = (struct iovec){ shim_ahead[0].data, ahead };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)(uptr + size), ahead };
	}
	if (recall_size && recall != 0 &&
	    !(ahead && recall >= uptr + size && recall + recall_size <= uptr + size + ahead)) {
		shim_ahead[1].uptr = recall;
		local[n] = (struct iovec){ shim_ahead[1].data, recall_size };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)recall, recall_size };
	}
	if (n == 1)
		return shim_copy_user(dst, uptr, size, false);
	got = process_vm_readv(shim_self_pid(), local, n, remote, n, 0);
	if (got < (ssize_t)size)
		return shim_copy_user(dst, uptr, size, false);	/* its error, or a plain copy */
	/* A part is used only when it was read whole (the read stops at the first fault). */
	got -= (ssize_t)size;
	for (unsigned i = 1; i < n; i++) {
		struct shim_ahead *a = local[i].iov_base == shim_ahead[0].data ? &shim_ahead[0] :
			&shim_ahead[1];

		if (got < (ssize_t)local[i].iov_len)
			break;
		a->size = local[i].iov_len;
		got -= (ssize_t)local[i].iov_len;
	}
	shim_ahead_active = true;
	return 0;
}

void
shim_copy_ahead_end(void)
{
	shim_ahead_active = false;
}

int
shim_copy_to_user(uint64_t uptr, const void *src, size_t size)
{
	return shim_copy_user((void *)src, uptr, size, true);
}
