/*
 * SPDX-License-Identifier: MIT
 * What the parts of wl_shm over virtio-gpu share: host memory, pools and
 * buffers, and each part's functions. Each section names its file; a
 * part's own state is touched only there.
 */
#ifndef VIRT_SHM_PRIVATE_H
#define VIRT_SHM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cross-domain.h"
#include "shm.h"
#include "transport.h"
#include "vma.h"

struct wl_message;
struct wl_object;
union wl_argument;

/* --- shm.c: the request hook, its tables, its lifetime ----------------- */

#define SHM_TABLE_BUCKETS 256

/* Hashes of singly linked lists keyed by object id: each struct kept in
 * one starts with `uint32_t id` and `next`, a pointer to its own kind. */
void *
shm_table_find(void *table, uint32_t id);
void
shm_table_insert(void *table, void *item);
void
shm_table_remove(void *table, void *item);

/* --- shm-blob.c: host memory ------------------------------------------- */

/* The host-visible memory the library holds for pools: what a VM's window
 * onto host memory (QEMU's hostmem) and its cap on mapped blobs must fit. */
struct shm_host_use {
	uint64_t bytes, bytes_peak;
	uint32_t blobs, blobs_peak;
	/* shm-window.c's: windows made, bytes moved between them and the
	 * file as they come and go. */
	uint64_t windows, bytes_moved;
};

/* One host allocation. */
struct shm_blob {
	struct cross_domain *cd;
	struct shm_host_use *use;	/* counts it while it lives */
	uint32_t bo;
	uint32_t res;		/* its resource, for the SEND of its fd */
	uint64_t map_offset;	/* of the bo on the DRM fd */
	void *map;		/* the library's own mapping */
	size_t size;
	/* How its mappings show (vma.h), looked up at the first need
	 * (shm_blob_identify). */
	bool identified;
	dev_t map_dev;
	ino_t map_ino;
	uint64_t map_offset_in_file;
	size_t base;		/* the pool offset of its first byte (windows) */
	/* shm-remap.c's: the client still has views of it (it kept them
	 * across a resize that moved the pool), so it draws there itself.
	 * Looked at again when a remap may have replaced them
	 * (views_checked against struct shm_views.generation). */
	bool client_views;
	unsigned views_checked;
	int refs;
};

/* Host memory of at least `size` bytes, page-rounded, mapped by the
 * library; NULL with a reason in `why` when the host has none. */
struct shm_blob *
shm_blob_create(struct virt_shm *shm, size_t size, char *why,
		size_t why_size);
/* The same, not mapped yet (map NULL): shm_blob_map before any use of
 * map, map_offset or the blob's identity. */
struct shm_blob *
shm_blob_create_unmapped(struct virt_shm *shm, size_t size, char *why,
			 size_t why_size);
/* Maps it, once: 0, or -1 with a reason in `why` (errno ENOMEM). */
int
shm_blob_map(struct shm_blob *blob, char *why, size_t why_size);
struct shm_blob *
shm_blob_ref(struct shm_blob *blob);
/* Fills map_dev, map_ino and map_offset_in_file, once. */
void
shm_blob_identify(struct shm_blob *blob);
void
shm_blob_unref(struct shm_blob *blob);

/* --- shm-pool.c: pools and their buffers -------------------------------- */

/* Why a pool is copied on commit rather than zero-copy: counted per pool
 * in the stats line (shm_copy_why), said once under WAYLAND_DEBUG. */
enum shm_copy_reason {
	SHM_COPY_NONE,
	SHM_COPY_ASKED,		/* WAYLAND_VIRTGPU_SHM=copy */
	SHM_COPY_MREMAP,	/* the process may grow views with mremap() */
	SHM_COPY_PRIVATE_VIEW,	/* a MAP_PRIVATE view of the pool */
	SHM_COPY_PARTIAL_VIEW,	/* a view of only part of the pool */
	SHM_COPY_UNPUNCHABLE,	/* its file cannot be emptied */
	SHM_COPY_MAPS_UNREADABLE,	/* the process's mappings cannot be read */
	SHM_COPY_REMAP_FAILED,	/* the kernel refused to remap a view */
	SHM_COPY_SHARED_FILE,	/* another pool of its file is held in windows */
	SHM_COPY_CAPTURE_NO_VIEW,	/* lent to a capture, read through its fd */
	SHM_COPY_REASONS
};

enum shm_pool_mode {
	/* Every writer the library knows of draws into host memory. */
	SHM_POOL_ZERO_COPY,
	/* Some writer does not (another process, an unremappable mapping):
	 * what lands in the client's file is copied on commit. */
	SHM_POOL_MIXED,
	/* Nothing remapped: buffers are copied on commit. */
	SHM_POOL_COPY,
};

struct shm_pool {
	uint32_t id;		/* the client's wl_shm_pool */
	struct shm_pool *next;
	uint32_t shm_id;	/* the wl_shm it came from */
	uint32_t version;
	int client_fd;
	dev_t dev;
	ino_t ino;
	size_t size;		/* as the client sees it */
	int32_t compositor_size;	/* of the client's pool object */
	enum shm_pool_mode mode;
	enum shm_copy_reason copied_why;	/* since it left zero copy */
	/* shm-remap.c's: why the last remap left a view showing the file. */
	enum shm_copy_reason remap_blocker;
	bool emptied;		/* the file was punched once */
	/* Created without its remap, its host memory not mapped yet: the
	 * client's views still show the file, which holds the pool;
	 * shm_pool_settle() maps and remaps at the first need (a commit, a
	 * capture, a resize, another pool of the file). */
	bool remap_pending;
	bool counted;		/* in zero_copy_pools */
	struct shm_blob *blob;	/* current: remapped views, what to copy from */
	uint32_t target_id;	/* where new buffers go */
	struct shm_blob *target_blob;	/* what target_id shows the compositor */
	struct wl_object *hidden;	/* the library's pool behind it, if any */
	/* Held in windows over its buffers, not whole (shm-window.c). */
	bool windowed;
	struct shm_window *windows;
	/* A view larger than the pool (a client that maps address space up
	 * front and grows the pool inside it): its head shows host memory,
	 * its tail still the file. After a move, how the previous host
	 * memory shows, to know such heads when the pool grows into the
	 * tails. */
	struct vma prev_blob;
	bool moved;
	/* Every pool still alive (buffers keep destroyed ones), to find
	 * the one already holding a file another create_pool names. */
	struct shm_pool *live_prev, *live_next;
	struct virt_shm *shm;
	int refs;		/* the pool object and each buffer */
};

struct shm_buffer {
	uint32_t id;
	struct shm_buffer *next;
	struct shm_pool *pool;
	struct shm_blob *blob;	/* what the compositor reads */
	size_t offset;		/* in the client's pool */
	size_t bytes;
	int32_t width, height, stride;
	int bpp;		/* bytes per pixel, 0 when not known */
	/* shm-damage.c's: copied on commit as of which commit of which
	 * surface. */
	uint64_t synced_surface;	/* serial of the surface, 0 for never */
	uint32_t synced_commit;
};

/* The pools and buffers of one connection. */
struct shm_pools {
	struct shm_pool *table[SHM_TABLE_BUCKETS];
	struct shm_buffer *buffers[SHM_TABLE_BUCKETS];
	struct shm_pool *live;	/* list of struct shm_pool.live_next */
};

/* wl_shm.create_pool: 1 when the pool's fd was replaced by host memory's,
 * 0 when the request goes as it is, -1 (after a log line) on failure. */
int
shm_pool_create(struct virt_shm *shm, struct wl_object *shm_object,
		union wl_argument *args);
struct shm_pool *
shm_pool_find(struct virt_shm *shm, uint32_t id);
/* The map and remap create_pool left for later, done now if still
 * pending: the compositor is about to read the pool, or its memory to
 * change. 0, or -1 after a line (errno ENOMEM) when the host memory
 * cannot be mapped: the pool cannot be shown. */
int
shm_pool_settle(struct virt_shm *shm, struct shm_pool *pool);
const char *
shm_copy_reason_name(enum shm_copy_reason why);
/* The pool is copied on commit (mode COPY or MIXED) from now on, for `why`:
 * counted, and said under WAYLAND_DEBUG, the first time. */
void
shm_pool_copied(struct virt_shm *shm, struct shm_pool *pool,
		enum shm_pool_mode mode, enum shm_copy_reason why);
void
shm_pool_destroy(struct virt_shm *shm, struct wl_transport *transport,
		 struct shm_pool *pool);
/* A wl_shm_pool of the library's own over `blob`, made by the client's
 * wl_shm ahead of the request being hooked (which creates `before`, if
 * not NULL), and its end. */
struct wl_object *
shm_pool_own_create(struct wl_transport *transport, uint32_t shm_id,
		    struct shm_blob *blob, size_t size, struct wl_object *before);
void
shm_pool_own_destroy(struct wl_transport *transport, struct wl_object *object);
int
shm_buffer_create(struct virt_shm *shm, struct wl_transport *transport,
		  struct shm_pool *pool, uint32_t *sender_id,
		  union wl_argument *args);
struct shm_buffer *
shm_buffer_find(struct virt_shm *shm, uint32_t id);
void
shm_buffer_destroy(struct virt_shm *shm, uint32_t id);
/* Every buffer and pool left at disconnect. */
void
shm_pools_fini(struct virt_shm *shm);

/* --- shm-window.c: large pools in host memory only where buffers are ---- */

/* Pools above this are windowed: 64 MiB holds two 4K frames. */
#define SHM_WINDOW_MIN ((size_t) 64 << 20)
/* Host memory a window has beyond its first buffer on each side, besides
 * that buffer's own size. */
#define SHM_WINDOW_HEADROOM ((size_t) 2 << 20)

struct shm_window {
	struct shm_window *next;
	size_t base, len;	/* the pool's bytes it holds */
	struct shm_blob *blob;	/* blob->base == base */
	struct wl_object *hidden;	/* the library's pool over it */
	int buffers;		/* live buffers made in it */
	bool remapped;		/* the client's views were put on it */
};

bool
shm_window_wanted(size_t size);
struct shm_window *
shm_window_of(struct shm_pool *pool, size_t from, size_t to);
int
shm_window_buffer(struct virt_shm *shm, struct wl_transport *transport,
		  struct shm_pool *pool, uint32_t *sender_id,
		  union wl_argument *args, struct shm_blob **blob);
void
shm_window_buffer_gone(struct shm_pool *pool, struct shm_blob *blob);
void
shm_window_resized(struct virt_shm *shm, struct shm_pool *pool);
bool
shm_window_remap_again(struct virt_shm *shm, struct shm_pool *pool,
		       struct shm_window *w);
void
shm_window_sync(struct virt_shm *shm, struct shm_buffer *buffer);
void
shm_windows_to_file(struct virt_shm *shm, struct shm_pool *pool);
void
shm_windows_pool_destroyed(struct wl_transport *transport,
			   struct shm_pool *pool);
void
shm_windows_release(struct virt_shm *shm, struct wl_transport *transport,
		    struct shm_pool *pool);

/* --- shm-resize.c: a pool grown, moved to new host memory if need be --- */

int
shm_resize(struct virt_shm *shm, struct wl_transport *transport,
	   struct shm_pool *pool, union wl_argument *args);

/* --- shm-remap.c: the client's views remapped onto host memory ---------- */

struct shm_views {
	/* Counts remaps that put new host memory over a view of older. */
	unsigned generation;
};

/* Move every writer of the pool's file that can be moved onto its host
 * memory; true when nothing this process can see writes to the file. */
bool
shm_remap_pool(struct virt_shm *shm, struct shm_pool *pool);
/* A view of the pool's file the remap cannot move: *complete goes false
 * and the pool's remap_blocker says why (MAP_PRIVATE or partial). */
void
shm_remap_view_blocks(struct shm_pool *pool, const struct vma *m, bool *complete);
/* Does the client have views of the pool's file (not remapped)? */
bool
shm_remap_has_file_views(struct shm_pool *pool);
/* Does the process have no view of the pool at all (neither of its file
 * nor of its host memory)? */
bool
shm_remap_has_no_views(struct shm_pool *pool);
/* The client's views of the holder's host memory show its file again,
 * for a new pool of that file to take them. */
void
shm_remap_hand_over_views(struct virt_shm *shm, struct shm_pool *holder);
/* After a move to `size` bytes of host memory: will a view the client
 * reserved take it, will the head of one too small go back to the file? */
void
shm_remap_reserved_views_check(struct shm_pool *pool, size_t size,
			       bool *take, bool *give_back);
void
shm_remap_reserved_views_give_back(struct virt_shm *shm,
				   struct shm_pool *pool, size_t size);
/* Host memory a pool moves off: with `look`, whether the client keeps
 * views of it and draws there itself, else it does not. */
void
shm_remap_blob_left(struct virt_shm *shm, struct shm_blob *blob, bool look);
/* Does the client draw into this earlier host memory itself? */
bool
shm_remap_client_draws_in(struct virt_shm *shm, struct shm_blob *blob);

/* --- shm-file.c: the client's file -------------------------------------- */

ssize_t
shm_file_pread_to_host(int fd, void *dst, size_t len, off_t at);

size_t
shm_file_copy_data(int fd, void *dst, size_t from, size_t to,
		   bool skip_zero_pages);
size_t
shm_file_copy_data_at(int fd, void *dst, size_t dst_base, size_t from,
		      size_t to, bool skip_zero_pages);
size_t
shm_file_refill(int fd, const void *src, size_t size);
size_t
shm_file_refill_at(int fd, const void *src, size_t from, size_t to);
bool
shm_file_has_data(int fd, size_t from, size_t to);
/* Did a write reach [from, to) of a file punched over [punched_from,
 * punched_to)? Whole pages are holes until written (SEEK_DATA). A page
 * the punch only cut into (the one holding an unaligned end, all of a pool
 * smaller than a page) stays in the file, zeroed: there a write shows as a
 * byte that is not zero. A write of zeros alone to such a page goes unseen,
 * until the next write that is not. */
bool
shm_file_written(int fd, size_t from, size_t to, size_t punched_from,
		 size_t punched_to);
int
shm_file_punch(int fd, size_t size);
int
shm_file_punch_at(int fd, size_t from, size_t to);
bool
shm_file_punchable(int fd, size_t size);

/* What the file held when it was copied to host memory: its data
 * extents (its holes held zeros), to tell later which bytes changed. */
struct shm_file_snapshot {
	struct shm_file_extent {
		size_t offset, len;
		uint8_t *bytes;
	} *extents;
	int count;
};

bool
shm_file_snapshot_take(struct shm_file_snapshot *snap, int fd,
		       const uint8_t *host, size_t size);
void
shm_file_snapshot_free(struct shm_file_snapshot *snap);
size_t
shm_file_merge_racing_writes(int fd, const struct shm_file_snapshot *snap,
			     uint8_t *host, size_t size);

/* --- shm-damage.c: damage per surface, the copy on commit -------------- */

struct shm_surface;

struct shm_surfaces {
	struct shm_surface *table[SHM_TABLE_BUCKETS];
	uint64_t serial;	/* tells surfaces apart across reused ids */
};

/* A wl_surface request (the damage, the buffer, the state it is read
 * in, the commit); 0, the request goes as it is, or -1 (errno ENOMEM,
 * after a line) for a commit of a pool whose host memory cannot be
 * mapped. */
int
shm_damage_surface_request(struct virt_shm *shm, uint32_t surface_id,
			   uint32_t opcode, union wl_argument *args);
/* wp_viewporter.get_viewport: the surface's damage covers all of its
 * buffer from now on. */
void
shm_damage_viewport(struct virt_shm *shm, uint32_t surface_id);
void
shm_damage_fini(struct virt_shm *shm);

/* --- shm-capture.c: buffers the compositor writes into ------------------ */

struct shm_loan;

struct shm_captures {
	struct shm_loan *loans;	/* buffers lent, by the object borrowing */
};

/* A new wl_shm buffer: requests that name it reach the hook. */
void
shm_capture_watch(struct wl_transport *transport, uint32_t buffer_id);
/* A request of an object other than a wl_surface; always 0 but for -1 out
 * of memory (or host memory that cannot be mapped, after a line). */
int
shm_capture_request(struct virt_shm *shm, struct wl_transport *transport,
		    struct wl_object *target, const struct wl_message *message,
		    union wl_argument *args);
void
shm_capture_buffer_gone(struct virt_shm *shm, uint32_t buffer_id);
void
shm_capture_event(struct virt_shm *shm, struct wl_object *target,
		  uint32_t opcode, union wl_argument *args);
void
shm_capture_fini(struct virt_shm *shm);

/* --- shm.c ---------------------------------------------------------------- */

struct virt_shm {
	struct cross_domain *cd;
	struct wl_transport_stats *stats;
	bool copy_only;		/* never remap (transport-virtgpu.c says why) */
	enum shm_copy_reason copy_only_why;
	bool debug;		/* WAYLAND_DEBUG for the client */
	uint64_t copied_pools[SHM_COPY_REASONS];	/* by reason */
	struct shm_pools pools;		/* shm-pool.c */
	struct shm_views views;		/* shm-remap.c */
	struct shm_surfaces surfaces;	/* shm-damage.c */
	struct shm_captures captures;	/* shm-capture.c */
	struct shm_host_use host;	/* shm-blob.c */
};

#endif
