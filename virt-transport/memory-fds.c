/*
 * SPDX-License-Identifier: MIT
 * Memory fds in any request: a regular file or memfd (an ICC profile, a
 * gamma table, a virtual keyboard's keymap, a memfd of an extension the
 * library has never heard of) cannot cross the channel
 * (cross-domain-protocol.md §4.1), so it crosses as host memory holding a
 * copy of its bytes made when the request is sent. What the fd is decides
 * (fd-translate.c), not the interface; wl_shm pools are shm.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* The refusal of one fd, after its line; the request fails. */
static int
memory_fd_refuse(struct wl_object *target, const struct wl_message *message,
		 int fd, const char *what, int error)
{
	wl_log("wayland-virtgpu: %s.%s: fd %d is %s\n",
	       target->interface->name, message->name, fd, what);
	errno = error;
	return -1;
}

/* Can this file's bytes be copied, and how many? 0 and *size, or the
 * reason in `what` and the errno the request fails with. */
static int
memory_fd_judge(int fd, size_t *size, char *what, size_t what_size)
{
	struct stat st;
	int flags = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || flags < 0) {
		snprintf(what, what_size, "not open");
		return EBADF;
	}
	if ((flags & O_PATH) || (flags & O_ACCMODE) == O_WRONLY) {
		snprintf(what, what_size, "a file open %s: its bytes cannot "
			 "be read to copy them to the host",
			 (flags & O_PATH) ? "with O_PATH" : "for writing only");
		return EINVAL;
	}
	/* Host memory cannot be empty, and a page of zeros would read as
	 * data: a compositor applies a gamma table of zeros (a black
	 * screen) where it fails an empty one. */
	if (st.st_size <= 0) {
		snprintf(what, what_size, "an empty file (0 bytes), which "
			 "cannot cross to the host: host memory is never empty, "
			 "and zeros would be read as data");
		return EINVAL;
	}
	if ((unsigned long long) st.st_size > MEMORY_FD_MAX) {
		snprintf(what, what_size, "a file of %lld bytes, more than the "
			 "%u (%u MiB) a file may carry to the host",
			 (long long) st.st_size, MEMORY_FD_MAX,
			 MEMORY_FD_MAX >> 20);
		return EFBIG;
	}
	*size = (size_t) st.st_size;
	return 0;
}

int
memory_fd_replace(struct virtgpu_transport *t, struct wl_object *target,
		  const struct wl_message *message, int *fd)
{
	char what[192], why[160] = "";
	size_t size = 0, copied = 0;
	int error, host_fd;

	error = memory_fd_judge(*fd, &size, what, sizeof what);
	if (error)
		return memory_fd_refuse(target, message, *fd, what, error);

	host_fd = virt_shm_file_copy(t->shm, *fd, size, &copied, why,
				     sizeof why);
	if (host_fd < 0) {
		error = errno;
		snprintf(what, sizeof what, "a file of %zu bytes: %s", size,
			 why);
		return memory_fd_refuse(target, message, *fd, what, error);
	}
	/* The client shrank its file between our fstat and the copy: the
	 * compositor gets the size the request was sent with, zeros past
	 * what the file still held. */
	if (copied < size)
		wl_log("wayland-virtgpu: %s.%s: fd %d shrank from %zu to %zu "
		       "bytes while it was copied; the compositor reads zeros "
		       "past %zu\n", target->interface->name, message->name,
		       *fd, size, copied, copied);

	close(*fd);
	*fd = host_fd;
	t->memory_fds.count++;
	t->memory_fds.bytes += size;
	return 0;
}
