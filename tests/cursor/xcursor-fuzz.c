/*
 * libFuzzer entry point for the Xcursor parser (cursor/xcursor-file.c): any
 * byte string, parsed for several requested sizes, must give either NULL or
 * frames whose every pixel is readable.
 */
#include <stddef.h>
#include <stdint.h>

#include "xcursor.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Reading every pixel lets the sanitizers see out-of-bounds frames. */
static volatile uint32_t pixel_sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const int sizes[] = { 0, 1, 24, 32, 48, 0x7fffffff };
	struct xcursor_images *images;
	uint32_t sum = 0;
	unsigned int i, s;
	size_t p, n;

	for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		images = xcursor_parse_memory(data, len, sizes[s]);
		if (!images)
			continue;
		for (i = 0; i < images->count; i++) {
			n = (size_t)images->images[i].width *
			    images->images[i].height;
			for (p = 0; p < n; p++)
				sum += images->images[i].pixels[p];
		}
		xcursor_images_destroy(images);
	}
	pixel_sink = sum;
	return 0;
}
