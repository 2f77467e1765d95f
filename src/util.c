/*
 * SPDX-License-Identifier: MIT
 * Lists, arrays, the id -> object map, logging and small OS helpers
 * shared by the whole client library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wayland-client-core.h"
#include "wayland-private.h"

WL_EXPORT void
wl_list_init(struct wl_list *list)
{
	list->prev = list;
	list->next = list;
}

WL_EXPORT void
wl_list_insert(struct wl_list *list, struct wl_list *elm)
{
	elm->prev = list;
	elm->next = list->next;
	list->next = elm;
	elm->next->prev = elm;
}

WL_EXPORT void
wl_list_remove(struct wl_list *elm)
{
	elm->prev->next = elm->next;
	elm->next->prev = elm->prev;
	elm->next = NULL;
	elm->prev = NULL;
}

WL_EXPORT int
wl_list_length(const struct wl_list *list)
{
	const struct wl_list *e;
	int count = 0;

	for (e = list->next; e != list; e = e->next)
		count++;

	return count;
}

WL_EXPORT int
wl_list_empty(const struct wl_list *list)
{
	return list->next == list;
}

WL_EXPORT void
wl_list_insert_list(struct wl_list *list, struct wl_list *other)
{
	if (wl_list_empty(other))
		return;

	other->next->prev = list;
	other->prev->next = list->next;
	list->next->prev = other->prev;
	list->next = other->next;
}

WL_EXPORT void
wl_array_init(struct wl_array *array)
{
	memset(array, 0, sizeof *array);
}

WL_EXPORT void
wl_array_release(struct wl_array *array)
{
	free(array->data);
	array->data = (void *) 0xdeadbeef;
}

WL_EXPORT void *
wl_array_add(struct wl_array *array, size_t size)
{
	size_t alloc;
	void *data, *p;

	if (size > SIZE_MAX - array->size)
		return NULL;

	alloc = array->alloc > 0 ? array->alloc : 16;
	while (alloc < array->size + size) {
		if (alloc > SIZE_MAX / 2)
			return NULL;
		alloc *= 2;
	}

	if (array->alloc < alloc) {
		if (array->alloc > 0)
			data = realloc(array->data, alloc);
		else
			data = malloc(alloc);

		if (data == NULL)
			return NULL;
		array->data = data;
		array->alloc = alloc;
	}

	p = (char *) array->data + array->size;
	array->size += size;

	return p;
}

WL_EXPORT int
wl_array_copy(struct wl_array *array, struct wl_array *source)
{
	if (array->size < source->size) {
		if (!wl_array_add(array, source->size - array->size))
			return -1;
	} else {
		array->size = source->size;
	}

	if (source->size > 0)
		memcpy(array->data, source->data, source->size);

	return 0;
}

/*
 * The map keeps two tables: ids the client allocates (from 1 up) and ids
 * the server allocates (from WL_SERVER_ID_START up). An entry is a pointer
 * with flags in its two low bits; a free client entry holds the next free
 * index shifted left by one with bit 0 set, forming the free list.
 */
union map_entry {
	uintptr_t next;
	void *data;
};

#define map_entry_is_free(entry) ((entry).next & 0x1)
#define map_entry_get_data(entry) ((void *) ((entry).next & ~(uintptr_t) 0x3))
#define map_entry_get_flags(entry) (((entry).next >> 1) & 0x1)

void
wl_map_init(struct wl_map *map)
{
	memset(map, 0, sizeof *map);
}

void
wl_map_release(struct wl_map *map)
{
	wl_array_release(&map->client_entries);
	wl_array_release(&map->server_entries);
}

uint32_t
wl_map_insert_new(struct wl_map *map, uint32_t flags, void *data)
{
	union map_entry *start, *entry;
	struct wl_array *entries = &map->client_entries;
	uint32_t base = 0;
	size_t count;

	if (map->free_list) {
		start = entries->data;
		entry = &start[map->free_list >> 1];
		map->free_list = entry->next;
	} else {
		entry = wl_array_add(entries, sizeof *entry);
		if (!entry)
			return 0;
		start = entries->data;
	}

	count = entry - start;
	if (count > WL_MAP_MAX_OBJECTS) {
		/* Too many objects: give the slot back. */
		entries->size -= sizeof *entry;
		errno = ENOSPC;
		return 0;
	}

	entry->data = data;
	entry->next |= (flags & 0x1) << 1;

	return (uint32_t) count + base;
}

int
wl_map_insert_at(struct wl_map *map, uint32_t flags, uint32_t i, void *data)
{
	union map_entry *start;
	uint32_t count;
	struct wl_array *entries;

	if (i < WL_SERVER_ID_START) {
		entries = &map->client_entries;
	} else {
		entries = &map->server_entries;
		i -= WL_SERVER_ID_START;
	}

	if (i > WL_MAP_MAX_OBJECTS) {
		errno = ENOSPC;
		return -1;
	}

	count = entries->size / sizeof *start;
	if (count < i) {
		errno = EINVAL;
		return -1;
	}

	if (count == i) {
		if (!wl_array_add(entries, sizeof *start))
			return -1;
	}

	start = entries->data;
	start[i].data = data;
	start[i].next |= (flags & 0x1) << 1;

	return 0;
}

int
wl_map_reserve_new(struct wl_map *map, uint32_t i)
{
	union map_entry *start;
	uint32_t count;
	struct wl_array *entries;

	if (i < WL_SERVER_ID_START) {
		/* The client allocates these; the server may not. */
		errno = EINVAL;
		return -1;
	}

	entries = &map->server_entries;
	i -= WL_SERVER_ID_START;

	if (i > WL_MAP_MAX_OBJECTS) {
		errno = ENOSPC;
		return -1;
	}

	count = entries->size / sizeof *start;
	if (count < i) {
		errno = EINVAL;
		return -1;
	}

	if (count == i) {
		if (!wl_array_add(entries, sizeof *start))
			return -1;
		start = entries->data;
		start[i].data = NULL;
	} else {
		start = entries->data;
		if (start[i].data != NULL) {
			errno = EINVAL;
			return -1;
		}
	}

	return 0;
}

void
wl_map_remove(struct wl_map *map, uint32_t i)
{
	union map_entry *start;
	struct wl_array *entries;

	if (i < WL_SERVER_ID_START) {
		entries = &map->client_entries;
		if (i >= entries->size / sizeof *start)
			return;
		start = entries->data;
		start[i].next = map->free_list;
		map->free_list = (i << 1) | 1;
	} else {
		entries = &map->server_entries;
		i -= WL_SERVER_ID_START;
		if (i >= entries->size / sizeof *start)
			return;
		start = entries->data;
		start[i].data = NULL;
	}
}

static union map_entry *
map_find(struct wl_map *map, uint32_t i)
{
	union map_entry *start;
	struct wl_array *entries;
	uint32_t count;

	if (i < WL_SERVER_ID_START) {
		entries = &map->client_entries;
	} else {
		entries = &map->server_entries;
		i -= WL_SERVER_ID_START;
	}

	start = entries->data;
	count = entries->size / sizeof *start;
	if (i >= count || map_entry_is_free(start[i]))
		return NULL;

	return &start[i];
}

void *
wl_map_lookup(struct wl_map *map, uint32_t i)
{
	union map_entry *entry = map_find(map, i);

	return entry ? map_entry_get_data(*entry) : NULL;
}

uint32_t
wl_map_lookup_flags(struct wl_map *map, uint32_t i)
{
	union map_entry *entry = map_find(map, i);

	return entry ? map_entry_get_flags(*entry) : 0;
}

static enum wl_iterator_result
for_each_helper(struct wl_array *entries, wl_iterator_func_t func, void *data)
{
	enum wl_iterator_result ret = WL_ITERATOR_CONTINUE;
	union map_entry entry, *start;
	size_t count, i;

	start = (union map_entry *) entries->data;
	count = entries->size / sizeof(union map_entry);

	for (i = 0; i < count; i++) {
		entry = start[i];
		if (entry.data && !map_entry_is_free(entry)) {
			ret = func(map_entry_get_data(entry), data,
				   map_entry_get_flags(entry));
			if (ret != WL_ITERATOR_CONTINUE)
				break;
		}
	}

	return ret;
}

void
wl_map_for_each(struct wl_map *map, wl_iterator_func_t func, void *data)
{
	enum wl_iterator_result ret;

	ret = for_each_helper(&map->client_entries, func, data);
	if (ret == WL_ITERATOR_CONTINUE)
		for_each_helper(&map->server_entries, func, data);
}

static void
default_log_handler(const char *fmt, va_list arg)
{
	vfprintf(stderr, fmt, arg);
}

static wl_log_func_t log_handler = default_log_handler;

WL_EXPORT void
wl_log_set_handler_client(wl_log_func_t handler)
{
	log_handler = handler;
}

void
wl_log(const char *fmt, ...)
{
	va_list argp;

	va_start(argp, fmt);
	log_handler(fmt, argp);
	va_end(argp);
}

void
wl_abort(const char *fmt, ...)
{
	va_list argp;

	va_start(argp, fmt);
	log_handler(fmt, argp);
	va_end(argp);

	abort();
}

int
wl_os_dupfd_cloexec(int fd, int minfd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, minfd);
}

/* Out of line: next to the malloc() compilers turn the pair back into a
 * calloc(). */
static __attribute__((noinline)) void
zero_bytes(void *p, size_t size)
{
	memset(p, 0, size);
}

void *
wl_zalloc(size_t size)
{
	void *p = malloc(size);

	if (p)
		zero_bytes(p, size);
	return p;
}
