/*
 * compositor-launch.h: start tests/cursor/shm-compositor as a child on a
 * socketpair and connect to it, for test clients of cursor/ and egl/.
 */
#ifndef COMPOSITOR_LAUNCH_H
#define COMPOSITOR_LAUNCH_H

#include <sys/types.h>

struct wl_display;

/* With output non-NULL the compositor's stdout goes to a pipe read there. */
struct wl_display *
compositor_launch(const char *path, const char *prefix, pid_t *pid,
		  int *output);

/* Disconnects and returns the compositor's exit status (-1: it crashed). */
int
compositor_finish(struct wl_display *display, pid_t pid);

#endif
