/*
 * SPDX-License-Identifier: MIT
 * virt-transport/vma.c: the mappings of a file and the mapping at an
 * address, found the same way through PROCMAP_QUERY and through the text
 * of /proc/self/maps, and as the test made them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vma.h"

#include "check.h"

static bool
same(const struct vma *a, const struct vma *b)
{
	return a->start == b->start && a->end == b->end &&
	       a->offset == b->offset && a->dev == b->dev &&
	       a->ino == b->ino && a->shared == b->shared &&
	       a->writable == b->writable;
}

static void
print(const char *what, const struct vma *m, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  %s: %lx-%lx off %llu %s%s ino %lu\n", what,
			(unsigned long) m[i].start, (unsigned long) m[i].end,
			(unsigned long long) m[i].offset,
			m[i].shared ? "shared" : "private",
			m[i].writable ? " writable" : "",
			(unsigned long) m[i].ino);
}

int
main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct vma *by_query = NULL, *by_text = NULL, m1, m2;
	char *shared_rw, *shared_ro, *private_rw, *at_offset, *hole;
	struct stat st;
	int fd, n1, n2;

	/* Many anonymous mappings around, none of them the file's. */
	for (int i = 0; i < 2000; i++) {
		char *p = mmap(NULL, (size_t) page * 2, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			mprotect(p, (size_t) page, PROT_READ | PROT_WRITE);
	}

	fd = memfd_create("vma-test", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, page * 4) < 0 || fstat(fd, &st) < 0) {
		perror("memfd");
		return 1;
	}
	shared_rw = mmap(NULL, (size_t) page * 4, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
	shared_ro = mmap(NULL, (size_t) page * 2, PROT_READ, MAP_SHARED, fd, 0);
	private_rw = mmap(NULL, (size_t) page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE, fd, 0);
	at_offset = mmap(NULL, (size_t) page, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, page * 3);
	hole = mmap(NULL, (size_t) page, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared_rw == MAP_FAILED || shared_ro == MAP_FAILED ||
	    private_rw == MAP_FAILED || at_offset == MAP_FAILED ||
	    hole == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	munmap(hole, (size_t) page);

	vma_set_source(VMA_SOURCE_AUTO);
	n1 = vma_of_file(st.st_dev, st.st_ino, &by_query);
	vma_set_source(VMA_SOURCE_TEXT);
	n2 = vma_of_file(st.st_dev, st.st_ino, &by_text);

	CHECK(n1 == 4);
	CHECK(n2 == n1);
	for (int i = 0; i < n1 && i < n2; i++)
		CHECK(same(&by_query[i], &by_text[i]));
	if (n1 != 4 || n2 != n1) {
		print("query", by_query, n1);
		print("text", by_text, n2);
	}

	/* What the test made, in address order. */
	for (int i = 0; i < n1; i++) {
		const struct vma *m = &by_query[i];

		if (i > 0)
			CHECK(by_query[i - 1].start < m->start);
		if (m->start == (uintptr_t) shared_rw)
			CHECK(m->end - m->start == (size_t) page * 4 &&
			      m->shared && m->writable && m->offset == 0);
		else if (m->start == (uintptr_t) shared_ro)
			CHECK(m->end - m->start == (size_t) page * 2 &&
			      m->shared && !m->writable && m->offset == 0);
		else if (m->start == (uintptr_t) private_rw)
			CHECK(!m->shared && m->writable && m->offset == 0);
		else if (m->start == (uintptr_t) at_offset)
			CHECK(m->shared && m->offset == (uint64_t) page * 3);
		else
			CHECK(!"a mapping the test did not make");
	}

	/* The mapping at an address, from inside it; none in a hole. */
	for (int source = 0; source < 2; source++) {
		vma_set_source(source ? VMA_SOURCE_TEXT : VMA_SOURCE_AUTO);
		CHECK(vma_at(shared_rw + page + 5, &m1) == 0);
		CHECK(m1.start == (uintptr_t) shared_rw && m1.ino == st.st_ino);
		CHECK(vma_at(at_offset, &m2) == 0);
		CHECK(m2.offset == (uint64_t) page * 3);
		errno = 0;
		CHECK(vma_at(hole, &m1) < 0 && errno == ENOENT);
	}

	/* A file nobody maps. */
	munmap(shared_rw, (size_t) page * 4);
	munmap(shared_ro, (size_t) page * 2);
	munmap(private_rw, (size_t) page);
	munmap(at_offset, (size_t) page);
	free(by_query);
	free(by_text);
	for (int source = 0; source < 2; source++) {
		vma_set_source(source ? VMA_SOURCE_TEXT : VMA_SOURCE_AUTO);
		by_query = NULL;
		CHECK(vma_of_file(st.st_dev, st.st_ino, &by_query) == 0);
		free(by_query);
	}
	close(fd);

	if (failures == 0)
		printf("vma-test: PASS\n");
	return failures ? 1 : 0;
}
