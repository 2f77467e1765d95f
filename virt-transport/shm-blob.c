/*
 * SPDX-License-Identifier: MIT
 * Host memory for wl_shm pools (cross-domain-protocol.md §5.1-5.2): a blob
 * allocated as an R8 image, mapped by the library, and known again among
 * the process's mappings; memory libwayland-cursor fills itself; and host
 * memory holding a copy of a file a request carries (memory-fds.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm-private.h"
#include "wayland-private.h"

#define FOURCC_R8 0x20203852u	/* 'R', '8', ' ', ' ' */
#define GRALLOC_LINEAR (1u << 4)
#define GRALLOC_SW_WRITE_OFTEN (1u << 11)

/* Host memory of at least `size` bytes as an R8 image (§5.1). Rows of
 * 4096 bytes rather than one row of `size`: image dimensions on real
 * hosts are bounded (GPU allocators cap them). */
static int
host_memory_query(struct cross_domain *cd, size_t size,
		  struct cross_domain_image_requirements *req)
{
	uint32_t width = 4096;
	size_t rows = (size + width - 1) / width;

	if (rows > 65536) {
		width = 16384;
		rows = (size + width - 1) / width;
	}
	if (rows > 65536) {
		errno = E2BIG;
		return -1;
	}

	return cross_domain_image_requirements(cd, width, (uint32_t) rows,
					       FOURCC_R8,
					       GRALLOC_LINEAR |
					       GRALLOC_SW_WRITE_OFTEN, req);
}

/* Where the process's mappings show this blob: as the library's own does.
 * Only remapping and moving pools need it, so a pool that never gets that
 * far costs no look at the process's mappings. */
void
shm_blob_identify(struct shm_blob *blob)
{
	struct vma m;

	if (blob->identified)
		return;
	blob->identified = true;
	if (vma_at(blob->map, &m) == 0 && m.start == (uintptr_t) blob->map) {
		blob->map_dev = m.dev;
		blob->map_ino = m.ino;
		blob->map_offset_in_file = m.offset;
	}
}

/* The blob counts in the host memory in use from now until its end. */
static void
host_use_add(struct shm_host_use *use, struct shm_blob *blob)
{
	blob->use = use;
	use->bytes += blob->size;
	use->blobs++;
	if (use->bytes > use->bytes_peak)
		use->bytes_peak = use->bytes;
	if (use->blobs > use->blobs_peak)
		use->blobs_peak = use->blobs;
}

struct shm_blob *
shm_blob_create_unmapped(struct virt_shm *shm, size_t size, char *why,
			 size_t why_size)
{
	struct cross_domain *cd = shm->cd;
	struct cross_domain_image_requirements req;
	struct shm_blob *blob;
	int query;

	blob = calloc(1, sizeof *blob);
	if (blob == NULL)
		return NULL;
	blob->cd = cd;
	blob->refs = 1;

	size = (size + (size_t) cd->dev.page_size - 1) &
	       ~((size_t) cd->dev.page_size - 1);
	query = host_memory_query(cd, size, &req);
	if (query < 0 && errno == ETIMEDOUT) {
		snprintf(why, why_size, "the host did not answer a query for "
			 "%zu bytes of memory within %llu s (its query-ring fence "
			 "did not signal; WAYLAND_VIRTGPU_REPLY_TIMEOUT sets the "
			 "wait)", size,
			 (unsigned long long) cd->query_timeout_ms / 1000);
		goto err;
	}
	if (query < 0 || req.size < size) {
		snprintf(why, why_size, "the host cannot allocate %zu bytes "
			 "(%s)", size, strerror(errno));
		goto err;
	}

	if (virtgpu_blob_create(&cd->dev, VIRTGPU_BLOB_MEM_HOST3D,
				VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
				VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
				req.size, req.blob_id, &blob->bo, &blob->res) < 0) {
		snprintf(why, why_size, "host memory of %llu bytes refused "
			 "(%s)", (unsigned long long) req.size, strerror(errno));
		goto err;
	}
	blob->size = (size_t) req.size;

	host_use_add(&shm->host, blob);
	return blob;

err:
	free(blob);
	errno = ENOMEM;
	return NULL;
}

int
shm_blob_map(struct shm_blob *blob, char *why, size_t why_size)
{
	struct cross_domain *cd = blob->cd;
	struct drm_virtgpu_map map;
	void *ptr;

	if (blob->map)
		return 0;
	memset(&map, 0, sizeof map);
	map.handle = blob->bo;
	ptr = ioctl(cd->dev.fd, DRM_IOCTL_VIRTGPU_MAP, &map) < 0 ? MAP_FAILED :
	      mmap(NULL, blob->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   cd->dev.fd, (off_t) map.offset);
	if (ptr == MAP_FAILED) {
		/* QEMU maps only shared-memory blobs (cross-domain-protocol.md
		 * §5.2): a rutabaga whose gralloc makes dma-bufs cannot serve
		 * wl_shm there. */
		snprintf(why, why_size, "cannot map host memory (%s)%s",
			 strerror(errno), cd->dev.caps.supports_dmabuf ?
			 "; the host's memory is dma-bufs, which some VMMs (QEMU) "
			 "do not map: use a host without a dma-buf gralloc" : "");
		errno = ENOMEM;
		return -1;
	}
	blob->map_offset = map.offset;
	blob->map = ptr;
	return 0;
}

struct shm_blob *
shm_blob_create(struct virt_shm *shm, size_t size, char *why,
		size_t why_size)
{
	struct shm_blob *blob = shm_blob_create_unmapped(shm, size, why,
							 why_size);

	if (blob && shm_blob_map(blob, why, why_size) < 0) {
		shm_blob_unref(blob);
		errno = ENOMEM;
		return NULL;
	}
	return blob;
}

struct shm_blob *
shm_blob_ref(struct shm_blob *blob)
{
	blob->refs++;
	return blob;
}

void
shm_blob_unref(struct shm_blob *blob)
{
	if (blob == NULL || --blob->refs > 0)
		return;

	if (blob->use) {
		blob->use->bytes -= blob->size;
		blob->use->blobs--;
	}
	if (blob->map)
		munmap(blob->map, blob->size);
	virtgpu_gem_close(&blob->cd->dev, blob->bo);
	free(blob);
}

/* Memory for a pool that a library of ours fills (libwayland-cursor): the
 * host memory's fd and the library's mapping go to the caller, who unmaps
 * and closes them; the GEM handle is closed now (the mapping and the fd
 * keep the memory). */
int
virt_shm_memory_create(struct virt_shm *shm, size_t *size, void **data)
{
	struct shm_blob *blob;
	char why[160] = "";
	int fd;

	if (*size == 0 || *size > INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	blob = shm_blob_create(shm, *size, why, sizeof why);
	if (blob == NULL) {
		wl_log("wayland-virtgpu: shared memory of %zu bytes: %s\n",
		       *size, why);
		errno = ENOMEM;
		return -1;
	}

	fd = virtgpu_prime_export(&shm->cd->dev, blob->bo);
	if (fd < 0) {
		wl_log("wayland-virtgpu: shared memory of %zu bytes: cannot "
		       "export host memory (%s)\n", *size, strerror(errno));
		shm_blob_unref(blob);
		errno = ENOMEM;
		return -1;
	}
	/* Its end is the cursor library's munmap and close, which the
	 * library does not see: counted at its peak, not in use. */
	shm->host.bytes -= blob->size;
	shm->host.blobs--;
	*data = blob->map;
	*size = blob->size;
	virtgpu_gem_close(&shm->cd->dev, blob->bo);
	free(blob);

	return fd;
}

/* Up to `size` bytes of the file read into dst with pread: the client's
 * file is never mapped, so a client shrinking it under the copy costs no
 * SIGBUS. What the file no longer holds stays zero (host memory starts
 * zeroed; cleared anyway). The bytes read, or -1 with errno. */
static ssize_t
file_read_into(int fd, uint8_t *dst, size_t size)
{
	size_t at = 0;
	ssize_t n;

	while (at < size) {
		n = shm_file_pread_to_host(fd, dst + at, size - at, (off_t) at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;	/* the file ends here now */
		at += (size_t) n;
	}
	memset(dst + at, 0, size - at);
	return (ssize_t) at;
}

/* Bytes [from, to) of a pool's file that live in host memory at `src`
 * (src holds the pool from `base` on) over what the file gave. */
static void
overlay(uint8_t *dst, size_t size, const uint8_t *src, size_t base,
	size_t from, size_t to)
{
	if (to > size)
		to = size;
	if (from < to)
		memcpy(dst + from, src + (from - base), to - from);
}

/* The file is a wl_shm pool's the library holds in host memory: its file
 * was emptied where the client's views show host memory, so those bytes
 * come from there (a client that sends its pool's memfd in another
 * request, say). */
static void
copy_pool_bytes(struct virt_shm *shm, int fd, uint8_t *dst, size_t size)
{
	const struct shm_window *w;
	const struct shm_pool *p;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	for (p = shm->pools.live; p; p = p->live_next) {
		if (p->dev != st.st_dev || p->ino != st.st_ino)
			continue;
		if (p->windowed) {
			for (w = p->windows; w; w = w->next)
				if (w->remapped)
					overlay(dst, size, w->blob->map, w->base,
						w->base, w->base + w->len);
		} else if (p->emptied) {
			overlay(dst, size, p->blob->map, 0, 0,
				p->size < p->blob->size ? p->size : p->blob->size);
		}
		return;
	}
}

int
virt_shm_file_copy(struct virt_shm *shm, int fd, size_t size, size_t *copied,
		   char *why, size_t why_size)
{
	struct shm_blob *blob;
	ssize_t n;
	int out;

	blob = shm_blob_create(shm, size, why, why_size);
	if (blob == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = file_read_into(fd, blob->map, size);
	if (n < 0) {
		snprintf(why, why_size, "its bytes cannot be read (%s)",
			 strerror(errno));
		shm_blob_unref(blob);
		errno = EINVAL;
		return -1;
	}
	*copied = (size_t) n;
	copy_pool_bytes(shm, fd, blob->map, (size_t) n);

	/* The exported fd keeps the host memory; the library's mapping and
	 * handle go now. */
	out = virtgpu_prime_export(&shm->cd->dev, blob->bo);
	if (out < 0) {
		snprintf(why, why_size, "cannot export host memory (%s)",
			 strerror(errno));
		shm_blob_unref(blob);
		errno = ENOMEM;
		return -1;
	}
	shm_blob_unref(blob);
	return out;
}
