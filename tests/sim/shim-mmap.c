/*
 * mmap of a DRM fd goes to its driver; munmap and mremap keep the ranges of those mappings,
 * because a GEM mapping cannot grow (drm_gem_mmap_obj sets VM_DONTEXPAND) and mremap must
 * answer EFAULT for it as the kernel does, while the shim's memory is plain memfds. A range
 * also says whether it is memory no read can pin (host memory, VM_PFNMAP: shim-pin.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>

#include "shim.h"

#define SHIM_MAX_MMAP_RANGES 4096

static pthread_mutex_t shim_mmap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uintptr_t start, end;
	bool pinless;
} shim_mmap_ranges[SHIM_MAX_MMAP_RANGES];
static int shim_mmap_num_ranges;

static void
shim_mmap_forget(uintptr_t start, uintptr_t end)
{
	pthread_mutex_lock(&shim_mmap_lock);
	for (int i = 0; i < shim_mmap_num_ranges; i++) {
		if (shim_mmap_ranges[i].start < end && start < shim_mmap_ranges[i].end)
			shim_mmap_ranges[i--] = shim_mmap_ranges[--shim_mmap_num_ranges];
	}
	pthread_mutex_unlock(&shim_mmap_lock);
}

static void
shim_mmap_note(void *map, size_t len, bool pinless)
{
	uintptr_t start = (uintptr_t)map;

	shim_mmap_forget(start, start + len);
	pthread_mutex_lock(&shim_mmap_lock);
	if (shim_mmap_num_ranges < SHIM_MAX_MMAP_RANGES) {
		shim_mmap_ranges[shim_mmap_num_ranges].start = start;
		shim_mmap_ranges[shim_mmap_num_ranges].end = start + len;
		shim_mmap_ranges[shim_mmap_num_ranges].pinless = pinless;
		shim_mmap_num_ranges++;
	}
	pthread_mutex_unlock(&shim_mmap_lock);
}

static bool
shim_mmap_overlap(uintptr_t start, uintptr_t end)
{
	bool found = false;

	pthread_mutex_lock(&shim_mmap_lock);
	for (int i = 0; i < shim_mmap_num_ranges && !found; i++)
		found = shim_mmap_ranges[i].start < end && start < shim_mmap_ranges[i].end;
	pthread_mutex_unlock(&shim_mmap_lock);
	return found;
}

bool
shim_mmap_pinless(uintptr_t start, uintptr_t end)
{
	bool found = false;

	pthread_mutex_lock(&shim_mmap_lock);
	for (int i = 0; i < shim_mmap_num_ranges && !found; i++)
		found = shim_mmap_ranges[i].pinless && shim_mmap_ranges[i].start < end &&
			start < shim_mmap_ranges[i].end;
	pthread_mutex_unlock(&shim_mmap_lock);
	return found;
}

SHIM_EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	struct shim_file *file;
	void *map;
	int err = 0;

	shim_init();
	file = (flags & MAP_ANONYMOUS) ? NULL : shim_dmabuf_of_fd(fd);
	if (file && file->driver->dmabuf_mmap_error)
		err = file->driver->dmabuf_mmap_error(file);
	if (err) {
		errno = err;
		return MAP_FAILED;
	}
	file = (flags & MAP_ANONYMOUS) ? NULL : shim_file_of_fd(fd);
	if (!file) {
		map = shim_real.mmap(addr, len, prot, flags, fd, offset);
		if (map != MAP_FAILED && (flags & MAP_FIXED))
			shim_mmap_forget((uintptr_t)map, (uintptr_t)map + len);
		return map;
	}
	if (!file->driver->mmap) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	map = file->driver->mmap(file, addr, len, prot, flags, offset, &err);
	if (map == MAP_FAILED)
		errno = err;
	else
		shim_mmap_note(map, len, file->driver->mmap_pinless &&
			       file->driver->mmap_pinless(file, offset));
	return map;
}

/* The same call where off_t is 32 bits; here, where it is not, the same function. */
SHIM_EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
	__attribute__((alias("mmap")));

SHIM_EXPORT int
munmap(void *addr, size_t len)
{
	static int (*real_munmap)(void *, size_t);
	int ret;

	if (!real_munmap)
		*(void **)&real_munmap = dlsym(RTLD_NEXT, "munmap");
	ret = real_munmap(addr, len);
	if (ret == 0)
		shim_mmap_forget((uintptr_t)addr, (uintptr_t)addr + len);
	return ret;
}

SHIM_EXPORT void *
mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
	static void *(*real_mremap)(void *, size_t, size_t, int, ...);
	void *new_address = NULL, *ret;
	va_list ap;

	if (!real_mremap)
		*(void **)&real_mremap = dlsym(RTLD_NEXT, "mremap");
	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_address = va_arg(ap, void *);
		va_end(ap);
	}

	/* vma_to_resize: a VM_DONTEXPAND vma never grows. */
	if (new_size > old_size &&
	    shim_mmap_overlap((uintptr_t)old_address, (uintptr_t)old_address + old_size)) {
		shim_log_once("mremap-drm", "mremap: a DRM mapping cannot grow (VM_DONTEXPAND): "
			      "EFAULT, as the kernel answers");
		errno = EFAULT;
		return MAP_FAILED;
	}

	ret = (flags & MREMAP_FIXED) ?
		real_mremap(old_address, old_size, new_size, flags, new_address) :
		real_mremap(old_address, old_size, new_size, flags);
	if (ret != MAP_FAILED)
		shim_mmap_forget((uintptr_t)old_address, (uintptr_t)old_address + old_size);
	return ret;
}
