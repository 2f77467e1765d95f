/*
 * SPDX-License-Identifier: MIT
 * Feeds arbitrary channel-ring pages to the parsers of host-to-guest
 * messages (virt-transport/cross-domain.c): whatever the host writes,
 * what they accept must lie within the page. Built as a libFuzzer target
 * and as a replay of seeds and mutations in the normal suite.
 *
 * Input: byte 0 picks the identifier count (odd: 4, even: 28), the rest
 * is the page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cross-domain.h"
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

/* Well-formed RECEIVE and READ pages, then byte flips, hostile words
 * and truncations of them. */
int
main(void)
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
