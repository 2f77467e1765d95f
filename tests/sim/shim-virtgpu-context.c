/*
 * What the fake virtio_gpu device offers (GETPARAM, GET_CAPS) and the file's one context:
 * CONTEXT_INIT with the parameter rules of Linux's virtgpu_ioctl.c, and the implicit default
 * context that EXECBUFFER and CREATE_BLOB make.
 */
#include <errno.h>
#include <pthread.h>

#include "shim-virtgpu.h"

#define VG_DEBUG_NAME_MAX	64

void
vg_context_setup(struct vg_context *ctx)
{
	pthread_mutex_init(&ctx->lock, NULL);
}

void
vg_context_cleanup(struct vg_context *ctx)
{
	pthread_mutex_destroy(&ctx->lock);
}

void
vg_context_atfork_child(struct vg_context *ctx)
{
	pthread_mutex_init(&ctx->lock, NULL);
}

int
vg_context_create(struct vg_file *vf)
{
	struct vg_context *ctx = &vf->ctx;
	struct sim_ipc_ctx_create req;
	int ret;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->created) {
		pthread_mutex_unlock(&ctx->lock);
		return 0;
	}
	ctx->created = true;
	req = (struct sim_ipc_ctx_create){ ctx->init, ctx->num_rings, ctx->ring_idx_mask };
	pthread_mutex_unlock(&ctx->lock);
	ret = vg_link_call(&vf->link, SIM_IPC_CTX_CREATE, &req, sizeof req, NULL, 0, NULL, 0, NULL,
			   0, NULL);
	return ret == -EEXIST ? 0 : ret;
}

bool
vg_context_ring_valid(struct vg_context *ctx, uint32_t ring_idx)
{
	bool valid;

	pthread_mutex_lock(&ctx->lock);
	valid = ring_idx < ctx->num_rings && ctx->base_fence_ctx;
	pthread_mutex_unlock(&ctx->lock);
	return valid;
}

bool
vg_context_ring_polled(struct vg_context *ctx, uint32_t ring_idx)
{
	bool polled;

	pthread_mutex_lock(&ctx->lock);
	polled = ring_idx < 64 && (ctx->ring_idx_mask & (1ull << ring_idx));
	pthread_mutex_unlock(&ctx->lock);
	return polled;
}

int
vg_context_getparam(struct vg_file *vf, struct drm_virtgpu_getparam *param)
{
	uint32_t f = vf->dev.features;
	int value;

	switch (param->param) {
	case VIRTGPU_PARAM_3D_FEATURES: value = !!(f & SIM_DEV_3D); break;
	case VIRTGPU_PARAM_CAPSET_QUERY_FIX: value = 1; break;
	case VIRTGPU_PARAM_RESOURCE_BLOB: value = !!(f & SIM_DEV_BLOB); break;
	case VIRTGPU_PARAM_HOST_VISIBLE: value = !!(f & SIM_DEV_HOST_VISIBLE); break;
	case VIRTGPU_PARAM_CROSS_DEVICE: value = !!(f & SIM_DEV_RESOURCE_UUID); break;
	case VIRTGPU_PARAM_CONTEXT_INIT: value = !!(f & SIM_DEV_CONTEXT_INIT); break;
	case VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs: value = (int)vf->dev.capset_mask; break;
	case VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME: value = !!(f & SIM_DEV_CONTEXT_INIT); break;
	default: return -EINVAL;
	}
	/* §1: only an int (4 bytes) is written at *value. */
	return shim_copy_to_user(param->value, &value, sizeof value);
}

int
vg_context_get_caps(struct vg_file *vf, struct drm_virtgpu_get_caps *args)
{
	uint32_t size;

	if (vf->dev.capset_mask == 0)
		return -ENOSYS;
	if (args->size == 0)
		return -EINVAL;
	if (args->cap_set_id > 63 || !(vf->dev.capset_mask & (1ull << args->cap_set_id)) ||
	    vf->dev.capset_max_version < args->cap_set_ver)
		return -EINVAL;
	size = args->size < vf->dev.capset_max_size ? args->size : vf->dev.capset_max_size;
	return shim_copy_to_user(args->addr, vf->dev.capset, size);
}

/* One CONTEXT_INIT parameter, under ctx->lock. As the kernel, values stick as they are
 * parsed, even when a later one fails. */
static int
vg_context_set_param(struct vg_file *vf, const struct drm_virtgpu_context_set_param *param)
{
	struct vg_context *ctx = &vf->ctx;
	uint64_t value = param->value;
	int ret = 0;
	char c;

	switch (param->param) {
	case VIRTGPU_CONTEXT_PARAM_CAPSET_ID:
		if (value > VIRTGPU_MAX_CAPSET_ID ||
		    !(vf->dev.capset_mask & (1ull << value)) || ctx->init & 0xff)
			return -EINVAL;
		ctx->init |= value;
		return 0;
	case VIRTGPU_CONTEXT_PARAM_NUM_RINGS:
		if (ctx->base_fence_ctx || value > VIRTGPU_MAX_RINGS)
			return -EINVAL;
		ctx->base_fence_ctx = true;
		ctx->num_rings = value;
		return 0;
	case VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK:
		if (ctx->ring_idx_mask)
			return -EINVAL;
		ctx->ring_idx_mask = value;
		return 0;
	case VIRTGPU_CONTEXT_PARAM_DEBUG_NAME:
		if (ctx->explicit_debug_name)
			return -EINVAL;
		for (int k = 0; k < VG_DEBUG_NAME_MAX - 1; k++) {
			ret = shim_copy_from_user(&c, value + k, 1);
			if (ret < 0 || c == '\0')
				break;
		}
		if (ret < 0)
			return ret;
		ctx->explicit_debug_name = true;
		return 0;
	default:
		return -EINVAL;
	}
}

int
vg_context_ioctl_init(struct vg_file *vf, struct drm_virtgpu_context_init *args)
{
	struct drm_virtgpu_context_set_param params[4];
	struct vg_context *ctx = &vf->ctx;
	struct sim_ipc_ctx_create req;
	int ret = 0;

	if (!(vf->dev.features & SIM_DEV_CONTEXT_INIT) || !(vf->dev.features & SIM_DEV_3D))
		return -EINVAL;
	if (args->num_params > 4)
		return -EINVAL;
	ret = shim_copy_from_user(params, args->ctx_set_params,
				  args->num_params * sizeof params[0]);
	if (ret < 0)
		return ret;

	pthread_mutex_lock(&ctx->lock);
	/* §2: EEXIST once the file has a context, made by any ioctl. */
	if (ctx->created) {
		ret = -EEXIST;
		goto out;
	}
	for (uint32_t i = 0; i < args->num_params; i++) {
		ret = vg_context_set_param(vf, &params[i]);
		if (ret < 0)
			goto out;
	}
	if (ctx->ring_idx_mask) {
		uint64_t valid = ctx->num_rings >= 64 ? ~0ull : (1ull << ctx->num_rings) - 1;
		if (ctx->ring_idx_mask & ~valid) {
			ret = -EINVAL;
			goto out;
		}
	}
	ctx->created = true;
	req = (struct sim_ipc_ctx_create){ ctx->init & 0xff, ctx->num_rings, ctx->ring_idx_mask };
	pthread_mutex_unlock(&ctx->lock);
	/* The kernel does not wait for the host's answer. */
	vg_link_call(&vf->link, SIM_IPC_CTX_CREATE, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0,
		     NULL);
	return 0;
out:
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}
