/*
 * A guest client that finds its GPU as Mesa's EGL and Vulkan WSI do (gpu-path.md §1-2):
 * linux-dmabuf's default feedback (the format table mapped MAP_PRIVATE read-only, main_device
 * opened as a render node, tranche indices looked up in the table), wl_drm's device path, and
 * the registry. It checks what a GPU client through the library sees of the test compositor
 * (gpu-compositor): through virtio-gpu the guest's own render node and no global whose fds
 * cannot cross; over a socket (--direct) everything as the compositor sent it.
 * With --buffers it also draws two GPU buffers (the simulator's, or memfds over a socket)
 * and commits them through linux-dmabuf (create_immed, create); the compositor checks each.
 * --foreign-buffer[-immed] adds a plane the host cannot take (see check_foreign_buffer).
 * --render-delay MS: the simulated GPU renders each buffer in MS, started before its commit;
 * --render-never: a rendering that never ends (the commit goes out after the library's bound).
 * --3d: the buffers are classic 3D resources, as virgl makes them (see gpu_3d_buffer_fd).
 *   gpu-client [--direct] [--mode MODE] [--hide-list LIST]
 *              [--buffers [--3d] [--render-delay MS | --render-never]]
 *              [--foreign-buffer[-immed]] [--bad-params KIND]
 * Exits 0 when everything matched; each mismatch is one "gpu-client: FAIL" line.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "gpu-test.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "wl-drm-client-protocol.h"
#include "../sim/virtgpu-sim.h"
#include "../../uapi/virtgpu-uapi.h"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "gpu-client: FAIL: " __VA_ARGS__); \
		fputc('\n', stderr); \
		failures++; \
	} \
} while (0)

struct globals {
	uint32_t dmabuf_name, dmabuf_version, drm_name, compositor_name;
	bool fd_global_seen[GPU_FD_GLOBALS];
	int removes;
};

struct feedback {
	int table_events;
	uint32_t table_size;
	bool table_ok, table_sealed;
	int main_devices, target_devices;
	dev_t main_device, target_device;
	uint16_t indices[16];
	int nindices, tranches_formats;
	bool done;
};

struct drm {
	char *device;
	bool prime;
};

static void
registry_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version)
{
	struct globals *g = data;
	int i;

	if (strcmp(interface, "zwp_linux_dmabuf_v1") == 0) {
		g->dmabuf_name = name;
		g->dmabuf_version = version;
	} else if (strcmp(interface, "wl_drm") == 0) {
		g->drm_name = name;
	} else if (strcmp(interface, "wl_compositor") == 0) {
		g->compositor_name = name;
	}
	for (i = 0; i < GPU_FD_GLOBALS; i++) {
		if (strcmp(interface, gpu_fd_globals[i]) == 0)
			g->fd_global_seen[i] = true;
	}
}

static void
registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
	((struct globals *) data)->removes++;
}

static const struct wl_registry_listener registry_listener = {
	registry_global, registry_global_remove,
};

/* As Mesa: mmap(PROT_READ, MAP_PRIVATE), then close. */
static void
feedback_format_table(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb, int32_t fd,
		      uint32_t size)
{
	struct feedback *f = data;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);

	f->table_events++;
	f->table_size = size;
	f->table_ok = map != MAP_FAILED && size == sizeof gpu_table &&
		      memcmp(map, gpu_table, size) == 0;
	f->table_sealed = (fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE) != 0;
	if (map != MAP_FAILED)
		munmap(map, size);
	close(fd);
}

static void
feedback_main_device(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb,
		     struct wl_array *device)
{
	struct feedback *f = data;

	f->main_devices++;
	if (device->size == sizeof(dev_t))
		memcpy(&f->main_device, device->data, sizeof(dev_t));
}

static void
feedback_target_device(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb,
		       struct wl_array *device)
{
	struct feedback *f = data;

	f->target_devices++;
	if (device->size == sizeof(dev_t))
		memcpy(&f->target_device, device->data, sizeof(dev_t));
}

static void
feedback_tranche_formats(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb,
			 struct wl_array *indices)
{
	struct feedback *f = data;
	uint16_t *index;

	f->tranches_formats++;
	wl_array_for_each(index, indices) {
		if (f->nindices < 16)
			f->indices[f->nindices++] = *index;
	}
}

static void
feedback_done(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb)
{
	((struct feedback *) data)->done = true;
}

static void
feedback_tranche_flags(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb, uint32_t flags)
{
}

static void
feedback_tranche_done(void *data, struct zwp_linux_dmabuf_feedback_v1 *fb)
{
}

static const struct zwp_linux_dmabuf_feedback_v1_listener feedback_listener = {
	.done = feedback_done,
	.format_table = feedback_format_table,
	.main_device = feedback_main_device,
	.tranche_done = feedback_tranche_done,
	.tranche_target_device = feedback_target_device,
	.tranche_formats = feedback_tranche_formats,
	.tranche_flags = feedback_tranche_flags,
};

static void
drm_device(void *data, struct wl_drm *wl_drm, const char *name)
{
	struct drm *d = data;

	free(d->device);
	d->device = strdup(name);
}

static void
drm_format(void *data, struct wl_drm *wl_drm, uint32_t format)
{
}

static void
drm_authenticated(void *data, struct wl_drm *wl_drm)
{
}

static void
drm_capabilities(void *data, struct wl_drm *wl_drm, uint32_t value)
{
	((struct drm *) data)->prime = value & 1;
}

static const struct wl_drm_listener drm_listener = {
	drm_device, drm_format, drm_authenticated, drm_capabilities,
};

/* --- GPU buffers, drawn and committed ------------------------------------------------- */

#define BUFFER_WIDTH 64
#define BUFFER_HEIGHT 48
#define FOURCC_XRGB8888 0x34325258

struct gpu_buffer {
	struct wl_buffer *buffer;
	bool released;
};

static void
buffer_release(void *data, struct wl_buffer *buffer)
{
	((struct gpu_buffer *) data)->released = true;
}

static const struct wl_buffer_listener buffer_listener = { buffer_release };

static void
params_created(void *data, struct zwp_linux_buffer_params_v1 *params, struct wl_buffer *buffer)
{
	((struct gpu_buffer *) data)->buffer = buffer;
}

static void
params_failed(void *data, struct zwp_linux_buffer_params_v1 *params)
{
	CHECK(false, "zwp_linux_buffer_params_v1.failed for a buffer the host can take");
}

static const struct zwp_linux_buffer_params_v1_listener params_listener = {
	params_created, params_failed,
};

/* A GPU buffer as a guest driver makes one (the simulator's), or over a socket a memfd
 * standing in for a dma-buf, drawn as the compositor expects the nth buffer (gpu_word).
 * Returns its fd. */
static int
gpu_buffer_fd(bool direct, uint32_t n, uint32_t *stride)
{
	virtgpu_sim_gpu_buffer_create_t create = (virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	uint32_t height = BUFFER_HEIGHT + GPU_SPARE_ROWS;
	uint64_t size = 0;
	uint32_t *pixels;
	size_t i;
	int fd;

	if (direct) {
		*stride = BUFFER_WIDTH * 4;
		size = (uint64_t) *stride * height;
		fd = memfd_create("gpu-client-buffer", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, (off_t) size) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		CHECK(create != NULL, "no simulated GPU (virtgpu_sim_gpu_buffer_create)");
		fd = create ? create(BUFFER_WIDTH, height, FOURCC_XRGB8888, 0, stride, &size) : -1;
	}
	if (fd < 0)
		return -1;
	pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		close(fd);
		return -1;
	}
	for (i = 0; i < size / 4; i++)
		pixels[i] = gpu_word(n, i);
	munmap(pixels, size);
	return fd;
}

/* --3d: buffers as virgl-era Mesa allocates its window buffers (gpu-path.md §3): a classic
 * 3D resource on a DRM fd of the client's own, drawn through its guest pages and sent to the
 * host image with TRANSFER_TO_HOST, exported with PRIME. */
static bool use_3d;

#define VIRGL_FORMAT_B8G8R8X8_UNORM 2
#define PIPE_TEXTURE_2D 2
#define VIRGL_BIND_RENDER_TARGET (1 << 1)
#define VIRGL_BIND_SAMPLER_VIEW (1 << 3)
#define VIRGL_BIND_SCANOUT (1 << 18)
#define VIRGL_BIND_SHARED (1 << 20)

static int
gpu_3d_buffer_fd(uint32_t n, uint32_t *stride)
{
	static int drm = -1;
	uint32_t height = BUFFER_HEIGHT + GPU_SPARE_ROWS;
	struct drm_virtgpu_resource_create rc = {
		.target = PIPE_TEXTURE_2D, .format = VIRGL_FORMAT_B8G8R8X8_UNORM,
		.bind = VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SAMPLER_VIEW | VIRGL_BIND_SCANOUT |
			VIRGL_BIND_SHARED,
		.width = BUFFER_WIDTH, .height = height, .depth = 1, .array_size = 1,
		.size = BUFFER_WIDTH * 4 * height,
	};
	struct drm_virtgpu_3d_transfer xfer = { .box = { 0, 0, 0, BUFFER_WIDTH, height, 1 } };
	struct drm_virtgpu_map map = { 0 };
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR };
	struct drm_gem_close gem_close = { 0 };
	uint32_t *pixels;
	size_t i;

	if (drm < 0)
		drm = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	CHECK(drm >= 0 && ioctl(drm, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc) == 0,
	      "RESOURCE_CREATE: %s", strerror(errno));
	if (drm < 0 || rc.bo_handle == 0)
		return -1;
	map.handle = xfer.bo_handle = prime.handle = gem_close.handle = rc.bo_handle;
	pixels = ioctl(drm, DRM_IOCTL_VIRTGPU_MAP, &map) == 0 ?
		mmap(NULL, rc.size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, (off_t) map.offset) :
		MAP_FAILED;
	CHECK(pixels != MAP_FAILED, "the 3D resource's pages cannot be mapped");
	if (pixels != MAP_FAILED) {
		for (i = 0; i < rc.size / 4; i++)
			pixels[i] = gpu_word(n, i);
		munmap(pixels, rc.size);
	}
	CHECK(ioctl(drm, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &xfer) == 0, "TRANSFER_TO_HOST: %s",
	      strerror(errno));
	CHECK(ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) == 0, "PRIME export: %s",
	      strerror(errno));
	ioctl(drm, DRM_IOCTL_GEM_CLOSE, &gem_close);
	*stride = BUFFER_WIDTH * 4;
	return prime.fd;
}

/* With --render-delay, the guest's GPU renders each buffer in that many milliseconds,
 * started just before its commit: the compositor sees zeros unless the commit waited.
 * --render-never: it never ends, and the commit must still go out, after the library's
 * bound (1 s), showing zeros. */
static uint32_t render_delay_ms;
static bool render_never;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Buffer i attached and committed: the compositor checks its bytes and releases it. With
 * render_never, the compositor must instead say it saw zeros, after the bounded wait. */
static void
commit_buffer(struct wl_display *display, struct wl_surface *surface, struct gpu_buffer *buffer,
	      int i)
{
	double start = now_s(), took;
	int ret;

	wl_buffer_add_listener(buffer->buffer, &buffer_listener, buffer);
	wl_surface_attach(surface, buffer->buffer, 0, 0);
	wl_surface_damage_buffer(surface, 0, 0, BUFFER_WIDTH, BUFFER_HEIGHT);
	/* The library's wait (or its check that nothing is pending) runs in
	 * the commit: its cost per frame. */
	took = now_s();
	wl_surface_commit(surface);
	printf("gpu-client: the commit of buffer %d took %.1f us\n", i,
	       (now_s() - took) * 1e6);
	ret = wl_display_roundtrip(display);
	took = now_s() - start;
	if (render_never) {
		CHECK(ret < 0 && wl_display_get_error(display) == EPROTO,
		      "a buffer whose rendering never ends was not committed (error %d)",
		      wl_display_get_error(display));
		CHECK(took >= 0.9 && took < 5, "the commit took %.2f s, not the 1 s bound", took);
		printf("gpu-client: a never-ending rendering held the commit %.2f s\n", took);
		return;
	}
	CHECK(ret >= 0, "the compositor refused buffer %d: error %d", i,
	      wl_display_get_error(display));
	CHECK(buffer->released, "buffer %d not released", i);
}

/* Two buffers, one from create_immed and one from create (at an offset into its dma-buf),
 * each attached and committed: the compositor checks each holds what was drawn. */
static void
check_buffers(struct wl_display *display, struct wl_compositor *compositor,
	      struct zwp_linux_dmabuf_v1 *dmabuf, bool direct, uint32_t first)
{
	virtgpu_sim_gpu_buffer_render_t render = (virtgpu_sim_gpu_buffer_render_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_RENDER);
	struct wl_surface *surface = wl_compositor_create_surface(compositor);
	struct gpu_buffer buffers[2] = { 0 };
	int i, count = render_never ? 1 : 2;

	for (i = 0; i < count; i++) {
		struct zwp_linux_buffer_params_v1 *params;
		uint32_t stride, n = first + (uint32_t) i;
		int fd = use_3d ? gpu_3d_buffer_fd(n, &stride) : gpu_buffer_fd(direct, n, &stride);

		CHECK(fd >= 0, "cannot make a GPU buffer");
		if (fd < 0)
			return;
		params = zwp_linux_dmabuf_v1_create_params(dmabuf);
		zwp_linux_buffer_params_v1_add_listener(params, &params_listener, &buffers[i]);
		zwp_linux_buffer_params_v1_add(params, fd, 0, gpu_offset_rows(n) * stride,
					       stride, 0, 0);
		if (i == 0) {
			buffers[i].buffer = zwp_linux_buffer_params_v1_create_immed(params,
				BUFFER_WIDTH, BUFFER_HEIGHT, FOURCC_XRGB8888, 0);
		} else {
			zwp_linux_buffer_params_v1_create(params, BUFFER_WIDTH, BUFFER_HEIGHT,
							  FOURCC_XRGB8888, 0);
			wl_display_roundtrip(display);
		}
		zwp_linux_buffer_params_v1_destroy(params);
		CHECK(buffers[i].buffer != NULL, "no wl_buffer from %s",
		      i == 0 ? "create_immed" : "create");
		if ((render_delay_ms || render_never) && !direct) {
			CHECK(render && render(fd, gpu_word(n, 0), render_never ? UINT32_MAX :
					       render_delay_ms) == 0,
			      "the simulated GPU does not render");
		}
		close(fd);
		if (buffers[i].buffer == NULL)
			return;
		commit_buffer(display, surface, &buffers[i], i);
	}
	for (i = 0; i < count; i++) {
		if (buffers[i].buffer)
			wl_buffer_destroy(buffers[i].buffer);
	}
	wl_surface_destroy(surface);
}

/* A plane the host cannot take (a memfd standing in for another device's dma-buf): create
 * ends in failed, and the connection goes on; create_immed (with --immed) ends it with a
 * clear error. Then a good buffer still works. */
static int
params_failed_count;

static void
foreign_created(void *data, struct zwp_linux_buffer_params_v1 *params,
		struct wl_buffer *buffer)
{
	CHECK(false, "a buffer of memory the host cannot see was created");
	wl_buffer_destroy(buffer);
}

static void
foreign_failed(void *data, struct zwp_linux_buffer_params_v1 *params)
{
	params_failed_count++;
}

static const struct zwp_linux_buffer_params_v1_listener foreign_listener = {
	foreign_created, foreign_failed,
};

static void
check_foreign_buffer(struct wl_display *display, struct wl_compositor *compositor,
		     struct zwp_linux_dmabuf_v1 *dmabuf, bool immed)
{
	struct zwp_linux_buffer_params_v1 *params = zwp_linux_dmabuf_v1_create_params(dmabuf);
	uint32_t stride;
	int fd;

	/* With --3d, the plane is a 3D resource on a host that cannot export it; the good
	 * buffer after it is an ordinary one. */
	if (use_3d) {
		fd = gpu_3d_buffer_fd(0, &stride);
		use_3d = false;
	} else {
		fd = memfd_create("not-a-virtio-gpu-buffer", MFD_CLOEXEC);
		CHECK(fd >= 0 && ftruncate(fd, BUFFER_WIDTH * 4 * BUFFER_HEIGHT) == 0, "memfd");
	}
	zwp_linux_buffer_params_v1_add_listener(params, &foreign_listener, NULL);
	zwp_linux_buffer_params_v1_add(params, fd, 0, 0, BUFFER_WIDTH * 4, 0, 0);
	close(fd);
	if (immed) {
		struct wl_buffer *buffer = zwp_linux_buffer_params_v1_create_immed(params,
			BUFFER_WIDTH, BUFFER_HEIGHT, FOURCC_XRGB8888, 0);

		CHECK(wl_display_roundtrip(display) < 0 && wl_display_get_error(display) == EINVAL,
		      "create_immed of a foreign buffer: error %d, not EINVAL",
		      wl_display_get_error(display));
		if (buffer)
			wl_buffer_destroy(buffer);
		zwp_linux_buffer_params_v1_destroy(params);
		return;
	}
	zwp_linux_buffer_params_v1_create(params, BUFFER_WIDTH, BUFFER_HEIGHT,
					  FOURCC_XRGB8888, 0);
	CHECK(wl_display_roundtrip(display) >= 0, "the connection failed after create: %d",
	      wl_display_get_error(display));
	CHECK(params_failed_count == 1, "%d failed events, not 1", params_failed_count);
	zwp_linux_buffer_params_v1_destroy(params);
	/* The rest of the connection unharmed: a good buffer is taken (the compositor's
	 * first: the failed one never reached it). */
	check_buffers(display, compositor, dmabuf, false, 0);
}

/* Params the compositor must refuse (--bad-params KIND): the error a compositor gives (as
 * weston and wlroots do) must reach the client through the library, which looks at every
 * add (its fd, its plane index) and must neither crash nor mix planes up.
 *   five-planes: planes 0-4 (index 4 is past the last) -> plane_idx
 *   duplicate-plane: plane 0 twice -> plane_set
 *   missing-plane: plane 1 only, then create -> incomplete
 *   no-fd: an fd of -1 -> the request cannot be sent (EBADF, as upstream libwayland) */
static void
check_bad_params(struct wl_display *display, struct zwp_linux_dmabuf_v1 *dmabuf, bool direct,
		 const char *kind)
{
	struct zwp_linux_buffer_params_v1 *params = zwp_linux_dmabuf_v1_create_params(dmabuf);
	const struct wl_interface *interface = NULL;
	uint32_t stride, i, code = 0, want = 0;
	int fd = gpu_buffer_fd(direct, 0, &stride), error;

	CHECK(fd >= 0, "cannot make a GPU buffer");
	if (strcmp(kind, "five-planes") == 0) {
		for (i = 0; i < 5; i++)
			zwp_linux_buffer_params_v1_add(params, fd, i, 0, stride, 0, 0);
		want = ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_IDX;
	} else if (strcmp(kind, "duplicate-plane") == 0) {
		zwp_linux_buffer_params_v1_add(params, fd, 0, 0, stride, 0, 0);
		zwp_linux_buffer_params_v1_add(params, fd, 0, 0, stride, 0, 0);
		want = ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_PLANE_SET;
	} else if (strcmp(kind, "missing-plane") == 0) {
		zwp_linux_buffer_params_v1_add(params, fd, 1, 0, stride, 0, 0);
		zwp_linux_buffer_params_v1_create(params, BUFFER_WIDTH, BUFFER_HEIGHT,
						  FOURCC_XRGB8888, 0);
		want = ZWP_LINUX_BUFFER_PARAMS_V1_ERROR_INCOMPLETE;
	} else {
		zwp_linux_buffer_params_v1_add(params, -1, 0, 0, stride, 0, 0);
	}
	close(fd);
	CHECK(wl_display_roundtrip(display) < 0, "%s: the connection goes on", kind);
	error = wl_display_get_error(display);
	if (want) {
		code = wl_display_get_protocol_error(display, &interface, NULL);
		CHECK(error == EPROTO && interface == &zwp_linux_buffer_params_v1_interface &&
		      code == want, "%s: error %d, %s code %u, not the compositor's %u", kind,
		      error, interface ? interface->name : "(none)", code, want);
	} else {
		CHECK(error == EBADF, "%s: error %d, not EBADF", kind, error);
	}
	zwp_linux_buffer_params_v1_destroy(params);
	if (failures == 0)
		printf("gpu-client: %s: error %d, code %u\n", kind, error, code);
}

static bool
hidden_by(const char *list, const char *interface)
{
	size_t len = strlen(interface);
	const char *p;

	for (p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, interface, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	}
	return false;
}

static void
check_registry(const struct globals *g, bool direct, const char *hide_list)
{
	int i;

	CHECK(g->dmabuf_name, "no zwp_linux_dmabuf_v1");
	CHECK(g->dmabuf_version == (direct ? GPU_DMABUF_VERSION : 4u),
	      "zwp_linux_dmabuf_v1 offered at v%u", g->dmabuf_version);
	for (i = 0; i < GPU_FD_GLOBALS; i++) {
		bool hidden = !direct && hidden_by(hide_list, gpu_fd_globals[i]);

		CHECK(g->fd_global_seen[i] == !hidden, "%s %s", gpu_fd_globals[i],
		      hidden ? "offered, though its fds cannot cross" : "not offered");
	}
}

static void
check_feedback(const struct feedback *f, bool direct, enum gpu_mode mode)
{
	struct stat st;
	dev_t guest = 0, expect;
	int i;

	/* The node Mesa would open: the library's (renderD128, the fake kernel's). */
	if (!direct) {
		CHECK(stat("/dev/dri/renderD128", &st) == 0 && S_ISCHR(st.st_mode),
		      "no guest render node");
		guest = st.st_rdev;
	}
	expect = direct ? GPU_HOST_DEVICE : guest;

	CHECK(f->done, "feedback never done");
	if (mode == GPU_MODE_ODD_TABLE && !direct) {
		CHECK(f->table_events == 0, "a table of %u bytes reached the client",
		      f->table_size);
	} else {
		CHECK(f->table_events == 1, "%d format tables", f->table_events);
		CHECK(mode == GPU_MODE_ODD_TABLE || f->table_ok,
		      "the format table did not map MAP_PRIVATE or differs");
		CHECK(direct || f->table_sealed, "the format table is not a sealed guest copy");
	}
	if (mode == GPU_MODE_SHORT_DEVICE && !direct) {
		CHECK(f->main_devices == 0, "a 4-byte main_device reached the client");
	} else if (mode != GPU_MODE_SHORT_DEVICE) {
		CHECK(f->main_devices == 1 && f->main_device == expect,
		      "main_device %u:%u, not %u:%u", major(f->main_device),
		      minor(f->main_device), major(expect), minor(expect));
	}
	CHECK(f->target_devices == 1 && f->target_device == expect,
	      "tranche_target_device %u:%u, not %u:%u", major(f->target_device),
	      minor(f->target_device), major(expect), minor(expect));

	if (mode == GPU_MODE_ODD_TABLE && !direct) {
		CHECK(f->nindices == 0, "%d indices into a table the client never got",
		      f->nindices);
	} else if (mode == GPU_MODE_ODD_TRANCHE && !direct) {
		CHECK(f->tranches_formats == 0, "a 3-byte tranche_formats reached the client");
	} else if (mode == GPU_MODE_BAD_INDICES && direct) {
		CHECK(f->nindices == 5, "%d indices over the socket", f->nindices);
	} else if (mode != GPU_MODE_ODD_TRANCHE && mode != GPU_MODE_ODD_TABLE) {
		/* Through the library, never an index past the table. */
		CHECK(f->nindices == GPU_TABLE_ENTRIES, "%d tranche indices, not %d",
		      f->nindices, GPU_TABLE_ENTRIES);
		for (i = 0; i < f->nindices; i++)
			CHECK(f->indices[i] == i, "index %d is %u", i, f->indices[i]);
	}
}

int
main(int argc, char **argv)
{
	const char *hide_list = "wp_linux_drm_syncobj_manager_v1,"
		"zwp_linux_explicit_synchronization_v1,wp_drm_lease_device_v1,"
		"wp_security_context_manager_v1";
	enum gpu_mode mode = GPU_MODE_GOOD;
	struct globals g = { 0 };
	struct feedback f = { 0 };
	struct drm d = { 0 };
	struct zwp_linux_dmabuf_feedback_v1 *feedback;
	struct zwp_linux_dmabuf_v1 *dmabuf;
	struct wl_registry *registry;
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_drm *drm;
	bool direct = false, buffers = false;
	const char *bad_params = NULL;
	int foreign = 0;
	int i, fd, removes_before, expected_removes;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--direct") == 0)
			direct = true;
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc &&
			 gpu_mode_parse(argv[i + 1]) >= 0)
			mode = (enum gpu_mode) gpu_mode_parse(argv[++i]);
		else if (strcmp(argv[i], "--buffers") == 0)
			buffers = true;
		else if (strcmp(argv[i], "--render-delay") == 0 && i + 1 < argc)
			render_delay_ms = (uint32_t) atoi(argv[++i]);
		else if (strcmp(argv[i], "--render-never") == 0)
			render_never = true;
		else if (strcmp(argv[i], "--3d") == 0)
			use_3d = true;
		else if (strcmp(argv[i], "--foreign-buffer") == 0)
			foreign = 1;
		else if (strcmp(argv[i], "--foreign-buffer-immed") == 0)
			foreign = 2;
		else if (strcmp(argv[i], "--hide-list") == 0 && i + 1 < argc)
			hide_list = argv[++i];
		else if (strcmp(argv[i], "--bad-params") == 0 && i + 1 < argc)
			bad_params = argv[++i];
		else {
			fprintf(stderr, "usage: gpu-client [--direct] [--mode MODE] "
				"[--hide-list LIST] [--buffers [--3d] [--render-delay MS | --render-never]] "
				"[--foreign-buffer[-immed]] [--bad-params KIND]\n");
			return 2;
		}
	}

	display = wl_display_connect(NULL);
	if (display == NULL) {
		perror("gpu-client: wl_display_connect");
		return 1;
	}
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, &g);
	wl_display_roundtrip(display);
	check_registry(&g, direct, hide_list);
	if (!g.dmabuf_name || !g.drm_name) {
		wl_display_disconnect(display);
		return 1;
	}

	dmabuf = wl_registry_bind(registry, g.dmabuf_name, &zwp_linux_dmabuf_v1_interface,
				  g.dmabuf_version < 4 ? g.dmabuf_version : 4);
	feedback = zwp_linux_dmabuf_v1_get_default_feedback(dmabuf);
	zwp_linux_dmabuf_feedback_v1_add_listener(feedback, &feedback_listener, &f);
	wl_display_roundtrip(display);
	check_feedback(&f, direct, mode);

	if (bad_params) {
		/* The compositor's error ends the connection, as the check wanted. */
		check_bad_params(display, dmabuf, direct, bad_params);
		zwp_linux_dmabuf_feedback_v1_destroy(feedback);
		zwp_linux_dmabuf_v1_destroy(dmabuf);
		wl_registry_destroy(registry);
		wl_display_disconnect(display);
		return failures ? 1 : 0;
	}
	if (buffers || foreign) {
		compositor = wl_registry_bind(registry, g.compositor_name,
					      &wl_compositor_interface, 4);
		if (foreign)
			check_foreign_buffer(display, compositor, dmabuf, foreign == 2);
		else
			check_buffers(display, compositor, dmabuf, direct, 0);
		wl_compositor_destroy(compositor);
		if (foreign == 2 || render_never) {
			/* The connection is over, as the check wanted. */
			zwp_linux_dmabuf_feedback_v1_destroy(feedback);
			zwp_linux_dmabuf_v1_destroy(dmabuf);
			wl_registry_destroy(registry);
			wl_display_disconnect(display);
			if (failures == 0)
				printf("gpu-client: the connection ended as expected\n");
			return failures ? 1 : 0;
		}
	}

	/* wl_drm, Mesa's fallback: the path of a node the client can open. Binding it makes
	 * the compositor remove two of the fd globals. */
	removes_before = g.removes;
	drm = wl_registry_bind(registry, g.drm_name, &wl_drm_interface, 2);
	wl_drm_add_listener(drm, &drm_listener, &d);
	wl_display_roundtrip(display);
	CHECK(d.device && strcmp(d.device, direct ? GPU_HOST_DEVICE_PATH :
				 "/dev/dri/renderD128") == 0,
	      "wl_drm.device is %s", d.device ? d.device : "(none)");
	if (!direct && d.device) {
		fd = open(d.device, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0, "wl_drm.device %s cannot be opened", d.device);
		if (fd >= 0)
			close(fd);
	}
	CHECK(d.prime, "wl_drm without PRIME");
	/* Only removals of globals the client was told of. */
	expected_removes = g.fd_global_seen[0] + g.fd_global_seen[1];
	CHECK(g.removes - removes_before == expected_removes,
	      "%d global_remove events, expected %d", g.removes - removes_before,
	      expected_removes);

	zwp_linux_dmabuf_feedback_v1_destroy(feedback);
	zwp_linux_dmabuf_v1_destroy(dmabuf);
	wl_drm_destroy(drm);
	wl_registry_destroy(registry);
	CHECK(wl_display_roundtrip(display) >= 0, "the connection failed");
	wl_display_disconnect(display);
	free(d.device);

	if (failures == 0)
		printf("gpu-client: %s, mode %d: all checks passed\n",
		       direct ? "direct" : "virtio-gpu", mode);
	return failures ? 1 : 0;
}
