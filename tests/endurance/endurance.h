/*
 * What the endurance client and compositor agree on: the pixels of frame N of a surface.
 * Pixel (0,0) carries N, so the compositor sees a lost, repeated or stale frame; the rest is a
 * pattern of (x, y, N) it samples.
 */
#ifndef ENDURANCE_H
#define ENDURANCE_H

#include <stdint.h>

static inline uint32_t
endurance_seq_pixel(uint32_t seq)
{
	return 0xff000000u | (seq & 0xffffffu);
}

/* Constant over 16-pixel runs of a row, so a 1080p frame fills at memset speed. */
static inline uint32_t
endurance_pixel(int32_t x, int32_t y, uint32_t seq)
{
	uint32_t v = seq * 0x9e3779b1u ^ (uint32_t)y * 0x010203u ^ (uint32_t)(x >> 4) * 0x0305u;

	return 0xff000000u | (v & 0xffffffu);
}

#endif
