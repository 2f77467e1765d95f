/*
 * SPDX-License-Identifier: MIT
 * virt-transport/shm-file.c: after a pool's file is punched empty, a
 * commit asks whether anything wrote to it since (shm_file_written). Whole
 * pages are holes until written; the page that holds an unaligned end
 * stays, zeroed by the punch, so there a write shows as bytes that are not
 * zero. Pools smaller than a page (cursors, small subsurfaces) and every
 * pool whose size is not a multiple of the page are that case: they must
 * not look written at each commit (each such look costs a walk of all the
 * process's mappings).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm-private.h"

#include "check.h"

static int
pool_file(size_t size)
{
	int fd = memfd_create("shm-file-test", MFD_CLOEXEC);
	char *bytes = malloc(size);

	memset(bytes, 0x5a, size);
	CHECK(fd >= 0 && ftruncate(fd, (off_t) size) == 0);
	CHECK(pwrite(fd, bytes, size, 0) == (ssize_t) size);
	free(bytes);
	return fd;
}

static void
write_byte(int fd, size_t at, unsigned char value)
{
	CHECK(pwrite(fd, &value, 1, (off_t) at) == 1);
}

/* size: the pool; [from, to): a buffer in it. */
static void
check_pool(size_t size, size_t from, size_t to)
{
	size_t page = (size_t) sysconf(_SC_PAGESIZE);
	int fd = pool_file(size);

	CHECK(shm_file_written(fd, from, to, 0, size));
	CHECK(shm_file_punch(fd, size) == 0);
	/* Punched: nothing written, whatever the alignment. */
	CHECK(!shm_file_written(fd, from, to, 0, size));

	/* A write in the buffer's last byte (in the cut page when the size
	 * is unaligned) is seen, and so is one in its first whole page. */
	write_byte(fd, to - 1, 0xff);
	CHECK(shm_file_written(fd, from, to, 0, size));
	CHECK(shm_file_punch(fd, size) == 0);
	CHECK(!shm_file_written(fd, from, to, 0, size));
	if (to - from > page) {
		write_byte(fd, from, 0x01);
		CHECK(shm_file_written(fd, from, to, 0, size));
		CHECK(shm_file_punch(fd, size) == 0);
	}
	/* A write outside the buffer is not the buffer's. */
	if (from > 0) {
		write_byte(fd, 0, 0x01);
		CHECK(!shm_file_written(fd, from, to, 0, size));
	}
	close(fd);
}

int
main(void)
{
	size_t page = (size_t) sysconf(_SC_PAGESIZE);

	check_pool(1024, 0, 1024);			/* smaller than a page */
	check_pool(250 * 250 * 4, 0, 250 * 250 * 4);	/* unaligned end */
	check_pool(2 * 250 * 250 * 4, 250 * 250 * 4,	/* 2nd buffer */
		   2 * 250 * 250 * 4);
	check_pool(64 * page, 0, 64 * page);		/* aligned */
	check_pool(64 * page, 3 * page + 100, 9 * page + 7);
	/* A window punched over [base, end) not aligned at either end. */
	{
		int fd = pool_file(8 * page);

		CHECK(shm_file_punch_at(fd, 100, 5 * page + 10) == 0);
		CHECK(!shm_file_written(fd, 100, 5 * page + 10, 100,
					5 * page + 10));
		write_byte(fd, 5 * page + 9, 0x01);
		CHECK(shm_file_written(fd, 100, 5 * page + 10, 100,
				       5 * page + 10));
		close(fd);
	}
	return failures ? 1 : 0;
}
