/*
 * SPDX-License-Identifier: MIT
 * The client's pool file: where it holds data, copying that to host memory
 * and back, punching it empty, and the snapshot that tells a write racing
 * a remap from the bytes that were copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm-private.h"

/* The next run of data in the file within [from, to): false when only
 * holes are left. */
static bool
next_data_extent(int fd, size_t from, size_t to, size_t *start, size_t *end)
{
	off_t data, hole;

	data = lseek(fd, (off_t) from, SEEK_DATA);
	if (data < 0 || (size_t) data >= to)
		return false;
	hole = lseek(fd, data, SEEK_HOLE);
	if (hole < 0 || (size_t) hole > to)
		hole = (off_t) to;

	*start = (size_t) data;
	*end = (size_t) hole;
	return true;
}

/* What a page that holds nothing reads as. */
static const uint8_t zero_page[4096];

/* Reads go in chunks of this many bytes: a 64 KiB pool in one pread. */
#define FILE_CHUNK (64u << 10)

/* A buffer for file chunks, FILE_CHUNK bytes; NULL without memory (the
 * callers then use their page on the stack). */
static uint8_t *
chunk_alloc(void)
{
	return malloc(FILE_CHUNK);
}

/* Whether fd was opened with O_DIRECT: its reads want whole blocks. */
static bool
fd_is_direct(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags >= 0 && (flags & O_DIRECT);
}

/* pread into host memory. A file whose reads pin the destination's pages
 * (O_DIRECT, 9p, FUSE) cannot read into it: host memory is mapped without
 * pages (VM_PFNMAP), and the read fails with EFAULT (Debian 12's 6.1, a file
 * on a 9p share). Those bytes go through a buffer of our own, aligned as
 * O_DIRECT wants, as are O_DIRECT reads of a damaged row (an offset not on
 * a block: EINVAL). Returns what pread would. */
ssize_t
shm_file_pread_to_host(int fd, void *dst, size_t len, off_t at)
{
	ssize_t n = pread(fd, dst, len, at), got = 0;
	void *bounce;

	/* EFAULT: pages that cannot be pinned; EINVAL: O_DIRECT's alignment
	 * (an offset, a length or a destination not on a block). */
	if (n >= 0 || (errno != EFAULT && !(errno == EINVAL && fd_is_direct(fd))))
		return n;
	if (posix_memalign(&bounce, 4096, FILE_CHUNK) != 0) {
		errno = ENOMEM;
		return -1;
	}
	while ((size_t) got < len) {
		/* Whole blocks from the one holding `at + got`; what is
		 * before it and past `len` is read but not kept. */
		off_t pos = at + got, base = pos & ~(off_t) 4095;
		size_t skip = (size_t) (pos - base);
		size_t want = len - (size_t) got < FILE_CHUNK - skip ?
			      len - (size_t) got : FILE_CHUNK - skip;
		size_t ask = (skip + want + 4095) & ~(size_t) 4095;

		n = pread(fd, bounce, ask, base);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= (ssize_t) skip)
			break;	/* an error, or the file ends before pos */
		n -= (ssize_t) skip;
		if ((size_t) n > want)
			n = (ssize_t) want;
		memcpy((char *) dst + got, (char *) bounce + skip, (size_t) n);
		got += n;
		if ((size_t) n < want)
			break;	/* the file ends here */
	}
	free(bounce);
	return got > 0 || n >= 0 ? got : -1;
}

/* One page of a chunk read from the file at `at` goes to host memory. */
static size_t
copy_page(uint8_t *dst, const uint8_t *page, size_t n, bool skip_zero_pages)
{

	if (skip_zero_pages && memcmp(page, zero_page, n) == 0)
		return 0;
	/* A page host memory holds already (a refilled file) needs no
	 * copy. */
	if (memcmp(dst, page, n) == 0)
		return 0;
	memcpy(dst, page, n);
	return n;
}

/* Copy what the client's file holds (its data extents, not its holes)
 * within [from, to) into host memory at the same offsets. With
 * skip_zero_pages, pages of zeros are left alone: after the file was
 * emptied, fallocate() (which clients call to grow pools) fills it with
 * zero pages that are nobody's pixels, and must not cover host memory the
 * client drew into. */
size_t
shm_file_copy_data(int fd, void *dst, size_t from, size_t to,
		   bool skip_zero_pages)
{
	return shm_file_copy_data_at(fd, dst, 0, from, to, skip_zero_pages);
}

/* The same into memory that holds the file from offset dst_base on. */
size_t
shm_file_copy_data_at(int fd, void *dst_memory, size_t dst_base, size_t from,
		      size_t to, bool skip_zero_pages)
{
	char *dst = (char *) dst_memory - dst_base;
	uint8_t page[4096], *chunk = chunk_alloc(), *buf = chunk ? chunk : page;
	size_t size = chunk ? FILE_CHUNK : sizeof page;
	size_t copied = 0, at, n, i, data, hole;

	while (next_data_extent(fd, from, to, &data, &hole)) {
		for (at = data; at < hole; at += n) {
			n = hole - at < size ? hole - at : size;
			if (pread(fd, buf, n, (off_t) at) != (ssize_t) n)
				goto out;
			for (i = 0; i < n; i += 4096)
				copied += copy_page((uint8_t *) dst + at + i,
						    buf + i, n - i < 4096 ?
						    n - i : 4096,
						    skip_zero_pages);
		}
		from = hole;
	}
out:
	free(chunk);
	return copied;
}

/* The reverse, after the file was emptied: give the file back what host
 * memory holds, in [0, size), where the file has nothing of its own (holes,
 * and pages of zeros a fallocate() put in them). A view the client maps
 * later then shows the pool's bytes, not zeros, so what it writes next to
 * them (an allocator appending in a page half used) merges in the file,
 * and copying the file back later loses nothing. */
size_t
shm_file_refill(int fd, const void *src, size_t size)
{
	return shm_file_refill_at(fd, src, 0, size);
}

/* The same for [from, to) of the file, from memory that holds it from
 * `from` on; never past the file's end (a client may have shrunk it). */
size_t
shm_file_refill_at(int fd, const void *src_memory, size_t from, size_t to)
{
	const char *src = (const char *) src_memory - from;
	uint8_t page[4096];
	size_t written = 0, at, n, size = to;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	if ((size_t) st.st_size < size)
		size = (size_t) st.st_size;
	for (at = from; at < size; at += n) {
		off_t data = lseek(fd, (off_t) at, SEEK_DATA);
		bool fill;

		n = size - at < sizeof page ? size - at : sizeof page;
		if (data < 0 || (size_t) data >= at + n) {
			fill = true;	/* a hole */
		} else if ((size_t) data > at) {
			n = (size_t) data - at;	/* a hole up to the data */
			fill = true;
		} else {
			fill = pread(fd, page, n, (off_t) at) == (ssize_t) n &&
			       memcmp(page, zero_page, n) == 0;
		}
		/* Zeros in host memory: the file shows them already. */
		if (fill && memcmp((const char *) src + at, zero_page, n) != 0) {
			if (pwrite(fd, (const char *) src + at, n, (off_t) at) !=
			    (ssize_t) n)
				break;
			written += n;
		}
	}

	return written;
}

bool
shm_file_has_data(int fd, size_t from, size_t to)
{
	size_t data, hole;

	return next_data_extent(fd, from, to, &data, &hole);
}

/* Is any byte of [from, to) not zero? Read in one page at a time. */
static bool
range_has_bytes(int fd, size_t from, size_t to)
{
	uint8_t page[4096];

	while (from < to) {
		size_t n = to - from < sizeof page ? to - from : sizeof page;
		ssize_t got = pread(fd, page, n, (off_t) from);

		if (got <= 0)
			return got < 0;	/* unreadable: take it as written */
		if (memcmp(page, zero_page, (size_t) got) != 0)
			return true;
		from += (size_t) got;
	}
	return false;
}

bool
shm_file_written(int fd, size_t from, size_t to, size_t punched_from,
		 size_t punched_to)
{
	size_t page = (size_t) sysconf(_SC_PAGESIZE);
	size_t lo = (punched_from + page - 1) / page * page;
	size_t hi = punched_to / page * page;
	size_t holes_from = from > lo ? from : lo;
	size_t holes_to = to < hi ? to : hi;

	if (holes_from >= holes_to)
		return range_has_bytes(fd, from, to);
	return shm_file_has_data(fd, holes_from, holes_to) ||
	       range_has_bytes(fd, from, holes_from) ||
	       range_has_bytes(fd, holes_to, to);
}

int
shm_file_punch(int fd, size_t size)
{
	return shm_file_punch_at(fd, 0, size);
}

int
shm_file_punch_at(int fd, size_t from, size_t to)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t) from, (off_t) (to - from));
}

/* Can holes be punched in the file? Sealed files and some filesystems
 * refuse; ask with an empty punch past its end. */
bool
shm_file_punchable(int fd, size_t size)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return false;
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t) size, 4096) == 0;
}

void
shm_file_snapshot_free(struct shm_file_snapshot *snap)
{
	int i;

	for (i = 0; i < snap->count; i++)
		free(snap->extents[i].bytes);
	free(snap->extents);
}

bool
shm_file_snapshot_take(struct shm_file_snapshot *snap, int fd,
		       const uint8_t *host, size_t size)
{
	size_t from = 0, len, data, hole;

	memset(snap, 0, sizeof *snap);
	while (next_data_extent(fd, from, size, &data, &hole)) {
		struct shm_file_extent *grown;

		len = hole - data;

		grown = realloc(snap->extents, (snap->count + 1) * sizeof *grown);
		if (grown == NULL)
			goto err;
		snap->extents = grown;
		grown[snap->count].offset = data;
		grown[snap->count].len = len;
		grown[snap->count].bytes = malloc(len);
		if (grown[snap->count].bytes == NULL)
			goto err;
		memcpy(grown[snap->count].bytes, host + data, len);
		snap->count++;
		from = hole;
	}
	return true;

err:
	shm_file_snapshot_free(snap);
	return false;
}

/* The snapshot's byte at `at` (0 in its holes); extents are in order. */
static uint8_t
snapshot_byte(const struct shm_file_snapshot *snap, int *hint, size_t at)
{
	int i;

	for (i = *hint; i < snap->count; i++) {
		const struct shm_file_extent *e = &snap->extents[i];

		if (at < e->offset)
			break;
		if (at < e->offset + e->len) {
			*hint = i;
			return e->bytes[at - e->offset];
		}
	}
	return 0;
}

/* Does the snapshot hold exactly these n bytes at `at`? Only said where
 * one extent covers them: elsewhere the byte-wise look decides. */
static bool
snapshot_holds(const struct shm_file_snapshot *snap, int *hint, size_t at,
	       const uint8_t *bytes, size_t n)
{
	int i;

	for (i = *hint; i < snap->count; i++) {
		const struct shm_file_extent *e = &snap->extents[i];

		if (at < e->offset)
			break;
		if (at + n <= e->offset + e->len) {
			*hint = i;
			return memcmp(e->bytes + (at - e->offset), bytes, n) == 0;
		}
	}
	return false;
}

/* Bytes another thread wrote through a view between the copy and the
 * remap landed in the file; take those host memory has had no newer
 * write to since (it still holds the snapshot's byte there). */
size_t
shm_file_merge_racing_writes(int fd, const struct shm_file_snapshot *snap,
			     uint8_t *host, size_t size)
{
	uint8_t page[4096], *chunk = chunk_alloc(), *buf = chunk ? chunk : page;
	size_t bufsize = chunk ? FILE_CHUNK : sizeof page;
	size_t from = 0, at, n, i, merged = 0, data, hole;
	int hint = 0;

	while (next_data_extent(fd, from, size, &data, &hole)) {
		for (at = data; at < hole; at += n) {
			n = hole - at < bufsize ? hole - at : bufsize;
			if (pread(fd, buf, n, (off_t) at) != (ssize_t) n)
				goto out;
			if (snapshot_holds(snap, &hint, at, buf, n))
				continue;	/* nobody wrote here */
			for (i = 0; i < n; i++) {
				uint8_t old = snapshot_byte(snap, &hint, at + i);

				if (buf[i] != old && host[at + i] == old) {
					host[at + i] = buf[i];
					merged++;
				}
			}
		}
		from = hole;
	}
out:
	free(chunk);
	return merged;
}
