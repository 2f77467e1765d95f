/*
 * xcursor.h: the Xcursor file parser and the theme search that libwayland-cursor
 * builds its cursors from. Internal to cursor/ (and its fuzz target).
 */
#ifndef XCURSOR_H
#define XCURSOR_H

#include <stddef.h>
#include <stdint.h>

/* Limits that keep hostile files from costing more than they are worth. */
#define XCURSOR_MAX_TOC		0x10000
#define XCURSOR_MAX_DIM		0x7fff
#define XCURSOR_MAX_INHERITS	64

struct xcursor_image {
	uint32_t nominal_size;
	uint32_t width;
	uint32_t height;
	uint32_t xhot;
	uint32_t yhot;
	uint32_t delay;		/* ms until the next frame */
	uint32_t *pixels;	/* premultiplied ARGB, host order, width * height */
};

struct xcursor_images {
	char *name;
	unsigned int count;
	struct xcursor_image *images;
};

/*
 * Where the parser reads from: read_at fills buf with len bytes at offset,
 * returning 0, or -1 if they are not all there. size is the total length.
 */
struct xcursor_source {
	int (*read_at)(void *ctx, uint64_t offset, void *buf, size_t len);
	void *ctx;
	uint64_t size;
};

/* All frames of the nominal size closest to size, or NULL if the file is bad. */
struct xcursor_images *
xcursor_parse(const struct xcursor_source *source, int size);

struct xcursor_images *
xcursor_parse_memory(const void *data, size_t len, int size);

struct xcursor_images *
xcursor_load_fd(int fd, int size);

void
xcursor_images_destroy(struct xcursor_images *images);

/*
 * Calls load for every cursor file of theme (NULL: "default") and of the
 * themes it inherits, in upstream's search order; load owns images. A name
 * may come more than once: the first one is the one that counts.
 */
typedef void (*xcursor_load_func)(struct xcursor_images *images, void *data);

void
xcursor_theme_load(const char *theme, int size, xcursor_load_func load,
		   void *data);

#endif
