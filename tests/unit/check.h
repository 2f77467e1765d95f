/*
 * SPDX-License-Identifier: MIT
 * The unit tests' one assertion: a failed CHECK prints where and what,
 * counts, and lets the test go on.
 */
#ifndef UNIT_CHECK_H
#define UNIT_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		failures++;						\
	}								\
} while (0)

#endif
