/*
 * SPDX-License-Identifier: MIT
 * Whether an interface is one of a part's own list: how each part of the
 * transport says which objects its hooks want (hooks_interface).
 */
#ifndef VIRT_NAMES_H
#define VIRT_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define VIRT_NAMES_COUNT(names) (sizeof(names) / sizeof((names)[0]))

static inline bool
virt_name_listed(const char *name, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	return false;
}

#endif
