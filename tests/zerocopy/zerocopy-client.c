/*
 * SPDX-License-Identifier: MIT
 * A wl_shm client with one mode per way real clients share pool memory
 * (issue 5, point 3): each draws a deterministic, frame-dependent pattern
 * for N frames, holds the last one for a screenshot and can write that
 * last frame as a PPM, so stale pixels anywhere show up in a comparison.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"

#define MAX_SLOTS 32
#define GRID_COLS 20
#define GRID_ROWS 15
#define GRID_POOLS (GRID_COLS * GRID_ROWS)
#define CELL 16
#define CELL_STEP (CELL + 2)
#define SCROLL_ROWS 8		/* punch: rows scrolled per frame */
#define PUNCH_RESERVE (4u << 20)	/* punch: address space mapped up front */
#define PUNCH_STEP (64u << 10)	/* punch: pool growth per resize */
#define GROW_EVERY 4		/* grow: frames between resizes */
#define GROW_TIMES 6
#define HOLD_MAX 600.0		/* seconds held without a signal before giving up */
#define THREAD_SEED 500u
#define THREAD_PACE_NS 200	/* thread: one pixel per this, 1.2 ms a pass */
#define THREAD_BANDS 8
#define THREAD_ATTEMPTS 6
#define PARENT_SEED 1000u
#define PRIVATE_MARK 0x5a
#define LARGE_POOL (256u << 20)	/* large-pool: the pool's size */

struct client;

struct slot {
	struct wl_buffer *buffer;
	size_t offset;
	int stride;		/* bytes */
	bool busy;
	struct client *c;
};

struct mode {
	const char *name;
	int (*setup)(struct client *c);
	/* Draws frame f; the buffer to attach, or NULL to wait for a release. */
	struct wl_buffer *(*frame)(struct client *c, int f);
	uint32_t (*expect)(const struct client *c, int x, int y, int f);
	int (*check)(struct client *c);	/* self-check at hold; 0 = fine */
	int width, height;
};

struct client {
	const struct mode *mode;
	int width, height, frames;
	bool sabotage;

	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_subcompositor *subcompositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	bool configured;

	/* The pool of most modes. */
	int fd;
	char *map;		/* the client's shared mapping, NULL if none */
	size_t map_size;
	size_t pool_size;
	struct wl_shm_pool *pool;
	struct slot slots[MAX_SLOTS];
	int nslots;
	int last_slot;

	int frame;		/* next frame to draw */
	bool waiting_frame;	/* a frame callback is outstanding */
	bool waiting_buffer;	/* frame() found no free buffer */
	bool held;
	int status;		/* exit status */

	/* child-process */
	pid_t child;
	int child_sock;

	/* grow */
	void *guard;
	void *second_view;	/* outgrow: the view made for the larger pool */
	struct wl_shm_pool *first_pool;	/* new-pool-larger: the one kept */
	/* partial: damage only [damage_x0, damage_x1) x [damage_y0,
	 * damage_y1) this frame. */
	bool damage_band;
	int damage_y0, damage_y1;
	struct wl_buffer *last_buffer;	/* the last one committed */
	int damage_x0, damage_x1;

	/* punch */
	size_t scroll_offset;
	size_t punched;
	struct wl_buffer *scroll_buffer, *scroll_old;

	/* thread */
	struct band {
		int fd;
		char *map;
		struct wl_shm_pool *pool;
		struct wl_buffer *buffers[2];
		struct wl_surface *surface;
		struct wl_subsurface *subsurface;
	} bands[THREAD_BANDS];
	struct wl_buffer *thread_parent;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int thread_request;	/* frame to draw, -1 none, -2 quit */
	int thread_slot;
	int thread_done;
	atomic_int static_done;	/* pixels of the static pass written */
	atomic_int static_ready;
	atomic_int pool_creating;
	atomic_int pool_created;
	bool thread_running;

	/* private */
	char *private_map;

	/* many-pools */
	struct wl_shm_pool *grid_pools[GRID_POOLS + 1];
	struct wl_buffer *grid_buffers[GRID_POOLS + 1];
	uint32_t *grid_maps[GRID_POOLS + 1];
	struct wl_surface *cells[GRID_POOLS];
	struct wl_subsurface *subsurfaces[GRID_POOLS];

	/* --memory */
	bool report_memory;
	long rss_before, pss_before, anon_before, distinct_before;
};

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "zerocopy-client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The pattern: 8x8 blocks whose colour hashes position, frame and seed,
 * with a diagonal stripe moving 5 pixels a frame. Blue is always odd, so
 * no pixel equals the test desktop's colour (0x204060). */
static uint32_t
pattern(int x, int y, int frame, uint32_t seed)
{
	uint32_t h = (uint32_t) (x >> 3) * 0x9e3779b1u ^
		     (uint32_t) (y >> 3) * 0x85ebca77u ^
		     (uint32_t) frame * 0xc2b2ae3du ^ seed * 0x27d4eb2fu;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	h *= 0x297a2d39u;
	h ^= h >> 15;
	if (((x + y + frame * 5) & 31) < 3)
		h = 0xf0f0f0u ^ (uint32_t) frame * 0x030507u;

	return 0xff000000u | (h & 0xffffffu) | 1u;
}

static void
draw_rows(uint32_t *pixels, int stride, int width, int y0, int y1, int frame,
	  uint32_t seed)
{
	int x, y;

	for (y = y0; y < y1; y++) {
		uint32_t *row = (uint32_t *) ((char *) pixels + (size_t) y * stride);

		for (x = 0; x < width; x++)
			row[x] = pattern(x, y, frame, seed);
	}
}

/* The frame a mode draws as frame f: --sabotage (given to the guest run
 * only) makes it draw the one before instead, as if stale. */
static int
drawn_frame(const struct client *c, int f)
{
	if (c->sabotage && f == c->frames - 1)
		return f - 1;
	return f;
}

/* ---- pools and buffers ---- */

static int
pool_fd_create(const char *name, size_t size, unsigned flags)
{
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	if (fd < 0)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t) size) < 0)
		die("ftruncate(%zu): %s", size, strerror(errno));
	return fd;
}

static char *
map_shared(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die("mmap(%zu): %s", size, strerror(errno));
	return p;
}

static void
buffer_release(void *data, struct wl_buffer *buffer)
{
	struct slot *slot = data;

	slot->busy = false;
	slot->c->waiting_buffer = false;
}

static const struct wl_buffer_listener slot_buffer_listener = {
	buffer_release,
};

static struct slot *
slot_add(struct client *c, size_t offset, int stride)
{
	struct slot *slot;

	if (c->nslots == MAX_SLOTS)
		die("too many buffers");
	slot = &c->slots[c->nslots++];
	slot->c = c;
	slot->offset = offset;
	slot->stride = stride;
	slot->buffer = wl_shm_pool_create_buffer(c->pool, (int32_t) offset,
						 c->width, c->height, stride,
						 WL_SHM_FORMAT_XRGB8888);
	wl_buffer_add_listener(slot->buffer, &slot_buffer_listener, slot);
	return slot;
}

/* The least recently used free buffer among the first..nslots-1. */
static struct slot *
slot_free(struct client *c, int first)
{
	int i, n = c->nslots - first;

	for (i = 1; i <= n; i++) {
		int k = first + ((c->last_slot - first + i) % n + n) % n;

		if (!c->slots[k].busy) {
			c->last_slot = k;
			return &c->slots[k];
		}
	}
	return NULL;
}

static uint32_t *
slot_pixels(struct client *c, struct slot *slot)
{
	return (uint32_t *) (c->map + slot->offset);
}

static size_t
frame_bytes(const struct client *c)
{
	return (size_t) c->width * 4 * (size_t) c->height;
}

static void
two_slots(struct client *c)
{
	slot_add(c, 0, c->width * 4);
	slot_add(c, frame_bytes(c), c->width * 4);
}

static uint32_t
expect_plain(const struct client *c, int x, int y, int f)
{
	return pattern(x, y, f, 0);
}

/* Frame f drawn whole into the least recently used free buffer among
 * slots first..nslots-1. */
static struct wl_buffer *
draw_in_free(struct client *c, int first, int f)
{
	struct slot *slot = slot_free(c, first);

	if (slot == NULL)
		return NULL;
	draw_rows(slot_pixels(c, slot), slot->stride, c->width, 0, c->height,
		  drawn_frame(c, f), 0);
	slot->busy = true;
	return slot->buffer;
}

/* Draw into the next free buffer of the mapping. */
static struct wl_buffer *
frame_plain(struct client *c, int f)
{
	return draw_in_free(c, 0, f);
}

/* map-before-create: as weston-simple-shm, GTK, Qt, SDL. */
static int
setup_map_before_create(struct client *c)
{
	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	/* Something in the pool before create_pool: the one copy. */
	draw_rows((uint32_t *) c->map, c->width * 4, c->width, 0, c->height, -1, 0);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

/* map-after-create: the mapping the library could remap does not exist yet. */
static int
setup_map_after_create(struct client *c)
{
	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	wl_display_roundtrip(c->display);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	two_slots(c);
	return 0;
}

/* large-pool: a pool far larger than its buffers, as foot reserves 512
 * MiB and draws a few MB of it: two buffers 40 MiB apart from 128 MiB on.
 * The library holds host memory only around them (two windows). */
static int
setup_large_pool(struct client *c)
{
	c->pool_size = LARGE_POOL;
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	slot_add(c, LARGE_POOL / 2, c->width * 4);
	slot_add(c, LARGE_POOL / 2 + (40u << 20), c->width * 4);
	return 0;
}

/* sealed: a memfd that can neither shrink nor grow, nor take new seals,
 * drawn through the mapping made before sealing. Not F_SEAL_FUTURE_WRITE:
 * weston (libwayland-server 1.21) maps pools writable and refuses it. */
static int
setup_sealed(struct client *c)
{
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, MFD_ALLOW_SEALING);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	if (fcntl(c->fd, F_ADD_SEALS, seals) < 0)
		die("F_ADD_SEALS: %s", strerror(errno));
	printf("zerocopy-client: seals=0x%x\n", fcntl(c->fd, F_GET_SEALS));
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

/* shm-open: a POSIX shared memory file (tmpfs), unlinked at once. */
static int
setup_shm_open(struct client *c)
{
	char name[64];

	snprintf(name, sizeof name, "/zerocopy-pool-%d", (int) getpid());
	c->fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (c->fd < 0)
		die("shm_open(%s): %s", name, strerror(errno));
	shm_unlink(name);
	c->pool_size = 2 * frame_bytes(c);
	if (ftruncate(c->fd, (off_t) c->pool_size) < 0)
		die("ftruncate: %s", strerror(errno));
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

/* unaligned: buffers at offsets that are no multiple of the page size,
 * with padded rows. */
#define UNALIGNED_FIRST (4 * 37)
#define UNALIGNED_GAP (4 * 1001)
#define UNALIGNED_PAD (4 * 3)

static int
setup_unaligned(struct client *c)
{
	int stride = c->width * 4 + UNALIGNED_PAD;
	size_t bytes = (size_t) stride * (size_t) c->height;

	c->pool_size = UNALIGNED_FIRST + 2 * bytes + UNALIGNED_GAP + 4 * 5;
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	memset(c->map, 0xa5, c->pool_size);	/* padding stays garbage */
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	slot_add(c, UNALIGNED_FIRST, stride);
	slot_add(c, UNALIGNED_FIRST + bytes + UNALIGNED_GAP, stride);
	return 0;
}

/* ---- private: a MAP_PRIVATE mapping of the pool besides the shared one ---- */

static int
setup_private(struct client *c)
{
	void *p;

	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	p = mmap(NULL, c->pool_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, 0);
	if (p == MAP_FAILED)
		die("mmap MAP_PRIVATE: %s", strerror(errno));
	c->private_map = p;
	/* The first page becomes private to this mapping (copy on write). */
	memset(c->private_map, PRIVATE_MARK, 4096);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

/* Its own first page keeps what was written through it; every other page
 * shows the file, i.e. what the shared mapping drew (mmap(2)). */
static int
check_private(struct client *c)
{
	size_t i, bad = 0, first = 0;

	for (i = 0; i < 4096; i++) {
		if ((unsigned char) c->private_map[i] != PRIVATE_MARK) {
			fprintf(stderr, "zerocopy-client: private: the MAP_PRIVATE "
				"page written before create_pool lost its content "
				"(byte %zu = 0x%02x)\n", i,
				(unsigned char) c->private_map[i]);
			return 4;
		}
	}
	for (i = 4096; i < c->pool_size; i++) {
		if (c->private_map[i] != c->map[i] && bad++ == 0)
			first = i;
	}
	if (bad) {
		fprintf(stderr, "zerocopy-client: private: %zu bytes of the "
			"MAP_PRIVATE mapping (first at %zu) differ from the file as "
			"the shared mapping drew it: the file no longer holds the "
			"client's pixels\n", bad, first);
		return 4;
	}
	printf("zerocopy-client: private mapping consistent\n");
	return 0;
}

/* ---- child-process: another process maps the pool and draws ---- */

struct child_request {
	int frame;
	int slot;
};

static void
child_main(struct client *c, int sock)
{
	struct child_request req;
	char *map = mmap(NULL, c->pool_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 c->fd, 0);
	int ok = map != MAP_FAILED;

	if (write(sock, &ok, sizeof ok) != sizeof ok || !ok)
		_exit(1);
	while (read(sock, &req, sizeof req) == sizeof req) {
		struct slot *slot = &c->slots[req.slot];

		draw_rows((uint32_t *) (map + slot->offset), slot->stride,
			  c->width, 0, c->height, req.frame, 0);
		if (write(sock, &req.frame, sizeof req.frame) != sizeof req.frame)
			_exit(1);
	}
	_exit(0);
}

static int
setup_child(struct client *c)
{
	int sv[2], ok = 0;

	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	/* Slot geometry before the fork; the buffers come after. */
	c->slots[0].offset = 0;
	c->slots[1].offset = frame_bytes(c);
	c->slots[0].stride = c->slots[1].stride = c->width * 4;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	c->child = fork();
	if (c->child < 0)
		die("fork: %s", strerror(errno));
	if (c->child == 0) {
		close(sv[0]);
		child_main(c, sv[1]);
	}
	close(sv[1]);
	c->child_sock = sv[0];
	/* The child's mapping exists before create_pool; this process has none. */
	if (read(c->child_sock, &ok, sizeof ok) != sizeof ok || !ok)
		die("the child could not map the pool");
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	c->nslots = 0;
	two_slots(c);
	return 0;
}

static struct wl_buffer *
frame_child(struct client *c, int f)
{
	struct slot *slot = slot_free(c, 0);
	struct child_request req;
	int done;

	if (slot == NULL)
		return NULL;
	req.frame = drawn_frame(c, f);
	req.slot = (int) (slot - c->slots);
	if (write(c->child_sock, &req, sizeof req) != sizeof req ||
	    read(c->child_sock, &done, sizeof done) != sizeof done ||
	    done != req.frame)
		die("the drawing child failed");
	slot->busy = true;
	return slot->buffer;
}

static int
finish_child(struct client *c)
{
	int status;

	close(c->child_sock);
	if (waitpid(c->child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "zerocopy-client: the drawing child failed "
			"(status 0x%x)\n", status);
		return 5;
	}
	return 0;
}

/* ---- grow: ftruncate + mremap(MREMAP_MAYMOVE) + resize, new buffers at
 * the new end; grow-mmap: the same with munmap + a new mmap, as
 * libwayland-cursor grows its pool ---- */

/* A page right after the mapping, so the next mremap has to move it. */
static void
grow_guard(struct client *c)
{
	void *want = c->map + ((c->map_size + 4095) & ~(size_t) 4095);

	if (c->guard)
		munmap(c->guard, 4096);
	c->guard = mmap(want, 4096, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (c->guard == MAP_FAILED)
		c->guard = NULL;
	else if (c->guard != want) {
		munmap(c->guard, 4096);
		c->guard = NULL;
	}
}

static int
setup_grow(struct client *c)
{
	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	c->map = map_shared(c->fd, c->pool_size);
	c->map_size = c->pool_size;
	grow_guard(c);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

static void
grow_pool(struct client *c)
{
	size_t old = c->pool_size, size = old + 2 * frame_bytes(c);
	char *old_map = c->map;
	void *p;

	if (ftruncate(c->fd, (off_t) size) < 0)
		die("ftruncate(%zu): %s", size, strerror(errno));
	if (strcmp(c->mode->name, "grow-mmap") == 0) {
		/* A new view, as libwayland-cursor (upstream and ours) does. */
		munmap(c->map, c->map_size);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	} else {
#ifdef ZC_MREMAP
		p = mremap(c->map, c->map_size, size, MREMAP_MAYMOVE);
#else
		/* A program that imports mremap has its pools copied by the
		 * library (mremap-scan.c): only zerocopy-client-mremap does. */
		die("this build does not call mremap: run zerocopy-client-mremap");
#endif
	}
	if (p == MAP_FAILED)
		die("growing the mapping to %zu: %s", size, strerror(errno));
	c->map = p;
	c->map_size = c->pool_size = size;
	grow_guard(c);
	wl_shm_pool_resize(c->pool, (int32_t) size);
	slot_add(c, old, c->width * 4);
	slot_add(c, old + frame_bytes(c), c->width * 4);
	printf("zerocopy-client: grow: pool %zu -> %zu bytes, mapping %s\n",
	       old, size, old_map == c->map ? "in place" : "moved");
}

static struct wl_buffer *
frame_grow(struct client *c, int f)
{
	if (f > 0 && f % GROW_EVERY == 0 && f / GROW_EVERY <= GROW_TIMES &&
	    c->nslots < 2 + 2 * (f / GROW_EVERY))
		grow_pool(c);
	/* Only the buffers at the newest offsets. */
	return draw_in_free(c, c->nslots - 2, f);
}

/* ---- partial: each frame changes one tile (of 4 x 2) and damages only
 * it; the two buffers are kept whole (a buffer's other tiles are brought
 * up to date when it is drawn), as toolkits do with buffer age. A library
 * that copies only this commit's damage shows the tile the other buffer
 * changed one frame earlier stale. ---- */

#define PARTIAL_COLS 4
#define PARTIAL_ROWS 2
#define PARTIAL_TILES (PARTIAL_COLS * PARTIAL_ROWS)

static int
partial_tile(const struct client *c, int x, int y)
{
	return y * PARTIAL_ROWS / c->height * PARTIAL_COLS + x * PARTIAL_COLS / c->width;
}

/* The frame that last changed the tile at (x, y), as of frame f: frame 0
 * draws all, then frame g changes tile g % PARTIAL_TILES. */
static int
partial_frame(const struct client *c, int x, int y, int f)
{
	int tile = partial_tile(c, x, y);
	int g = f - ((f - tile) % PARTIAL_TILES + PARTIAL_TILES) % PARTIAL_TILES;

	return g > 0 ? g : 0;
}

static uint32_t
expect_partial(const struct client *c, int x, int y, int f)
{
	return pattern(x, y, partial_frame(c, x, y, f), 0);
}

static void
partial_repainted(void *data, struct wl_callback *callback, uint32_t time)
{
	*(bool *) data = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener partial_repaint_listener = {
	partial_repainted,
};

/* The compositor repaints only what was damaged, from whichever buffer was
 * current then: a stale band in the last buffer would not show. Moving the
 * window by a pixel (the last buffer attached again, with no damage) has
 * the whole window repainted from the last buffer. */
static int
check_partial(struct client *c)
{
	struct wl_callback *callback;
	bool done = false;

	wl_surface_attach(c->surface, c->last_buffer, 1, 0);
	callback = wl_surface_frame(c->surface);
	wl_callback_add_listener(callback, &partial_repaint_listener, &done);
	wl_surface_commit(c->surface);
	while (!done)
		if (wl_display_dispatch(c->display) < 0)
			return 5;
	return 0;
}

static struct wl_buffer *
frame_partial(struct client *c, int f)
{
	struct slot *slot = slot_free(c, 0);
	int frame = drawn_frame(c, f), tile = frame % PARTIAL_TILES, x, y;

	if (slot == NULL)
		return NULL;
	for (y = 0; y < c->height; y++) {
		uint32_t *row = (uint32_t *) ((char *) slot_pixels(c, slot) +
					      (size_t) y * slot->stride);

		for (x = 0; x < c->width; x++)
			row[x] = pattern(x, y, partial_frame(c, x, y, frame), 0);
	}
	if (f > 0) {
		c->damage_band = true;
		c->damage_x0 = tile % PARTIAL_COLS * c->width / PARTIAL_COLS;
		c->damage_x1 = (tile % PARTIAL_COLS + 1) * c->width / PARTIAL_COLS;
		c->damage_y0 = tile / PARTIAL_COLS * c->height / PARTIAL_ROWS;
		c->damage_y1 = (tile / PARTIAL_COLS + 1) * c->height / PARTIAL_ROWS;
	}
	slot->busy = true;
	return slot->buffer;
}

/* ---- outgrow: a view mapped larger than the pool, kept while the pool
 * grows past it; a second, larger view is made for the new size, but the
 * buffers at the old offsets are made anew and still drawn through the
 * first view ---- */

#define OUTGROW_AT 10		/* the frame at which the pool grows */

static int
setup_outgrow(struct client *c)
{
	c->pool_size = 2 * frame_bytes(c);
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	/* One frame of room beyond the pool, not enough for the growth. */
	c->map = map_shared(c->fd, 3 * frame_bytes(c));
	c->map_size = 3 * frame_bytes(c);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	two_slots(c);
	return 0;
}

static struct wl_buffer *
frame_outgrow(struct client *c, int f)
{
	if (f == OUTGROW_AT && c->nslots == 2) {
		size_t size = 6 * frame_bytes(c);

		if (ftruncate(c->fd, (off_t) size) < 0)
			die("ftruncate(%zu): %s", size, strerror(errno));
		c->second_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (c->second_view == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		wl_shm_pool_resize(c->pool, (int32_t) size);
		c->pool_size = size;
		slot_add(c, 0, c->width * 4);
		slot_add(c, frame_bytes(c), c->width * 4);
	}
	return draw_in_free(c, c->nslots - 2, f);
}

/* ---- new-pool: a client that makes a new pool of the same fd instead of
 * resizing, and keeps its mapping. new-pool: the same size, the first pool
 * destroyed, new buffers from the second. new-pool-larger: a larger one
 * (after ftruncate and a new view), and the first pool kept: later frames
 * go in turn to a new buffer of the first pool and of the second ---- */

#define NEW_POOL_AT 10

static struct wl_buffer *
frame_new_pool(struct client *c, int f)
{
	bool larger = strcmp(c->mode->name, "new-pool-larger") == 0;

	if (f == NEW_POOL_AT && c->nslots == 2) {
		size_t size = larger ? 4 * frame_bytes(c) : c->pool_size;

		if (larger) {
			if (ftruncate(c->fd, (off_t) size) < 0)
				die("ftruncate: %s", strerror(errno));
			munmap(c->map, c->map_size);
			c->map = map_shared(c->fd, size);
			c->map_size = size;
			c->first_pool = c->pool;
		} else {
			wl_shm_pool_destroy(c->pool);
		}
		c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) size);
		c->pool_size = size;
		slot_add(c, 2 * frame_bytes(c) * larger, c->width * 4);
		slot_add(c, (2 * larger + 1) * frame_bytes(c), c->width * 4);
	}
	if (larger && c->first_pool && f > NEW_POOL_AT && f % 2) {
		/* A buffer made now from the first pool, at its second frame. */
		struct wl_shm_pool *second = c->pool;

		c->pool = c->first_pool;
		slot_add(c, frame_bytes(c), c->width * 4);
		c->pool = second;
		c->slots[c->nslots - 1].busy = true;
		draw_rows(slot_pixels(c, &c->slots[c->nslots - 1]), c->width * 4,
			  c->width, 0, c->height, drawn_frame(c, f), 0);
		return c->slots[c->nslots - 1].buffer;
	}
	return draw_in_free(c, c->nslots > 2 ? 2 : 0, f);
}

/* ---- punch: foot's scrolling; the buffer moves forward through the pool,
 * what scrolled out is punched out, the pool grows at its end ---- */

static uint32_t
scroll_pixel(int x, int row)
{
	return pattern(x, row, 0, 77);
}

static uint32_t
expect_punch(const struct client *c, int x, int y, int f)
{
	return scroll_pixel(x, y + f * SCROLL_ROWS);
}

static int
setup_punch(struct client *c)
{
	void *p;

	c->pool_size = (frame_bytes(c) + 16 * (size_t) c->width * 4 + 4095) & ~(size_t) 4095;
	c->fd = pool_fd_create("zerocopy-pool", c->pool_size, 0);
	/* foot maps the whole address range it may scroll through at once. */
	p = mmap(NULL, PUNCH_RESERVE, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	c->map = p;
	c->map_size = PUNCH_RESERVE;
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) c->pool_size);
	return 0;
}

static void
punch_buffer_release(void *data, struct wl_buffer *buffer)
{
	struct client *c = data;

	if (buffer == c->scroll_buffer) {
		c->waiting_buffer = false;
		return;
	}
	wl_buffer_destroy(buffer);
	if (buffer == c->scroll_old)
		c->scroll_old = NULL;
}

static const struct wl_buffer_listener punch_buffer_listener = {
	punch_buffer_release,
};

static struct wl_buffer *
frame_punch(struct client *c, int f)
{
	size_t row_bytes = (size_t) c->width * 4, end, keep;
	int first = 0, y;

	if (f > 0) {
		/* Punch what the buffer before the current one had alone: the
		 * compositor may still show the current one until it is replaced. */
		keep = c->scroll_offset & ~(size_t) 4095;
		if (keep > c->punched) {
			if (fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t) c->punched, (off_t) (keep - c->punched)) < 0)
				die("fallocate(PUNCH_HOLE): %s", strerror(errno));
			c->punched = keep;
		}
		c->scroll_offset = (size_t) drawn_frame(c, f) * SCROLL_ROWS * row_bytes;
		first = c->height - SCROLL_ROWS;
		if (drawn_frame(c, f) != f)
			first = 0;
	}
	end = c->scroll_offset + frame_bytes(c);
	while (end > c->pool_size) {
		c->pool_size += PUNCH_STEP;
		if (c->pool_size > c->map_size)
			die("punch: pool beyond the reserved mapping");
		if (ftruncate(c->fd, (off_t) c->pool_size) < 0)
			die("ftruncate: %s", strerror(errno));
		wl_shm_pool_resize(c->pool, (int32_t) c->pool_size);
		printf("zerocopy-client: punch: pool resized to %zu bytes\n",
		       c->pool_size);
	}
	/* Only the rows that scrolled in are drawn; the rest is what the pool
	 * already holds. */
	for (y = first; y < c->height; y++) {
		uint32_t *row = (uint32_t *) (c->map + c->scroll_offset +
					      (size_t) y * row_bytes);
		int x, abs = (int) (c->scroll_offset / row_bytes) + y;

		for (x = 0; x < c->width; x++)
			row[x] = scroll_pixel(x, abs);
	}
	if (c->scroll_buffer)
		c->scroll_old = c->scroll_buffer;
	c->scroll_buffer = wl_shm_pool_create_buffer(c->pool, (int32_t) c->scroll_offset,
						     c->width, c->height,
						     (int32_t) row_bytes,
						     WL_SHM_FORMAT_XRGB8888);
	wl_buffer_add_listener(c->scroll_buffer, &punch_buffer_listener, c);
	return c->scroll_buffer;
}

/* ---- thread: a second thread draws while this one creates the pool ----
 *
 * The window is THREAD_BANDS bands, each a subsurface with its own pool, so the race is run once per band. The
 * top half of a band is drawn once, pixel by pixel, in a paced pass that
 * starts as that band's create_pool is called (it waits at 90 % until
 * the band's first commit has returned: the library remaps the pool
 * there); each frame then redraws only the bottom halves, so a write lost
 * while a pool was created or remapped stays visible. */

static int
band_height(const struct client *c)
{
	return c->height / THREAD_BANDS;
}

static uint32_t
expect_thread(const struct client *c, int x, int y, int f)
{
	int h = band_height(c), k = y / h;

	if (y % h < h / 2)
		return pattern(x, y, 0, THREAD_SEED + (uint32_t) k);
	return pattern(x, y, f, 0);
}

static uint32_t *
band_row(struct client *c, int k, int slot, int y)
{
	size_t bytes = (size_t) c->width * 4 * (size_t) band_height(c);

	return (uint32_t *) (c->bands[k].map + (size_t) slot * bytes +
			     (size_t) (y % band_height(c)) * c->width * 4);
}

static void
thread_static_pass(struct client *c, int k)
{
	int h = band_height(c), total = 2 * (h / 2) * c->width, i = 0, s, x, y;
	uint64_t t0;

	/* Spin until create_pool is about to be called: this thread is then
	 * surely running while the library copies and remaps. */
	atomic_store(&c->static_ready, 1);
	while (!atomic_load(&c->pool_creating))
		;
	t0 = now_ns();

	for (y = k * h; y < k * h + h / 2; y++) {
		for (s = 0; s < 2; s++) {
			volatile uint32_t *row = band_row(c, k, s, y);

			for (x = 0; x < c->width; x++) {
				row[x] = pattern(x, y, 0, THREAD_SEED + (uint32_t) k);
				atomic_store(&c->static_done, ++i);
				/* Busy, not yielding: this thread must be
				 * running when the library copies and remaps. */
				while (!atomic_load(&c->pool_created) &&
				       now_ns() - t0 < (uint64_t) i * THREAD_PACE_NS)
					;
				while (!atomic_load(&c->pool_created) &&
				       i >= total * 9 / 10)
					sched_yield();
			}
		}
	}
}

/* Requests: THREAD_STATIC - k: the static pass of band k; f >= 0: the
 * bottom halves of frame f in slot thread_slot; THREAD_QUIT. */
#define THREAD_IDLE (-1)
#define THREAD_QUIT (-2)
#define THREAD_STATIC (-100)

static void *
thread_main(void *data)
{
	struct client *c = data;
	int req, k, y, h = band_height(c);

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->thread_request == THREAD_IDLE)
			pthread_cond_wait(&c->cond, &c->lock);
		req = c->thread_request;
		if (req == THREAD_QUIT)
			break;
		pthread_mutex_unlock(&c->lock);
		if (req <= THREAD_STATIC) {
			thread_static_pass(c, THREAD_STATIC - req);
		} else {
			for (k = 0; k < THREAD_BANDS; k++) {
				for (y = k * h + h / 2; y < (k + 1) * h; y++) {
					uint32_t *row = band_row(c, k, c->thread_slot, y);
					int x;

					for (x = 0; x < c->width; x++)
						row[x] = pattern(x, y, req, 0);
				}
			}
		}
		pthread_mutex_lock(&c->lock);
		c->thread_done = req;
		c->thread_request = THREAD_IDLE;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Hands the drawing thread a request and waits until it is done. */
static void
thread_run(struct client *c, int req)
{
	pthread_mutex_lock(&c->lock);
	c->thread_request = req;
	c->thread_done = THREAD_IDLE;
	pthread_cond_broadcast(&c->cond);
	while (c->thread_done != req)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* The band's pool, its buffers, and the commit that first shows one: the
 * library takes the pool's host memory at create_pool and remaps the
 * client's views onto it when the compositor first reads the pool (that
 * commit), so the drawing thread's writes must survive both. */
static void
thread_band_first_commit(struct client *c, struct band *band, size_t bytes)
{
	int s, h = band_height(c);

	band->pool = wl_shm_create_pool(c->shm, band->fd, (int32_t) (2 * bytes));
	for (s = 0; s < 2; s++)
		band->buffers[s] = wl_shm_pool_create_buffer(band->pool,
							     (int32_t) (s * bytes),
							     c->width, h, c->width * 4,
							     WL_SHM_FORMAT_XRGB8888);
	wl_surface_attach(band->surface, band->buffers[0], 0, 0);
	wl_surface_damage_buffer(band->surface, 0, 0, c->width, h);
	wl_surface_commit(band->surface);
	wl_display_flush(c->display);
}

static int
setup_thread(struct client *c)
{
	int h = band_height(c), total = 2 * (h / 2) * c->width, before, after, k, s;
	int raced = 0;
	size_t bytes = (size_t) c->width * 4 * (size_t) h;
	uint64_t t;

	if (c->subcompositor == NULL)
		die("the compositor has no wl_subcompositor");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->thread_request = THREAD_IDLE;
	if (pthread_create(&c->thread, NULL, thread_main, c) != 0)
		die("pthread_create failed");
	c->thread_running = true;

	for (k = 0; k < THREAD_BANDS; k++) {
		struct band *band = &c->bands[k];
		int attempt;

		band->surface = wl_compositor_create_surface(c->compositor);
		band->subsurface = wl_subcompositor_get_subsurface(c->subcompositor,
								   band->surface,
								   c->surface);
		wl_subsurface_set_position(band->subsurface, 0, k * h);
		/* Again (with a new pool) while the drawing thread did not get
		 * to run during create_pool and the first commit: the
		 * scheduler decides. */
		for (attempt = 0; attempt < THREAD_ATTEMPTS; attempt++) {
			if (attempt > 0) {
				for (s = 0; s < 2; s++)
					wl_buffer_destroy(band->buffers[s]);
				wl_shm_pool_destroy(band->pool);
				munmap(band->map, 2 * bytes);
				close(band->fd);
				c->pool_size -= 2 * bytes;
			}
			band->fd = pool_fd_create("zerocopy-pool", 2 * bytes, 0);
			band->map = map_shared(band->fd, 2 * bytes);
			c->pool_size += 2 * bytes;
			atomic_store(&c->static_done, 0);
			atomic_store(&c->static_ready, 0);
			atomic_store(&c->pool_creating, 0);
			atomic_store(&c->pool_created, 0);
			pthread_mutex_lock(&c->lock);
			c->thread_request = THREAD_STATIC - k;
			c->thread_done = THREAD_IDLE;
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);

			/* The pass starts as create_pool is called. */
			while (!atomic_load(&c->static_ready))
				;
			atomic_store(&c->pool_creating, 1);
			before = atomic_load(&c->static_done);
			t = now_ns();
			thread_band_first_commit(c, band, bytes);
			t = now_ns() - t;
			after = atomic_load(&c->static_done);
			atomic_store(&c->pool_created, 1);
			printf("zerocopy-client: thread: band %d: create_pool and the first "
			       "commit took %llu us while the other thread wrote pixels "
			       "%d..%d of %d\n", k,
			       (unsigned long long) t / 1000, before, after, total);
			pthread_mutex_lock(&c->lock);
			while (c->thread_done != THREAD_STATIC - k)
				pthread_cond_wait(&c->cond, &c->lock);
			pthread_mutex_unlock(&c->lock);
			if (after > before) {
				raced++;
				break;
			}
		}

	}

	printf("zerocopy-client: thread: raced_bands=%d of %d\n", raced, THREAD_BANDS);

	/* The toplevel itself has the window's size (where weston places a
	 * window depends on it) and is covered by the bands. */
	c->fd = pool_fd_create("zerocopy-pool", frame_bytes(c), 0);
	c->map = map_shared(c->fd, frame_bytes(c));
	c->map_size = frame_bytes(c);
	c->pool_size += frame_bytes(c);
	draw_rows((uint32_t *) c->map, c->width * 4, c->width, 0, c->height, 0,
		  PARENT_SEED);
	c->pool = wl_shm_create_pool(c->shm, c->fd, (int32_t) frame_bytes(c));
	c->thread_parent = wl_shm_pool_create_buffer(c->pool, 0, c->width, c->height,
						     c->width * 4,
						     WL_SHM_FORMAT_XRGB8888);
	return 0;
}

/* Buffers alternate by frame: the compositor releases the one of frame
 * f - 2 when frame f - 1 replaces it, before f - 1's frame callback. */
static struct wl_buffer *
frame_thread(struct client *c, int f)
{
	int k, s = f % 2, h = band_height(c);

	c->thread_slot = s;
	thread_run(c, drawn_frame(c, f));
	for (k = 0; k < THREAD_BANDS; k++) {
		wl_surface_attach(c->bands[k].surface, c->bands[k].buffers[s], 0, 0);
		wl_surface_damage_buffer(c->bands[k].surface, 0, 0, c->width, h);
		wl_surface_commit(c->bands[k].surface);
	}
	return c->thread_parent;
}

static int
finish_thread(struct client *c)
{
	if (!c->thread_running)
		return 0;
	pthread_mutex_lock(&c->lock);
	c->thread_request = THREAD_QUIT;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->thread_running = false;
	return 0;
}

/* ---- many-pools: a grid of subsurfaces, each with its own pool and one
 * small buffer, on a parent with its own pool: 301 pools ---- */

static int
grid_cell_at(int x, int y, int *cx, int *cy)
{
	int col = (x - 2) / CELL_STEP, row = (y - 2) / CELL_STEP;

	if (x < 2 || y < 2 || col >= GRID_COLS || row >= GRID_ROWS)
		return -1;
	*cx = x - 2 - col * CELL_STEP;
	*cy = y - 2 - row * CELL_STEP;
	if (*cx >= CELL || *cy >= CELL)
		return -1;
	return row * GRID_COLS + col;
}

static uint32_t
expect_grid(const struct client *c, int x, int y, int f)
{
	int cx, cy, k = grid_cell_at(x, y, &cx, &cy);

	if (k < 0)
		return pattern(x, y, f, PARENT_SEED);
	return pattern(cx, cy, f, (uint32_t) k + 1);
}

static void
grid_pool(struct client *c, int k, int w, int h)
{
	size_t size = (size_t) w * 4 * (size_t) h;
	int fd = pool_fd_create("zerocopy-pool", size, 0);

	c->grid_maps[k] = (uint32_t *) map_shared(fd, size);
	c->grid_pools[k] = wl_shm_create_pool(c->shm, fd, (int32_t) size);
	c->grid_buffers[k] = wl_shm_pool_create_buffer(c->grid_pools[k], 0, w, h,
						       w * 4, WL_SHM_FORMAT_XRGB8888);
	close(fd);
	c->pool_size += size;
}

static int
setup_grid(struct client *c)
{
	int k;

	if (c->subcompositor == NULL)
		die("the compositor has no wl_subcompositor");
	c->fd = -1;
	for (k = 0; k < GRID_POOLS; k++) {
		grid_pool(c, k, CELL, CELL);
		c->cells[k] = wl_compositor_create_surface(c->compositor);
		c->subsurfaces[k] = wl_subcompositor_get_subsurface(c->subcompositor,
								    c->cells[k],
								    c->surface);
		wl_subsurface_set_position(c->subsurfaces[k],
					   2 + (k % GRID_COLS) * CELL_STEP,
					   2 + (k / GRID_COLS) * CELL_STEP);
	}
	grid_pool(c, GRID_POOLS, c->width, c->height);
	return 0;
}

/* One buffer per pool: drawn again while the compositor may hold it, as
 * such clients do; what counts is the last frame. */
static struct wl_buffer *
frame_grid(struct client *c, int f)
{
	int k, d = drawn_frame(c, f);

	for (k = 0; k < GRID_POOLS; k++) {
		draw_rows(c->grid_maps[k], CELL * 4, CELL, 0, CELL, d, (uint32_t) k + 1);
		wl_surface_attach(c->cells[k], c->grid_buffers[k], 0, 0);
		wl_surface_damage_buffer(c->cells[k], 0, 0, CELL, CELL);
		wl_surface_commit(c->cells[k]);
	}
	draw_rows(c->grid_maps[GRID_POOLS], c->width * 4, c->width, 0, c->height,
		  d, PARENT_SEED);
	return c->grid_buffers[GRID_POOLS];
}

/* ---- the modes ---- */

static const struct mode modes[] = {
	{ "map-before-create", setup_map_before_create, frame_plain, expect_plain, NULL, 256, 192 },
	{ "map-after-create", setup_map_after_create, frame_plain, expect_plain, NULL, 256, 192 },
	{ "child-process", setup_child, frame_child, expect_plain, finish_child, 256, 192 },
	{ "grow", setup_grow, frame_grow, expect_plain, NULL, 256, 192 },
	{ "grow-mmap", setup_grow, frame_grow, expect_plain, NULL, 256, 192 },
	{ "punch", setup_punch, frame_punch, expect_punch, NULL, 256, 192 },
	{ "outgrow", setup_outgrow, frame_outgrow, expect_plain, NULL, 256, 192 },
	{ "new-pool", setup_map_before_create, frame_new_pool, expect_plain, NULL, 256, 192 },
	{ "new-pool-larger", setup_map_before_create, frame_new_pool, expect_plain, NULL, 256, 192 },
	{ "partial", setup_map_before_create, frame_partial, expect_partial, check_partial, 256, 192 },
	{ "sealed", setup_sealed, frame_plain, expect_plain, NULL, 256, 192 },
	{ "large-pool", setup_large_pool, frame_plain, expect_plain, NULL, 256, 192 },
	{ "shm-open", setup_shm_open, frame_plain, expect_plain, NULL, 256, 192 },
	{ "many-pools", setup_grid, frame_grid, expect_grid, NULL,
	  4 + GRID_COLS * CELL_STEP - 2, 4 + GRID_ROWS * CELL_STEP - 2 },
	{ "unaligned", setup_unaligned, frame_plain, expect_plain, NULL, 256, 192 },
	{ "thread", setup_thread, frame_thread, expect_thread, finish_thread, 256, 192 },
	{ "private", setup_private, frame_plain, expect_plain, check_private, 256, 192 },
};

/* ---- memory report (--memory) ---- */

/* Sums the fields of /proc/self/smaps (or smaps_rollup) over the VMAs that
 * start in [lo, hi) (all when hi == 0) whose name contains `name` (any
 * when NULL). */
static void
smaps_sum(const char *path, uintptr_t lo, uintptr_t hi, const char *name,
	  long *rss, long *pss, long *anon)
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool in = hi == 0 && name == NULL;
	long v;

	*rss = *pss = *anon = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ':') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (hi == 0 || (a < hi && b > lo)) &&
			     (name == NULL || strstr(line, name));
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %ld kB", &v) == 1)
			*rss += v * 1024;
		else if (sscanf(line, "Pss: %ld kB", &v) == 1)
			*pss += v * 1024;
		else if (sscanf(line, "Anonymous: %ld kB", &v) == 1)
			*anon += v * 1024;
	}
	fclose(f);
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Bytes of distinct physical pages this process has resident, from
 * /proc/self/pagemap: a page mapped twice (the client's view and the
 * library's of the same host memory) counts once, unlike in Rss. -1 when
 * page frame numbers are hidden (they need CAP_SYS_ADMIN). */
static long
distinct_resident(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t *pfns = NULL, entries[512];
	size_t n = 0, cap = 0, i, unique = 0;
	bool seen_pfn = false;
	char line[512];

	if (maps == NULL || pagemap < 0)
		die("cannot read /proc/self/maps or pagemap: %s", strerror(errno));
	while (fgets(line, sizeof line, maps)) {
		unsigned long a, b, page;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 ||
		    strstr(line, "[vsyscall]") || strcmp(perms, "---p") == 0)
			continue;
		for (page = a / 4096; page < b / 4096; ) {
			size_t want = b / 4096 - page, got;

			if (want > 512)
				want = 512;
			got = (size_t) pread(pagemap, entries, want * 8, (off_t) page * 8);
			if (got == (size_t) -1 || got == 0)
				break;
			for (i = 0; i < got / 8; i++) {
				if (!(entries[i] >> 63))
					continue;
				if (n == cap) {
					cap = cap ? 2 * cap : 4096;
					pfns = realloc(pfns, cap * sizeof *pfns);
					if (pfns == NULL)
						die("out of memory");
				}
				pfns[n] = entries[i] & ((1ull << 55) - 1);
				seen_pfn |= pfns[n] != 0;
				n++;
			}
			page += got / 8;
		}
	}
	fclose(maps);
	close(pagemap);
	qsort(pfns, n, sizeof *pfns, compare_u64);
	for (i = 0; i < n; i++)
		unique += i == 0 || pfns[i] != pfns[i - 1];
	free(pfns);
	return seen_pfn ? (long) unique * 4096 : -1;
}

static void
memory_baseline(struct client *c)
{
	smaps_sum("/proc/self/smaps_rollup", 0, 0, NULL, &c->rss_before,
		  &c->pss_before, &c->anon_before);
	c->distinct_before = distinct_resident();
}

static void
memory_report(struct client *c)
{
	long rss, pss, anon, r_rss, r_pss, r_anon, m_rss, m_pss, m_anon, distinct;
	long unmapped;
	uintptr_t lo = (uintptr_t) c->map, hi = lo + c->pool_size;
	struct stat st;
	char line[512];
	FILE *f;

	smaps_sum("/proc/self/smaps_rollup", 0, 0, NULL, &rss, &pss, &anon);
	smaps_sum("/proc/self/smaps", lo, hi, NULL, &r_rss, &r_pss, &r_anon);
	smaps_sum("/proc/self/smaps", 0, UINTPTR_MAX, "memfd:zerocopy-pool",
		  &m_rss, &m_pss, &m_anon);
	if (fstat(c->fd, &st) < 0)
		st.st_blocks = 0;
	distinct = distinct_resident();
	/* The memfd's pages no mapping shows are guest memory all the same. */
	unmapped = (long) st.st_blocks * 512 - m_rss;
	if (unmapped < 0)
		unmapped = 0;
	printf("zerocopy-client: memory pool_size=%zu pool_memory=%ld "
	       "distinct_delta=%ld memfd_unmapped=%ld rss_delta=%ld pss_delta=%ld "
	       "anon_delta=%ld pool_range_rss=%ld pool_range_pss=%ld "
	       "memfd_mapped_rss=%ld memfd_allocated=%lld\n",
	       c->pool_size,
	       distinct < 0 || c->distinct_before < 0 ? -1 :
	       distinct - c->distinct_before + unmapped,
	       distinct < 0 || c->distinct_before < 0 ? -1 :
	       distinct - c->distinct_before, unmapped,
	       rss - c->rss_before, pss - c->pss_before,
	       anon - c->anon_before, r_rss, r_pss, m_rss,
	       (long long) st.st_blocks * 512);
	/* What now backs the range the client draws into. */
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && a < hi && b > lo)
			printf("zerocopy-client: memory pool range: %s", line);
	}
	if (f)
		fclose(f);
}

/* ---- the client ---- */

static void
wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	wm_base_ping,
};

static void
registry_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version)
{
	struct client *c = data;

	if (strcmp(interface, "wl_compositor") == 0)
		c->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	else if (strcmp(interface, "wl_subcompositor") == 0)
		c->subcompositor = wl_registry_bind(registry, name,
						    &wl_subcompositor_interface, 1);
	else if (strcmp(interface, "wl_shm") == 0)
		c->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	else if (strcmp(interface, "xdg_wm_base") == 0) {
		c->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(c->wm_base, &wm_base_listener, c);
	}
}

static void
registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	registry_global,
	registry_global_remove,
};

static void
xdg_surface_configure(void *data, struct xdg_surface *xdg_surface, uint32_t serial)
{
	struct client *c = data;

	xdg_surface_ack_configure(xdg_surface, serial);
	c->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	xdg_surface_configure,
};

static void
toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t width,
		   int32_t height, struct wl_array *states)
{
}

static void
toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
}

static const struct xdg_toplevel_listener toplevel_listener = {
	toplevel_configure,
	toplevel_close,
};

static void redraw(struct client *c);

static void
frame_done(void *data, struct wl_callback *callback, uint32_t time)
{
	struct client *c = data;

	wl_callback_destroy(callback);
	c->waiting_frame = false;
	redraw(c);
}

static const struct wl_callback_listener frame_listener = {
	frame_done,
};

static void
hold(struct client *c)
{
	wl_display_roundtrip(c->display);
	c->held = true;
	if (c->mode->check)
		c->status = c->mode->check(c);
	if (c->report_memory)
		memory_report(c);
	printf("zerocopy-client: held mode=%s frame=%d pid=%d pool_size=%zu status=%d\n",
	       c->mode->name, c->frames - 1, (int) getpid(), c->pool_size, c->status);
	fflush(stdout);
}

/* Draws and commits the next frame when the last one was shown and a
 * buffer is free; after the last one, holds. */
static void
redraw(struct client *c)
{
	struct wl_buffer *buffer;
	struct wl_callback *callback;

	if (c->waiting_frame || c->held)
		return;
	if (c->frame == c->frames) {
		hold(c);
		return;
	}
	buffer = c->mode->frame(c, c->frame);
	if (buffer == NULL) {
		c->waiting_buffer = true;
		return;
	}
	wl_surface_attach(c->surface, buffer, 0, 0);
	c->last_buffer = buffer;
	if (c->damage_band && c->frame % 2) {
		/* Surface coordinates (scale 1) every other frame. */
		wl_surface_damage(c->surface, c->damage_x0, c->damage_y0,
				  c->damage_x1 - c->damage_x0,
				  c->damage_y1 - c->damage_y0);
	} else if (c->damage_band) {
		wl_surface_damage_buffer(c->surface, c->damage_x0, c->damage_y0,
					 c->damage_x1 - c->damage_x0,
					 c->damage_y1 - c->damage_y0);
	} else {
		wl_surface_damage_buffer(c->surface, 0, 0, INT32_MAX, INT32_MAX);
	}
	c->damage_band = false;
	callback = wl_surface_frame(c->surface);
	wl_callback_add_listener(callback, &frame_listener, c);
	wl_surface_commit(c->surface);
	c->waiting_frame = true;
	c->frame++;
}

static int
write_expected(const struct client *c, const char *path)
{
	FILE *f = fopen(path, "wb");
	int x, y;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "P6\n%d %d\n255\n", c->width, c->height);
	for (y = 0; y < c->height; y++) {
		for (x = 0; x < c->width; x++) {
			uint32_t p = c->mode->expect(c, x, y, c->frames - 1);

			fputc((p >> 16) & 0xff, f);
			fputc((p >> 8) & 0xff, f);
			fputc(p & 0xff, f);
		}
	}
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
	return 0;
}

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: zerocopy-client [--frames N] [--size WxH] [--timeout S] "
		"[--memory] [--sabotage] [--expect OUT.ppm] MODE\nmodes:");
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++)
		fprintf(stderr, " %s", modes[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct client c = { .frames = 30, .fd = -1, .last_slot = -1 };
	const char *expect = NULL, *name = NULL;
	double timeout = 60;
	struct timespec start, now;
	bool holding = false;
	sigset_t signals;
	int i, sfd;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
			c.frames = atoi(argv[++i]);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%dx%d", &c.width, &c.height) != 2)
				usage();
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = atof(argv[++i]);
		else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
			expect = argv[++i];
		else if (strcmp(argv[i], "--memory") == 0)
			c.report_memory = true;
		else if (strcmp(argv[i], "--sabotage") == 0)
			c.sabotage = true;
		else if (argv[i][0] == '-' || name)
			usage();
		else
			name = argv[i];
	}
	for (k = 0; name && k < sizeof modes / sizeof modes[0]; k++)
		if (strcmp(modes[k].name, name) == 0)
			c.mode = &modes[k];
	if (c.mode == NULL || c.frames < 2)
		usage();
	if (c.width <= 0 || strcmp(name, "many-pools") == 0) {
		c.width = c.mode->width;
		c.height = c.mode->height;
	}
	if (expect)
		return write_expected(&c, expect);

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Background jobs of a shell start with SIGINT ignored. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	sfd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));

	c.display = wl_display_connect(NULL);
	if (c.display == NULL)
		die("cannot connect: %s", strerror(errno));
	c.registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(c.registry, &registry_listener, &c);
	wl_display_roundtrip(c.display);
	if (!c.compositor || !c.shm || !c.wm_base)
		die("the compositor lacks wl_compositor, wl_shm or xdg_wm_base");

	c.surface = wl_compositor_create_surface(c.compositor);
	c.xdg_surface = xdg_wm_base_get_xdg_surface(c.wm_base, c.surface);
	xdg_surface_add_listener(c.xdg_surface, &xdg_surface_listener, &c);
	c.toplevel = xdg_surface_get_toplevel(c.xdg_surface);
	xdg_toplevel_add_listener(c.toplevel, &toplevel_listener, &c);
	xdg_toplevel_set_title(c.toplevel, c.mode->name);
	wl_surface_commit(c.surface);
	while (!c.configured)
		if (wl_display_dispatch(c.display) < 0)
			die("connection lost before the first configure");

	if (c.report_memory)
		memory_baseline(&c);
	c.mode->setup(&c);
	if (wl_display_roundtrip(c.display) < 0)
		die("connection lost after creating the pool: %s", strerror(errno));
	printf("zerocopy-client: mode=%s %dx%d pool_size=%zu frames=%d\n",
	       c.mode->name, c.width, c.height, c.pool_size, c.frames);
	fflush(stdout);
	redraw(&c);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd fds[2] = {
			{ wl_display_get_fd(c.display), POLLIN, 0 },
			{ sfd, POLLIN, 0 },
		};
		double elapsed;

		if (c.waiting_buffer == false && !c.waiting_frame && !c.held)
			redraw(&c);
		while (wl_display_prepare_read(c.display) != 0)
			wl_display_dispatch_pending(c.display);
		if (wl_display_flush(c.display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(c.display);
			die("connection lost: %s", strerror(errno));
		}
		if (poll(fds, 2, 250) < 0 && errno != EINTR) {
			wl_display_cancel_read(c.display);
			die("poll: %s", strerror(errno));
		}
		if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			if (wl_display_read_events(c.display) < 0)
				die("connection lost: %s", strerror(errno));
		} else {
			wl_display_cancel_read(c.display);
		}
		if (wl_display_dispatch_pending(c.display) < 0)
			die("protocol error or connection lost: %s", strerror(errno));
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof si) == sizeof si)
				printf("zerocopy-client: signal %u, exiting\n", si.ssi_signo);
			if (!c.held) {
				fprintf(stderr, "zerocopy-client: stopped at frame %d of %d\n",
					c.frame, c.frames);
				c.status = 3;
			}
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* --timeout bounds the way to the last frame. Once held, the
		 * window stays until the caller's signal, whenever its shot
		 * comes: a guest's clock under TCG on a loaded host can leap
		 * ahead of the host's, and a hold that ended on it took the
		 * window away before the shot. HOLD_MAX only ends an orphan. */
		if (c.held && !holding) {
			start = now;
			holding = true;
		}
		elapsed = (double) (now.tv_sec - start.tv_sec) +
			  (double) (now.tv_nsec - start.tv_nsec) / 1e9;
		if (elapsed > (holding ? HOLD_MAX : timeout)) {
			fprintf(stderr, "zerocopy-client: timeout after %.0f s at "
				"frame %d of %d%s\n", holding ? HOLD_MAX : timeout,
				c.frame, c.frames, c.held ? " (held)" : "");
			if (!c.held)
				c.status = 3;
			break;
		}
	}

	if (c.mode->setup == setup_child && !c.held) {
		close(c.child_sock);
		waitpid(c.child, NULL, 0);
	}
	if (c.mode->setup == setup_thread)
		finish_thread(&c);
	fflush(stdout);
	wl_display_disconnect(c.display);
	return c.status;
}
