/*
 * SPDX-License-Identifier: MIT
 * Events whose meaning the guest must change, keyed by interface and
 * event: the only place besides shm.c that knows interface names. Today
 * keymaps and dma-buf format tables, which arrive as host memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport-virtgpu.h"
#include "wayland-private.h"

/* Small read-only tables (keymaps, format tables) are copied into sealed
 * guest memory up to this size. */
#define SEALED_COPY_MAX (16u << 20)

/* Keymaps and format tables are read-only and small; clients map them
 * MAP_PRIVATE, which host memory may not allow, so give them a sealed
 * guest copy (cross-domain-protocol.md §4.5). */
static int
seal_copy(int *fd, uint32_t size)
{
	void *src;
	int copy;

	if (size == 0 || size > SEALED_COPY_MAX)
		return 0;

	src = mmap(NULL, size, PROT_READ, MAP_SHARED, *fd, 0);
	if (src == MAP_FAILED) {
		wl_log("wayland-virtgpu: cannot map host memory of %u bytes "
		       "(%s)\n", size, strerror(errno));
		return -1;
	}

	copy = memfd_create("wayland-virtgpu-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0 || ftruncate(copy, size) < 0 ||
	    pwrite(copy, src, size, 0) != (ssize_t) size) {
		munmap(src, size);
		if (copy >= 0)
			close(copy);
		return -1;
	}
	munmap(src, size);
	fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

	close(*fd);
	*fd = copy;

	return 0;
}

/* An event about to be dispatched; -1 (after a line) fails the
 * connection. */
int
fixups_event(struct virtgpu_transport *t, struct wl_object *target,
	     uint32_t opcode, union wl_argument *args)
{
	const char *name = target->interface->name;

	if (strcmp(name, "wl_keyboard") == 0 && opcode == 0)	/* keymap */
		return seal_copy(&args[1].h, args[2].u);
	if (strcmp(name, "zwp_linux_dmabuf_feedback_v1") == 0 && opcode == 1)
		return seal_copy(&args[0].h, args[1].u);	/* format_table */

	return 0;
}
