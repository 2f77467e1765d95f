/*
 * Mesa's EGL (llvmpipe over wl_shm) drawing into our wl_egl_window on the test
 * compositor while the window is resized every frame: each committed buffer
 * must have the size asked for and the colour drawn, and the attached size
 * Mesa writes back must follow.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <wayland-client.h>
#include <wayland-egl.h>

#include "compositor-launch.h"

static struct wl_compositor *compositor;

static void
handle_global(void *data, struct wl_registry *registry, uint32_t name,
	      const char *interface, uint32_t version)
{
	if (strcmp(interface, "wl_compositor") == 0)
		compositor = wl_registry_bind(registry, name,
					      &wl_compositor_interface, 4);
}

static void
handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	handle_global,
	handle_global_remove,
};

static int
fail(const char *msg)
{
	fprintf(stderr, "FAIL: %s (EGL error 0x%x)\n", msg, eglGetError());
	return 1;
}

#define FRAMES 40

int
main(int argc, char *argv[])
{
	static const EGLint config_attribs[] = {
		EGL_SURFACE_TYPE, EGL_WINDOW_BIT,
		EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8,
		EGL_ALPHA_SIZE, 8,
		EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT,
		EGL_NONE,
	};
	static const EGLint context_attribs[] = {
		EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE,
	};
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_surface *surface;
	struct wl_egl_window *window;
	EGLDisplay egl;
	EGLConfig config;
	EGLContext context;
	EGLSurface egl_surface;
	EGLint n;
	Dl_info info;
	char real[PATH_MAX], out[1 << 16], *line;
	int want_w[FRAMES], want_h[FRAMES], aw, ah, i, output, status;
	unsigned int passed = 0, failed = 0, commits = 0, w, h, centre;
	ssize_t len, total = 0;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SHM-COMPOSITOR OUR-EGL-DIR\n", argv[0]);
		return 2;
	}
	if (!dladdr((void *)wl_egl_window_create, &info) ||
	    !realpath(info.dli_fname, real) ||
	    strncmp(real, argv[2], strlen(argv[2])) != 0) {
		fprintf(stderr, "FAIL: libwayland-egl in use is %s, not ours under %s\n",
			info.dli_fname ? info.dli_fname : "?", argv[2]);
		return 1;
	}
	printf("libwayland-egl: %s\n", real);

	display = compositor_launch(argv[1], "", &pid, &output);
	if (!display)
		return fail("cannot start the test compositor");
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, NULL);
	wl_display_roundtrip(display);
	if (!compositor)
		return fail("no wl_compositor");
	surface = wl_compositor_create_surface(compositor);
	window = wl_egl_window_create(surface, 64, 48);

	egl = eglGetPlatformDisplay(EGL_PLATFORM_WAYLAND_KHR, display, NULL);
	if (egl == EGL_NO_DISPLAY || !eglInitialize(egl, NULL, NULL))
		return fail("eglInitialize on the Wayland platform");
	printf("EGL: %s %s\n", eglQueryString(egl, EGL_VENDOR),
	       eglQueryString(egl, EGL_VERSION));
	if (!eglBindAPI(EGL_OPENGL_ES_API) ||
	    !eglChooseConfig(egl, config_attribs, &config, 1, &n) || n < 1)
		return fail("no ARGB8888 GLES2 window config");
	context = eglCreateContext(egl, config, EGL_NO_CONTEXT, context_attribs);
	egl_surface = eglCreatePlatformWindowSurface(egl, config, window, NULL);
	if (context == EGL_NO_CONTEXT || egl_surface == EGL_NO_SURFACE ||
	    !eglMakeCurrent(egl, egl_surface, egl_surface, context))
		return fail("cannot make a window surface current");
	printf("GL: %s\n", (const char *)glGetString(GL_RENDERER));
	eglSwapInterval(egl, 0);

	for (i = 0; i < FRAMES; i++) {
		/* Sizes that grow, shrink, and change only one axis. */
		want_w[i] = 32 + (i * 37) % 200;
		want_h[i] = 24 + (i * 53) % 150;
		if (i % 5 == 4)
			want_h[i] = want_h[i - 1];
		/*
		 * Mesa picks its buffer at eglMakeCurrent, so a resize before
		 * the first frame applies to the second: draw one at 64x48.
		 */
		if (i == 0) {
			want_w[i] = 64;
			want_h[i] = 48;
		}
		wl_egl_window_resize(window, want_w[i], want_h[i], 0, 0);
		glViewport(0, 0, want_w[i], want_h[i]);
		/* Red carries the frame number so the commit can be matched. */
		glClearColor((float)(i + 1) / 255.0f, 0.5f, 0.25f, 1.0f);
		glClear(GL_COLOR_BUFFER_BIT);
		if (!eglSwapBuffers(egl, egl_surface))
			return fail("eglSwapBuffers");
		wl_display_roundtrip(display);
		wl_egl_window_get_attached_size(window, &aw, &ah);
		if (aw == want_w[i] && ah == want_h[i]) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL: frame %d: attached %dx%d, resized to %dx%d\n",
				i, aw, ah, want_w[i], want_h[i]);
		}
	}

	eglMakeCurrent(egl, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroySurface(egl, egl_surface);
	eglDestroyContext(egl, context);
	eglTerminate(egl);
	wl_egl_window_destroy(window);
	wl_surface_destroy(surface);
	status = compositor_finish(display, pid);
	while ((len = read(output, out + total, sizeof out - 1 - (size_t)total)) > 0)
		total += len;
	out[total] = '\0';

	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "commit surface=%*u %ux%u format=%*s hash=%*s centre=%x",
			   &w, &h, &centre) != 3)
			continue;
		commits++;
		i = (int)((centre >> 16) & 0xff) - 1;
		if (i >= 0 && i < FRAMES && (int)w == want_w[i] && (int)h == want_h[i] &&
		    ((centre >> 8) & 0xff) >= 0x7f && ((centre >> 8) & 0xff) <= 0x80) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL: committed %ux%u centre %08x matches no frame\n",
				w, h, centre);
		}
	}
	if (commits != FRAMES) {
		failed++;
		fprintf(stderr, "FAIL: %u commits for %d frames\n", commits, FRAMES);
	}
	if (status != 0) {
		failed++;
		fprintf(stderr, "FAIL: compositor exit status %d\n", status);
	}
	printf("%d frames resized and drawn, %u commits checked\n", FRAMES, commits);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
