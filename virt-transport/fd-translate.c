/*
 * SPDX-License-Identifier: MIT
 * fds across the channel (cross-domain-protocol.md §4.1-4.2): what the
 * client sends becomes an identifier the host knows (a resource id, a
 * read pipe), and what the host sends becomes an fd the client can use
 * (host memory as a blob's fd, a write pipe). wl_shm pools are shm.c's;
 * files and memfds in other requests become host memory in memory-fds.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* Whether classic 3D resources (virgl's window buffers) are sent as they
 * are: the host passes one on only if it can export its image (gpu-path.md
 * §3: rutabaga 0.1.71+ exports the GL texture; libkrun only GBM-backed
 * resources), and a SEND of one it cannot export costs the whole channel.
 * WAYLAND_VIRTGPU_3D_RESOURCES=send|refuse; unset, refused on libkrun (the
 * 24-byte INIT), sent elsewhere. */
static bool
fd_translate_3d_crosses(void)
{
	const char *mode = getenv("WAYLAND_VIRTGPU_3D_RESOURCES");
	const char *init = getenv("WAYLAND_VIRTGPU_INIT");

	if (mode && strcmp(mode, "refuse") == 0)
		return false;
	if (mode && strcmp(mode, "send") == 0)
		return true;
	return !(init && strcmp(init, "24") == 0);
}

/* Files of pseudo filesystems, named for the error line: not memory
 * even on a kernel that calls them regular files. */
#define ANON_INODE_FS_MAGIC 0x09041934
#define DMA_BUF_MAGIC 0x444d4142
#define PID_FS_MAGIC 0x50494446

static bool
pseudo_file_name(int fd, char *what, size_t what_size)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long) sf.f_type) {
	case ANON_INODE_FS_MAGIC:
		snprintf(what, what_size, "an eventfd, timerfd or other "
			 "anonymous file");
		return true;
	case DMA_BUF_MAGIC:
		snprintf(what, what_size, "a dma-buf of another device");
		return true;
	case PID_FS_MAGIC:
		snprintf(what, what_size, "a pidfd");
		return true;
	}
	return false;
}

enum fd_kind
fd_translate_classify(struct virtgpu_transport *t, int fd,
		      const struct stat *known, uint32_t *bo, uint32_t *res,
		      char *what, size_t what_size)
{
	uint32_t blob_mem = 0;
	struct stat st;
	int flags;

	/* The library's own export (a wl_shm pool's host memory) needs no
	 * word with the kernel: it made the blob. */
	if (known && virtgpu_export_lookup(&t->cd.dev, known, bo, res,
					   &blob_mem))
		return FD_DMABUF;
	if (virtgpu_prime_import(&t->cd.dev, fd, bo) == 0) {
		/* §4.1: the host needs a host-side resource; memory only the
		 * guest has (a GUEST blob) cannot be passed on. The kernel
		 * leaves blob_mem as it was (0) for a classic 3D resource.
		 * A resource id is never 0: 0 says the look failed. */
		*res = 0;
		if (virtgpu_resource_info(&t->cd.dev, *bo, res, &blob_mem) < 0) {
			*res = 0;
			return FD_DMABUF;
		}
		if (blob_mem == VIRTGPU_BLOB_MEM_GUEST) {
			virtgpu_gem_close(&t->cd.dev, *bo);
			snprintf(what, what_size, "a GPU buffer only the guest "
				 "has (a GUEST blob)");
			return FD_UNSUPPORTED;
		}
		if (blob_mem == 0 && !fd_translate_3d_crosses()) {
			virtgpu_gem_close(&t->cd.dev, *bo);
			snprintf(what, what_size, "a virgl 3D resource (this "
				 "host exports none)");
			return FD_UNSUPPORTED;
		}
		return FD_DMABUF;
	}

	if (fstat(fd, &st) < 0) {
		snprintf(what, what_size, "not open");
		return FD_UNSUPPORTED;
	}

	flags = fcntl(fd, F_GETFL);
	if (S_ISFIFO(st.st_mode)) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			return FD_READ_PIPE;
		snprintf(what, what_size, "a pipe's read end");
	} else if (pseudo_file_name(fd, what, what_size)) {
		return FD_UNSUPPORTED;
	} else if (S_ISREG(st.st_mode)) {
		snprintf(what, what_size, "a file or memfd");
		return FD_MEMORY;
	} else if (S_ISSOCK(st.st_mode)) {
		snprintf(what, what_size, "a socket");
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(what, what_size, "a directory");
	} else {
		snprintf(what, what_size, "of file type 0%o",
			 (unsigned) (st.st_mode & S_IFMT));
	}

	return FD_UNSUPPORTED;
}

/* One fd of a SEND: its identifier and type (§4.1). A dma-buf also gives
 * the GEM handle the SEND must name until it is submitted (*has_bo; the
 * caller closes it). -1 with errno after a line on failure. */
int
fd_translate_out(struct virtgpu_transport *t, int fd, const struct stat *known,
		 uint32_t *id, uint32_t *type, uint32_t *bo, bool *has_bo)
{
	char what[64];

	*has_bo = false;
	switch (fd_translate_classify(t, fd, known, bo, id, what,
				      sizeof what)) {
	case FD_DMABUF:
		if (*id == 0) {
			wl_log("wayland-virtgpu: RESOURCE_INFO failed (%s)\n",
			       strerror(errno));
			virtgpu_gem_close(&t->cd.dev, *bo);
			errno = EINVAL;
			return -1;
		}
		*type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
		*has_bo = true;
		return 0;
	case FD_READ_PIPE:
		if (pipes_read_pipe_add(t, fd, id) < 0)
			return -1;
		*type = CROSS_DOMAIN_ID_TYPE_READ_PIPE;
		return 0;
	default:
		wl_log("wayland-virtgpu: an fd that is %s cannot cross to the "
		       "host\n", what);
		errno = EINVAL;
		return -1;
	}
}

/* §4.2 type 1: host memory becomes a HOST3D blob, handed on as its fd. */
static int
host_blob_fd(struct virtgpu_transport *t, uint32_t blob_id, uint32_t size)
{
	struct cross_domain *cd = &t->cd;
	uint32_t bo;
	int fd;

	if (virtgpu_blob_create(&cd->dev, VIRTGPU_BLOB_MEM_HOST3D,
				VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
				VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
				virtgpu_page_align(&cd->dev, size), blob_id,
				&bo, NULL) < 0) {
		wl_log("wayland-virtgpu: cannot create host memory of %u bytes "
		       "the compositor sent (%s)\n", size, strerror(errno));
		return -1;
	}
	fd = virtgpu_prime_export(&cd->dev, bo);
	if (fd < 0)
		wl_log("wayland-virtgpu: cannot export host memory (%s)\n",
		       strerror(errno));
	virtgpu_gem_close(&cd->dev, bo);

	return fd;
}

/* With the lock held: the fds of a RECEIVE's identifiers, in order; on
 * failure (after a line) none is left open and -1. */
int
fd_translate_in(struct virtgpu_transport *t,
		const struct cross_domain_receive *rx, int *fds)
{
	uint32_t i;

	for (i = 0; i < rx->num_ids; i++) {
		switch (rx->types[i]) {
		case CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB:
			/* §3.5: some hosts tag write pipes as blobs of
			 * size 0; memory of size 0 means nothing else. */
			if (rx->sizes[i] == 0)
				fds[i] = pipes_write_pipe_add(t, rx->ids[i]);
			else
				fds[i] = host_blob_fd(t, rx->ids[i], rx->sizes[i]);
			break;
		case CROSS_DOMAIN_ID_TYPE_WRITE_PIPE:
			fds[i] = pipes_write_pipe_add(t, rx->ids[i]);
			break;
		default:
			wl_log("wayland-virtgpu: the compositor sent an fd the "
			       "host passes as type %u (an eventfd or socket), "
			       "which cannot reach this client\n", rx->types[i]);
			fds[i] = -1;
			break;
		}
		if (fds[i] < 0) {
			while (i-- > 0)
				close(fds[i]);
			return -1;
		}
	}
	return 0;
}

/* A request about to be sent: every fd in it that shm.c did not take
 * must be one the host can take; a file or memfd is replaced by host
 * memory holding its bytes (memory-fds.c). Saying which request carried
 * one that cannot cross beats failing later, in a SEND. */
int
fd_translate_check_request(struct virtgpu_transport *t,
			   struct wl_object *target,
			   const struct wl_message *message,
			   union wl_argument *args)
{
	const char *signature = message->signature;
	struct argument_details arg;
	char what[64];
	uint32_t bo, res;
	int i;

	for (i = 0; (signature = wire_next_argument(signature, &arg)), arg.type; i++) {
		if (arg.type != 'h')
			continue;

		switch (fd_translate_classify(t, args[i].h, NULL, &bo, &res,
					      what, sizeof what)) {
		case FD_DMABUF:
			virtgpu_gem_close(&t->cd.dev, bo);
			break;
		case FD_READ_PIPE:
			break;
		case FD_MEMORY:
			if (memory_fd_replace(t, target, message, &args[i].h) < 0)
				return -1;
			break;
		default:
			wl_log("wayland-virtgpu: %s.%s: fd %d is %s and cannot "
			       "cross to the host\n", target->interface->name,
			       message->name, args[i].h, what);
			errno = EINVAL;
			return -1;
		}
	}

	return 0;
}
