/*
 * What the GPU-path test compositor and its guest client agree on: the host's device (one
 * the guest does not have), the format table, and the globals it offers.
 */
#ifndef GPU_TEST_H
#define GPU_TEST_H

#include <stdint.h>
#include <sys/sysmacros.h>

/* A render node only the host has: the guest's is 226:128. */
#define GPU_HOST_DEVICE makedev(226, 200)
#define GPU_HOST_DEVICE_PATH "/dev/dri/host-only-renderD200"
#define GPU_DMABUF_VERSION 5	/* offered; the library caps it at 4 */

/* The format table: {format, pad, modifier} entries. */
struct gpu_table_entry {
	uint32_t format;
	uint32_t pad;
	uint64_t modifier;
};

#define GPU_TABLE_ENTRIES 3
static const struct gpu_table_entry gpu_table[GPU_TABLE_ENTRIES] = {
	{ 0x34325258, 0, 0 },			/* XRGB8888, linear */
	{ 0x34325241, 0, 0 },			/* ARGB8888, linear */
	{ 0x34325258, 0, 0x00ffffffffffffffull },	/* XRGB8888, invalid */
};

/* The bytes of the GPU buffers: 32-bit word i of the nth dma-buf buffer the compositor
 * gets from a client (n from 0) holds gpu_word(n, i), so a copy that is missing, shifted,
 * cut short or of another buffer shows. The simulated GPU renders the same pattern:
 * virtgpu_sim_gpu_buffer_render(fd, gpu_word(n, 0), delay) writes word i as pixel + i. */
static inline uint32_t
gpu_word(uint32_t n, uint64_t i)
{
	return 0xff000402u + (n << 20) + (uint32_t) i;
}

/* Buffer n's picture starts this many rows into its dma-buf (the plane's offset): 0 for
 * even n, GPU_SPARE_ROWS for odd n, so that an offset lost or changed on the way shows. */
#define GPU_SPARE_ROWS 4

static inline uint32_t
gpu_offset_rows(uint32_t n)
{
	return n % 2 ? GPU_SPARE_ROWS : 0;
}

/* Globals the library hides by default (their fds cannot cross the
 * channel), and one it offers since its memfds cross as host memory
 * (zwlr_gamma_control_manager_v1); offered by name only. */
static const char *const gpu_fd_globals[] = {
	"wp_linux_drm_syncobj_manager_v1",
	"zwp_linux_explicit_synchronization_v1",
	"wp_drm_lease_device_v1",
	"wp_security_context_manager_v1",
	"zwlr_gamma_control_manager_v1",
};
#define GPU_FD_GLOBALS 5

/* What the compositor gets wrong, on purpose (--mode). */
enum gpu_mode {
	GPU_MODE_GOOD,
	GPU_MODE_ODD_TABLE,	/* a table of 40 bytes */
	GPU_MODE_SHORT_DEVICE,	/* main_device of 4 bytes */
	GPU_MODE_BAD_INDICES,	/* tranche indices past the table */
	GPU_MODE_ODD_TRANCHE,	/* tranche_formats of 3 bytes */
};

static inline int
gpu_mode_parse(const char *name)
{
	static const char *const names[] = { "good", "odd-table", "short-device",
					     "bad-indices", "odd-tranche" };
	unsigned i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (__builtin_strcmp(name, names[i]) == 0)
			return (int) i;
	}
	return -1;
}

#endif
