/*
 * SPDX-License-Identifier: MIT
 * Code in this process that may grow wl_shm pool mappings with mremap()
 * (mremap-scan.c).
 */
#ifndef VIRT_MREMAP_SCAN_H
#define VIRT_MREMAP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* True when a loaded object imports both mremap and libwayland-client's
 * marshalling; `who` then names it. */
bool
mremap_scan_process(char *who, size_t who_size);

#endif
