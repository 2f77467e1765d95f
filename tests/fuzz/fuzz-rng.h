/*
 * SPDX-License-Identifier: MIT
 * The replays' random numbers: xorshift64, seeded per file so that every
 * run of the suite feeds the same inputs.
 */
#ifndef FUZZ_RNG_H
#define FUZZ_RNG_H

#include <stdint.h>

static inline uint32_t
fuzz_rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t) *state;
}

#endif
