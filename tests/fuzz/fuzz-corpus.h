/*
 * SPDX-License-Identifier: MIT
 * The corpora kept in the repository (tests/fuzz/README.md): the replays run every file of
 * a target's corpus folder, so whatever libFuzzer kept, and every crash it found, is rerun by
 * the normal suite; --write-seeds puts a replay's built-in seeds there.
 */
#ifndef FUZZ_CORPUS_H
#define FUZZ_CORPUS_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*fuzz_corpus_one_t)(const uint8_t *data, size_t size, const char *name);

/* Runs one() on every regular file of dir; the sum of what it returned (failures), or -1
 * (with a line on stderr) when the folder cannot be read or is empty. */
static inline int
fuzz_corpus_replay(const char *dir, fuzz_corpus_one_t one, size_t max_size)
{
	uint8_t *data = malloc(max_size ? max_size : 1);
	int failures = 0, files = 0;
	struct dirent *e;
	char path[4096];
	struct stat st;
	DIR *d;

	if (!data || !(d = opendir(dir))) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		free(data);
		return -1;
	}
	while ((e = readdir(d))) {
		size_t size;
		FILE *f;

		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!(f = fopen(path, "rb"))) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			failures++;
			continue;
		}
		size = fread(data, 1, max_size, f);
		fclose(f);
		failures += one(data, size, e->d_name);
		files++;
	}
	closedir(d);
	free(data);
	printf("replayed %d files of %s\n", files, dir);
	if (files == 0) {
		fprintf(stderr, "%s: no inputs\n", dir);
		return -1;
	}
	return failures;
}

static inline int
fuzz_corpus_write(const char *dir, const char *name, const uint8_t *data, size_t size)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

#endif
