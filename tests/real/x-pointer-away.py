#!/usr/bin/python3
"""Park the X pointer at X,Y on DISPLAY (outside weston's x11 window), so
weston's seat has no pointer focus and screenshots carry no cursor sprite.
usage: x-pointer-away.py DISPLAY X Y"""

import ctypes
import sys

if len(sys.argv) != 4:
	sys.exit(__doc__)
xlib = ctypes.CDLL("libX11.so.6")
xlib.XOpenDisplay.restype = ctypes.c_void_p
xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
xlib.XDefaultRootWindow.restype = ctypes.c_ulong
xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
xlib.XWarpPointer.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_int,
	ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_int]
xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]

dpy = xlib.XOpenDisplay(sys.argv[1].encode())
if not dpy:
	sys.exit(f"cannot open X display {sys.argv[1]}")
xlib.XWarpPointer(dpy, 0, xlib.XDefaultRootWindow(dpy), 0, 0, 0, 0, int(sys.argv[2]), int(sys.argv[3]))
xlib.XSync(dpy, 0)
xlib.XCloseDisplay(dpy)
