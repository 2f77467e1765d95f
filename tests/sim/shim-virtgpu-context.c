/*
 * The virtio_gpu driver of the fake guest kernel: the checks and errnos of Linux's
 * virtgpu_ioctl.c, GEM handles and PRIME, with the device work (contexts, resources,
 * fences) forwarded to the host device process over sim-ipc.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"
#include "sim-ipc.h"
#include "virtgpu-sim.h"
#include "virtgpu-uapi.h"

#define VG_MAX_SUBMIT		(SIM_IPC_MAX_PAYLOAD - 4096)
#define VG_MAX_BO_HANDLES	(1u << 20)
#define VG_MAX_GUEST_BLOB	(1ull << 32)
#define VG_MMAP_OFFSET_START	(0x100000ull << 12)	/* DRM_FILE_PAGE_OFFSET_START */
#define VG_DEBUG_NAME_MAX	64

/* A GEM object: device-wide in the kernel, process-wide here (the host has the rest). */
struct vg_object {
	struct sim_ipc_object info;
	int fd;			/* backing memory; -1 when the host could not map it */
	uint64_t map_offset;
	dev_t dev;
	ino_t ino;
	int handles;		/* (file, handle) pairs in this process */
	struct vg_object *next;
};

struct vg_handle {
	uint32_t handle;
	struct vg_object *obj;
};

struct vg_file {
	int primary;		/* the host sees the file closed when this closes */
	struct sim_ipc_device dev;
	pthread_mutex_t lock;
	bool context_created;
	uint32_t context_init;	/* capset id bits */
	bool base_fence_ctx;
	uint32_t num_rings;
	uint64_t ring_idx_mask;
	bool explicit_debug_name;
	struct vg_handle *handles;
	uint32_t num_handles, cap_handles;
	/* One idle connection to the host for this file: a call made while
	 * another is in flight (two threads) opens one more and closes it
	 * after, so the process's fd count stays as on a real kernel, where
	 * the device file is the only fd (tests compare counts). */
	int pool[1];
	int num_pool;
	pid_t pool_pid;
};

static pthread_mutex_t vg_objects_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vg_object *vg_objects;
static struct vg_object *vg_dead_objects;	/* kept: another thread may still hold one */
static uint64_t vg_next_offset = VG_MMAP_OFFSET_START;
static int vg_fence_fds[256];	/* out-fence fds this process was given, for FENCE_FD_IN */
static int vg_num_fence_fds;

/* --- the link to the host device ------------------------------------------------------------- */

static int
vg_connect(void)
{
	const char *path = getenv("VIRTGPU_SIM_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof addr.sun_path)
		return -ENODEV;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		shim_real.close(fd);
		return -ENODEV;
	}
	return fd;
}

/* One request, one reply. Threads may call at once: each takes its own connection. */
static int
vg_call_conn(int conn, uint32_t op, const void *a, size_t a_size, const void *b, size_t b_size,
	     const int *fds, unsigned num_fds, void *reply, size_t reply_size, int *reply_fd)
{
	struct sim_ipc_hdr hdr;
	int rfds[SIM_IPC_MAX_FDS];
	void *payload;
	int ret;

	if (reply_fd)
		*reply_fd = -1;
	ret = sim_ipc_send(conn, op, 0, a, a_size, b, b_size, fds, num_fds);
	if (ret < 0)
		return -ENODEV;
	ret = sim_ipc_recv(conn, &hdr, &payload, rfds);
	if (ret < 0)
		return -ENODEV;
	if (reply && payload)
		memcpy(reply, payload, hdr.size < reply_size ? hdr.size : reply_size);
	free(payload);
	for (uint32_t i = 0; i < hdr.num_fds; i++) {
		if (i == 0 && reply_fd)
			*reply_fd = rfds[0];
		else
			shim_real.close(rfds[i]);
	}
	return hdr.status;
}

static int
vg_call(struct vg_file *vf, uint32_t op, const void *a, size_t a_size, const void *b,
	size_t b_size, const int *fds, unsigned num_fds, void *reply, size_t reply_size,
	int *reply_fd)
{
	struct sim_ipc_join join = { vf->dev.file_id };
	int conn = -1, ret;

	pthread_mutex_lock(&vf->lock);
	if (vf->pool_pid != getpid()) {
		/* After fork the pooled connections are the parent's. */
		for (int i = 0; i < vf->num_pool; i++)
			shim_real.close(vf->pool[i]);
		vf->num_pool = 0;
		vf->pool_pid = getpid();
	}
	if (vf->num_pool > 0)
		conn = vf->pool[--vf->num_pool];
	pthread_mutex_unlock(&vf->lock);

	if (conn < 0) {
		conn = vg_connect();
		if (conn < 0)
			return conn;
		ret = vg_call_conn(conn, SIM_IPC_JOIN, &join, sizeof join, NULL, 0, NULL, 0, NULL, 0,
				   NULL);
		if (ret < 0) {
			shim_real.close(conn);
			return ret;
		}
	}
	ret = vg_call_conn(conn, op, a, a_size, b, b_size, fds, num_fds, reply, reply_size,
			   reply_fd);
	if (ret == -ENODEV) {
		shim_real.close(conn);
		return ret;
	}
	pthread_mutex_lock(&vf->lock);
	if (vf->num_pool < (int)(sizeof vf->pool / sizeof vf->pool[0]) &&
	    vf->pool_pid == getpid())
		vf->pool[vf->num_pool++] = conn;
	else
		shim_real.close(conn);
	pthread_mutex_unlock(&vf->lock);
	return ret;
}

/* --- objects and handles --------------------------------------------------------------------- */

static struct vg_object *
vg_object_add(const struct sim_ipc_object *info, int fd)
{
	struct vg_object *obj = calloc(1, sizeof *obj);
	struct stat st;

	if (!obj)
		return NULL;
	obj->info = *info;
	obj->fd = fd;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		obj->dev = st.st_dev;
		obj->ino = st.st_ino;
	}
	pthread_mutex_lock(&vg_objects_lock);
	obj->map_offset = vg_next_offset;
	vg_next_offset += (info->size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
	obj->next = vg_objects;
	vg_objects = obj;
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

static struct vg_object *
vg_object_find_res(uint32_t res_id)
{
	struct vg_object *obj;

	pthread_mutex_lock(&vg_objects_lock);
	for (obj = vg_objects; obj; obj = obj->next)
		if (obj->info.res_id == res_id)
			break;
	pthread_mutex_unlock(&vg_objects_lock);
	return obj;
}

/* The last handle in this process is gone. Object structs are never freed (another thread
 * may still hold one); only their memory fd is closed. */
static void
vg_object_unref(struct vg_object *obj)
{
	bool last;

	pthread_mutex_lock(&vg_objects_lock);
	last = --obj->handles == 0;
	if (last) {
		for (struct vg_object **link = &vg_objects; *link; link = &(*link)->next) {
			if (*link == obj) {
				*link = obj->next;
				break;
			}
		}
		obj->next = vg_dead_objects;
		vg_dead_objects = obj;
	}
	pthread_mutex_unlock(&vg_objects_lock);
	if (last && obj->fd >= 0) {
		shim_real.close(obj->fd);
		obj->fd = -1;
	}
}

static struct vg_object *
vg_handle_lookup(struct vg_file *vf, uint32_t handle)
{
	struct vg_object *obj = NULL;

	pthread_mutex_lock(&vf->lock);
	for (uint32_t i = 0; i < vf->num_handles; i++)
		if (vf->handles[i].handle == handle)
			obj = vf->handles[i].obj;
	pthread_mutex_unlock(&vf->lock);
	return obj;
}

/* drm_gem_handle_create: the lowest free handle >= 1, one per object per file. */
static int
vg_handle_create(struct vg_file *vf, struct vg_object *obj, uint32_t *handle_out, bool *existed)
{
	uint32_t handle = 1;

	pthread_mutex_lock(&vf->lock);
	for (uint32_t i = 0; i < vf->num_handles; i++) {
		if (vf->handles[i].obj == obj) {
			*handle_out = vf->handles[i].handle;
			*existed = true;
			pthread_mutex_unlock(&vf->lock);
			return 0;
		}
	}
	*existed = false;
	for (bool taken = true; taken; ) {
		taken = false;
		for (uint32_t i = 0; i < vf->num_handles; i++)
			if (vf->handles[i].handle == handle) {
				taken = true;
				handle++;
			}
	}
	if (vf->num_handles == vf->cap_handles) {
		uint32_t cap = vf->cap_handles ? vf->cap_handles * 2 : 16;
		struct vg_handle *grown = realloc(vf->handles, cap * sizeof *grown);
		if (!grown) {
			pthread_mutex_unlock(&vf->lock);
			return -ENOMEM;
		}
		vf->handles = grown;
		vf->cap_handles = cap;
	}
	vf->handles[vf->num_handles++] = (struct vg_handle){ handle, obj };
	pthread_mutex_unlock(&vf->lock);
	pthread_mutex_lock(&vg_objects_lock);
	obj->handles++;
	pthread_mutex_unlock(&vg_objects_lock);
	*handle_out = handle;
	return 0;
}

/* --- open and release ------------------------------------------------------------------------ */

static int
vg_open(struct shim_file *file, int flags)
{
	struct vg_file *vf = calloc(1, sizeof *vf);
	int sv[2], ret;

	if (!vf)
		return -ENOMEM;
	pthread_mutex_init(&vf->lock, NULL);
	vf->pool_pid = getpid();
	/* The DRM fd is a socket whose peer (in the host) writes the drm_events: poll,
	 * epoll and select work on it as on the real node. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(vf);
		return -errno;
	}
	vf->primary = vg_connect();
	if (vf->primary < 0) {
		ret = vf->primary;
		goto fail;
	}
	ret = vg_call_conn(vf->primary, SIM_IPC_HELLO, NULL, 0, NULL, 0, &sv[1], 1, &vf->dev,
			   sizeof vf->dev, NULL);
	if (ret < 0) {
		shim_real.close(vf->primary);
		goto fail;
	}
	shim_real.close(sv[1]);
	file->priv = vf;
	return sv[0];

fail:
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	free(vf);
	return ret == -ENODEV ? -ENODEV : ret;
}

static void
vg_release(struct shim_file *file)
{
	struct vg_file *vf = file->priv;

	for (uint32_t i = 0; i < vf->num_handles; i++)
		vg_object_unref(vf->handles[i].obj);
	free(vf->handles);
	if (vf->pool_pid == getpid())
		for (int i = 0; i < vf->num_pool; i++)
			shim_real.close(vf->pool[i]);
	/* The host drops the file, its context and its handles. */
	shim_real.close(vf->primary);
	pthread_mutex_destroy(&vf->lock);
	free(vf);
}

/* virtio_gpu_create_context: the implicit default context of EXECBUFFER and CREATE_BLOB. */
static int
vg_create_context(struct vg_file *vf)
{
	struct sim_ipc_ctx_create req;
	int ret;

	pthread_mutex_lock(&vf->lock);
	if (vf->context_created) {
		pthread_mutex_unlock(&vf->lock);
		return 0;
	}
	vf->context_created = true;
	req = (struct sim_ipc_ctx_create){ vf->context_init, vf->num_rings, vf->ring_idx_mask };
	pthread_mutex_unlock(&vf->lock);
	ret = vg_call(vf, SIM_IPC_CTX_CREATE, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	return ret == -EEXIST ? 0 : ret;
}

/* --- the ioctls (LX virtgpu_ioctl.c) ------------------------------------------------------------ */

static int
vg_getparam(struct vg_file *vf, struct drm_virtgpu_getparam *param)
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

static int
vg_get_caps(struct vg_file *vf, struct drm_virtgpu_get_caps *args)
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

static int
vg_context_init(struct vg_file *vf, struct drm_virtgpu_context_init *args)
{
	struct drm_virtgpu_context_set_param params[4];
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

	pthread_mutex_lock(&vf->lock);
	/* §2: EEXIST once the file has a context, made by any ioctl. */
	if (vf->context_created) {
		ret = -EEXIST;
		goto out;
	}
	/* As the kernel, values stick as they are parsed, even when a later one fails. */
	for (uint32_t i = 0; i < args->num_params; i++) {
		uint64_t value = params[i].value;

		switch (params[i].param) {
		case VIRTGPU_CONTEXT_PARAM_CAPSET_ID:
			if (value > VIRTGPU_MAX_CAPSET_ID ||
			    !(vf->dev.capset_mask & (1ull << value)) || vf->context_init & 0xff) {
				ret = -EINVAL;
				goto out;
			}
			vf->context_init |= value;
			break;
		case VIRTGPU_CONTEXT_PARAM_NUM_RINGS:
			if (vf->base_fence_ctx || value > VIRTGPU_MAX_RINGS) {
				ret = -EINVAL;
				goto out;
			}
			vf->base_fence_ctx = true;
			vf->num_rings = value;
			break;
		case VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK:
			if (vf->ring_idx_mask) {
				ret = -EINVAL;
				goto out;
			}
			vf->ring_idx_mask = value;
			break;
		case VIRTGPU_CONTEXT_PARAM_DEBUG_NAME: {
			char c;
			if (vf->explicit_debug_name) {
				ret = -EINVAL;
				goto out;
			}
			for (int k = 0; k < VG_DEBUG_NAME_MAX - 1; k++) {
				ret = shim_copy_from_user(&c, value + k, 1);
				if (ret < 0 || c == '\0')
					break;
			}
			if (ret < 0)
				goto out;
			vf->explicit_debug_name = true;
			break;
		}
		default:
			ret = -EINVAL;
			goto out;
		}
	}
	if (vf->ring_idx_mask) {
		uint64_t valid = vf->num_rings >= 64 ? ~0ull : (1ull << vf->num_rings) - 1;
		if (vf->ring_idx_mask & ~valid) {
			ret = -EINVAL;
			goto out;
		}
	}
	vf->context_created = true;
	req = (struct sim_ipc_ctx_create){ vf->context_init & 0xff, vf->num_rings,
					   vf->ring_idx_mask };
	pthread_mutex_unlock(&vf->lock);
	/* The kernel does not wait for the host's answer. */
	vg_call(vf, SIM_IPC_CTX_CREATE, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	return 0;
out:
	pthread_mutex_unlock(&vf->lock);
	return ret;
}

static bool
vg_is_fence_fd(int fd)
{
	struct stat st, known;
	bool found = false;

	if (fstat(fd, &st) < 0)
		return false;
	pthread_mutex_lock(&vg_objects_lock);
	for (int i = 0; i < vg_num_fence_fds && !found; i++)
		found = fstat(vg_fence_fds[i], &known) == 0 && known.st_ino == st.st_ino &&
			known.st_dev == st.st_dev;
	pthread_mutex_unlock(&vg_objects_lock);
	return found;
}

static int
vg_execbuffer(struct vg_file *vf, struct drm_virtgpu_execbuffer *exbuf)
{
	struct sim_ipc_submit req = { 0 };
	struct sim_ipc_submit_reply reply;
	uint32_t ring_idx = 0, *res_ids = NULL;
	uint8_t *payload = NULL;
	int ret, fence_fd = -1;

	if (!(vf->dev.features & SIM_DEV_3D))
		return -ENOSYS;
	if (exbuf->flags & ~VIRTGPU_EXECBUF_FLAGS)
		return -EINVAL;
	if (exbuf->flags & VIRTGPU_EXECBUF_RING_IDX) {
		if (exbuf->ring_idx >= vf->num_rings || !vf->base_fence_ctx)
			return -EINVAL;
		ring_idx = exbuf->ring_idx;
	}
	ret = vg_create_context(vf);
	if (ret < 0)
		return ret;
	if (exbuf->flags & VIRTGPU_EXECBUF_FENCE_FD_IN) {
		/* sync_file_get_fence: only fences of this device are fences here. The real
		 * kernel queues the wait; the simulation waits in the ioctl. */
		if (!vg_is_fence_fd(exbuf->fence_fd))
			return -EINVAL;
		struct pollfd pfd = { exbuf->fence_fd, POLLIN, 0 };
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	}
	if (exbuf->num_in_syncobjs || exbuf->num_out_syncobjs)
		return -EINVAL;		/* no syncobj handle exists here */
	if (exbuf->num_bo_handles > VG_MAX_BO_HANDLES ||
	    exbuf->size > VG_MAX_SUBMIT - 4ull * exbuf->num_bo_handles)
		return -ENOMEM;

	payload = malloc(4ull * exbuf->num_bo_handles + exbuf->size + 1);
	if (!payload)
		return -ENOMEM;
	res_ids = (uint32_t *)payload;
	ret = shim_copy_from_user(res_ids, exbuf->bo_handles, 4ull * exbuf->num_bo_handles);
	if (ret < 0)
		goto out;
	for (uint32_t i = 0; i < exbuf->num_bo_handles; i++) {
		struct vg_object *obj = vg_handle_lookup(vf, res_ids[i]);
		if (!obj) {
			ret = -ENOENT;
			goto out;
		}
		res_ids[i] = obj->info.res_id;
	}
	ret = shim_copy_from_user(payload + 4ull * exbuf->num_bo_handles, exbuf->command,
				  exbuf->size);
	if (ret < 0)
		goto out;

	req.flags = exbuf->flags;
	req.ring_idx = ring_idx;
	/* §2: fences of rings in POLL_RINGS_MASK queue a drm_event. */
	req.event = ring_idx < 64 && (vf->ring_idx_mask & (1ull << ring_idx));
	req.num_res = exbuf->num_bo_handles;
	req.size = exbuf->size;
	ret = vg_call(vf, SIM_IPC_SUBMIT, &req, sizeof req, payload,
		      4ull * exbuf->num_bo_handles + exbuf->size, NULL, 0, &reply, sizeof reply,
		      &fence_fd);
	if (ret < 0)
		goto out;
	if (exbuf->flags & VIRTGPU_EXECBUF_FENCE_FD_OUT) {
		exbuf->fence_fd = fence_fd;
		pthread_mutex_lock(&vg_objects_lock);
		if (vg_num_fence_fds == (int)(sizeof vg_fence_fds / sizeof vg_fence_fds[0]))
			vg_num_fence_fds = 0;
		vg_fence_fds[vg_num_fence_fds++] = fence_fd;
		pthread_mutex_unlock(&vg_objects_lock);
	} else if (fence_fd >= 0) {
		shim_real.close(fence_fd);
	}
out:
	free(payload);
	return ret;
}

/* LX verify_blob + virtio_gpu_resource_create_blob_ioctl. */
static int
vg_create_blob(struct vg_file *vf, struct drm_virtgpu_resource_create_blob *rc)
{
	struct sim_ipc_blob_create req;
	struct sim_ipc_object obj_info;
	struct vg_object *obj;
	bool guest_blob = false, host3d_blob = false, existed;
	uint8_t *cmd = NULL;
	uint64_t size;
	int ret, fd = -1, reply_fd = -1;

	if (!(vf->dev.features & SIM_DEV_BLOB))
		return -EINVAL;
	if (rc->blob_flags & ~VIRTGPU_BLOB_FLAG_USE_MASK)
		return -EINVAL;
	/* §1: CROSS_DEVICE needs RESOURCE_UUID, which QEMU does not offer. */
	if ((rc->blob_flags & VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE) &&
	    !(vf->dev.features & SIM_DEV_RESOURCE_UUID))
		return -EINVAL;
	switch (rc->blob_mem) {
	case VIRTGPU_BLOB_MEM_GUEST:
		guest_blob = true;
		break;
	case VIRTGPU_BLOB_MEM_HOST3D_GUEST:
		guest_blob = true;
		/* fall through */
	case VIRTGPU_BLOB_MEM_HOST3D:
		host3d_blob = true;
		break;
	default:
		return -EINVAL;
	}
	if (host3d_blob && (!(vf->dev.features & SIM_DEV_3D) || rc->cmd_size % 4 != 0))
		return -EINVAL;
	if (rc->size == 0)
		return -EINVAL;
	size = (rc->size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
	if (size < rc->size || (guest_blob && size > VG_MAX_GUEST_BLOB))
		return -ENOMEM;

	ret = vg_create_context(vf);
	if (ret < 0)
		return ret;
	if (rc->cmd_size) {
		cmd = malloc(rc->cmd_size);
		if (!cmd)
			return -ENOMEM;
		ret = shim_copy_from_user(cmd, rc->cmd, rc->cmd_size);
		if (ret < 0)
			goto out;
	}
	if (guest_blob && host3d_blob) {
		ret = -EINVAL;	/* no host here takes guest-backed host3d blobs */
		goto out;
	}
	if (guest_blob) {
		/* Guest pages, shared with the host as a memfd. */
		fd = memfd_create("virtgpu-sim-guest-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, size) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	req = (struct sim_ipc_blob_create){
		.blob_mem = rc->blob_mem, .blob_flags = rc->blob_flags, .size = size,
		.blob_id = rc->blob_id, .cmd_size = rc->cmd_size,
	};
	ret = vg_call(vf, SIM_IPC_BLOB_CREATE, &req, sizeof req, cmd, rc->cmd_size, &fd,
		      guest_blob ? 1 : 0, &obj_info, sizeof obj_info, &reply_fd);
	if (ret < 0)
		goto out;
	obj = vg_object_add(&obj_info, guest_blob ? fd : reply_fd);
	if (!obj) {
		ret = -ENOMEM;
		goto out;
	}
	if (guest_blob)
		fd = -1;
	reply_fd = -1;
	ret = vg_handle_create(vf, obj, &rc->bo_handle, &existed);
	if (ret < 0)
		goto out;
	rc->res_handle = obj->info.res_id;
out:
	if (fd >= 0)
		shim_real.close(fd);
	if (reply_fd >= 0)
		shim_real.close(reply_fd);
	free(cmd);
	return ret;
}

static int
vg_gem_close(struct vg_file *vf, struct drm_gem_close *args)
{
	struct vg_object *obj = NULL;
	struct sim_ipc_res req;

	pthread_mutex_lock(&vf->lock);
	for (uint32_t i = 0; i < vf->num_handles; i++) {
		if (vf->handles[i].handle == args->handle) {
			obj = vf->handles[i].obj;
			vf->handles[i] = vf->handles[--vf->num_handles];
			break;
		}
	}
	pthread_mutex_unlock(&vf->lock);
	if (!obj)
		return -EINVAL;
	/* CTX_DETACH_RESOURCE: the host forgets it for this context. */
	req = (struct sim_ipc_res){ obj->info.res_id, 0 };
	vg_call(vf, SIM_IPC_HANDLE_CLOSE, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	vg_object_unref(obj);
	return 0;
}

static int
vg_prime_handle_to_fd(struct vg_file *vf, struct drm_prime_handle *args)
{
	struct vg_object *obj;
	struct sim_ipc_res req;
	char path[64];
	int fd;

	if (args->flags & ~(DRM_CLOEXEC | DRM_RDWR))
		return -EINVAL;
	obj = vg_handle_lookup(vf, args->handle);
	if (!obj)
		return -ENOENT;
	if (obj->fd < 0)
		return -EINVAL;
	/* The dma-buf stand-in: the backing memfd opened anew, so it is mmap-able and its
	 * inode names the resource. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", obj->fd);
	fd = shim_real.open(path, ((args->flags & DRM_RDWR) ? O_RDWR : O_RDONLY) |
			    ((args->flags & DRM_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0 && (args->flags & DRM_RDWR))
		fd = shim_real.open(path, O_RDONLY | ((args->flags & DRM_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0)
		return -errno;
	req = (struct sim_ipc_res){ obj->info.res_id, 0 };
	vg_call(vf, SIM_IPC_EXPORT, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	shim_note_dmabuf(obj->dev, obj->ino);
	args->fd = fd;
	return 0;
}

static int
vg_prime_fd_to_handle(struct vg_file *vf, struct drm_prime_handle *args)
{
	struct sim_ipc_import req;
	struct sim_ipc_object info;
	struct vg_object *obj = NULL;
	struct sim_ipc_res open_req;
	struct stat st;
	bool existed;
	int ret, reply_fd = -1;

	if (fstat(args->fd, &st) < 0)
		return -EBADF;
	pthread_mutex_lock(&vg_objects_lock);
	for (struct vg_object *o = vg_objects; o; o = o->next)
		if (o->fd >= 0 && o->dev == st.st_dev && o->ino == st.st_ino)
			obj = o;
	pthread_mutex_unlock(&vg_objects_lock);

	if (!obj) {
		/* Not known in this process: the device may know it (another process). */
		req = (struct sim_ipc_import){ st.st_dev, st.st_ino };
		ret = vg_call(vf, SIM_IPC_IMPORT, &req, sizeof req, NULL, 0, NULL, 0, &info,
			      sizeof info, &reply_fd);
		if (ret < 0)
			return ret;	/* EINVAL: not a dma-buf of this device */
		obj = vg_object_find_res(info.res_id);
		if (obj) {
			shim_real.close(reply_fd);
		} else {
			obj = vg_object_add(&info, reply_fd);
			if (!obj) {
				shim_real.close(reply_fd);
				return -ENOMEM;
			}
		}
	}
	ret = vg_handle_create(vf, obj, &args->handle, &existed);
	if (ret < 0)
		return ret;
	if (!existed) {
		/* GEM open: attaches to the file's context if it has one (§2, v6.14+). */
		open_req = (struct sim_ipc_res){ obj->info.res_id, 0 };
		vg_call(vf, SIM_IPC_HANDLE_OPEN, &open_req, sizeof open_req, NULL, 0, NULL, 0, NULL,
			0, NULL);
	}
	shim_note_dmabuf(obj->dev, obj->ino);
	return 0;
}

static int
vg_ioctl(struct shim_file *file, unsigned nr, void *kdata)
{
	struct vg_file *vf = file->priv;

	switch (nr) {
	case 0x09:
		return vg_gem_close(vf, kdata);
	case 0x2d:
		return vg_prime_handle_to_fd(vf, kdata);
	case 0x2e:
		return vg_prime_fd_to_handle(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_MAP: {
		struct drm_virtgpu_map *map = kdata;
		struct vg_object *obj = vg_handle_lookup(vf, map->handle);
		if (!obj)
			return -ENOENT;
		map->offset = obj->map_offset;
		return 0;
	}
	case DRM_COMMAND_BASE + DRM_VIRTGPU_EXECBUFFER:
		return vg_execbuffer(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_GETPARAM:
		return vg_getparam(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_INFO: {
		struct drm_virtgpu_resource_info *ri = kdata;
		struct vg_object *obj = vg_handle_lookup(vf, ri->bo_handle);
		if (!obj)
			return -ENOENT;
		ri->size = (uint32_t)obj->info.size;
		ri->res_handle = obj->info.res_id;
		if (obj->info.blob_mem)
			ri->blob_mem = obj->info.blob_mem;
		return 0;
	}
	case DRM_COMMAND_BASE + DRM_VIRTGPU_WAIT: {
		struct drm_virtgpu_3d_wait *wait = kdata;
		struct sim_ipc_wait req;
		struct vg_object *obj;

		if (wait->flags & ~VIRTGPU_WAIT_NOWAIT)
			return -EINVAL;
		obj = vg_handle_lookup(vf, wait->handle);
		if (!obj)
			return -ENOENT;
		req = (struct sim_ipc_wait){ obj->info.res_id, wait->flags & VIRTGPU_WAIT_NOWAIT,
					     0, 0 };
		return vg_call(vf, SIM_IPC_WAIT, &req, sizeof req, NULL, 0, NULL, 0, NULL, 0, NULL);
	}
	case DRM_COMMAND_BASE + DRM_VIRTGPU_GET_CAPS:
		return vg_get_caps(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_CREATE_BLOB:
		return vg_create_blob(vf, kdata);
	case DRM_COMMAND_BASE + DRM_VIRTGPU_CONTEXT_INIT:
		return vg_context_init(vf, kdata);
	default:
		shim_log_once("ioctl", "virtio-gpu ioctl 0x%02x is not simulated", nr);
		return -EINVAL;
	}
}

static size_t
vg_ioctl_size(unsigned idx)
{
	switch (idx) {
	case DRM_VIRTGPU_MAP: return sizeof(struct drm_virtgpu_map);
	case DRM_VIRTGPU_EXECBUFFER: return sizeof(struct drm_virtgpu_execbuffer);
	case DRM_VIRTGPU_GETPARAM: return sizeof(struct drm_virtgpu_getparam);
	case DRM_VIRTGPU_RESOURCE_CREATE: return 56;
	case DRM_VIRTGPU_RESOURCE_INFO: return sizeof(struct drm_virtgpu_resource_info);
	case DRM_VIRTGPU_TRANSFER_FROM_HOST: return 44;
	case DRM_VIRTGPU_TRANSFER_TO_HOST: return 44;
	case DRM_VIRTGPU_WAIT: return sizeof(struct drm_virtgpu_3d_wait);
	case DRM_VIRTGPU_GET_CAPS: return sizeof(struct drm_virtgpu_get_caps);
	case DRM_VIRTGPU_RESOURCE_CREATE_BLOB:
		return sizeof(struct drm_virtgpu_resource_create_blob);
	case DRM_VIRTGPU_CONTEXT_INIT: return sizeof(struct drm_virtgpu_context_init);
	default: return 0;
	}
}

/* drm_gem_mmap: the fake offset names an object this file has a handle to. */
static void *
vg_mmap(struct shim_file *file, void *addr, size_t len, int prot, int flags, off_t offset,
	int *err)
{
	struct vg_file *vf = file->priv;
	struct vg_object *obj = NULL;
	uint64_t off = (uint64_t)offset;
	bool allowed = false;
	void *map;

	if (len == 0 || (off & (SHIM_PAGE_SIZE - 1))) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&vg_objects_lock);
	for (struct vg_object *o = vg_objects; o; o = o->next) {
		uint64_t size = (o->info.size + SHIM_PAGE_SIZE - 1) & ~(SHIM_PAGE_SIZE - 1);
		if (off >= o->map_offset && off - o->map_offset < size &&
		    len <= size - (off - o->map_offset))
			obj = o;
	}
	pthread_mutex_unlock(&vg_objects_lock);
	if (!obj) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&vf->lock);
	for (uint32_t i = 0; i < vf->num_handles; i++)
		if (vf->handles[i].obj == obj)
			allowed = true;
	pthread_mutex_unlock(&vf->lock);
	if (!allowed) {
		*err = EACCES;
		return MAP_FAILED;
	}
	/* Private writable mappings of GEM objects are refused (is_cow_mapping). */
	if ((flags & MAP_TYPE) != MAP_SHARED && (file->open_flags & O_ACCMODE) != O_RDONLY) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if (obj->info.blob_mem == VIRTGPU_BLOB_MEM_HOST3D) {
		/* virtio_gpu_vram_mmap: mappable, mapped by the host, and whole. */
		if (!(obj->info.blob_flags & VIRTGPU_BLOB_FLAG_USE_MAPPABLE) || obj->fd < 0 ||
		    off != obj->map_offset || len != ((obj->info.size + SHIM_PAGE_SIZE - 1) &
						      ~(SHIM_PAGE_SIZE - 1))) {
			*err = EINVAL;
			return MAP_FAILED;
		}
	}
	if (obj->fd < 0) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	map = shim_real.mmap(addr, len, prot, flags, obj->fd, off - obj->map_offset);
	if (map == MAP_FAILED)
		*err = errno;
	return map;
}

static void
vg_atfork_child(struct shim_file *file)
{
	struct vg_file *vf = file->priv;

	pthread_mutex_init(&vg_objects_lock, NULL);
	if (vf)
		pthread_mutex_init(&vf->lock, NULL);
}

static int
vg_internal_fds(struct shim_file *file, int *fds, int max)
{
	struct vg_file *vf = file->priv;
	int n = 0;

	if (!vf)
		return 0;
	if (n < max && vf->primary >= 0)
		fds[n++] = vf->primary;
	for (int i = 0; i < vf->num_pool && n < max; i++)
		fds[n++] = vf->pool[i];
	return n;
}

const struct shim_driver virtgpu_driver = {
	.name = "virtio_gpu",
	.desc = "virtio GPU",
	.version = { 0, 1, 0 },
	.prime = true,
	.open = vg_open,
	.ioctl_size = vg_ioctl_size,
	.ioctl = vg_ioctl,
	.mmap = vg_mmap,
	.release = vg_release,
	.atfork_child = vg_atfork_child,
	.internal_fds = vg_internal_fds,
};

/* --- the test API (virtgpu-sim.h) -------------------------------------------------------------- */

SHIM_EXPORT int
virtgpu_sim_gpu_buffer_create(uint32_t width, uint32_t height, uint32_t fourcc, uint32_t flags,
			      uint32_t *stride, uint64_t *size);
SHIM_EXPORT int
virtgpu_sim_context_state(int drm_fd, char *reason, size_t size);

SHIM_EXPORT int
virtgpu_sim_gpu_buffer_create(uint32_t width, uint32_t height, uint32_t fourcc, uint32_t flags,
			      uint32_t *stride, uint64_t *size)
{
	struct sim_ipc_gpu_buffer req = { width, height, fourcc, flags };
	struct sim_ipc_object info;
	struct stat st;
	int conn, ret, fd = -1, sv[2];
	struct sim_ipc_device dev;

	shim_init();
	/* As a GPU driver would: its own DRM file, a resource, an export, the file closed. */
	conn = vg_connect();
	if (conn < 0)
		return conn;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		shim_real.close(conn);
		return ret;
	}
	ret = vg_call_conn(conn, SIM_IPC_HELLO, NULL, 0, NULL, 0, &sv[1], 1, &dev, sizeof dev,
			   NULL);
	if (ret == 0)
		ret = vg_call_conn(conn, SIM_IPC_GPU_BUFFER, &req, sizeof req, NULL, 0, NULL, 0,
				   &info, sizeof info, &fd);
	shim_real.close(conn);
	shim_real.close(sv[0]);
	shim_real.close(sv[1]);
	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EPROTO;
	if (fstat(fd, &st) == 0)
		shim_note_dmabuf(st.st_dev, st.st_ino);
	if (stride)
		*stride = info.stride;
	if (size)
		*size = info.size;
	return fd;
}

SHIM_EXPORT int
virtgpu_sim_context_state(int drm_fd, char *reason, size_t size)
{
	struct sim_ipc_ctx_state state;
	struct shim_file *file;
	int ret;

	shim_init();
	/* Only fds of the simulated virtio_gpu node have a context to ask about. */
	file = shim_file_of_fd(drm_fd);
	if (!file || file->driver != &virtgpu_driver)
		return -EBADF;
	ret = vg_call(file->priv, SIM_IPC_CTX_STATE, NULL, 0, NULL, 0, NULL, 0, &state,
		      sizeof state, NULL);
	if (ret < 0)
		return ret;
	if (!state.exists)
		return -ENOENT;
	if (reason && size)
		snprintf(reason, size, "%s", state.lost ? state.reason : "");
	return state.lost ? 0 : 1;
}
