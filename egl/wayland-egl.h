/*
 * wayland-egl.h: what an application includes to create EGL windows on
 * Wayland surfaces; pulls in the client API and the window functions.
 */
#ifndef WAYLAND_EGL_H
#define WAYLAND_EGL_H

#include <wayland-client.h>
#include <wayland-egl-core.h>

#endif
