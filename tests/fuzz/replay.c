/*
 * SPDX-License-Identifier: MIT
 * Runs the event fuzz target on well-formed seed streams, on a fixed,
 * reproducible set of mutations of them and on every file of the corpus
 * folders named on the command line, checking after each that no fd leaked.
 *   event-fuzz-replay [--mutations N] [--write-seeds DIR] [CORPUS_DIR...]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event-fuzz.h"
#include "fuzz-corpus.h"
#include "fuzz-rng.h"

struct stream {
	uint8_t bytes[4096];
	size_t len;
};

static void
put32(struct stream *s, uint32_t v)
{
	memcpy(s->bytes + s->len, &v, 4);
	s->len += 4;
}

static void
put_string(struct stream *s, const char *str)
{
	size_t n = strlen(str) + 1;

	put32(s, (uint32_t) n);
	memcpy(s->bytes + s->len, str, n);
	s->len += (n + 3) & ~(size_t) 3;
}

/* Begin a message; returns where the header is, for end_msg. */
static size_t
begin_msg(struct stream *s, uint32_t id)
{
	size_t at = s->len;

	put32(s, id);
	put32(s, 0);
	return at;
}

static void
end_msg(struct stream *s, size_t at, uint32_t opcode)
{
	uint32_t word = (uint32_t) (s->len - at) << 16 | opcode;

	memcpy(s->bytes + at + 4, &word, 4);
}

/* Object ids of event-fuzz.c: registry 2, callback 3, seat 4, keyboard 5,
 * pointer 6, data_device 7, data_offer 8, ..., surface 11, fixes 15
 * (destroyed). */
static void
build_seed(struct stream *s, int variant)
{
	size_t m;

	memset(s, 0, sizeof *s);
	s->bytes[0] = (uint8_t) (variant % 3);	/* fds to pass */
	s->len = 1;

	m = begin_msg(s, 2);		/* wl_registry.global */
	put32(s, 1);
	put_string(s, "wl_compositor");
	put32(s, 6);
	end_msg(s, m, 0);

	m = begin_msg(s, 5);		/* wl_keyboard.keymap: fd */
	put32(s, 1);
	put32(s, 4096);
	end_msg(s, m, 0);

	m = begin_msg(s, 7);		/* wl_data_device.data_offer: new id */
	put32(s, 0xff000000);
	end_msg(s, m, 0);

	m = begin_msg(s, 0xff000000);	/* wl_data_offer.offer */
	put_string(s, "text/plain");
	end_msg(s, m, 0);

	m = begin_msg(s, 7);		/* wl_data_device.selection(offer) */
	put32(s, 0xff000000);
	end_msg(s, m, 5);

	m = begin_msg(s, 15);		/* event for a zombie */
	put32(s, 3);
	end_msg(s, m, 0);

	m = begin_msg(s, 6);		/* wl_pointer.enter: object + fixed */
	put32(s, 9);
	put32(s, 11);
	put32(s, 256);
	put32(s, (uint32_t) -512);
	end_msg(s, m, 0);

	m = begin_msg(s, 3);		/* wl_callback.done */
	put32(s, 77);
	end_msg(s, m, 0);

	m = begin_msg(s, 1);		/* wl_display.delete_id */
	put32(s, 3);
	end_msg(s, m, 1);

	if (variant % 2) {
		m = begin_msg(s, 1);	/* wl_display.error on the seat */
		put32(s, 4);
		put32(s, 1);
		put_string(s, "bad");
		end_msg(s, m, 0);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(void)
{
	return fuzz_rng(&rng_state);
}

static void
mutate(struct stream *s)
{
	int edits = 1 + rng() % 4, i;

	for (i = 0; i < edits && s->len > 1; i++) {
		size_t at = 1 + rng() % (s->len - 1);

		switch (rng() % 5) {
		case 0:		/* flip a byte */
			s->bytes[at] ^= (uint8_t) (1 + rng() % 255);
			break;
		case 1:		/* truncate */
			s->len = at;
			break;
		case 2:		/* hostile word */
			if (at + 4 <= s->len) {
				static const uint32_t words[] = {
					0, 1, 3, 0xffffffff, 0x7fffffff,
					0xff000000, 0x00040000, 0x10000000,
				};
				memcpy(s->bytes + at, &words[rng() % 8], 4);
			}
			break;
		case 3:		/* duplicate a tail */
			if (s->len + (s->len - at) < sizeof s->bytes) {
				memcpy(s->bytes + s->len, s->bytes + at,
				       s->len - at);
				s->len += s->len - at;
			}
			break;
		default:	/* change the number of fds */
			s->bytes[0] = (uint8_t) rng();
			break;
		}
	}
}

static int
count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(dir)))
		n++;
	closedir(dir);
	return n;
}

static int
run(const uint8_t *data, size_t len, const char *what)
{
	int before = count_fds();

	event_fuzz_one(data, len);
	if (count_fds() != before) {
		fprintf(stderr, "fd leak after %s: %d -> %d\n", what, before,
			count_fds());
		return 1;
	}
	return 0;
}

static int
run_file(const uint8_t *data, size_t len, const char *name)
{
	return run(data, len, name);
}

static int
write_seeds(const char *dir)
{
	struct stream s;
	char name[32];
	int i;

	for (i = 0; i < 4; i++) {
		build_seed(&s, i);
		snprintf(name, sizeof name, "seed-%d", i);
		if (fuzz_corpus_write(dir, name, s.bytes, s.len) < 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct stream s;
	int failures = 0, runs = 0, i, a = 1, mutations = 3000, n;

	if (argc > 2 && strcmp(argv[1], "--mutations") == 0) {
		mutations = atoi(argv[2]);
		a = 3;
	}
	if (argc == a + 2 && strcmp(argv[a], "--write-seeds") == 0)
		return write_seeds(argv[a + 1]);

	for (i = 0; i < 4; i++) {
		build_seed(&s, i);
		failures += run(s.bytes, s.len, "seed");
		runs++;
	}

	for (i = 0; i < mutations; i++) {
		build_seed(&s, i);
		mutate(&s);
		failures += run(s.bytes, s.len, "mutation");
		runs++;
	}

	for (; a < argc; a++) {
		n = fuzz_corpus_replay(argv[a], run_file, 1 << 20);
		failures += n < 0 ? 1 : n;
	}

	printf("replayed %d inputs and the corpus folders: %d failures (fd leaks, unreadable)\n",
	       runs, failures);
	return failures ? 1 : 0;
}
