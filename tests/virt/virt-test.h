/*
 * What the virt tests' compositor and client agree on: the keymap, the pixels of a
 * committed wl_shm buffer and the clipboard bytes, each a pattern either side can check.
 */
#ifndef VIRT_TEST_H
#define VIRT_TEST_H

#include <stddef.h>
#include <stdint.h>

/* More than one RECEIVE of data (3744 B), so a keymap is a multi-page blob. */
#define VIRT_TEST_KEYMAP_SIZE	20000
#define VIRT_TEST_MIME		"text/plain;charset=utf-8"

static inline uint32_t
virt_test_pixel(int32_t x, int32_t y)
{
	return 0xff000000u | (((uint32_t)x * 0x010203u) ^ ((uint32_t)y * 0x030507u));
}

/* Bytes whose position can be told from their value over a long run: a shifted, lost or
 * repeated piece does not match. */
static inline uint8_t
virt_test_byte(uint64_t i, uint32_t seed)
{
	uint64_t x = (i + seed) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56) ^ (uint8_t)(i >> 12);
}

static inline void
virt_test_fill(void *buf, size_t size, uint64_t offset)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < size; i++)
		p[i] = virt_test_byte(offset + i, 7);
}

#endif
