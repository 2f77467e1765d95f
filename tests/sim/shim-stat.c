/*
 * What stat, access and readlink say about the fake kernel's files: a render node is a
 * character device 226:(128 + node), /proc/self/fd/N of a DRM fd names its node, and of a
 * dma-buf stand-in the driver gave out, "/dmabuf:"; the stand-in (a memfd, which has no
 * link) has the one link of a dma-buf's inode.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"
#include "virtgpu-uapi.h"

#define SHIM_MAX_DMABUFS	4096
#define SHIM_DMABUF_SLOTS	(2 * SHIM_MAX_DMABUFS)	/* open addressing, half full at most */

static pthread_mutex_t shim_stat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { dev_t dev; ino_t ino; bool used; } shim_dmabufs[SHIM_DMABUF_SLOTS];
static int shim_num_dmabufs;

/* --- dma-buf stand-ins ------------------------------------------------------------------------ */

/* The slot of (dev, ino): its own, or the free one where it would go. Under the lock. */
static unsigned
shim_stat_dmabuf_slot(dev_t dev, ino_t ino)
{
	unsigned i = (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 40 ^ dev) % SHIM_DMABUF_SLOTS;

	while (shim_dmabufs[i].used && (shim_dmabufs[i].dev != dev || shim_dmabufs[i].ino != ino))
		i = (i + 1) % SHIM_DMABUF_SLOTS;
	return i;
}

void
shim_stat_note_dmabuf(dev_t dev, ino_t ino)
{
	unsigned i;

	pthread_mutex_lock(&shim_stat_lock);
	i = shim_stat_dmabuf_slot(dev, ino);
	if (!shim_dmabufs[i].used && shim_num_dmabufs < SHIM_MAX_DMABUFS) {
		shim_dmabufs[i].dev = dev;
		shim_dmabufs[i].ino = ino;
		shim_dmabufs[i].used = true;
		shim_num_dmabufs++;
	}
	pthread_mutex_unlock(&shim_stat_lock);
}

static bool
shim_stat_noted(dev_t dev, ino_t ino)
{
	bool found;

	pthread_mutex_lock(&shim_stat_lock);
	found = shim_num_dmabufs > 0 && shim_dmabufs[shim_stat_dmabuf_slot(dev, ino)].used;
	pthread_mutex_unlock(&shim_stat_lock);
	return found;
}

bool
shim_stat_is_dmabuf(int fd, struct stat *stp)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	if (stp)
		*stp = st;
	return shim_stat_noted(st.st_dev, st.st_ino);
}

/* A dma-buf's inode has one link (the kernel's alloc_anon_inode), a memfd none: a stand-in
 * the fake kernel gave out, or noted, shows the dma-buf's. Only unlinked files are looked up. */
static void
shim_stat_dmabuf_links(int fd, dev_t dev, ino_t ino, nlink_t *nlink)
{
	if (*nlink == 0 && (shim_dmabuf_of_fd(fd) || shim_stat_noted(dev, ino)))
		*nlink = 1;
}

static void
shim_stat_dmabuf_links_x(int fd, struct statx *stx)
{
	nlink_t nlink = stx->stx_nlink;

	shim_stat_dmabuf_links(fd, makedev(stx->stx_dev_major, stx->stx_dev_minor), stx->stx_ino,
			       &nlink);
	stx->stx_nlink = (uint32_t)nlink;
}

void
shim_stat_atfork_child(void)
{
	pthread_mutex_init(&shim_stat_lock, NULL);
}

/* --- stat and friends: a character device 226:(128 + node) ------------------------------- */

static void
shim_stat_fill(int node, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_dev = makedev(0, 5);
	st->st_ino = 1000 + node;
	st->st_mode = S_IFCHR | 0666;
	st->st_nlink = 1;
	st->st_rdev = makedev(DRM_MAJOR, 128 + node);
	st->st_blksize = 4096;
}

static void
shim_stat_fill_statx(int node, struct statx *stx)
{
	memset(stx, 0, sizeof *stx);
	stx->stx_mask = STATX_BASIC_STATS;
	stx->stx_blksize = 4096;
	stx->stx_nlink = 1;
	stx->stx_mode = S_IFCHR | 0666;
	stx->stx_ino = 1000 + node;
	stx->stx_rdev_major = DRM_MAJOR;
	stx->stx_rdev_minor = 128 + node;
	stx->stx_dev_minor = 5;
}

/* The node a *at call names: the DRM fd itself (AT_EMPTY_PATH with ""), or a node's path. */
static int
shim_stat_node_at(int dirfd, const char *path, int flags)
{
	struct shim_file *file = (flags & AT_EMPTY_PATH) && !path[0] ?
		shim_file_of_fd(dirfd) : NULL;

	return file ? file->node : shim_node_of_path(path);
}

/* The libc function a wrapper stands in front of, found on first use. */
#define SHIM_NEXT(ret, name, ...) \
	static ret (*real)(__VA_ARGS__); \
	if (!real) *(void **)&real = dlsym(RTLD_NEXT, name)

/*
 * Each call exists twice, with struct stat and struct stat64 (the same layout where off_t
 * is 64 bits), and must reach libc's own of the same name: one definition per kind of call.
 */
#define SHIM_STAT_FD(name, type) \
	SHIM_EXPORT int \
	name(int fd, type *st) \
	{ \
		SHIM_NEXT(int, #name, int, type *); \
		struct shim_file *file = shim_file_of_fd(fd); \
		\
		int ret; \
		\
		if (file) { \
			shim_stat_fill(file->node, (struct stat *)st); \
			return 0; \
		} \
		ret = real(fd, st); \
		if (ret == 0) \
			shim_stat_dmabuf_links(fd, st->st_dev, st->st_ino, &st->st_nlink); \
		return ret; \
	}

#define SHIM_STAT_PATH(name, type) \
	SHIM_EXPORT int \
	name(const char *path, type *st) \
	{ \
		SHIM_NEXT(int, #name, const char *, type *); \
		int node = shim_node_of_path(path); \
		\
		if (node >= 0) { \
			shim_stat_fill(node, (struct stat *)st); \
			return 0; \
		} \
		return real(path, st); \
	}

#define SHIM_STAT_AT(name, type) \
	SHIM_EXPORT int \
	name(int dirfd, const char *path, type *st, int flags) \
	{ \
		SHIM_NEXT(int, #name, int, const char *, type *, int); \
		int node = shim_stat_node_at(dirfd, path, flags), ret; \
		\
		if (node >= 0) { \
			shim_stat_fill(node, (struct stat *)st); \
			return 0; \
		} \
		ret = real(dirfd, path, st, flags); \
		if (ret == 0 && (flags & AT_EMPTY_PATH) && !path[0]) \
			shim_stat_dmabuf_links(dirfd, st->st_dev, st->st_ino, &st->st_nlink); \
		return ret; \
	}

SHIM_STAT_FD(fstat, struct stat)
SHIM_STAT_FD(fstat64, struct stat64)
SHIM_STAT_PATH(stat, struct stat)
SHIM_STAT_PATH(stat64, struct stat64)
SHIM_STAT_PATH(lstat, struct stat)
SHIM_STAT_PATH(lstat64, struct stat64)
SHIM_STAT_AT(fstatat, struct stat)
SHIM_STAT_AT(fstatat64, struct stat64)

SHIM_EXPORT int
statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	SHIM_NEXT(int, "statx", int, const char *, int, unsigned, struct statx *);
	int node = shim_stat_node_at(dirfd, path, flags), ret;

	if (node >= 0) {
		shim_stat_fill_statx(node, stx);
		return 0;
	}
	ret = real(dirfd, path, flags, mask, stx);
	if (ret == 0 && (flags & AT_EMPTY_PATH) && !path[0] && (stx->stx_mask & STATX_NLINK))
		shim_stat_dmabuf_links_x(dirfd, stx);
	return ret;
}

SHIM_EXPORT int
access(const char *path, int mode)
{
	SHIM_NEXT(int, "access", const char *, int);

	if (shim_node_of_path(path) >= 0)
		return 0;
	return real(path, mode);
}

SHIM_EXPORT int
faccessat(int dirfd, const char *path, int mode, int flags)
{
	SHIM_NEXT(int, "faccessat", int, const char *, int, int);

	if (shim_node_of_path(path) >= 0)
		return 0;
	return real(dirfd, path, mode, flags);
}

/* --- readlink of /proc/self/fd ---------------------------------------------------------------- */

/* /proc/self/fd/N of a DRM fd names the node; of a dma-buf stand-in, "/dmabuf:". */
static ssize_t
shim_stat_readlink_fd(const char *path, char *buf, size_t size, bool *handled)
{
	char self[32], name[64];
	const char *rest = NULL;
	const char *target;
	struct shim_file *file;
	size_t len;
	int fd;

	*handled = false;
	snprintf(self, sizeof self, "/proc/%d/fd/", (int)getpid());
	if (strncmp(path, "/proc/self/fd/", 14) == 0)
		rest = path + 14;
	else if (strncmp(path, self, strlen(self)) == 0)
		rest = path + strlen(self);
	if (!rest || sscanf(rest, "%d", &fd) != 1)
		return 0;
	file = shim_file_of_fd(fd);
	if (file)
		target = shim_node_path(file->node, name, sizeof name);
	else if (shim_num_dmabufs > 0 && shim_stat_is_dmabuf(fd, NULL))
		target = "/dmabuf:";
	else
		return 0;
	*handled = true;
	len = strlen(target);
	if (len > size)
		len = size;
	memcpy(buf, target, len);
	return len;
}

SHIM_EXPORT ssize_t
readlink(const char *path, char *buf, size_t size)
{
	bool handled;
	ssize_t n;

	shim_init();
	n = shim_stat_readlink_fd(path, buf, size, &handled);
	return handled ? n : shim_real.readlink(path, buf, size);
}

SHIM_EXPORT ssize_t
readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	bool handled;
	ssize_t n;

	shim_init();
	n = shim_stat_readlink_fd(path, buf, size, &handled);
	return handled ? n : shim_real.readlinkat(dirfd, path, buf, size);
}
