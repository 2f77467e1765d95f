/*
 * The fuzz entry point of the host device's parser (host-fuzz.c), shared by the libFuzzer
 * build and the seed replay driver that runs in the normal test suite.
 */
#ifndef HOST_FUZZ_H
#define HOST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
