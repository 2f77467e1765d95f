/*
 * SPDX-License-Identifier: MIT
 * The process's own memory mappings, for the wl_shm remapping (shm.c).
 *
 * Linux 6.11 and later answer "which mapping is at or after this address"
 * with the PROCMAP_QUERY ioctl on /proc/self/maps, filtered to file-backed
 * mappings in the kernel; older kernels only have the text, which costs
 * about three times as much per mapping. Processes with thousands of
 * mappings (Xwayland, browsers) create a pool per buffer, so it counts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vma.h"

/* The uAPI of include/uapi/linux/fs.h (Linux 6.11), newer than Debian 12's
 * headers. */
#define VMA_QUERY_SHARED		0x08u
#define VMA_QUERY_COVERING_OR_NEXT	0x10u
#define VMA_QUERY_FILE_BACKED		0x20u
#define VMA_QUERY_WRITABLE		0x02u

struct vma_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};

#define VMA_IOCTL_QUERY _IOWR('f', 17, struct vma_query)

_Static_assert(sizeof(struct vma_query) == 104, "struct procmap_query");

/* Set once a kernel has said it does not know the ioctl. */
static int vma_no_query;
static int vma_source_text;

void
vma_set_source(enum vma_source source)
{
	__atomic_store_n(&vma_source_text, source == VMA_SOURCE_TEXT,
			 __ATOMIC_RELAXED);
}

static int
maps_open(void)
{
	return open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
}

static bool
query_usable(void)
{
	return !__atomic_load_n(&vma_no_query, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&vma_source_text, __ATOMIC_RELAXED);
}

/* One ioctl: 1 with *out filled, 0 when no mapping answers, -1 when the
 * ioctl itself failed (errno). */
static int
query(int fd, uint64_t addr, uint64_t flags, struct vma *out)
{
	struct vma_query q;

	memset(&q, 0, sizeof q);
	q.size = sizeof q;
	q.query_flags = flags;
	q.query_addr = addr;
	if (ioctl(fd, VMA_IOCTL_QUERY, &q) < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTTY || errno == EINVAL || errno == E2BIG)
			__atomic_store_n(&vma_no_query, 1, __ATOMIC_RELAXED);
		return -1;
	}

	out->start = (uintptr_t) q.vma_start;
	out->end = (uintptr_t) q.vma_end;
	out->offset = q.vma_offset;
	out->dev = makedev(q.dev_major, q.dev_minor);
	out->ino = (ino_t) q.inode;
	out->shared = (q.vma_flags & VMA_QUERY_SHARED) != 0;
	out->writable = (q.vma_flags & VMA_QUERY_WRITABLE) != 0;
	return 1;
}

/* ---- the text of /proc/self/maps ------------------------------------------ */

static const char *
parse_hex(const char *p, const char *end, uint64_t *value)
{
	const char *start = p;
	uint64_t v = 0;

	for (; p < end; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned) (*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned) (*p - 'a' + 10);
		else
			break;
		v = v << 4 | d;
	}
	*value = v;
	return p > start && p - start <= 16 ? p : NULL;
}

static const char *
parse_dec(const char *p, const char *end, uint64_t *value)
{
	const char *start = p;
	uint64_t v = 0;

	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t) (*p - '0');
	*value = v;
	return p > start && p - start <= 20 ? p : NULL;
}

static const char *
expect(const char *p, const char *end, char c)
{
	return p && p < end && *p == c ? p + 1 : NULL;
}

/* "start-end perms offset major:minor inode [path]" */
static bool
parse_line(const char *p, const char *end, struct vma *m)
{
	uint64_t start, stop, offset, major, minor, inode;
	const char *perms;

	p = expect(parse_hex(p, end, &start), end, '-');
	p = p ? expect(parse_hex(p, end, &stop), end, ' ') : NULL;
	if (p == NULL || end - p < 5 || p[4] != ' ')
		return false;
	perms = p;
	p = expect(parse_hex(p + 5, end, &offset), end, ' ');
	p = p ? expect(parse_hex(p, end, &major), end, ':') : NULL;
	p = p ? expect(parse_hex(p, end, &minor), end, ' ') : NULL;
	p = p ? parse_dec(p, end, &inode) : NULL;
	if (p == NULL)
		return false;

	m->start = (uintptr_t) start;
	m->end = (uintptr_t) stop;
	m->offset = offset;
	m->dev = makedev((unsigned) major, (unsigned) minor);
	m->ino = (ino_t) inode;
	m->shared = perms[3] == 's';
	m->writable = perms[1] == 'w';
	return true;
}

/* Calls keep(m, data) for each line; stops early when it returns false. */
static int
text_each(bool (*keep)(const struct vma *, void *), void *data)
{
	char buf[16384];
	size_t have = 0;
	int fd, ret = 0;

	fd = maps_open();
	if (fd < 0)
		return -1;

	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof buf - have);
		char *line = buf, *nl, *end;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -1;
			break;
		}
		end = buf + have + got;
		if (got == 0) {
			/* A last line without its newline. */
			struct vma m;

			if (have > 0 && parse_line(buf, end, &m))
				keep(&m, data);
			break;
		}
		while ((nl = memchr(line, '\n', (size_t) (end - line)))) {
			struct vma m;

			if (parse_line(line, nl, &m) && !keep(&m, data))
				goto out;
			line = nl + 1;
		}
		have = (size_t) (end - line);
		if (have == sizeof buf) {
			/* A line longer than the buffer: only its path can
			 * be that long, so drop the rest of it. */
			errno = EOVERFLOW;
			ret = -1;
			break;
		}
		memmove(buf, line, have);
	}
out:
	close(fd);
	return ret;
}

/* ---- lookups ------------------------------------------------------------- */

struct at_search {
	uintptr_t addr;
	struct vma *out;
	bool found;
};

static bool
at_keep(const struct vma *m, void *data)
{
	struct at_search *s = data;

	if (m->start <= s->addr && s->addr < m->end) {
		*s->out = *m;
		s->found = true;
		return false;
	}
	return m->start <= s->addr;
}

int
vma_at(const void *addr, struct vma *out)
{
	struct at_search s = { (uintptr_t) addr, out, false };

	if (query_usable()) {
		int fd = maps_open(), ret;

		if (fd < 0)
			return -1;
		ret = query(fd, (uint64_t) (uintptr_t) addr, 0, out);
		close(fd);
		if (ret == 1)
			return 0;
		if (ret == 0) {
			errno = ENOENT;
			return -1;
		}
		if (query_usable())
			return -1;
	}

	if (text_each(at_keep, &s) < 0)
		return -1;
	if (!s.found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

struct file_search {
	dev_t dev;
	ino_t ino;
	struct vma *list;
	int n, capacity;
	bool failed;
};

static bool
file_keep(const struct vma *m, void *data)
{
	struct file_search *s = data;
	struct vma *grown;

	if (m->dev != s->dev || m->ino != s->ino)
		return true;
	if (s->n == s->capacity) {
		s->capacity = s->capacity ? s->capacity * 2 : 8;
		grown = realloc(s->list, (size_t) s->capacity * sizeof *grown);
		if (grown == NULL) {
			s->failed = true;
			return false;
		}
		s->list = grown;
	}
	s->list[s->n++] = *m;
	return true;
}

/* The start of a /proc/self/map_files name ("start-end", hex), or 0. */
static uint64_t
map_files_start(const char *name)
{
	uint64_t start;
	const char *p = parse_hex(name, name + strlen(name), &start);

	return p && *p == '-' ? start : 0;
}

/* The queries for one getdents64 buffer of map_files names. */
static int
query_names(int fd, const char *buf, long len, struct file_search *s)
{
	long off;
	int ret;

	for (off = 0; off < len;) {
		const struct dirent64 *entry = (const void *) (buf + off);
		uint64_t start = map_files_start(entry->d_name);
		struct vma m;

		off += entry->d_reclen;
		if (start == 0)
			continue;	/* "." and ".." */
		/* 0: unmapped since the listing. */
		ret = query(fd, start, 0, &m);
		if (ret < 0)
			return -1;
		if (ret == 1 && m.start == start && !file_keep(&m, s))
			return 0;
	}
	return 0;
}

/* Every file-backed mapping: their ranges are the names in
 * /proc/self/map_files, which the kernel lists without locking each
 * mapping on its way (the query's own walk to the next file-backed one
 * locks every anonymous mapping it passes: in a process with thousands,
 * most of a pool's cost), then one query each at its start. The kernel
 * walks every mapping again for each getdents64: a buffer it did not
 * nearly fill was the whole listing. -2 without map_files. */
static int
query_each_listed(int fd, struct file_search *s)
{
	const long size = 64 << 10;
	char *buf = malloc((size_t) size);
	int dir, ret = 0;
	long len;

	dir = open("/proc/self/map_files", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || buf == NULL) {
		if (dir >= 0)
			close(dir);
		free(buf);
		return -2;
	}
	do {
		len = syscall(SYS_getdents64, dir, buf, size);
		if (len < 0 || query_names(fd, buf, len, s) < 0 || s->failed)
			ret = -1;
	} while (ret == 0 && len > size - 1024);
	close(dir);
	free(buf);
	return ret;
}

/* Every file-backed mapping, filtered in the kernel. */
static int
query_each_file_backed(struct file_search *s)
{
	struct vma m;
	uint64_t addr = 0;
	int fd, ret;

	fd = maps_open();
	if (fd < 0)
		return -1;
	ret = query_each_listed(fd, s);
	if (ret != -2) {
		close(fd);
		return ret;
	}
	for (;;) {
		ret = query(fd, addr, VMA_QUERY_COVERING_OR_NEXT |
			    VMA_QUERY_FILE_BACKED, &m);
		if (ret <= 0 || !file_keep(&m, s) || m.end <= addr)
			break;
		addr = m.end;
	}
	close(fd);
	return ret < 0 ? -1 : 0;
}

int
vma_of_file(dev_t dev, ino_t ino, struct vma **out)
{
	struct file_search s = { .dev = dev, .ino = ino };
	int ret = -1;

	if (query_usable()) {
		ret = query_each_file_backed(&s);
		if (ret < 0 && !query_usable()) {
			/* An old kernel: start over from the text. */
			s.n = 0;
		}
	}
	if (ret < 0 && !query_usable() && !s.failed)
		ret = text_each(file_keep, &s);

	if (ret < 0 || s.failed) {
		free(s.list);
		if (s.failed)
			errno = ENOMEM;
		return -1;
	}
	*out = s.list;
	return s.n;
}
