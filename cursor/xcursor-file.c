/*
 * The Xcursor file format: a header, a table of contents, and image chunks.
 * Reads only what the best nominal size needs, through a bounds-checked
 * reader, so truncated or hostile files fail cleanly (this is the fuzz target).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xcursor.h"

#define XCURSOR_MAGIC		0x72756358u	/* "Xcur" little-endian */
#define XCURSOR_IMAGE_TYPE	0xfffd0002u
#define XCURSOR_FILE_HEADER_LEN	16
#define XCURSOR_TOC_ENTRY_LEN	12
#define XCURSOR_IMAGE_HEADER_LEN 36

struct xcursor_toc_entry {
	uint32_t type;
	uint32_t subtype;
	uint32_t position;
};

static uint32_t
read_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t
size_distance(uint32_t a, uint32_t b)
{
	return a > b ? a - b : b - a;
}

static int
read_toc(const struct xcursor_source *src, struct xcursor_toc_entry **tocp,
	 uint32_t *ntocp)
{
	unsigned char head[XCURSOR_FILE_HEADER_LEN];
	unsigned char *raw;
	struct xcursor_toc_entry *toc;
	uint32_t header_len, ntoc, i;

	if (src->read_at(src->ctx, 0, head, sizeof head) < 0)
		return -1;
	if (read_le32(head) != XCURSOR_MAGIC)
		return -1;
	header_len = read_le32(head + 4);
	ntoc = read_le32(head + 12);
	if (header_len < XCURSOR_FILE_HEADER_LEN || ntoc > XCURSOR_MAX_TOC)
		return -1;
	/* The table must be in the file before we allocate for it. */
	if ((uint64_t)header_len + (uint64_t)ntoc * XCURSOR_TOC_ENTRY_LEN >
	    src->size)
		return -1;

	raw = malloc((size_t)ntoc * XCURSOR_TOC_ENTRY_LEN + 1);
	toc = calloc(ntoc + 1, sizeof *toc);
	if (!raw || !toc)
		goto fail;
	if (ntoc && src->read_at(src->ctx, header_len, raw,
				 (size_t)ntoc * XCURSOR_TOC_ENTRY_LEN) < 0)
		goto fail;
	for (i = 0; i < ntoc; i++) {
		toc[i].type = read_le32(raw + i * 12);
		toc[i].subtype = read_le32(raw + i * 12 + 4);
		toc[i].position = read_le32(raw + i * 12 + 8);
	}
	free(raw);
	*tocp = toc;
	*ntocp = ntoc;
	return 0;

fail:
	free(raw);
	free(toc);
	return -1;
}

/*
 * The nominal size closest to the request; on a tie the first in the table
 * wins, and a nominal size of 0 never sticks (both as libXcursor does).
 */
static uint32_t
best_nominal_size(const struct xcursor_toc_entry *toc, uint32_t ntoc,
		  uint32_t want, unsigned int *countp)
{
	uint32_t best = 0, i;
	unsigned int count = 0;

	for (i = 0; i < ntoc; i++) {
		if (toc[i].type != XCURSOR_IMAGE_TYPE)
			continue;
		if (!best || size_distance(toc[i].subtype, want) <
			     size_distance(best, want)) {
			best = toc[i].subtype;
			count = 1;
		} else if (toc[i].subtype == best) {
			count++;
		}
	}
	*countp = count;
	return best;
}

static int
read_image(const struct xcursor_source *src,
	   const struct xcursor_toc_entry *entry, uint64_t *budget,
	   struct xcursor_image *image)
{
	unsigned char head[XCURSOR_IMAGE_HEADER_LEN];
	uint64_t bytes;
	uint32_t *pixels;
	size_t i, n;

	if (src->read_at(src->ctx, entry->position, head, sizeof head) < 0)
		return -1;
	/* The chunk must say what the table said it is. */
	if (read_le32(head + 4) != entry->type ||
	    read_le32(head + 8) != entry->subtype)
		return -1;

	image->nominal_size = entry->subtype;
	image->width = read_le32(head + 16);
	image->height = read_le32(head + 20);
	image->xhot = read_le32(head + 24);
	image->yhot = read_le32(head + 28);
	image->delay = read_le32(head + 32);
	if (image->width == 0 || image->height == 0 ||
	    image->width > XCURSOR_MAX_DIM || image->height > XCURSOR_MAX_DIM)
		return -1;
	if (image->xhot > image->width || image->yhot > image->height)
		return -1;

	n = (size_t)image->width * image->height;
	bytes = (uint64_t)n * 4;
	if ((uint64_t)entry->position + sizeof head + bytes > src->size)
		return -1;
	/*
	 * Many table entries may point at the same chunk; an honest file never
	 * decodes to more than its own size, so neither may a hostile one.
	 */
	if (bytes > *budget)
		return -1;
	*budget -= bytes;

	pixels = malloc(bytes);
	if (!pixels)
		return -1;
	if (src->read_at(src->ctx, (uint64_t)entry->position + sizeof head,
			 pixels, bytes) < 0) {
		free(pixels);
		return -1;
	}
	for (i = 0; i < n; i++)
		pixels[i] = read_le32((const unsigned char *)&pixels[i]);
	image->pixels = pixels;
	return 0;
}

struct xcursor_images *
xcursor_parse(const struct xcursor_source *src, int size)
{
	struct xcursor_toc_entry *toc;
	struct xcursor_images *images;
	uint32_t ntoc, best, i;
	unsigned int count;
	uint64_t budget = src->size;

	if (size < 0 || read_toc(src, &toc, &ntoc) < 0)
		return NULL;

	best = best_nominal_size(toc, ntoc, (uint32_t)size, &count);
	if (!best) {
		free(toc);
		return NULL;
	}

	images = calloc(1, sizeof *images);
	if (images)
		images->images = calloc(count, sizeof *images->images);
	if (!images || !images->images)
		goto fail;

	/* Frames in table order; one bad frame spoils the whole cursor. */
	for (i = 0; i < ntoc && images->count < count; i++) {
		if (toc[i].type != XCURSOR_IMAGE_TYPE || toc[i].subtype != best)
			continue;
		if (read_image(src, &toc[i], &budget,
			       &images->images[images->count]) < 0)
			goto fail;
		images->count++;
	}
	free(toc);
	return images;

fail:
	free(toc);
	xcursor_images_destroy(images);
	return NULL;
}

struct memory_source {
	const unsigned char *data;
	size_t len;
};

static int
memory_read_at(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct memory_source *mem = ctx;

	if (offset > mem->len || len > mem->len - offset)
		return -1;
	memcpy(buf, mem->data + offset, len);
	return 0;
}

struct xcursor_images *
xcursor_parse_memory(const void *data, size_t len, int size)
{
	struct memory_source mem = { data, len };
	struct xcursor_source src = { memory_read_at, &mem, len };

	return xcursor_parse(&src, size);
}

static int
fd_read_at(void *ctx, uint64_t offset, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	char *p = buf;
	ssize_t r;

	while (len > 0) {
		r = pread(fd, p, len, (off_t)offset);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
		offset += (uint64_t)r;
	}
	return 0;
}

struct xcursor_images *
xcursor_load_fd(int fd, int size)
{
	struct xcursor_source src = { fd_read_at, &fd, 0 };
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	src.size = (uint64_t)st.st_size;
	return xcursor_parse(&src, size);
}

void
xcursor_images_destroy(struct xcursor_images *images)
{
	unsigned int i;

	if (!images)
		return;
	if (images->images) {
		for (i = 0; i < images->count; i++)
			free(images->images[i].pixels);
		free(images->images);
	}
	free(images->name);
	free(images);
}
