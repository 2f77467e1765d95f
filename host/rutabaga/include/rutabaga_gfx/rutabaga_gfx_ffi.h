/*
 * The C interface of a rutabaga_gfx_ffi host library (ABI 0.1.2), as QEMU's
 * virtio-gpu-rutabaga device (hw/display/virtio-gpu-rutabaga.c, QEMU 8.2 to 10.0) includes it
 * as <rutabaga_gfx/rutabaga_gfx_ffi.h> and calls it. The project's own definitions, written
 * from the facts of that public interface: names, values, struct layouts and signatures must
 * match it bit for bit, since a QEMU built against this header runs against librutabaga_gfx_ffi
 * of either implementation. What QEMU relies on, and what this project's library
 * (host/rutabaga/) does with it, is said at each item; ../../README.md has the sources.
 *
 * Every function returns 0 or a negative errno (the original returns -EINVAL for any error
 * and -ESRCH when it panicked; QEMU only tests for non-zero, and passes -result to
 * error_setg_errno at init).
 */
#ifndef RUTABAGA_GFX_FFI_H
#define RUTABAGA_GFX_FFI_H

#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RUTABAGA_VERSION_MAJOR 0
#define RUTABAGA_VERSION_MINOR 1
#define RUTABAGA_VERSION_PATCH 2

/* Capset ids: bit (1 << id) of rutabaga_builder.capset_mask turns one on. QEMU's device
 * properties set bits 3 (gfxstream-vulkan), 5 (cross-domain=on), 8 and 9. */
#define RUTABAGA_CAPSET_VIRGL			1
#define RUTABAGA_CAPSET_VIRGL2			2
#define RUTABAGA_CAPSET_GFXSTREAM_VULKAN	3
#define RUTABAGA_CAPSET_VENUS			4
#define RUTABAGA_CAPSET_CROSS_DOMAIN		5
#define RUTABAGA_CAPSET_DRM			6
#define RUTABAGA_CAPSET_GFXSTREAM_MAGMA		7
#define RUTABAGA_CAPSET_GFXSTREAM_GLES		8
#define RUTABAGA_CAPSET_GFXSTREAM_COMPOSER	9

/* rutabaga_create_blob.blob_mem and .blob_flags: the virtio-gpu values. */
#define RUTABAGA_BLOB_MEM_GUEST			1
#define RUTABAGA_BLOB_MEM_HOST3D		2
#define RUTABAGA_BLOB_MEM_HOST3D_GUEST		3
#define RUTABAGA_BLOB_FLAG_USE_MAPPABLE		1
#define RUTABAGA_BLOB_FLAG_USE_SHAREABLE	2
#define RUTABAGA_BLOB_FLAG_USE_CROSS_DEVICE	4

/* rutabaga_resource_map_info: the low nibble is the virtio-gpu caching mode QEMU passes to
 * the guest (it masks with RUTABAGA_MAP_CACHE_MASK), the high nibble the access. */
#define RUTABAGA_MAP_CACHE_MASK			0x0f
#define RUTABAGA_MAP_CACHE_CACHED		0x01
#define RUTABAGA_MAP_CACHE_UNCACHED		0x02
#define RUTABAGA_MAP_CACHE_WC			0x03
#define RUTABAGA_MAP_ACCESS_MASK		0xf0
#define RUTABAGA_MAP_ACCESS_READ		0x10
#define RUTABAGA_MAP_ACCESS_WRITE		0x20
#define RUTABAGA_MAP_ACCESS_RW			0x30

/* rutabaga_handle.handle_type. */
#define RUTABAGA_MEM_HANDLE_TYPE_OPAQUE_FD	0x1
#define RUTABAGA_MEM_HANDLE_TYPE_DMABUF		0x2
#define RUTABAGA_MEM_HANDLE_TYPE_OPAQUE_WIN32	0x3
#define RUTABAGA_MEM_HANDLE_TYPE_SHM		0x4
#define RUTABAGA_MEM_HANDLE_TYPE_ZIRCON		0x5
#define RUTABAGA_FENCE_HANDLE_TYPE_OPAQUE_FD	0x6
#define RUTABAGA_FENCE_HANDLE_TYPE_SYNC_FD	0x7
#define RUTABAGA_FENCE_HANDLE_TYPE_OPAQUE_WIN32	0x8
#define RUTABAGA_FENCE_HANDLE_TYPE_ZIRCON	0x9

/* rutabaga_channel.channel_type: QEMU configures one channel, the Wayland socket. */
#define RUTABAGA_CHANNEL_TYPE_WAYLAND		1

/* rutabaga_builder.wsi: the only value accepted; QEMU always passes it. */
#define RUTABAGA_WSI_SURFACELESS		0x1

/* rutabaga_fence.flags: QEMU copies the virtio-gpu header's flags (FENCE = 1, INFO_RING_IDX =
 * 2), and matches a signalled fence to its commands by (flags & INFO_RING_IDX, ring_idx,
 * fence_id <= the signalled one). */
#define RUTABAGA_FLAG_FENCE			(1 << 0)
#define RUTABAGA_FLAG_INFO_RING_IDX		(1 << 1)
#define RUTABAGA_FLAG_FENCE_SHAREABLE		(1 << 2)

/* rutabaga_debug.debug_type: QEMU maps them to error_report, warn_report, info_report. */
#define RUTABAGA_DEBUG_ERROR			0x1
#define RUTABAGA_DEBUG_WARN			0x2
#define RUTABAGA_DEBUG_INFO			0x3

/* The library's state; the caller holds only the pointer. */
struct rutabaga;

struct rutabaga_fence {
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint32_t ring_idx;
};

struct rutabaga_debug {
	uint32_t debug_type;
	const char *message;	/* valid during the call only */
};

/* Called once a fence is done, from any thread of the library (QEMU defers its work to its
 * main loop with a bottom half). It must not call back into the library. */
typedef void (*rutabaga_fence_callback)(uint64_t user_data, const struct rutabaga_fence *fence);
typedef void (*rutabaga_debug_callback)(uint64_t user_data, const struct rutabaga_debug *debug);

struct rutabaga_channel {
	const char *channel_name;	/* a NUL-terminated path: the compositor's socket */
	uint32_t channel_type;
};

struct rutabaga_channels {
	struct rutabaga_channel *channels;
	size_t num_channels;
};

struct rutabaga_builder {
	uint64_t user_data;		/* passed back to both callbacks */
	uint64_t capset_mask;
	uint64_t wsi;
	rutabaga_fence_callback fence_cb;
	rutabaga_debug_callback debug_cb;	/* may be NULL */
	struct rutabaga_channels *channels;	/* may be NULL: no socket to connect to */
};

struct rutabaga_create_blob {
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint64_t blob_id;
	uint64_t size;
};

/* QEMU turns RESOURCE_CREATE_2D into this with target 2, bind 1 << 1, depth 1. */
struct rutabaga_create_3d {
	uint32_t target;
	uint32_t format;
	uint32_t bind;
	uint32_t width;
	uint32_t height;
	uint32_t depth;
	uint32_t array_size;
	uint32_t last_level;
	uint32_t nr_samples;
	uint32_t flags;
};

struct rutabaga_transfer {
	uint32_t x;
	uint32_t y;
	uint32_t z;
	uint32_t w;
	uint32_t h;
	uint32_t d;
	uint32_t level;
	uint32_t stride;
	uint32_t layer_stride;
	uint64_t offset;
};

/* Guest memory as the VMM mapped it; valid until the backing is detached or the resource is
 * unreferenced. */
struct rutabaga_iovecs {
	struct iovec *iovecs;
	size_t num_iovecs;
};

struct rutabaga_handle {
	int64_t os_handle;	/* an fd */
	uint32_t handle_type;
};

/* QEMU maps ptr..ptr+size into the device's host-visible region (memory_region_init_ram_ptr):
 * the guest reads and writes this memory directly until rutabaga_resource_unmap. */
struct rutabaga_mapping {
	void *ptr;
	uint64_t size;
};

/* SUBMIT_3D: the guest's command buffer of one EXECBUFFER, copied out of the virtqueue. */
struct rutabaga_command {
	uint32_t ctx_id;
	uint32_t cmd_size;
	uint8_t *cmd;
	uint32_t num_in_fences;	/* unstable in 0.1.2; QEMU leaves both zero */
	uint64_t *fence_ids;
};

/* "virgl:cross-domain:..." to a capset mask. */
int32_t rutabaga_calculate_capset_mask(const char *capset_names, uint64_t *capset_mask);

int32_t rutabaga_init(const struct rutabaga_builder *builder, struct rutabaga **ptr);
int32_t rutabaga_finish(struct rutabaga **ptr);

/* Capsets by index (0 .. num - 1); QEMU fills virtio_gpu_config.num_capsets from the first. */
int32_t rutabaga_get_num_capsets(struct rutabaga *ptr, uint32_t *num_capsets);
int32_t rutabaga_get_capset_info(struct rutabaga *ptr, uint32_t capset_index,
				 uint32_t *capset_id, uint32_t *capset_version,
				 uint32_t *capset_size);
int32_t rutabaga_get_capset(struct rutabaga *ptr, uint32_t capset_id, uint32_t version,
			    uint8_t *capset, uint32_t capset_size);

/* context_init: the low 8 bits are the capset id (0: the default context a kernel makes
 * without CONTEXT_INIT). */
int32_t rutabaga_context_create(struct rutabaga *ptr, uint32_t ctx_id, uint32_t context_init,
				const char *context_name, uint32_t context_name_len);
int32_t rutabaga_context_destroy(struct rutabaga *ptr, uint32_t ctx_id);
int32_t rutabaga_context_attach_resource(struct rutabaga *ptr, uint32_t ctx_id,
					 uint32_t resource_id);
int32_t rutabaga_context_detach_resource(struct rutabaga *ptr, uint32_t ctx_id,
					 uint32_t resource_id);

int32_t rutabaga_resource_create_3d(struct rutabaga *ptr, uint32_t resource_id,
				    const struct rutabaga_create_3d *create_3d);
int32_t rutabaga_resource_attach_backing(struct rutabaga *ptr, uint32_t resource_id,
					 const struct rutabaga_iovecs *iovecs);
int32_t rutabaga_resource_detach_backing(struct rutabaga *ptr, uint32_t resource_id);
/* iovec NULL: into the resource's backing; else into that buffer (QEMU's scanout and cursor
 * copies). */
int32_t rutabaga_resource_transfer_read(struct rutabaga *ptr, uint32_t ctx_id,
					uint32_t resource_id,
					const struct rutabaga_transfer *transfer,
					const struct iovec *iovec);
int32_t rutabaga_resource_transfer_write(struct rutabaga *ptr, uint32_t ctx_id,
					 uint32_t resource_id,
					 const struct rutabaga_transfer *transfer);

/* GUEST blobs come with iovecs (QEMU passes them for every blob_mem but HOST3D); HOST3D
 * blobs of a cross-domain context are made from blob_id, an item of that context. QEMU
 * passes handle NULL. */
int32_t rutabaga_resource_create_blob(struct rutabaga *ptr, uint32_t ctx_id, uint32_t resource_id,
				      const struct rutabaga_create_blob *create_blob,
				      const struct rutabaga_iovecs *iovecs,
				      const struct rutabaga_handle *handle);
int32_t rutabaga_resource_unref(struct rutabaga *ptr, uint32_t resource_id);
/* The caller owns the returned fd. */
int32_t rutabaga_resource_export_blob(struct rutabaga *ptr, uint32_t resource_id,
				      struct rutabaga_handle *handle);
int32_t rutabaga_resource_map(struct rutabaga *ptr, uint32_t resource_id,
			      struct rutabaga_mapping *mapping);
int32_t rutabaga_resource_unmap(struct rutabaga *ptr, uint32_t resource_id);
int32_t rutabaga_resource_map_info(struct rutabaga *ptr, uint32_t resource_id,
				   uint32_t *map_info);

int32_t rutabaga_submit_command(struct rutabaga *ptr, struct rutabaga_command *cmd);
/* Called after the command that carried the fence ran. */
int32_t rutabaga_create_fence(struct rutabaga *ptr, const struct rutabaga_fence *fence);

#ifdef __cplusplus
}
#endif

#endif
