/*
 * The seed corpus of the Xcursor parser: well-formed files (ok-*) and files
 * broken in one way each (bad-*). Writes them to a folder (--write DIR) for
 * libFuzzer, or replays folders through the fuzz entry point and checks that
 * ok-* files parse and bad-* files are refused, plus every truncation and
 * many byte flips of each ok-* file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xcursor.h"
#include "xcursor-writer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

struct seed {
	const char *name;
	uint8_t *data;
	size_t len;
};

static struct seed seeds[64];
static unsigned int nseeds;
static unsigned int passed, failed;

static void
add_seed(const char *name, uint8_t *data, size_t len)
{
	seeds[nseeds++] = (struct seed) { name, data, len };
}

static uint8_t *
build(const struct xcw_image *images, unsigned int count, size_t *len)
{
	uint8_t *file = xcw_build(images, count, len);

	if (!file) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return file;
}

static void
make_seeds(void)
{
	static const struct xcw_image single[] = {
		{ 24, 24, 24, 3, 4, 0, 0xff000000 },
	};
	static const struct xcw_image multisize[] = {
		{ 16, 16, 16, 1, 1, 0, 0xff102030 },
		{ 24, 24, 24, 2, 2, 0, 0xff405060 },
		{ 32, 32, 32, 3, 3, 0, 0x80404040 },
	};
	static const struct xcw_image animated[] = {
		{ 24, 20, 22, 1, 2, 50, 0xff0000ff },
		{ 24, 20, 22, 1, 2, 60, 0xff00ff00 },
		{ 24, 20, 22, 1, 2, 70, 0xffff0000 },
		{ 24, 20, 22, 1, 2, 80, 0xffffffff },
		{ 48, 40, 44, 2, 4, 100, 0xff000000 },
		{ 48, 40, 44, 2, 4, 100, 0xffffffff },
	};
	static const struct xcw_image hot_edge[] = {
		{ 8, 8, 8, 8, 8, 0, 0xffffffff },
	};
	static const struct xcw_image big[] = {
		{ 64, 64, 64, 0, 0, 0, 0xff000000 },
	};
	uint8_t *f;
	size_t len, c;

	f = build(single, 1, &len);
	add_seed("ok-single", f, len);
	f = build(multisize, 3, &len);
	add_seed("ok-multisize", f, len);
	f = build(animated, 6, &len);
	add_seed("ok-animated", f, len);
	f = build(hot_edge, 1, &len);
	add_seed("ok-hotspot-on-edge", f, len);

	f = build(single, 1, &len);
	f[0] = 'Y';
	add_seed("bad-magic", f, len);
	f = build(single, 1, &len);
	add_seed("bad-truncated-header", f, 10);
	f = build(multisize, 3, &len);
	add_seed("bad-truncated-toc", f, 30);
	f = build(single, 1, &len);
	add_seed("bad-truncated-pixels", f, len - 1);
	f = build(single, 1, &len);
	xcw_put32(f, 12, 0xffffffff);
	add_seed("bad-ntoc-absurd", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, 12, 0x10000);
	add_seed("bad-ntoc-past-end", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, 12, 0);
	add_seed("bad-no-images", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, 4, 4);
	add_seed("bad-header-length", f, len);
	c = xcw_chunk_offset(single, 1, 0);
	f = build(single, 1, &len);
	xcw_put32(f, c + 16, 0);
	add_seed("bad-width-zero", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, c + 16, 0x8000);
	add_seed("bad-width-too-large", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, c + 16, 0x7fff);
	xcw_put32(f, c + 20, 0x7fff);
	add_seed("bad-size-claims-past-end", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, c + 24, 25);
	add_seed("bad-hotspot-outside", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, c + 4, 0xfffe0001);
	add_seed("bad-chunk-type", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, c + 8, 25);
	add_seed("bad-chunk-nominal-size", f, len);
	f = build(single, 1, &len);
	xcw_put32(f, xcw_toc_offset(0) + 8, 0xfffffff0);
	add_seed("bad-position-past-end", f, len);
	f = build(animated, 6, &len);
	xcw_put32(f, xcw_chunk_offset(animated, 6, 2) + 20, 0);
	add_seed("bad-one-frame-broken", f, len);

	/* 4000 table entries naming one 16 KiB chunk: 64 MiB from 64 KiB. */
	{
		size_t n = 4000, chunk = 16 + n * 12, total, i;
		uint8_t *one = build(big, 1, &len);

		total = chunk + (len - 28);
		f = calloc(1, total);
		memcpy(f, one, 16);
		xcw_put32(f, 12, (uint32_t)n);
		for (i = 0; i < n; i++) {
			xcw_put32(f, xcw_toc_offset((unsigned int)i), 0xfffd0002);
			xcw_put32(f, xcw_toc_offset((unsigned int)i) + 4, 64);
			xcw_put32(f, xcw_toc_offset((unsigned int)i) + 8,
				  (uint32_t)chunk);
		}
		memcpy(f + chunk, one + 28, len - 28);
		free(one);
		add_seed("bad-table-aliases-one-chunk", f, total);
	}
}

static void
check(int ok, const char *what, const char *name)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL: %s: %s\n", name, what);
}

static void
replay_seed(const char *name, const uint8_t *data, size_t len)
{
	struct xcursor_images *images;
	int ok = strncmp(name, "ok-", 3) == 0;
	int bad = strncmp(name, "bad-", 4) == 0;

	LLVMFuzzerTestOneInput(data, len);
	images = xcursor_parse_memory(data, len, 24);
	if (ok)
		check(images != NULL && images->count > 0, "well-formed file refused", name);
	else if (bad)
		check(images == NULL, "broken file accepted", name);
	else
		passed++;
	xcursor_images_destroy(images);
}

/* Every prefix, and each byte of the first 256 set to a few values. */
static void
mutate_seed(const struct seed *seed)
{
	static const uint8_t values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
	uint8_t *copy = malloc(seed->len);
	size_t i, v, n = 0;
	uint8_t keep;

	for (i = 0; i < seed->len; i++, n++)
		LLVMFuzzerTestOneInput(seed->data, i);
	memcpy(copy, seed->data, seed->len);
	for (i = 0; i < seed->len && i < 256; i++) {
		keep = copy[i];
		for (v = 0; v < sizeof values; v++, n++) {
			copy[i] = values[v];
			LLVMFuzzerTestOneInput(copy, seed->len);
		}
		copy[i] = keep;
	}
	free(copy);
	passed++;
	printf("mutated %s: %zu variants survived\n", seed->name, n);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)size + 1);
		if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
			free(data);
			data = NULL;
		}
		*len = (size_t)size;
	}
	fclose(f);
	return data;
}

/* "ok:DIR" means every regular file in DIR is a good cursor file. */
static void
replay_dir(const char *arg)
{
	const char *path = strncmp(arg, "ok:", 3) == 0 ? arg + 3 : arg;
	int all_ok = path != arg;
	char full[4096];
	struct dirent *ent;
	struct stat st;
	unsigned int n = 0;
	uint8_t *data;
	size_t len;
	DIR *dir = opendir(path);

	if (!dir) {
		check(0, "cannot open folder", path);
		return;
	}
	while ((ent = readdir(dir))) {
		snprintf(full, sizeof full, "%s/%s", path, ent->d_name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		data = read_file(full, &len);
		if (!data) {
			check(0, "unreadable", full);
			continue;
		}
		if (all_ok) {
			struct xcursor_images *images;

			LLVMFuzzerTestOneInput(data, len);
			images = xcursor_parse_memory(data, len, 24);
			check(images != NULL, "theme file refused", full);
			xcursor_images_destroy(images);
		} else {
			replay_seed(ent->d_name, data, len);
		}
		free(data);
		n++;
	}
	closedir(dir);
	printf("replayed %u files from %s\n", n, path);
	check(n > 0, "empty folder", path);
}

int
main(int argc, char *argv[])
{
	char path[4096];
	unsigned int i;
	int a;

	make_seeds();
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		for (i = 0; i < nseeds; i++) {
			snprintf(path, sizeof path, "%s/%s", argv[2], seeds[i].name);
			if (xcw_write_file(path, seeds[i].data, seeds[i].len) < 0) {
				perror(path);
				return 1;
			}
		}
		printf("wrote %u seeds to %s\n", nseeds, argv[2]);
		return 0;
	}

	for (i = 0; i < nseeds; i++) {
		replay_seed(seeds[i].name, seeds[i].data, seeds[i].len);
		if (strncmp(seeds[i].name, "ok-", 3) == 0)
			mutate_seed(&seeds[i]);
	}
	for (a = 1; a < argc; a++)
		replay_dir(argv[a]);
	for (i = 0; i < nseeds; i++)
		free(seeds[i].data);

	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
