/*
 * The device-wide registry of the host: resources (guest pages and host memory, each a memfd,
 * or guest memory a VMM lent) and the DRM files (or a VMM's contexts) that hold handles to
 * them and own a context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

struct host_stats host_stats;
bool host_log_quiet;
const char *host_log_prefix = "virtgpu-sim host: ";

static struct host_resource *host_resources;
static uint32_t host_next_res_id = 1;
static struct host_file *host_files;
static uint32_t host_next_file_id = 1;

void
host_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (host_log_quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", host_log_prefix, line);
}

struct host_resource *
host_resource_create(enum host_res_kind kind, int fd, uint64_t size)
{
	return host_resource_create_id(host_next_res_id++, kind, fd, size);
}

struct host_resource *
host_resource_create_id(uint32_t id, enum host_res_kind kind, int fd, uint64_t size)
{
	struct host_resource *res;
	struct stat st;

	if (host_resource_lookup(id))
		return NULL;
	res = calloc(1, sizeof *res);
	if (!res)
		return NULL;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		res->dev = st.st_dev;
		res->ino = st.st_ino;
	}
	res->id = id;
	res->kind = kind;
	res->fd = fd;
	res->backing_fd = -1;
	res->size = size;
	res->next = host_resources;
	host_resources = res;
	return res;
}

/* The fuzzer starts each input on an empty device with the same ids. */
void
host_resource_reset_ids(void)
{
	if (!host_resources)
		host_next_res_id = 1;
	if (!host_files)
		host_next_file_id = 1;
}

struct host_resource *
host_resource_lookup(uint32_t id)
{
	for (struct host_resource *res = host_resources; res; res = res->next)
		if (res->id == id)
			return res;
	return NULL;
}

struct host_resource *
host_resource_lookup_inode(dev_t dev, ino_t ino)
{
	for (struct host_resource *res = host_resources; res; res = res->next)
		if ((res->dev == dev && res->ino == ino) ||
		    (res->backing_fd >= 0 && res->backing_dev == dev && res->backing_ino == ino))
			return res;
	return NULL;
}

void *
host_resource_map(struct host_resource *res)
{
	void *map;

	if (res->map)
		return res->map;
	if (res->size == 0 || res->size > SIZE_MAX)
		return NULL;
	map = mmap(NULL, res->size, PROT_READ | PROT_WRITE, MAP_SHARED, res->fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	res->map = map;
	return map;
}

uint64_t
host_resource_hostmem_used(void)
{
	uint64_t used = 0;

	for (struct host_resource *res = host_resources; res; res = res->next)
		if (res->kind == HOST_RES_HOST3D &&
		    (res->blob_flags & VIRTGPU_BLOB_FLAG_USE_MAPPABLE))
			used += res->size;
	return used;
}

/* The kernel frees a resource with its last handle and its last dma-buf fd (the fake
 * kernel says when the last fd of a stand-in it made closes); one the guest cannot close
 * (the test API's) lives until the device exits. */
void
host_resource_maybe_free(struct host_resource *res)
{
	struct host_resource **link;

	if (res->files > 0 || res->exported || res->dmabufs > 0 || res->busy > 0 ||
	    res->vmm_held)
		return;
	for (link = &host_resources; *link; link = &(*link)->next) {
		if (*link == res) {
			*link = res->next;
			break;
		}
	}
	if (res->map && !res->map_borrowed)
		munmap(res->map, res->size);
	if (res->fd >= 0)
		close(res->fd);
	if (res->backing_fd >= 0)
		close(res->backing_fd);
	free(res);
}

static int
host_id_array_add(uint32_t **array, uint32_t *num, uint32_t *cap, uint32_t id)
{
	if (*num == *cap) {
		uint32_t new_cap = *cap ? *cap * 2 : 16;
		uint32_t *grown = realloc(*array, new_cap * sizeof **array);
		if (!grown)
			return -ENOMEM;
		*array = grown;
		*cap = new_cap;
	}
	(*array)[(*num)++] = id;
	return 0;
}

static bool
host_id_array_remove(uint32_t *array, uint32_t *num, uint32_t id)
{
	for (uint32_t i = 0; i < *num; i++) {
		if (array[i] == id) {
			array[i] = array[--*num];
			return true;
		}
	}
	return false;
}

static bool
host_id_array_has(const uint32_t *array, uint32_t num, uint32_t id)
{
	for (uint32_t i = 0; i < num; i++)
		if (array[i] == id)
			return true;
	return false;
}

struct host_file *
host_file_create(int event_fd)
{
	struct host_file *file = calloc(1, sizeof *file);

	if (!file)
		return NULL;
	file->id = host_next_file_id++;
	file->event_fd = event_fd;
	file->next = host_files;
	host_files = file;
	return file;
}

struct host_file *
host_file_lookup(uint32_t id)
{
	for (struct host_file *file = host_files; file; file = file->next)
		if (file->id == id)
			return file;
	return NULL;
}

void
host_file_destroy(struct host_file *file)
{
	struct host_file **link;

	for (link = &host_files; *link; link = &(*link)->next) {
		if (*link == file) {
			*link = file->next;
			break;
		}
	}
	if (file->ctx)
		cd_context_destroy(file->ctx);
	file->ctx = NULL;
	while (file->num_handles > 0)
		host_file_handle_close(file, file->handles[file->num_handles - 1]);
	if (file->event_fd >= 0)
		close(file->event_fd);
	free(file->attached);
	free(file->handles);
	free(file);
}

/* A GEM handle opens: the kernel attaches the resource to the file's context if it has one
 * (no default context since v6.14, §2 and §7). */
int
host_file_handle_open(struct host_file *file, uint32_t res_id)
{
	struct host_resource *res = host_resource_lookup(res_id);

	if (!res)
		return -ENOENT;
	if (host_id_array_has(file->handles, file->num_handles, res_id))
		return 0;
	if (host_id_array_add(&file->handles, &file->num_handles, &file->cap_handles, res_id) < 0)
		return -ENOMEM;
	res->files++;
	if (file->ctx)
		host_file_attach(file, res_id);
	return 0;
}

void
host_file_attach(struct host_file *file, uint32_t res_id)
{
	if (!host_id_array_has(file->attached, file->num_attached, res_id))
		host_id_array_add(&file->attached, &file->num_attached, &file->cap_attached, res_id);
}

int
host_file_handle_close(struct host_file *file, uint32_t res_id)
{
	struct host_resource *res;

	if (!host_id_array_remove(file->handles, &file->num_handles, res_id))
		return -EINVAL;
	if (host_id_array_remove(file->attached, &file->num_attached, res_id) && file->ctx)
		cd_context_detached(file->ctx, res_id);
	res = host_resource_lookup(res_id);
	if (res) {
		res->files--;
		host_resource_maybe_free(res);
	}
	return 0;
}

struct host_resource *
host_file_lookup_attached(struct host_file *file, uint32_t res_id)
{
	if (!host_id_array_has(file->attached, file->num_attached, res_id))
		return NULL;
	return host_resource_lookup(res_id);
}
