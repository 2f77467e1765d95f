/*
 * Replays the host parser's fuzz seeds (tests/sim/fuzz-corpus, plus the seeds built here and
 * a fixed number of deterministic mutations of them) in the normal test suite, so the
 * parser's error paths run in CI without libFuzzer. --write-seeds DIR regenerates the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-fuzz.h"
#include "virtgpu-uapi.h"

#define SEED_MAX 8192

struct seed {
	const char *name;
	uint8_t data[SEED_MAX];
	size_t size;
};

static void
seed_begin(struct seed *s, const char *name, uint8_t profile, uint8_t flags)
{
	s->name = name;
	s->data[0] = profile;
	s->data[1] = flags;
	s->size = 2;
}

static void
seed_op(struct seed *s, uint8_t op, const void *body, size_t len)
{
	if (s->size + 3 + len > SEED_MAX)
		return;
	s->data[s->size++] = op;
	s->data[s->size++] = len & 0xff;
	s->data[s->size++] = len >> 8;
	memcpy(s->data + s->size, body, len);
	s->size += len;
}

/* A SEND with the N-identifier layout (§3.2). */
static size_t
make_send(uint8_t *buf, uint32_t n, const char *text, uint32_t num, const uint32_t *ids,
	  const uint32_t *types)
{
	uint32_t off = CROSS_DOMAIN_SR_DATA_OFF(n), size = strlen(text);
	struct cross_domain_header hdr = { CROSS_DOMAIN_CMD_SEND, 0, (uint16_t)(off + size), 0 };

	memset(buf, 0, off + size);
	memcpy(buf, &hdr, sizeof hdr);
	memcpy(buf + 8, &num, 4);
	memcpy(buf + 12, &size, 4);
	memcpy(buf + CROSS_DOMAIN_SR_IDS_OFF(n), ids, 4 * num);
	memcpy(buf + CROSS_DOMAIN_SR_TYPES_OFF(n), types, 4 * num);
	memcpy(buf + off, text, size);
	return off + size;
}

static int
build_seeds(struct seed *seeds)
{
	struct cross_domain_poll poll_cmd = { { CROSS_DOMAIN_CMD_POLL, 0, 16, 0 }, 0 };
	struct cross_domain_get_image_requirements gir = {
		{ CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, 0, 24, 0 }, 64, 64,
		SIM_FORMAT_XRGB8888, 0x11 };
	struct cross_domain_read_write wr = { { CROSS_DOMAIN_CMD_WRITE, 0, 24 + 5, 0 }, 1, 1, 5, 0 };
	uint8_t buf[4096], wrbuf[64];
	uint32_t ids[4] = { 3, 0x80000001, 4, 1 }, types[4] = { 1, 3, 1, 2 };
	uint32_t blob[2] = { 1, 16384 };
	int n = 0;

	for (uint8_t profile = 0; profile < 6; profile++) {
		uint32_t big_n = profile == 2 || profile == 3 ? 4 : 28;
		struct seed *s = &seeds[n++];

		seed_begin(s, "echo", profile, 1);
		seed_op(s, 0, &poll_cmd, sizeof poll_cmd);
		seed_op(s, 0, buf, make_send(buf, big_n, "hello", 0, ids, types));
		seed_op(s, 1, "reply", 5);
		seed_op(s, 1 | 0x10, "memfd", 5);
		seed_op(s, 2, blob, 8);
		seed_op(s, 1 | 0x10 | 0x20, "pipe", 4);
		memcpy(wrbuf, &wr, sizeof wr);
		memcpy(wrbuf + 24, "abcde", 5);
		seed_op(s, 0, wrbuf, 29);
		seed_op(s, 1 | 0x08, "", 0);
		seed_op(s, 3, "", 0);
	}
	for (uint8_t profile = 0; profile < 6; profile++) {
		struct seed *s = &seeds[n++];
		uint32_t big_n = profile == 2 || profile == 3 ? 4 : 28;

		seed_begin(s, "fds", profile, 1 | (profile == 3 ? 2 : 0));
		seed_op(s, 0, buf, make_send(buf, big_n, "blob+pipe", 2, ids, types));
		seed_op(s, 3, "", 0);
		seed_op(s, 0, &gir, sizeof gir);
		seed_op(s, 2, (uint32_t[]){ 1, 16384 }, 8);
		seed_op(s, 2, (uint32_t[]){ 1, 4096 }, 8);
		seed_op(s, 1 | 0x10 | 0xe0, "many", 4);
		seed_op(s, 0, buf, make_send(buf, big_n, "nohandle", 1, ids + 2, types + 2));
	}
	/* Error paths, one per seed. */
	{
		struct seed *s = &seeds[n++];
		seed_begin(s, "cmd-size-zero", 0, 1);
		seed_op(s, 0, (uint8_t[]){ 3, 0, 0, 0, 0, 0, 0, 0 }, 8);
		s = &seeds[n++];
		seed_begin(s, "no-init", 0, 0);
		seed_op(s, 0, &poll_cmd, sizeof poll_cmd);
		s = &seeds[n++];
		seed_begin(s, "init-variants", 0, 0);
		struct cross_domain_init_rg rg = { { 1, 0, 36, 0 }, 1, 2, 1, { 0 } };
		seed_op(s, 0, &rg, sizeof rg);
		seed_op(s, 0, (uint8_t[]){ 1, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0 }, 16);
		s = &seeds[n++];
		seed_begin(s, "sync-id", 0, 1);
		seed_op(s, 0, buf, make_send(buf, 28, "x", 1, ids + 3, types + 3));
		s = &seeds[n++];
		seed_begin(s, "commands-8-13", 3, 3);
		for (uint8_t cmd = 5; cmd <= 13; cmd++)
			seed_op(s, 0, (uint8_t[]){ cmd, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 },
				16);
	}
	return n;
}

static unsigned long replayed;

static void
run_one(const uint8_t *data, size_t size)
{
	LLVMFuzzerTestOneInput(data, size);
	replayed++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Deterministic mutations: flip, overwrite with edge values, truncate. */
static void
run_mutations(const struct seed *s, int rounds)
{
	static const uint8_t edges[] = { 0, 1, 3, 4, 5, 7, 8, 16, 20, 24, 28, 29, 36, 0x7f, 0x80, 0xff };
	uint8_t data[SEED_MAX];

	for (int r = 0; r < rounds; r++) {
		size_t size = s->size;

		memcpy(data, s->data, size);
		for (int k = 0; k < 1 + (int)(rng() % 4); k++) {
			size_t at = 2 + rng() % (size > 2 ? size - 2 : 1);
			switch (rng() % 3) {
			case 0: data[at] ^= 1u << (rng() % 8); break;
			case 1: data[at] = edges[rng() % sizeof edges]; break;
			default: size = at + 1; break;
			}
		}
		run_one(data, size);
	}
}

static int
write_seeds(const char *dir, struct seed *seeds, int num)
{
	for (int i = 0; i < num; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof path, "%s/seed-%02d-%s", dir, i, seeds[i].name);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i].data, 1, seeds[i].size, f) != seeds[i].size) {
			perror(path);
			return 1;
		}
		fclose(f);
	}
	return 0;
}

static void
replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "%s: %s (replaying the built-in seeds only)\n", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		static uint8_t data[1 << 20];
		char path[4096];
		FILE *f;
		size_t size;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		size = fread(data, 1, sizeof data, f);
		fclose(f);
		run_one(data, size);
	}
	closedir(d);
}

int
main(int argc, char *argv[])
{
	static struct seed seeds[64];
	int num = build_seeds(seeds);

	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2], seeds, num);
	for (int i = 1; i < argc; i++)
		replay_dir(argv[i]);
	for (int i = 0; i < num; i++) {
		run_one(seeds[i].data, seeds[i].size);
		run_mutations(&seeds[i], 300);
	}
	printf("replayed %lu inputs through the host parser\n", replayed);
	return 0;
}
