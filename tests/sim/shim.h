/*
 * Internal interface of the fake guest kernel (an LD_PRELOAD library in the manner of Mesa's
 * drm-shim): the shim-*.c core files wrap libc and play the DRM core, a driver (shim-virtgpu.c
 * with its shim-virtgpu-*.c parts, or the stand-in for a foreign GPU in shim-foreign.c)
 * answers its node's ioctls. Each core file's section below names what it offers the others.
 */
#ifndef SHIM_H
#define SHIM_H

#include <stdbool.h>
#include <sys/uio.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_MAX_NODES 8
#define SHIM_PAGE_SIZE 4096ull

struct shim_file;

/* One DRM driver behind a render node. */
struct shim_driver {
	const char *name;
	const char *desc;
	int version[3];
	bool prime;
	/* Opens a file: returns the fd the application sees, or -errno. */
	int (*open)(struct shim_file *file, int flags);
	/* Driver ioctl nr - DRM_COMMAND_BASE: the struct size, or 0 when there is none. */
	size_t (*ioctl_size)(unsigned idx);
	/* Optional: bytes after the ioctl's struct that its handler is likely to copy from
	 * (the caller's commands next to it on the stack), read with the struct. */
	size_t (*ioctl_ahead)(unsigned idx);
	int (*ioctl)(struct shim_file *file, unsigned nr, void *kdata);
	void *(*mmap)(struct shim_file *file, void *addr, size_t len, int prot, int flags,
		      off_t offset, int *err);
	/* Whether a mapping at this offset is memory no read can pin (the host's,
	 * VM_PFNMAP), or NULL: none is. */
	bool (*mmap_pinless)(struct shim_file *file, off_t offset);
	/* A dma-buf stand-in's mmap: 0 to map the fd's memfd, or the errno refusing it. */
	int (*dmabuf_mmap_error)(struct shim_file *file);
	void (*release)(struct shim_file *file);
	/* In the child of a fork: locks another thread held are free again (only the
	 * forking thread goes on, as in the kernel's view of the child). */
	void (*atfork_child)(struct shim_file *file);
	/* The file's own fds (connections to the host device), which the application cannot
	 * see on a real kernel and close_range must leave open: how many were written. */
	int (*internal_fds)(struct shim_file *file, int *fds, int max);
};

struct shim_file {
	int refs;		/* application fds naming this open file */
	bool dmabuf;		/* a dma-buf stand-in, not a DRM file (shim_fd_adopt) */
	int node;		/* renderD(128 + node) */
	int open_flags;
	int app_fd;
	const struct shim_driver *driver;
	void *priv;
};

extern const struct shim_driver virtgpu_driver;

/* The libc functions the shim wraps. */
struct shim_real {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*write)(int, const void *, size_t);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*close_range)(unsigned, unsigned, int);
	ssize_t (*readlink)(const char *, char *, size_t);
	ssize_t (*readlinkat)(int, const char *, char *, size_t);
};

extern struct shim_real shim_real;

/* --- shim-core.c: set-up, the node table, logging, user copies ---------------------------- */

void
shim_init(void);
void
shim_log_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* copy_from_user / copy_to_user: -EFAULT on a bad address, never a crash. */
pid_t
shim_self_pid(void);
int
shim_copy_from_user(void *dst, uint64_t uptr, size_t size);
int
shim_copy_to_user(uint64_t uptr, const void *src, size_t size);
/* Both copies at once (one system call of the simulation's); -EFAULT if either fails. */
int
shim_copy_from_user2(void *dst1, uint64_t uptr1, size_t size1, void *dst2, uint64_t uptr2,
		     size_t size2);
/* An ioctl's struct copied in as shim_copy_from_user, and in the same system call `ahead`
 * bytes after it and what the thread's last ioctl copied from elsewhere (a handle array):
 * until shim_copy_ahead_end, copies from user memory that lie in what was read take it from
 * there (the kernel's copies cost no system call; the simulation's cost one each). */
int
shim_copy_in_ahead(void *dst, uint64_t uptr, size_t size, size_t ahead);
void
shim_copy_ahead_end(void);
/* Which node a path names ("/dev/dri/renderD128" is 0), or -1. */
int
shim_node_of_path(const char *path);
/* The path of a node when it exists: "/dev/dri/renderD128"... */
const char *
shim_node_path(int node, char *buf, size_t size);
/* The driver behind a node shim_node_of_path named. */
const struct shim_driver *
shim_node_driver(int node);

/* --- shim-foreign.c: a node that is not virtio-gpu ---------------------------------------- */

/* The driver for node, answering only the core ioctls under the given name. */
const struct shim_driver *
shim_foreign_driver(int node, const char *name);

/* --- shim-fd.c: the fd table; open, dup and close ----------------------------------------- */

/* The open DRM file behind an fd, or NULL. */
struct shim_file *
shim_file_of_fd(int fd);
/* The dma-buf stand-in behind an fd, or NULL. */
struct shim_file *
shim_dmabuf_of_fd(int fd);
/* A new fd naming an open file of the driver's that is not a DRM file (a dma-buf
 * stand-in): followed across dup and close like the others, released with its last fd,
 * invisible to shim_file_of_fd. */
int
shim_fd_adopt(int fd, struct shim_file *file);
/* In a forked child: the table's lock is free, each driver frees its own. */
void
shim_fd_atfork_child(void);

/* --- shim-virtgpu-dmabuf.c: the ioctls of a dma-buf file --------------------------------- */

/* dma_buf_ioctl when fd is a dma-buf stand-in: 0 or -errno (-ENOTTY for what it does not
 * know); 1 when fd is no dma-buf (the real ioctl answers). */
int
shim_dmabuf_ioctl(int fd, unsigned long request, void *arg);

/* --- shim-mmap.c, shim-pin.c: DRM mappings, reads that pin pages ------------------------ */

/* Whether [start, end) overlaps a DRM mapping of memory no read can pin. */
bool
shim_mmap_pinless(uintptr_t start, uintptr_t end);
/* Whether a read of count bytes from fd into buf fails with EFAULT, as the kernel's does
 * when it pins the destination's pages (see shim-pin.c). */
bool
shim_pin_refuses(int fd, const void *buf, size_t count);

/* --- shim-stat.c: stat, access, readlink ---------------------------------------------------- */

/* Remembers the inode of a dma-buf stand-in, for readlink of /proc/self/fd. */
void
shim_stat_note_dmabuf(dev_t dev, ino_t ino);
/* Whether fd is a dma-buf stand-in the driver gave out (its stat in *st when not NULL). */
struct stat;
bool
shim_stat_is_dmabuf(int fd, struct stat *st);
void
shim_stat_atfork_child(void);

#endif
