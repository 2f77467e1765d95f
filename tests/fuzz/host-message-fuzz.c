/*
 * SPDX-License-Identifier: MIT
 * Feeds arbitrary channel-ring pages to the parsers of host-to-guest
 * messages (virt-transport/cross-domain.c): whatever the host writes,
 * what they accept must lie within the page. Built as a libFuzzer target
 * and as a replay of seeds and mutations in the normal suite.
 *
 * Input: byte 0 picks the identifier count (odd: 4, even: 28), the rest
 * is the page.
 *   host-message-replay [--write-seeds DIR] [CORPUS_DIR...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cross-domain.h"
#include "fuzz-corpus.h"
#include "fuzz-rng.h"

static volatile uint32_t sink;

static int
host_message_one(const uint8_t *input, size_t size)
{
	struct cross_domain_receive rx;
	struct cross_domain_read rd;
	uint8_t *page;
	int max_ids;
	uint32_t i;

	if (size < 1)
		return 0;
	max_ids = (input[0] & 1) ? 4 : CROSS_DOMAIN_MAX_IDENTIFIERS;

	/* An exact-size heap copy, so ASan sees any read past it. */
	page = malloc(size - 1 ? size - 1 : 1);
	memcpy(page, input + 1, size - 1);

	if (cross_domain_parse_receive(page, size - 1, max_ids, &rx) == 0) {
		for (i = 0; i < rx.num_ids; i++)
			sink += rx.ids[i] + rx.types[i] + rx.sizes[i];
		for (i = 0; i < rx.size; i++)
			sink += rx.data[i];
	}
	if (cross_domain_parse_read(page, size - 1, &rd) == 0) {
		for (i = 0; i < rd.size; i++)
			sink += rd.data[i];
	}

	free(page);
	return 0;
}

#ifdef HOST_MESSAGE_LIBFUZZER
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return host_message_one(data, size);
}
#else
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t
rng(void)
{
	return fuzz_rng(&rng_state);
}

/* The pages a host writes, well-formed and as each host fault of the
 * simulator (tests/sim/README.md "Faults") makes them: seeds for the corpus. */
struct host_seed {
	const char *name;
	int n4;			/* the 4-identifier form */
	uint8_t cmd;
	uint32_t num_ids;
	uint32_t types[3];
	uint32_t data_size;	/* opaque_data_size */
	uint32_t page_size;	/* bytes of the page given to the parser */
};

static const struct host_seed host_seeds[] = {
	{ "receive-data", 0, CROSS_DOMAIN_CMD_RECEIVE, 0, { 0 }, 64, 352 + 64 },
	{ "receive-blob-and-pipe", 0, CROSS_DOMAIN_CMD_RECEIVE, 2,
	  { CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, CROSS_DOMAIN_ID_TYPE_WRITE_PIPE }, 24, 352 + 24 },
	{ "receive-n4-three-fds", 1, CROSS_DOMAIN_CMD_RECEIVE, 3,
	  { CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, CROSS_DOMAIN_ID_TYPE_READ_PIPE,
	    CROSS_DOMAIN_ID_TYPE_WRITE_PIPE }, 8, 64 + 8 },
	{ "receive-full", 0, CROSS_DOMAIN_CMD_RECEIVE, 0, { 0 }, 3744, 4096 },
	{ "read", 0, CROSS_DOMAIN_CMD_READ, 0, { 0 }, 100, 24 + 100 },
	{ "read-full", 0, CROSS_DOMAIN_CMD_READ, 0, { 0 }, 4072, 4096 },
	{ "fault-size-past-ring", 0, CROSS_DOMAIN_CMD_RECEIVE, 0, { 0 }, 3744 + 512, 4096 },
	{ "fault-read-past-ring", 0, CROSS_DOMAIN_CMD_READ, 0, { 0 }, 4072 + 256, 4096 },
	{ "fault-too-many-ids", 0, CROSS_DOMAIN_CMD_RECEIVE, 29, { 0 }, 8, 352 + 8 },
	{ "fault-too-many-ids-n4", 1, CROSS_DOMAIN_CMD_RECEIVE, 5, { 0 }, 8, 64 + 8 },
	{ "fault-unknown-id-type", 0, CROSS_DOMAIN_CMD_RECEIVE, 1, { 99 }, 8, 352 + 8 },
	{ "fault-garbage-cmd", 0, 0xee, 0, { 0 }, 16, 64 },
	{ "fault-truncated", 0, CROSS_DOMAIN_CMD_RECEIVE, 2, { 1, 1 }, 64, 40 },
};

static size_t
build_host_seed(const struct host_seed *seed, uint8_t *page)
{
	static uint32_t words[1024];	/* the message, built aligned */
	struct cross_domain_sr_head *sr = (void *) words;
	struct cross_domain_read_write *rw = (void *) words;
	uint32_t n = seed->n4 ? 4 : CROSS_DOMAIN_MAX_IDENTIFIERS, i;

	memset(words, 0, sizeof words);
	sr->hdr.cmd = seed->cmd;
	if (seed->cmd == CROSS_DOMAIN_CMD_READ) {
		rw->identifier = CROSS_DOMAIN_PIPE_READ_START + 1;
		rw->opaque_data_size = seed->data_size;
		rw->hdr.cmd_size = (uint16_t) (24 + seed->data_size);
	} else {
		sr->num_identifiers = seed->num_ids;
		sr->opaque_data_size = seed->data_size;
		sr->hdr.cmd_size = (uint16_t) (CROSS_DOMAIN_SR_DATA_OFF(n) + seed->data_size);
		for (i = 0; i < 3 && i < n; i++) {
			words[4 + i] = 0x10 + i;		/* identifiers */
			words[4 + n + i] = seed->types[i];	/* types */
			words[4 + 2 * n + i] = 4096;		/* sizes */
		}
	}
	for (i = 0; i < 64; i++)	/* the first data bytes, whichever form */
		((uint8_t *) words)[(seed->cmd == CROSS_DOMAIN_CMD_READ ? 24 :
				     CROSS_DOMAIN_SR_DATA_OFF(n)) + i] = (uint8_t) (i * 7);
	page[0] = (uint8_t) seed->n4;
	memcpy(page + 1, words, seed->page_size);
	return 1 + seed->page_size;
}

static int
write_seeds(const char *dir)
{
	static uint8_t page[1 + 4096];

	for (size_t i = 0; i < sizeof host_seeds / sizeof host_seeds[0]; i++) {
		size_t size = build_host_seed(&host_seeds[i], page);

		if (fuzz_corpus_write(dir, host_seeds[i].name, page, size) < 0)
			return 1;
	}
	return 0;
}

static int
replay_file(const uint8_t *data, size_t size, const char *name)
{
	return host_message_one(data, size);
}

static int
replay_random(void);

int
main(int argc, char **argv)
{
	static uint8_t page[1 + 4096];
	int failures = 0, n;

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	for (size_t i = 0; i < sizeof host_seeds / sizeof host_seeds[0]; i++)
		host_message_one(page, build_host_seed(&host_seeds[i], page));
	for (int a = 1; a < argc; a++) {
		n = fuzz_corpus_replay(argv[a], replay_file, 1 + 4096);
		failures += n < 0 ? 1 : n;
	}
	return replay_random() || failures;
}

/* Well-formed RECEIVE and READ pages, then byte flips, hostile words
 * and truncations of them. */
static int
replay_random(void)
{
	static uint8_t page[1 + 4096];
	static uint32_t words[1024];	/* the message, built aligned */
	struct cross_domain_sr_head *sr = (void *) words;
	struct cross_domain_read_write *rw = (void *) words;
	int runs = 0, i, variant;

	for (i = 0; i < 20000; i++) {
		size_t len = 1 + 4096;
		int edits = (int) (rng() % 4);

		memset(words, 0, sizeof words);
		variant = i % 3;
		if (variant == 2) {
			rw->hdr.cmd = CROSS_DOMAIN_CMD_READ;
			rw->identifier = 0x80000001u;
			rw->opaque_data_size = 100;
		} else {
			sr->hdr.cmd = CROSS_DOMAIN_CMD_RECEIVE;
			sr->num_identifiers = 2;
			sr->opaque_data_size = 64;
		}
		page[0] = (uint8_t) (variant == 1);
		memcpy(page + 1, words, sizeof words);

		while (edits-- > 0) {
			size_t at = 1 + rng() % 4096;

			switch (rng() % 3) {
			case 0:
				page[at] ^= (uint8_t) (1 + rng() % 255);
				break;
			case 1: {
				static const uint32_t hostile[] = {
					0, 28, 29, 4, 5, 3744, 3745, 4072,
					4096, 0xffffffff, 0x80000000,
				};
				uint32_t w = hostile[rng() % 11];

				memcpy(page + 1 + ((at - 1) & ~3u) % 4092, &w, 4);
				break;
			}
			default:
				len = at;
				break;
			}
		}

		host_message_one(page, len);
		runs++;
	}

	printf("parsed %d host pages\n", runs);
	return 0;
}
#endif
