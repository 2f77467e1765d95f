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
#include <errno.h>
#include <fcntl.h>
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

/* shm_file_pread_to_host from a file opened with O_DIRECT: rows of a
 * copied pool's damage start anywhere, where O_DIRECT says EINVAL; the
 * bytes come through a buffer of the library's. */
static int
check_direct_reads(void)
{
	char path[] = "/var/tmp/shm-file-test-XXXXXX";
	size_t size = 3 * 65536 + 123;
	unsigned char *bytes = malloc(size), *dst = malloc(size + 1);
	int fd = mkstemp(path), dfd;

	CHECK(fd >= 0 && bytes && dst);
	for (size_t i = 0; i < size; i++)
		bytes[i] = (unsigned char) (i * 7 + i / 4096);
	CHECK(pwrite(fd, bytes, size, 0) == (ssize_t) size);
	dfd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	close(fd);
	if (dfd < 0) {
		fprintf(stderr, "O_DIRECT open of %s: %s\n", path, strerror(errno));
		return 77;	/* the file system has no O_DIRECT: nothing to test */
	}
	/* Unaligned offset, length and destination; across chunks; to the end. */
	static const size_t cases[][2] = {
		{ 100, 1000 }, { 4095, 2 }, { 0, 3 * 65536 + 123 }, { 65530, 70000 },
		{ 3 * 65536, 123 }, { 3 * 65536 + 100, 1000 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t at = cases[c][0], len = cases[c][1];
		size_t expect = at + len <= size ? len : size - at;
		ssize_t n;

		memset(dst, 0, size + 1);
		n = shm_file_pread_to_host(dfd, dst + 1, len, (off_t) at);
		CHECK(n == (ssize_t) expect);
		CHECK(n < 0 || memcmp(dst + 1, bytes + at, expect) == 0);
	}
	CHECK(shm_file_pread_to_host(dfd, dst, 10, (off_t) size) == 0);
	close(dfd);
	free(bytes);
	free(dst);
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	size_t page = (size_t) sysconf(_SC_PAGESIZE);

	if (argc > 1 && strcmp(argv[1], "--direct") == 0)
		return check_direct_reads();

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
