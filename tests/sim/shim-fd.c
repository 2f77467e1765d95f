/*
 * The fake kernel's fd table: which fds name an open DRM file, kept right across open,
 * openat, dup, dup2, dup3, fcntl(F_DUPFD*), close and close_range, so that an open file (one
 * context) lives until its last fd closes, as a kernel's struct file does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

#define SHIM_MAX_FD		65536

static _Atomic(struct shim_file *) shim_fds[SHIM_MAX_FD];
static pthread_mutex_t shim_fd_lock = PTHREAD_MUTEX_INITIALIZER;

/* Any open file the table follows behind fd: DRM files and dma-buf stand-ins. */
static struct shim_file *
shim_fd_entry(int fd)
{
	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	return atomic_load_explicit(&shim_fds[fd], memory_order_acquire);
}

struct shim_file *
shim_file_of_fd(int fd)
{
	struct shim_file *file = shim_fd_entry(fd);

	return file && !file->dmabuf ? file : NULL;
}

struct shim_file *
shim_dmabuf_of_fd(int fd)
{
	struct shim_file *file = shim_fd_entry(fd);

	return file && file->dmabuf ? file : NULL;
}

static void
shim_fd_register(int fd, struct shim_file *file)
{
	pthread_mutex_lock(&shim_fd_lock);
	file->refs++;
	atomic_store(&shim_fds[fd], file);
	pthread_mutex_unlock(&shim_fd_lock);
}

/* The fd number is gone (closed or replaced): drop the open file with its last fd. */
static void
shim_fd_forget(int fd)
{
	struct shim_file *file;
	bool last = false;

	pthread_mutex_lock(&shim_fd_lock);
	file = shim_fd_entry(fd);
	if (file) {
		atomic_store(&shim_fds[fd], NULL);
		last = --file->refs == 0;
	}
	pthread_mutex_unlock(&shim_fd_lock);
	if (last) {
		file->driver->release(file);
		free(file);
	}
}

/* A new fd (from dup or F_DUPFD) names the same open file as fd, if fd names one. */
static int
shim_fd_dup_of(int fd, int newfd)
{
	struct shim_file *file = shim_fd_entry(fd);

	if (newfd >= 0 && file) {
		if (newfd >= SHIM_MAX_FD) {
			shim_real.close(newfd);
			errno = EMFILE;
			return -1;
		}
		shim_fd_register(newfd, file);
	}
	return newfd;
}

void
shim_fd_atfork_child(void)
{
	pthread_mutex_init(&shim_fd_lock, NULL);
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_file *file = shim_fds[fd];
		if (file && file->driver && file->driver->atfork_child)
			file->driver->atfork_child(file);
	}
}

int
shim_fd_adopt(int fd, struct shim_file *file)
{
	if (fd < 0 || fd >= SHIM_MAX_FD)
		return -EMFILE;
	file->dmabuf = true;
	shim_fd_register(fd, file);
	return 0;
}

/* --- open ------------------------------------------------------------------------------------ */

static int
shim_fd_open_node(int node, int flags)
{
	struct shim_file *file;
	int fd;

	if ((flags & O_ACCMODE) == O_WRONLY) {
		/* DRM nodes are opened read/write or read-only; write-only works too in
		 * Linux, but no client does it. */
	}
	if (flags & (O_DIRECTORY)) {
		errno = ENOTDIR;
		return -1;
	}
	file = calloc(1, sizeof *file);
	if (!file) {
		errno = ENOMEM;
		return -1;
	}
	file->node = node;
	file->open_flags = flags;
	file->driver = shim_node_driver(node);
	fd = file->driver->open(file, flags);
	if (fd < 0) {
		free(file);
		errno = -fd;
		return -1;
	}
	if (fd >= SHIM_MAX_FD) {
		file->driver->release(file);
		shim_real.close(fd);
		free(file);
		errno = EMFILE;
		return -1;
	}
	if (flags & O_NONBLOCK)
		shim_real.fcntl(fd, F_SETFL, O_NONBLOCK);
	if (!(flags & O_CLOEXEC))
		shim_real.fcntl(fd, F_SETFD, 0);
	file->app_fd = fd;
	shim_fd_register(fd, file);
	return fd;
}

/* The mode argument of the open family, there only with O_CREAT or O_TMPFILE. */
#define SHIM_OPEN_MODE(flags, mode) do { \
		if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap; \
			va_start(ap, flags); \
			(mode) = va_arg(ap, mode_t); \
			va_end(ap); \
		} \
	} while (0)

SHIM_EXPORT int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int node;

	shim_init();
	SHIM_OPEN_MODE(flags, mode);
	node = shim_node_of_path(path);
	if (node >= 0)
		return shim_fd_open_node(node, flags);
	return shim_real.open(path, flags, mode);
}

SHIM_EXPORT int
open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_OPEN_MODE(flags, mode);
	return open(path, flags | O_LARGEFILE, mode);
}

SHIM_EXPORT int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int node;

	shim_init();
	SHIM_OPEN_MODE(flags, mode);
	node = shim_node_of_path(path);
	if (node >= 0)
		return shim_fd_open_node(node, flags);
	return shim_real.openat(dirfd, path, flags, mode);
}

SHIM_EXPORT int
openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_OPEN_MODE(flags, mode);
	return openat(dirfd, path, flags | O_LARGEFILE, mode);
}

/* The _FORTIFY_SOURCE entry points. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

SHIM_EXPORT int
__open_2(const char *path, int flags)
{
	return open(path, flags);
}

SHIM_EXPORT int
__open64_2(const char *path, int flags)
{
	return open(path, flags | O_LARGEFILE);
}

SHIM_EXPORT int
__openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

SHIM_EXPORT int
__openat64_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags | O_LARGEFILE);
}

/* --- dup and close ---------------------------------------------------------------------------- */

SHIM_EXPORT int
close(int fd)
{
	int ret;

	shim_init();
	if (!shim_fd_entry(fd))
		return shim_real.close(fd);
	ret = shim_real.close(fd);
	shim_fd_forget(fd);
	return ret;
}

SHIM_EXPORT int
dup(int fd)
{
	shim_init();
	return shim_fd_dup_of(fd, shim_real.dup(fd));
}

static int
shim_fd_dup_to(int oldfd, int newfd, int ret)
{
	struct shim_file *file = shim_fd_entry(oldfd);

	if (ret < 0 || oldfd == newfd)
		return ret;
	shim_fd_forget(newfd);
	if (file && newfd < SHIM_MAX_FD)
		shim_fd_register(newfd, file);
	return ret;
}

SHIM_EXPORT int
dup2(int oldfd, int newfd)
{
	shim_init();
	return shim_fd_dup_to(oldfd, newfd, shim_real.dup2(oldfd, newfd));
}

SHIM_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	shim_init();
	return shim_fd_dup_to(oldfd, newfd, shim_real.dup3(oldfd, newfd, flags));
}

SHIM_EXPORT int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_init();
	ret = shim_real.fcntl(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return shim_fd_dup_of(fd, ret);
	return ret;
}

/* The same call where off_t is 32 bits; here, where it is not, the same function. */
SHIM_EXPORT int
fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

/* The fds the drivers keep for themselves, at most max of them. */
static int
shim_fd_internal(int *keep, int max)
{
	int num_keep = 0;

	pthread_mutex_lock(&shim_fd_lock);
	for (int fd = 0; fd < SHIM_MAX_FD; fd++) {
		struct shim_file *file = shim_fds[fd];
		if (file && file->driver && file->driver->internal_fds)
			num_keep += file->driver->internal_fds(file, keep + num_keep,
							       max - num_keep);
	}
	pthread_mutex_unlock(&shim_fd_lock);
	return num_keep;
}

SHIM_EXPORT int
close_range(unsigned first, unsigned last, int flags)
{
	int keep[64], num_keep, ret = 0;
	unsigned lo = first;

	shim_init();
	/* The device's own connections are not the application's fds (a real kernel has
	 * none): a process closing "all other fds" keeps its DRM files working. */
	num_keep = shim_fd_internal(keep, (int)(sizeof keep / sizeof keep[0]));
	for (int k = 0; k < num_keep; k++) {
		unsigned next = UINT_MAX;
		for (int j = 0; j < num_keep; j++)	/* the smallest kept fd >= lo */
			if (keep[j] >= 0 && (unsigned)keep[j] >= lo && (unsigned)keep[j] < next)
				next = (unsigned)keep[j];
		if (next == UINT_MAX || next > last)
			break;
		if (next > lo && shim_real.close_range(lo, next - 1, flags) < 0)
			ret = -1;
		lo = next + 1;
		if (lo == 0)
			break;	/* wrapped: nothing after UINT_MAX */
	}
	if (lo != 0 && lo >= first && lo <= last && shim_real.close_range(lo, last, flags) < 0)
		ret = -1;
	if (ret == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
		for (unsigned fd = first; fd <= last && fd < SHIM_MAX_FD; fd++)
			if (shim_fd_entry(fd))
				shim_fd_forget(fd);
	}
	return ret;
}
