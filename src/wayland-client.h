/*
 * SPDX-License-Identifier: MIT
 * The header Wayland clients include: the core client API and the
 * generated core protocol (wl_display, wl_surface, ...).
 */
#ifndef WAYLAND_CLIENT_H
#define WAYLAND_CLIENT_H

#include "wayland-client-core.h"
#include "wayland-client-protocol.h"

#endif
