/*
 * SPDX-License-Identifier: MIT
 * The guest kernel uAPI of a virtio-gpu DRM node and the cross-domain wire format, written
 * from the tables of cross-domain-protocol.md (§1 ioctls, §3 wire), the project's own:
 * Debian 12's libdrm header predates blob resources and context init. One header for the
 * client library (virt-transport/), the host (host/), the fake kernel and the test guests;
 * every size is checked at compile time.
 */
#ifndef VIRTGPU_UAPI_H
#define VIRTGPU_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* --- DRM core (drm.h) ------------------------------------------------------------------- */

#define DRM_IOCTL_BASE			'd'
#define DRM_COMMAND_BASE		0x40
#define DRM_COMMAND_END			0xa0
#define DRM_MAJOR			226

struct drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct drm_gem_close {
	uint32_t handle;
	uint32_t pad;
};

struct drm_get_cap {
	uint64_t capability;
	uint64_t value;
};

struct drm_prime_handle {
	uint32_t handle;
	uint32_t flags;		/* DRM_CLOEXEC | DRM_RDWR */
	int32_t fd;
};

struct drm_event {
	uint32_t type;
	uint32_t length;
};

#define DRM_CLOEXEC			0x80000	/* O_CLOEXEC */
#define DRM_RDWR			0x2	/* O_RDWR */

#define DRM_CAP_DUMB_BUFFER		0x1
#define DRM_CAP_PRIME			0x5
#define DRM_PRIME_CAP_IMPORT		0x1
#define DRM_PRIME_CAP_EXPORT		0x2
#define DRM_CAP_TIMESTAMP_MONOTONIC	0x6
#define DRM_CAP_SYNCOBJ			0x13

#define DRM_IOCTL_VERSION		_IOWR('d', 0x00, struct drm_version)
#define DRM_IOCTL_GEM_CLOSE		_IOW('d', 0x09, struct drm_gem_close)
#define DRM_IOCTL_GET_CAP		_IOWR('d', 0x0c, struct drm_get_cap)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD	_IOWR('d', 0x2d, struct drm_prime_handle)
#define DRM_IOCTL_PRIME_FD_TO_HANDLE	_IOWR('d', 0x2e, struct drm_prime_handle)

/* --- virtio-gpu (virtgpu_drm.h), §1 ---------------------------------------------------- */

#define DRM_VIRTGPU_MAP			0x01
#define DRM_VIRTGPU_EXECBUFFER		0x02
#define DRM_VIRTGPU_GETPARAM		0x03
#define DRM_VIRTGPU_RESOURCE_CREATE	0x04
#define DRM_VIRTGPU_RESOURCE_INFO	0x05
#define DRM_VIRTGPU_TRANSFER_FROM_HOST	0x06
#define DRM_VIRTGPU_TRANSFER_TO_HOST	0x07
#define DRM_VIRTGPU_WAIT		0x08
#define DRM_VIRTGPU_GET_CAPS		0x09
#define DRM_VIRTGPU_RESOURCE_CREATE_BLOB 0x0a
#define DRM_VIRTGPU_CONTEXT_INIT	0x0b
#define DRM_VIRTGPU_NUM_IOCTLS		0x0c

#define VIRTGPU_PARAM_3D_FEATURES		1
#define VIRTGPU_PARAM_CAPSET_QUERY_FIX		2
#define VIRTGPU_PARAM_RESOURCE_BLOB		3
#define VIRTGPU_PARAM_HOST_VISIBLE		4
#define VIRTGPU_PARAM_CROSS_DEVICE		5
#define VIRTGPU_PARAM_CONTEXT_INIT		6
#define VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs	7
#define VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME	8

#define VIRTGPU_CONTEXT_PARAM_CAPSET_ID		1
#define VIRTGPU_CONTEXT_PARAM_NUM_RINGS		2
#define VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK	3
#define VIRTGPU_CONTEXT_PARAM_DEBUG_NAME	4

#define VIRTGPU_BLOB_MEM_GUEST		1
#define VIRTGPU_BLOB_MEM_HOST3D		2
#define VIRTGPU_BLOB_MEM_HOST3D_GUEST	3

#define VIRTGPU_BLOB_FLAG_USE_MAPPABLE		1
#define VIRTGPU_BLOB_FLAG_USE_SHAREABLE		2
#define VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE	4
#define VIRTGPU_BLOB_FLAG_USE_MASK		7

#define VIRTGPU_EXECBUF_FENCE_FD_IN	1
#define VIRTGPU_EXECBUF_FENCE_FD_OUT	2
#define VIRTGPU_EXECBUF_RING_IDX	4
#define VIRTGPU_EXECBUF_FLAGS		7

#define VIRTGPU_WAIT_NOWAIT		1

#define VIRTGPU_EVENT_FENCE_SIGNALED	0x90000000u

#define VIRTGPU_CAPSET_CROSS_DOMAIN	5
#define VIRTGPU_MAX_CAPSET_ID		63
#define VIRTGPU_MAX_RINGS		64

struct drm_virtgpu_map {
	uint64_t offset;
	uint32_t handle;
	uint32_t pad;
};

/* The 64-byte form; the older 40-byte one ends after ring_idx + pad (§1). */
struct drm_virtgpu_execbuffer {
	uint32_t flags;
	uint32_t size;
	uint64_t command;
	uint64_t bo_handles;
	uint32_t num_bo_handles;
	int32_t fence_fd;
	uint32_t ring_idx;
	uint32_t syncobj_stride;
	uint32_t num_in_syncobjs;
	uint32_t num_out_syncobjs;
	uint64_t in_syncobjs;
	uint64_t out_syncobjs;
};
#define VIRTGPU_EXECBUFFER_V1_SIZE	40

struct drm_virtgpu_getparam {
	uint64_t param;
	uint64_t value;		/* user pointer; the kernel writes an int (4 bytes) there */
};

struct drm_virtgpu_resource_info {
	uint32_t bo_handle;
	uint32_t res_handle;
	uint32_t size;
	uint32_t blob_mem;
};

/* A classic 3D (virgl) resource: guest pages for transfers, the image on the host. */
struct drm_virtgpu_resource_create {
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
	uint32_t bo_handle;	/* out */
	uint32_t res_handle;	/* out */
	uint32_t size;		/* the guest pages; 0: one page */
	uint32_t stride;	/* unused by the kernel */
};

struct drm_virtgpu_3d_box {
	uint32_t x, y, z;
	uint32_t w, h, d;
};

/* TRANSFER_TO_HOST and TRANSFER_FROM_HOST take the same. */
struct drm_virtgpu_3d_transfer {
	uint32_t bo_handle;
	struct drm_virtgpu_3d_box box;
	uint32_t level;
	uint32_t offset;
	uint32_t stride;	/* host3d blobs only; 0 for resources */
	uint32_t layer_stride;
};

struct drm_virtgpu_3d_wait {
	uint32_t handle;
	uint32_t flags;
};

struct drm_virtgpu_get_caps {
	uint32_t cap_set_id;
	uint32_t cap_set_ver;
	uint64_t addr;
	uint32_t size;
	uint32_t pad;
};

struct drm_virtgpu_resource_create_blob {
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint32_t bo_handle;
	uint32_t res_handle;
	uint64_t size;
	uint32_t pad;
	uint32_t cmd_size;
	uint64_t cmd;
	uint64_t blob_id;
};

struct drm_virtgpu_context_set_param {
	uint64_t param;
	uint64_t value;
};

struct drm_virtgpu_context_init {
	uint32_t num_params;
	uint32_t pad;
	uint64_t ctx_set_params;
};

#define DRM_IOCTL_VIRTGPU(nr, type)	_IOWR('d', DRM_COMMAND_BASE + (nr), type)
#define DRM_IOCTL_VIRTGPU_MAP		DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_MAP, struct drm_virtgpu_map)
#define DRM_IOCTL_VIRTGPU_EXECBUFFER	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_EXECBUFFER, struct drm_virtgpu_execbuffer)
#define DRM_IOCTL_VIRTGPU_EXECBUFFER_V1	_IOC(_IOC_READ | _IOC_WRITE, 'd', 0x42, VIRTGPU_EXECBUFFER_V1_SIZE)
#define DRM_IOCTL_VIRTGPU_GETPARAM	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_GETPARAM, struct drm_virtgpu_getparam)
#define DRM_IOCTL_VIRTGPU_RESOURCE_CREATE \
	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_RESOURCE_CREATE, struct drm_virtgpu_resource_create)
#define DRM_IOCTL_VIRTGPU_RESOURCE_INFO	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_RESOURCE_INFO, struct drm_virtgpu_resource_info)
#define DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST \
	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_TRANSFER_FROM_HOST, struct drm_virtgpu_3d_transfer)
#define DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST \
	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_TRANSFER_TO_HOST, struct drm_virtgpu_3d_transfer)
#define DRM_IOCTL_VIRTGPU_WAIT		DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_WAIT, struct drm_virtgpu_3d_wait)
#define DRM_IOCTL_VIRTGPU_GET_CAPS	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_GET_CAPS, struct drm_virtgpu_get_caps)
#define DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB \
	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_RESOURCE_CREATE_BLOB, struct drm_virtgpu_resource_create_blob)
#define DRM_IOCTL_VIRTGPU_CONTEXT_INIT	DRM_IOCTL_VIRTGPU(DRM_VIRTGPU_CONTEXT_INIT, struct drm_virtgpu_context_init)

/* --- the dma-buf file (linux/dma-buf.h) ---------------------------------------------------- */

#define DMA_BUF_SYNC_READ		(1 << 0)
#define DMA_BUF_SYNC_WRITE		(2 << 0)
#define DMA_BUF_SYNC_RW			(DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)
#define DMA_BUF_SYNC_END		(1 << 2)

struct dma_buf_sync {
	uint64_t flags;
};

struct dma_buf_export_sync_file {
	uint32_t flags;
	int32_t fd;
};

struct dma_buf_import_sync_file {
	uint32_t flags;
	int32_t fd;
};

#define DMA_BUF_BASE			'b'
#define DMA_BUF_IOCTL_SYNC		_IOW(DMA_BUF_BASE, 0, struct dma_buf_sync)
#define DMA_BUF_SET_NAME_A		_IOW(DMA_BUF_BASE, 1, uint32_t)
#define DMA_BUF_SET_NAME_B		_IOW(DMA_BUF_BASE, 1, uint64_t)
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE	_IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#define DMA_BUF_IOCTL_IMPORT_SYNC_FILE	_IOW(DMA_BUF_BASE, 3, struct dma_buf_import_sync_file)

/* --- cross-domain wire format, §3 -------------------------------------------------------- */

#define CROSS_DOMAIN_CMD_INIT				1
#define CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS		2
#define CROSS_DOMAIN_CMD_POLL				3
#define CROSS_DOMAIN_CMD_SEND				4
#define CROSS_DOMAIN_CMD_RECEIVE			5
#define CROSS_DOMAIN_CMD_READ				6
#define CROSS_DOMAIN_CMD_WRITE				7

#define CROSS_DOMAIN_QUERY_RING		0
#define CROSS_DOMAIN_CHANNEL_RING	1

#define CROSS_DOMAIN_CHANNEL_TYPE_NONE		0
#define CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND	1
#define CROSS_DOMAIN_CHANNEL_TYPE_INTERNAL	0xffffffffu

#define CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB	1
#define CROSS_DOMAIN_ID_TYPE_VIRTGPU_SYNC	2
#define CROSS_DOMAIN_ID_TYPE_READ_PIPE		3
#define CROSS_DOMAIN_ID_TYPE_WRITE_PIPE		4
#define CROSS_DOMAIN_ID_TYPE_RG_EVENT		5
#define CROSS_DOMAIN_ID_TYPE_KR_EVENTFD		6
#define CROSS_DOMAIN_ID_TYPE_RG_SOCKET		7

#define CROSS_DOMAIN_MAX_IDENTIFIERS	28
#define CROSS_DOMAIN_OLD_IDENTIFIERS	4
#define CROSS_DOMAIN_PIPE_READ_START	0x80000000u

/* The most data one SEND, and one WRITE, carries (§3.4). */
#define CROSS_DOMAIN_MAX_SEND_DATA	3744
#define CROSS_DOMAIN_MAX_WRITE_DATA	4072

struct cross_domain_capabilities {
	uint32_t version;
	uint32_t supported_channels;
	uint32_t supports_dmabuf;
	uint32_t supports_external_gpu_memory;
};

struct cross_domain_header {
	uint8_t cmd;
	uint8_t ring_idx;
	uint16_t cmd_size;
	uint32_t pad;
};

struct cross_domain_poll {
	struct cross_domain_header hdr;
	uint64_t pad;
};

struct cross_domain_init_legacy {
	struct cross_domain_header hdr;
	uint32_t query_ring_id;
	uint32_t channel_type;
};

struct cross_domain_init {
	struct cross_domain_header hdr;
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
};

struct cross_domain_init_kr {
	struct cross_domain_header hdr;
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	uint32_t protocol_version;
};

struct cross_domain_init_rg {
	struct cross_domain_header hdr;
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	uint8_t internal_socket_uuid[16];
};

struct cross_domain_get_image_requirements {
	struct cross_domain_header hdr;
	uint32_t width;
	uint32_t height;
	uint32_t drm_format;
	uint32_t flags;
};

struct cross_domain_image_requirements {
	uint32_t strides[4];
	uint32_t offsets[4];
	uint64_t modifier;
	uint64_t size;
	uint32_t blob_id;
	uint32_t map_info;
	int32_t memory_idx;
	int32_t physical_device_idx;
};

/* What SEND/RECEIVE start with, whatever their N. */
struct cross_domain_sr_head {
	struct cross_domain_header hdr;
	uint32_t num_identifiers;
	uint32_t opaque_data_size;
};

/* SEND/RECEIVE with N identifiers: N = 28 today, 4 on old hosts (§3.2, §3.5). */
#define CROSS_DOMAIN_SEND_RECEIVE(n)				\
	struct {						\
		struct cross_domain_header hdr;			\
		uint32_t num_identifiers;			\
		uint32_t opaque_data_size;			\
		uint32_t identifiers[n];			\
		uint32_t identifier_types[n];			\
		uint32_t identifier_sizes[n];			\
	}

struct cross_domain_send_receive {
	CROSS_DOMAIN_SEND_RECEIVE(CROSS_DOMAIN_MAX_IDENTIFIERS);
};

struct cross_domain_send_receive_n4 {
	CROSS_DOMAIN_SEND_RECEIVE(CROSS_DOMAIN_OLD_IDENTIFIERS);
};

/* Offsets of the variable parts of a SEND/RECEIVE with n identifiers. */
#define CROSS_DOMAIN_SR_IDS_OFF(n)	16u
#define CROSS_DOMAIN_SR_TYPES_OFF(n)	(16u + 4u * (n))
#define CROSS_DOMAIN_SR_SIZES_OFF(n)	(16u + 8u * (n))
#define CROSS_DOMAIN_SR_DATA_OFF(n)	(16u + 12u * (n))

struct cross_domain_read_write {
	struct cross_domain_header hdr;
	uint32_t identifier;
	uint32_t hang_up;
	uint32_t opaque_data_size;
	uint32_t pad;
};

/* System gralloc map_info (§5.1). */
#define CROSS_DOMAIN_MAP_CACHE_CACHED	0x01

/* DRM fourccs the host's system gralloc knows (§5.1). */
#define SIM_FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define SIM_FORMAT_R8		SIM_FOURCC('R', '8', ' ', ' ')
#define SIM_FORMAT_RGB565	SIM_FOURCC('R', 'G', '1', '6')
#define SIM_FORMAT_BGR888	SIM_FOURCC('B', 'G', '2', '4')
#define SIM_FORMAT_XRGB8888	SIM_FOURCC('X', 'R', '2', '4')
#define SIM_FORMAT_XBGR8888	SIM_FOURCC('X', 'B', '2', '4')
#define SIM_FORMAT_ARGB8888	SIM_FOURCC('A', 'R', '2', '4')
#define SIM_FORMAT_ABGR8888	SIM_FOURCC('A', 'B', '2', '4')
#define SIM_FORMAT_XRGB2101010	SIM_FOURCC('X', 'R', '3', '0')
#define SIM_FORMAT_XBGR2101010	SIM_FOURCC('X', 'B', '3', '0')
#define SIM_FORMAT_ARGB2101010	SIM_FOURCC('A', 'R', '3', '0')
#define SIM_FORMAT_ABGR2101010	SIM_FOURCC('A', 'B', '3', '0')
#define SIM_FORMAT_ABGR16161616F SIM_FOURCC('A', 'B', '4', 'H')
#define SIM_FORMAT_NV12		SIM_FOURCC('N', 'V', '1', '2')
#define SIM_FORMAT_YVU420	SIM_FOURCC('Y', 'V', '1', '2')

/* --- sizes and offsets as the document gives them (§1, §3.2) ------------------------- */

/* The one struct with pointers: the library is built for i386 too. */
_Static_assert(sizeof(struct drm_version) == (sizeof(void *) == 8 ? 64 : 36), "drm_version");
_Static_assert(sizeof(struct drm_prime_handle) == 12, "drm_prime_handle");
_Static_assert(DRM_IOCTL_PRIME_HANDLE_TO_FD == 0xC00C642D, "PRIME_HANDLE_TO_FD");
_Static_assert(DRM_IOCTL_PRIME_FD_TO_HANDLE == 0xC00C642E, "PRIME_FD_TO_HANDLE");
_Static_assert(DRM_IOCTL_GEM_CLOSE == 0x40086409, "GEM_CLOSE");
_Static_assert(DRM_IOCTL_VIRTGPU_MAP == 0xC0106441, "MAP");
_Static_assert(DRM_IOCTL_VIRTGPU_EXECBUFFER == 0xC0406442, "EXECBUFFER");
_Static_assert(DRM_IOCTL_VIRTGPU_EXECBUFFER_V1 == 0xC0286442, "EXECBUFFER v1");
_Static_assert(DRM_IOCTL_VIRTGPU_GETPARAM == 0xC0106443, "GETPARAM");
_Static_assert(DRM_IOCTL_VIRTGPU_RESOURCE_INFO == 0xC0106445, "RESOURCE_INFO");
_Static_assert(DRM_IOCTL_VIRTGPU_RESOURCE_CREATE == 0xC0386444, "RESOURCE_CREATE");
_Static_assert(DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST == 0xC02C6446, "TRANSFER_FROM_HOST");
_Static_assert(DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST == 0xC02C6447, "TRANSFER_TO_HOST");
_Static_assert(DRM_IOCTL_VIRTGPU_WAIT == 0xC0086448, "WAIT");
_Static_assert(DRM_IOCTL_VIRTGPU_GET_CAPS == 0xC0186449, "GET_CAPS");
_Static_assert(DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB == 0xC030644A, "CREATE_BLOB");
_Static_assert(DRM_IOCTL_VIRTGPU_CONTEXT_INIT == 0xC010644B, "CONTEXT_INIT");
_Static_assert(DMA_BUF_IOCTL_SYNC == 0x40086200, "DMA_BUF_IOCTL_SYNC");
_Static_assert(DMA_BUF_IOCTL_EXPORT_SYNC_FILE == 0xC0086202, "EXPORT_SYNC_FILE");
_Static_assert(DMA_BUF_IOCTL_IMPORT_SYNC_FILE == 0x40086203, "IMPORT_SYNC_FILE");
_Static_assert(offsetof(struct drm_virtgpu_resource_create_blob, cmd_size) == 28, "blob");
_Static_assert(offsetof(struct drm_virtgpu_resource_create_blob, blob_id) == 40, "blob");
_Static_assert(offsetof(struct drm_virtgpu_execbuffer, ring_idx) == 32, "execbuffer");
_Static_assert(sizeof(struct cross_domain_capabilities) == 16, "caps");
_Static_assert(sizeof(struct cross_domain_header) == 8, "header");
_Static_assert(sizeof(struct cross_domain_poll) == 16, "poll");
_Static_assert(sizeof(struct cross_domain_init_legacy) == 16, "init legacy");
_Static_assert(sizeof(struct cross_domain_init) == 20, "init");
_Static_assert(sizeof(struct cross_domain_init_kr) == 24, "init kr");
_Static_assert(sizeof(struct cross_domain_init_rg) == 36, "init rg");
_Static_assert(sizeof(struct cross_domain_get_image_requirements) == 24, "gir");
_Static_assert(sizeof(struct cross_domain_image_requirements) == 64, "reqs");
_Static_assert(sizeof(struct cross_domain_send_receive) == 352, "send n28");
_Static_assert(offsetof(struct cross_domain_send_receive, identifier_types) == 128, "send n28");
_Static_assert(offsetof(struct cross_domain_send_receive, identifier_sizes) == 240, "send n28");
_Static_assert(sizeof(struct cross_domain_send_receive_n4) == 64, "send n4");
_Static_assert(offsetof(struct cross_domain_send_receive_n4, identifier_types) == 32, "send n4");
_Static_assert(CROSS_DOMAIN_SR_DATA_OFF(28) == 352 && CROSS_DOMAIN_SR_DATA_OFF(4) == 64, "data");
_Static_assert(sizeof(struct cross_domain_read_write) == 24, "read/write");
_Static_assert(sizeof(struct cross_domain_sr_head) == CROSS_DOMAIN_SR_IDS_OFF(28), "sr head");
_Static_assert(CROSS_DOMAIN_SR_DATA_OFF(28) + CROSS_DOMAIN_MAX_SEND_DATA == 4096, "send data");
_Static_assert(sizeof(struct cross_domain_read_write) + CROSS_DOMAIN_MAX_WRITE_DATA == 4096,
	       "write data");

#endif
