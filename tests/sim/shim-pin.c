/*
 * Reads that pin the caller's pages. Some reads do not copy into the destination through
 * the page tables but pin its pages first (get_user_pages / iov_iter_get_pages): O_DIRECT
 * on any file system, and 9p's and FUSE's reads, which hand the pages to the transport.
 * Host memory a virtio-gpu blob maps (virtio_gpu_vram_mmap: VM_PFNMAP | VM_IO) has no pages
 * to pin, so such a read into it fails with EFAULT. Seen on Debian 12's 6.1 in QEMU: a file
 * on the 9p share read into a HOST3D blob's mapping (tests/vm). The shim's host memory is
 * plain memfds, so the rule is applied here; read (shim-drm.c), pread and preadv ask it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#define SHIM_V9FS_MAGIC 0x01021997
#define SHIM_FUSE_SUPER_MAGIC 0x65735546

/* Whether a read of fd pins its destination's pages. */
static bool
shim_pin_reads_pin(int fd)
{
	struct statfs fs;
	int flags = shim_real.fcntl(fd, F_GETFL);

	if (flags >= 0 && (flags & O_DIRECT))
		return true;
	if (fstatfs(fd, &fs) < 0)
		return false;
	return fs.f_type == SHIM_V9FS_MAGIC || fs.f_type == SHIM_FUSE_SUPER_MAGIC;
}

bool
shim_pin_refuses(int fd, const void *buf, size_t count)
{
	uintptr_t start = (uintptr_t)buf;

	if (count == 0 || !shim_mmap_pinless(start, start + count))
		return false;
	if (!shim_pin_reads_pin(fd))
		return false;
	shim_log_once("pin-host-memory", "read into host memory from a file whose reads pin "
		      "pages (O_DIRECT, 9p, FUSE): EFAULT, as the kernel answers");
	return true;
}

SHIM_EXPORT ssize_t
pread(int fd, void *buf, size_t count, off_t offset)
{
	shim_init();
	if (shim_pin_refuses(fd, buf, count)) {
		errno = EFAULT;
		return -1;
	}
	return shim_real.pread(fd, buf, count, offset);
}

/* The same call where off_t is 32 bits; here, where it is not, the same function. */
SHIM_EXPORT ssize_t
pread64(int fd, void *buf, size_t count, off_t offset)
	__attribute__((alias("pread")));

ssize_t __pread_chk(int fd, void *buf, size_t count, off_t offset, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t count, off_t offset, size_t buflen);

SHIM_EXPORT ssize_t
__pread_chk(int fd, void *buf, size_t count, off_t offset, size_t buflen)
{
	if (count > buflen)
		abort();
	return pread(fd, buf, count, offset);
}

SHIM_EXPORT ssize_t
__pread64_chk(int fd, void *buf, size_t count, off_t offset, size_t buflen)
	__attribute__((alias("__pread_chk")));

SHIM_EXPORT ssize_t
preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	shim_init();
	for (int i = 0; i < iovcnt; i++) {
		if (shim_pin_refuses(fd, iov[i].iov_base, iov[i].iov_len)) {
			errno = EFAULT;
			return -1;
		}
	}
	return shim_real.preadv(fd, iov, iovcnt, offset);
}

SHIM_EXPORT ssize_t
preadv64(int fd, const struct iovec *iov, int iovcnt, off_t offset)
	__attribute__((alias("preadv")));
