/*
 * librutabaga_gfx_ffi: a host library with the interface QEMU's virtio-gpu-rutabaga device
 * calls (include/rutabaga_gfx/rutabaga_gfx_ffi.h, README.md), serving the cross-domain
 * capset (5) with the project's host (../host-cross-domain*.c). This file: the instance,
 * its configuration, the capsets and the log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rutabaga-private.h"

/* The host registry (host-resource.c) is process-wide: one instance at a time. */
static struct rutabaga *rtb_instance;

struct rutabaga *
rtb_instance_get(void)
{
	return rtb_instance;
}

static const char *const rtb_capset_names[] = {
	[RUTABAGA_CAPSET_VIRGL] = "virgl",
	[RUTABAGA_CAPSET_VIRGL2] = "virgl2",
	[RUTABAGA_CAPSET_GFXSTREAM_VULKAN] = "gfxstream-vulkan",
	[RUTABAGA_CAPSET_VENUS] = "venus",
	[RUTABAGA_CAPSET_CROSS_DOMAIN] = "cross-domain",
	[RUTABAGA_CAPSET_DRM] = "drm",
	[RUTABAGA_CAPSET_GFXSTREAM_MAGMA] = "magma",
	[RUTABAGA_CAPSET_GFXSTREAM_GLES] = "gfxstream-gles",
	[RUTABAGA_CAPSET_GFXSTREAM_COMPOSER] = "gfxstream-composer",
};

void
rtb_log(struct rutabaga *rtb, uint32_t type, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (rtb && rtb->debug_cb) {
		char message[560];
		struct rutabaga_debug debug = { type, message };

		snprintf(message, sizeof message, "wayland-virtgpu: %s", line);
		rtb->debug_cb(rtb->user_data, &debug);
		return;
	}
	fprintf(stderr, "wayland-virtgpu: %s\n", line);
}

RTB_EXPORT int32_t
rutabaga_calculate_capset_mask(const char *capset_names, uint64_t *capset_mask)
{
	const char *p = capset_names;

	if (!capset_names || !capset_mask)
		return -EINVAL;
	*capset_mask = 0;
	while (*p) {
		size_t len = strcspn(p, ":");

		for (size_t id = 0; id < sizeof rtb_capset_names / sizeof rtb_capset_names[0]; id++)
			if (rtb_capset_names[id] && strlen(rtb_capset_names[id]) == len &&
			    strncmp(rtb_capset_names[id], p, len) == 0)
				*capset_mask |= 1ull << id;
		p += len;
		if (*p == ':')
			p++;
	}
	return 0;
}

/* The host's variant and faults, for tests: WAYLAND_VIRTGPU_HOST_PROFILE (tests/sim's
 * profiles, default rutabaga) and WAYLAND_VIRTGPU_HOST_FAULT (tests/sim/README.md "Faults"). */
static int
rtb_configure_host(struct rutabaga *rtb)
{
	const char *name = getenv("WAYLAND_VIRTGPU_HOST_PROFILE");
	const char *faults = getenv("WAYLAND_VIRTGPU_HOST_FAULT");

	rtb->cd.profile = host_profile_find(name && *name ? name : "rutabaga");
	if (!rtb->cd.profile) {
		rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: unknown WAYLAND_VIRTGPU_HOST_PROFILE %s",
			name);
		host_profile_list(stderr);
		return -EINVAL;
	}
	if (faults && *faults && host_fault_parse(faults) < 0)
		return -EINVAL;
	rtb->cd.connect_socket = cd_connect_socket;
	return 0;
}

static int
rtb_configure_channels(struct rutabaga *rtb, const struct rutabaga_channels *channels)
{
	for (size_t i = 0; channels && i < channels->num_channels; i++) {
		const struct rutabaga_channel *channel = &channels->channels[i];

		if (channel->channel_type != RUTABAGA_CHANNEL_TYPE_WAYLAND || !channel->channel_name) {
			rtb_log(rtb, RUTABAGA_DEBUG_ERROR, "host: channel type %u is not supported "
				"(only Wayland, 1)", channel->channel_type);
			return -EINVAL;
		}
		free(rtb->wayland_path);
		rtb->wayland_path = strdup(channel->channel_name);
		if (!rtb->wayland_path)
			return -ENOMEM;
	}
	rtb->cd.wayland_path = rtb->wayland_path;
	return 0;
}

static int
rtb_check_builder(const struct rutabaga_builder *builder)
{
	const uint64_t cross_domain = 1ull << RUTABAGA_CAPSET_CROSS_DOMAIN;

	if (!builder->fence_cb || builder->wsi != RUTABAGA_WSI_SURFACELESS)
		return -EINVAL;
	if (builder->capset_mask != cross_domain) {
		rtb_log(NULL, RUTABAGA_DEBUG_ERROR, "host: capset mask 0x%llx: this library serves "
			"only cross-domain (capset 5, mask 0x%llx; QEMU: cross-domain=on and no other)",
			(unsigned long long)builder->capset_mask, (unsigned long long)cross_domain);
		return -EINVAL;
	}
	if (rtb_instance) {
		rtb_log(NULL, RUTABAGA_DEBUG_ERROR, "host: one rutabaga instance per process");
		return -EBUSY;
	}
	return 0;
}

RTB_EXPORT int32_t
rutabaga_init(const struct rutabaga_builder *builder, struct rutabaga **ptr)
{
	struct rutabaga *rtb;
	int ret;

	if (!builder || !ptr)
		return -EINVAL;
	ret = rtb_check_builder(builder);
	if (ret < 0)
		return ret;
	rtb = calloc(1, sizeof *rtb);
	if (!rtb)
		return -ENOMEM;
	pthread_mutex_init(&rtb->lock, NULL);
	rtb->user_data = builder->user_data;
	rtb->fence_cb = builder->fence_cb;
	rtb->debug_cb = builder->debug_cb;
	rtb->wake_fd = -1;
	host_log_prefix = "wayland-virtgpu: host: ";
	rtb_trace_open();
	ret = rtb_configure_host(rtb);
	if (ret == 0)
		ret = rtb_configure_channels(rtb, builder->channels);
	if (ret == 0)
		ret = rtb_worker_start(rtb);
	if (ret < 0) {
		free(rtb->wayland_path);
		pthread_mutex_destroy(&rtb->lock);
		free(rtb);
		return ret;
	}
	rtb_instance = rtb;
	*ptr = rtb;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_finish(struct rutabaga **ptr)
{
	struct rutabaga *rtb;

	if (!ptr || !*ptr)
		return -EINVAL;
	rtb = *ptr;
	rtb_worker_stop(rtb);
	rtb_contexts_destroy(rtb);
	rtb_resources_destroy(rtb);
	free(rtb->wayland_path);
	pthread_mutex_destroy(&rtb->lock);
	free(rtb);
	rtb_instance = NULL;
	*ptr = NULL;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_get_num_capsets(struct rutabaga *rtb, uint32_t *num_capsets)
{
	if (!rtb || !num_capsets)
		return -EINVAL;
	*num_capsets = 1;
	return 0;
}

RTB_EXPORT int32_t
rutabaga_get_capset_info(struct rutabaga *rtb, uint32_t capset_index, uint32_t *capset_id,
			 uint32_t *capset_version, uint32_t *capset_size)
{
	if (!rtb || capset_index != 0 || !capset_id || !capset_version || !capset_size)
		return -EINVAL;
	/* Version 0, 16 bytes, as every cross-domain host (§1). */
	*capset_id = RUTABAGA_CAPSET_CROSS_DOMAIN;
	*capset_version = 0;
	*capset_size = sizeof(struct cross_domain_capabilities);
	return 0;
}

RTB_EXPORT int32_t
rutabaga_get_capset(struct rutabaga *rtb, uint32_t capset_id, uint32_t version, uint8_t *capset,
		    uint32_t capset_size)
{
	struct cross_domain_capabilities caps;

	if (!rtb || capset_id != RUTABAGA_CAPSET_CROSS_DOMAIN || version != 0 || !capset)
		return -EINVAL;
	cd_capabilities(&rtb->cd, &caps);
	memset(capset, 0, capset_size);
	memcpy(capset, &caps, capset_size < sizeof caps ? capset_size : sizeof caps);
	return 0;
}
