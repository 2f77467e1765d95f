/*
 * SPDX-License-Identifier: MIT
 * The process's own memory mappings (vma.c): which of them show a given
 * file, and which one holds an address.
 */
#ifndef VIRT_VMA_H
#define VIRT_VMA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One mapping, as a line of /proc/self/maps shows it. */
struct vma {
	uintptr_t start, end;
	uint64_t offset;	/* in bytes, into the file */
	dev_t dev;
	ino_t ino;
	bool shared, writable;
};

enum vma_source {
	VMA_SOURCE_AUTO,	/* the PROCMAP_QUERY ioctl where the kernel has it */
	VMA_SOURCE_TEXT,	/* always parse /proc/self/maps */
};

/* Which way the next lookups go (tests compare the two). */
void
vma_set_source(enum vma_source source);

/* The mapping that holds addr: 0, or -1 with errno (ENOENT: none). */
int
vma_at(const void *addr, struct vma *out);

/* Every mapping of the file (dev, ino), in address order. Returns their
 * number with *out to free(), or -1 with errno. */
int
vma_of_file(dev_t dev, ino_t ino, struct vma **out);

#endif
