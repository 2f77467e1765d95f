/*
 * SPDX-License-Identifier: MIT
 * The virtio-gpu kernel uAPI and the cross-domain wire format, written
 * from the tables of cross-domain-protocol.md (§1, §3). Debian 12's libdrm
 * header predates blob resources and context init, so these are ours.
 * Layouts are checked at compile time against the sizes the document
 * gives.
 */
#ifndef VIRTGPU_UAPI_H
#define VIRTGPU_UAPI_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <drm.h>

/* §1: GETPARAM params */
#define VIRTGPU_PARAM_3D_FEATURES		1
#define VIRTGPU_PARAM_CAPSET_QUERY_FIX		2
#define VIRTGPU_PARAM_RESOURCE_BLOB		3
#define VIRTGPU_PARAM_HOST_VISIBLE		4
#define VIRTGPU_PARAM_CROSS_DEVICE		5
#define VIRTGPU_PARAM_CONTEXT_INIT		6
#define VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs	7

/* §1: context params */
#define VIRTGPU_CONTEXT_PARAM_CAPSET_ID		1
#define VIRTGPU_CONTEXT_PARAM_NUM_RINGS		2
#define VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK	3

#define VIRTGPU_BLOB_MEM_GUEST		1
#define VIRTGPU_BLOB_MEM_HOST3D		2
#define VIRTGPU_BLOB_FLAG_USE_MAPPABLE	1
#define VIRTGPU_BLOB_FLAG_USE_SHAREABLE	2

#define VIRTGPU_EXECBUF_FENCE_FD_OUT	2
#define VIRTGPU_EXECBUF_RING_IDX	4
#define VIRTGPU_EVENT_FENCE_SIGNALED	0x90000000u
#define VIRTGPU_WAIT_NOWAIT		1

#define VIRTGPU_CAPSET_CROSS_DOMAIN	5

struct virtgpu_getparam {
	uint64_t param;
	uint64_t value;		/* user pointer; the kernel writes 4 bytes */
};

struct virtgpu_get_caps {
	uint32_t cap_set_id;
	uint32_t cap_set_ver;
	uint64_t addr;
	uint32_t size;
	uint32_t pad;
};

struct virtgpu_context_set_param {
	uint64_t param;
	uint64_t value;
};

struct virtgpu_context_init {
	uint32_t num_params;
	uint32_t pad;
	uint64_t ctx_set_params;
};

struct virtgpu_resource_create_blob {
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

struct virtgpu_map {
	uint64_t offset;
	uint32_t handle;
	uint32_t pad;
};

struct virtgpu_execbuffer {
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

struct virtgpu_resource_info {
	uint32_t bo_handle;
	uint32_t res_handle;
	uint32_t size;
	uint32_t blob_mem;
};

struct virtgpu_wait {
	uint32_t handle;
	uint32_t flags;
};

/* §1: ioctl numbers, _IOWR('d', 0x40 + nr, struct) on LP64 */
#define VIRTGPU_IOCTL_MAP			0xC0106441u
#define VIRTGPU_IOCTL_EXECBUFFER		0xC0406442u
#define VIRTGPU_IOCTL_GETPARAM			0xC0106443u
#define VIRTGPU_IOCTL_RESOURCE_INFO		0xC0106445u
#define VIRTGPU_IOCTL_WAIT			0xC0086448u
#define VIRTGPU_IOCTL_GET_CAPS			0xC0186449u
#define VIRTGPU_IOCTL_RESOURCE_CREATE_BLOB	0xC030644Au
#define VIRTGPU_IOCTL_CONTEXT_INIT		0xC010644Bu

static_assert(sizeof(struct virtgpu_getparam) == 16, "GETPARAM");
static_assert(sizeof(struct virtgpu_get_caps) == 24, "GET_CAPS");
static_assert(sizeof(struct virtgpu_context_init) == 16, "CONTEXT_INIT");
static_assert(sizeof(struct virtgpu_resource_create_blob) == 48, "CREATE_BLOB");
static_assert(offsetof(struct virtgpu_resource_create_blob, blob_id) == 40, "blob_id");
static_assert(sizeof(struct virtgpu_map) == 16, "MAP");
static_assert(sizeof(struct virtgpu_execbuffer) == 64, "EXECBUFFER");
static_assert(sizeof(struct virtgpu_resource_info) == 16, "RESOURCE_INFO");
static_assert(sizeof(struct virtgpu_wait) == 8, "WAIT");

/* §1: the capset payload */
struct cross_domain_caps {
	uint32_t version;
	uint32_t supported_channels;
	uint32_t supports_dmabuf;
	uint32_t supports_external_gpu_memory;
};
static_assert(sizeof(struct cross_domain_caps) == 16, "caps");

/* §2, §3.1 */
#define CROSS_DOMAIN_QUERY_RING		0
#define CROSS_DOMAIN_CHANNEL_RING	1
#define CROSS_DOMAIN_CHANNEL_WAYLAND	1

#define CROSS_DOMAIN_CMD_INIT			1
#define CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS	2
#define CROSS_DOMAIN_CMD_POLL			3
#define CROSS_DOMAIN_CMD_SEND			4
#define CROSS_DOMAIN_CMD_RECEIVE		5
#define CROSS_DOMAIN_CMD_READ			6
#define CROSS_DOMAIN_CMD_WRITE			7

/* §3.3 */
#define CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB	1
#define CROSS_DOMAIN_ID_TYPE_READ_PIPE		3
#define CROSS_DOMAIN_ID_TYPE_WRITE_PIPE		4
#define CROSS_DOMAIN_PIPE_READ_START		0x80000000u

/* §3.4 */
#define CROSS_DOMAIN_MAX_IDENTIFIERS	28
#define CROSS_DOMAIN_MAX_SEND_DATA	3744
#define CROSS_DOMAIN_MAX_WRITE_DATA	4072

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

struct cross_domain_init {
	struct cross_domain_header hdr;
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	uint32_t protocol_version;	/* only in the 24-byte (libkrun) form */
};

struct cross_domain_image_requirements_cmd {
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

/* SEND/RECEIVE with N identifiers: header, counts, then three arrays of N
 * and the data (§3.2: N=28 puts data at 352, N=4 at 64). */
#define CROSS_DOMAIN_SR_IDS_OFFSET		16
#define CROSS_DOMAIN_SR_SIZE(n)			(16 + 12 * (n))

struct cross_domain_sr_head {
	struct cross_domain_header hdr;
	uint32_t num_identifiers;
	uint32_t opaque_data_size;
};

struct cross_domain_read_write {
	struct cross_domain_header hdr;
	uint32_t identifier;
	uint32_t hang_up;
	uint32_t opaque_data_size;
	uint32_t pad;
};

static_assert(sizeof(struct cross_domain_header) == 8, "header");
static_assert(sizeof(struct cross_domain_poll) == 16, "POLL");
static_assert(sizeof(struct cross_domain_init) == 24, "INIT");
static_assert(sizeof(struct cross_domain_image_requirements_cmd) == 24, "GIR");
static_assert(sizeof(struct cross_domain_image_requirements) == 64, "reply");
static_assert(CROSS_DOMAIN_SR_SIZE(28) == 352, "SEND N=28");
static_assert(CROSS_DOMAIN_SR_SIZE(4) == 64, "SEND N=4");
static_assert(sizeof(struct cross_domain_read_write) == 24, "READ/WRITE");

#endif
