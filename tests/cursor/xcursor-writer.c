/*
 * Writes Xcursor files from a list of solid-colour frames: 16-byte header,
 * 12-byte TOC entries, 36-byte image chunk headers, little-endian throughout.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "xcursor-writer.h"

void
xcw_put32(uint8_t *file, size_t offset, uint32_t value)
{
	file[offset] = value & 0xff;
	file[offset + 1] = (value >> 8) & 0xff;
	file[offset + 2] = (value >> 16) & 0xff;
	file[offset + 3] = (value >> 24) & 0xff;
}

size_t
xcw_toc_offset(unsigned int index)
{
	return 16 + (size_t)index * 12;
}

size_t
xcw_chunk_offset(const struct xcw_image *images, unsigned int count,
		 unsigned int index)
{
	size_t offset = 16 + (size_t)count * 12;
	unsigned int i;

	/* All TOC entries come first; chunks follow in order. */
	for (i = 0; i < index; i++)
		offset += 36 + (size_t)images[i].width * images[i].height * 4;
	return offset;
}

uint8_t *
xcw_build(const struct xcw_image *images, unsigned int count, size_t *len)
{
	size_t total = 16 + (size_t)count * 12, pos, p;
	unsigned int i;
	uint32_t j, n;
	uint8_t *file;

	for (i = 0; i < count; i++)
		total += 36 + (size_t)images[i].width * images[i].height * 4;
	file = calloc(1, total);
	if (!file)
		return NULL;

	xcw_put32(file, 0, 0x72756358);
	xcw_put32(file, 4, 16);
	xcw_put32(file, 8, 0x10000);
	xcw_put32(file, 12, count);
	pos = 16 + (size_t)count * 12;
	for (i = 0; i < count; i++) {
		p = xcw_toc_offset(i);
		xcw_put32(file, p, 0xfffd0002);
		xcw_put32(file, p + 4, images[i].nominal);
		xcw_put32(file, p + 8, (uint32_t)pos);

		xcw_put32(file, pos, 36);
		xcw_put32(file, pos + 4, 0xfffd0002);
		xcw_put32(file, pos + 8, images[i].nominal);
		xcw_put32(file, pos + 12, 1);
		xcw_put32(file, pos + 16, images[i].width);
		xcw_put32(file, pos + 20, images[i].height);
		xcw_put32(file, pos + 24, images[i].xhot);
		xcw_put32(file, pos + 28, images[i].yhot);
		xcw_put32(file, pos + 32, images[i].delay);
		n = images[i].width * images[i].height;
		for (j = 0; j < n; j++)
			xcw_put32(file, pos + 36 + (size_t)j * 4, images[i].colour);
		pos += 36 + (size_t)n * 4;
	}
	*len = total;
	return file;
}

int
xcw_write_file(const char *path, const uint8_t *data, size_t len)
{
	ssize_t r;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (len > 0) {
		r = write(fd, data, len);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		data += r;
		len -= (size_t)r;
	}
	return close(fd);
}
