/* SPDX-License-Identifier: MIT */
#ifndef EVENT_FUZZ_H
#define EVENT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run the client library on one input; see event-fuzz.c. */
int
event_fuzz_one(const uint8_t *data, size_t size);

#endif
