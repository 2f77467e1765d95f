/*
 * The DRM core of the fake kernel, what drm_ioctl and drm_read do before a driver sees
 * anything: ioctl argument sizes and copies, the core ioctls a render node takes (VERSION,
 * GET_CAP), whole drm_events from read(), and no write().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"
#include "virtgpu-uapi.h"

/* --- ioctl ------------------------------------------------------------------------------------ */

static int
shim_drm_copy_string(char *ubuf, size_t *len, const char *value)
{
	size_t n = strlen(value);
	size_t copy = n < *len ? n : *len;

	*len = n;
	if (copy && ubuf)
		return shim_copy_to_user((uintptr_t)ubuf, value, copy);
	return 0;
}

static int
shim_drm_version(const struct shim_driver *drv, struct drm_version *v)
{
	int ret;

	v->version_major = drv->version[0];
	v->version_minor = drv->version[1];
	v->version_patchlevel = drv->version[2];
	ret = shim_drm_copy_string(v->name, &v->name_len, drv->name);
	if (!ret)
		ret = shim_drm_copy_string(v->date, &v->date_len, "0");
	if (!ret)
		ret = shim_drm_copy_string(v->desc, &v->desc_len, drv->desc);
	return ret;
}

static int
shim_drm_get_cap(const struct shim_driver *drv, struct drm_get_cap *cap)
{
	switch (cap->capability) {
	case DRM_CAP_DUMB_BUFFER:
	case DRM_CAP_TIMESTAMP_MONOTONIC:
		cap->value = 1;
		return 0;
	case DRM_CAP_PRIME:
		cap->value = drv->prime ? DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT : 0;
		return 0;
	case DRM_CAP_SYNCOBJ:
		cap->value = 0;	/* syncobjs are not simulated */
		return 0;
	default:
		return -EINVAL;
	}
}

static int
shim_drm_core_ioctl(struct shim_file *file, unsigned nr, void *kdata)
{
	const struct shim_driver *drv = file->driver;

	switch (nr) {
	case 0x00: /* VERSION */
		return shim_drm_version(drv, kdata);
	case 0x0c: /* GET_CAP */
		return shim_drm_get_cap(drv, kdata);
	case 0x0d: /* SET_CLIENT_CAP: none of the caps apply to a render node */
		return -EINVAL;
	default:
		/* GEM_CLOSE and PRIME go to the driver's GEM code. */
		return drv->ioctl ? drv->ioctl(file, nr, kdata) : -EINVAL;
	}
}

/* Core ioctls a render node takes, with their kernel struct size. */
static size_t
shim_drm_core_ioctl_size(unsigned nr, bool *render_ok)
{
	*render_ok = true;
	switch (nr) {
	case 0x00: return sizeof(struct drm_version);
	case 0x09: return sizeof(struct drm_gem_close);
	case 0x0c: return sizeof(struct drm_get_cap);
	case 0x0d: return 16;
	case 0x2d: return sizeof(struct drm_prime_handle);
	case 0x2e: return sizeof(struct drm_prime_handle);
	default:
		*render_ok = false;
		return 0;
	}
}

/* The kernel's struct size for the ioctl and the directions it copies, or -errno for an
 * ioctl a render node refuses. */
static int
shim_drm_ioctl_size(struct shim_file *file, unsigned nr, size_t *drv_size, unsigned *drv_dir)
{
	*drv_dir = _IOC_READ | _IOC_WRITE;
	if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) {
		*drv_size = file->driver->ioctl_size(nr - DRM_COMMAND_BASE);
		if (*drv_size == 0)
			return -EINVAL;
		if (nr - DRM_COMMAND_BASE == 0x00)
			return -EINVAL;
	} else {
		bool render_ok;

		*drv_size = shim_drm_core_ioctl_size(nr, &render_ok);
		if (nr >= 0xbf && nr <= 0xcf)
			return -EOPNOTSUPP;	/* syncobj ioctls: DRM_CAP_SYNCOBJ is 0 */
		if (!render_ok)
			return nr < 0xd0 ? -EACCES : -EINVAL;
		if (nr == 0x09)
			*drv_dir = _IOC_WRITE;
	}
	return 0;
}

static int
shim_drm_ioctl(struct shim_file *file, unsigned long cmd, void *uarg)
{
	unsigned nr = _IOC_NR(cmd);
	size_t drv_size, in_size, out_size, ksize;
	unsigned drv_dir;
	uint8_t kstack[128], kin[128];
	void *kdata = kstack;
	size_t ahead;
	int ret, copy;

	ret = shim_drm_ioctl_size(file, nr, &drv_size, &drv_dir);
	if (ret < 0)
		return ret;
	/* drm_ioctl: copy in what both sides agree on, zero the rest, copy back out. */
	in_size = out_size = _IOC_SIZE(cmd);
	if (!(_IOC_DIR(cmd) & drv_dir & _IOC_WRITE))
		in_size = 0;
	if (!(_IOC_DIR(cmd) & drv_dir & _IOC_READ))
		out_size = 0;
	ksize = drv_size;
	if (in_size > ksize)
		ksize = in_size;
	if (out_size > ksize)
		ksize = out_size;
	if (ksize > sizeof kstack) {
		kdata = calloc(1, ksize);
		if (!kdata)
			return -ENOMEM;
	}
	memset(kdata, 0, ksize);
	ahead = nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END && file->driver->ioctl_ahead ?
		file->driver->ioctl_ahead(nr - DRM_COMMAND_BASE) : 0;
	ret = shim_copy_in_ahead(kdata, (uintptr_t)uarg, in_size, ahead);
	if (ret == 0) {
		bool keep = in_size == out_size && out_size <= sizeof kin;

		if (keep)
			memcpy(kin, kdata, out_size);
		if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END)
			ret = file->driver->ioctl(file, nr, kdata);
		else
			ret = shim_drm_core_ioctl(file, nr, kdata);
		shim_copy_ahead_end();
		/* What the caller has already is not copied again (a system call here, where
		 * the kernel's copy costs none; see README, deviations). */
		if (keep && memcmp(kin, kdata, out_size) == 0)
			copy = 0;
		else
			copy = shim_copy_to_user((uintptr_t)uarg, kdata, out_size);
		if (copy < 0)
			ret = copy;
	}
	if (kdata != kstack)
		free(kdata);
	return ret;
}

SHIM_EXPORT int
ioctl(int fd, unsigned long request, ...)
{
	struct shim_file *file;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_init();
	file = shim_file_of_fd(fd);
	if (!file && _IOC_TYPE(request) == DMA_BUF_BASE) {
		ret = shim_dmabuf_ioctl(fd, request, arg);
		if (ret == 1)
			return shim_real.ioctl(fd, request, arg);
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		return ret;
	}
	if (!file)
		return shim_real.ioctl(fd, request, arg);
	/* The VFS answers these before the driver sees anything. */
	if (request == FIONBIO || request == FIOCLEX || request == FIONCLEX || request == FIOASYNC)
		return shim_real.ioctl(fd, request, arg);
	ret = shim_drm_ioctl(file, request, arg);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* --- read and write --------------------------------------------------------------------------- */

/* drm_read: whole events only; a buffer too small for the next event reads 0 bytes. */
static ssize_t
shim_drm_read(int fd, void *buf, size_t count)
{
	if (count < sizeof(struct drm_event)) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_PEEK);
		return n < 0 ? -1 : 0;
	}
	return shim_real.read(fd, buf, count & ~(sizeof(struct drm_event) - 1));
}

SHIM_EXPORT ssize_t
read(int fd, void *buf, size_t count)
{
	shim_init();
	if (shim_file_of_fd(fd))
		return shim_drm_read(fd, buf, count);
	if (shim_pin_refuses(fd, buf, count)) {
		errno = EFAULT;
		return -1;
	}
	return shim_real.read(fd, buf, count);
}

ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);

SHIM_EXPORT ssize_t
__read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		abort();
	return read(fd, buf, count);
}

SHIM_EXPORT ssize_t
write(int fd, const void *buf, size_t count)
{
	shim_init();
	if (shim_file_of_fd(fd)) {
		errno = EINVAL;	/* DRM files have no write */
		return -1;
	}
	return shim_real.write(fd, buf, count);
}
