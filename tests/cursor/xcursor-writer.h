/*
 * xcursor-writer.h: builds Xcursor files in memory for tests, valid or
 * deliberately broken, without depending on the parser under test.
 */
#ifndef XCURSOR_WRITER_H
#define XCURSOR_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct xcw_image {
	uint32_t nominal;
	uint32_t width, height;
	uint32_t xhot, yhot;
	uint32_t delay;
	uint32_t colour;	/* every pixel, premultiplied ARGB */
};

/* A file with one TOC entry and one chunk per image; caller frees. */
uint8_t *
xcw_build(const struct xcw_image *images, unsigned int count, size_t *len);

void
xcw_put32(uint8_t *file, size_t offset, uint32_t value);

/* Offsets of an image's fields, for breaking them. */
size_t
xcw_toc_offset(unsigned int index);

size_t
xcw_chunk_offset(const struct xcw_image *images, unsigned int count,
		 unsigned int index);

int
xcw_write_file(const char *path, const uint8_t *data, size_t len);

#endif
