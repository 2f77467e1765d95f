/*
 * librutabaga_gfx_ffi driven as QEMU's virtio-gpu-rutabaga drives it (host/rutabaga/
 * README.md), against a compositor socket of the test's own: capsets, contexts, rings in
 * "guest memory", INIT, fences per ring, a RECEIVE with an fd turned into a mapped HOST3D
 * blob, a SEND, SENDs past the socket's room (QEMU's thread never waits) and past the 64 MiB
 * a context may queue, EOF, 2D resources (the guest's console) and what it refuses. Checks the bytes and results QEMU would see.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rutabaga_gfx/rutabaga_gfx_ffi.h>

#include "virtgpu-uapi.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "rutabaga-test: %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
	exit(1); } } while (0)

static pthread_mutex_t fence_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fence_cond = PTHREAD_COND_INITIALIZER;
static uint64_t fences_seen[64];
static unsigned num_fences;

static void
fence_cb(uint64_t user_data, const struct rutabaga_fence *fence)
{
	CHECK(user_data == 0x1234);
	pthread_mutex_lock(&fence_lock);
	if (num_fences < 64)
		fences_seen[num_fences++] = fence->fence_id;
	pthread_cond_broadcast(&fence_cond);
	pthread_mutex_unlock(&fence_lock);
}

/* Whether fence_id was signalled within ms. */
static bool
fence_wait(uint64_t fence_id, int ms)
{
	struct timespec until;
	bool seen = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&fence_lock);
	for (;;) {
		for (unsigned i = 0; i < num_fences; i++)
			seen |= fences_seen[i] == fence_id;
		if (seen || pthread_cond_timedwait(&fence_cond, &fence_lock, &until) == ETIMEDOUT)
			break;
	}
	for (unsigned i = 0; i < num_fences; i++)
		seen |= fences_seen[i] == fence_id;
	pthread_mutex_unlock(&fence_lock);
	return seen;
}

static struct rutabaga_builder
builder_for(struct rutabaga_channels *channels)
{
	return (struct rutabaga_builder){
		.user_data = 0x1234,
		.capset_mask = 1ull << RUTABAGA_CAPSET_CROSS_DOMAIN,
		.wsi = RUTABAGA_WSI_SURFACELESS,
		.fence_cb = fence_cb,
		.channels = channels,
	};
}

static void
test_refusals(struct rutabaga_channels *channels)
{
	struct rutabaga_builder b = builder_for(channels);
	struct rutabaga *rtb = NULL;
	uint64_t mask;

	b.capset_mask |= 1ull << RUTABAGA_CAPSET_VIRGL2;
	CHECK(rutabaga_init(&b, &rtb) == -EINVAL && !rtb);
	b = builder_for(channels);
	b.wsi = 0;
	CHECK(rutabaga_init(&b, &rtb) == -EINVAL && !rtb);
	CHECK(rutabaga_calculate_capset_mask("venus:cross-domain", &mask) == 0);
	CHECK(mask == ((1ull << 4) | (1ull << 5)));
}

static int
ring_fence(struct rutabaga *rtb, uint64_t id, uint32_t ring, bool ring_flag)
{
	struct rutabaga_fence f = {
		.flags = RUTABAGA_FLAG_FENCE | (ring_flag ? RUTABAGA_FLAG_INFO_RING_IDX : 0),
		.fence_id = id, .ctx_id = 1, .ring_idx = ring,
	};
	return rutabaga_create_fence(rtb, &f);
}

static int
submit(struct rutabaga *rtb, void *cmd, uint32_t size)
{
	struct rutabaga_command c = { .ctx_id = 1, .cmd_size = size, .cmd = cmd };
	return rutabaga_submit_command(rtb, &c);
}

static void
send_with_fd(int sock, const char *data, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	CHECK(sendmsg(sock, &msg, 0) == (ssize_t)strlen(data));
}

/* --- 2D resources: the guest's console, dumb buffers and cursor (as QEMU drives them) --- */

#define W2D 64
#define H2D 32

static struct rutabaga_create_3d
create_2d(uint32_t format, uint32_t width, uint32_t height)
{
	/* What QEMU's RESOURCE_CREATE_2D passes. */
	return (struct rutabaga_create_3d){ .target = 2, .format = format, .bind = 1 << 1,
		.width = width, .height = height, .depth = 1, .array_size = 1, .flags = 1 };
}

static struct rutabaga_transfer
box(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return (struct rutabaga_transfer){ .x = x, .y = y, .w = w, .h = h, .d = 1 };
}

/* The pixel the guest wrote at (x, y): its position, so a misplaced copy shows. */
static uint32_t
pattern(uint32_t x, uint32_t y)
{
	return 0xff000000u | y << 12 | x;
}

static void
check_create_2d(struct rutabaga *rtb)
{
	struct rutabaga_create_3d c = create_2d(2, W2D, H2D);

	CHECK(rutabaga_resource_create_3d(rtb, 20, &c) == 0);
	CHECK(rutabaga_resource_create_3d(rtb, 20, &c) != 0);	/* the id is taken */
	CHECK(rutabaga_resource_create_3d(rtb, 1, &c) != 0);	/* by a blob too: one table */
	c.target = 3;						/* a 3D texture */
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) != 0);
	c = create_2d(2, W2D, H2D);
	c.depth = 4;
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) != 0);
	c = create_2d(999, W2D, H2D);				/* not a virtio-gpu format */
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) != 0);
	c = create_2d(2, 0, H2D);
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) != 0);
	c = create_2d(2, 16384, 16384);				/* 1 GiB */
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) == -ENOMEM);
	c = create_2d(2, 1u << 31, 1u << 31);			/* 4 * w * h wraps to 0 */
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) == -ENOMEM);
	c = create_2d(2, UINT32_MAX, UINT32_MAX);
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) == -ENOMEM);
	/* 256 MiB of 2D resources in all: what one frees, another may take. */
	c = create_2d(2, 8192, 8191);			/* 256 MiB less 32 KiB */
	CHECK(rutabaga_resource_create_3d(rtb, 21, &c) == 0);
	c = create_2d(2, 128, 64);			/* 32 KiB, 8 KiB too many */
	CHECK(rutabaga_resource_create_3d(rtb, 22, &c) == -ENOMEM);
	CHECK(rutabaga_resource_unref(rtb, 21) == 0);
	CHECK(rutabaga_resource_create_3d(rtb, 22, &c) == 0);
	CHECK(rutabaga_resource_unref(rtb, 22) == 0);
	/* A 2D resource has no handle: nothing to map or export. */
	struct rutabaga_mapping map;
	struct rutabaga_handle handle;
	uint32_t info;
	CHECK(rutabaga_resource_map(rtb, 20, &map) != 0);
	CHECK(rutabaga_resource_map_info(rtb, 20, &info) != 0);
	CHECK(rutabaga_resource_export_blob(rtb, 20, &handle) != 0);
}

/* Guest pages holding the pattern, packed, cut into iovecs at odd places (one empty). */
static uint32_t *
guest_image(struct iovec *iov, size_t *num, size_t size)
{
	uint32_t *px = malloc(W2D * H2D * 4);
	uint8_t *bytes = (uint8_t *)px;

	for (uint32_t y = 0; y < H2D; y++)
		for (uint32_t x = 0; x < W2D; x++)
			px[y * W2D + x] = pattern(x, y);
	iov[0] = (struct iovec){ bytes, 1001 };
	iov[1] = (struct iovec){ bytes + 1001, 0 };
	iov[2] = (struct iovec){ bytes + 1001, 4097 };
	iov[3] = (struct iovec){ bytes + 5098, size - 5098 };
	*num = 4;
	return px;
}

static int
read_2d(struct rutabaga *rtb, struct rutabaga_transfer t, void *buf, size_t size)
{
	struct iovec iov = { buf, size };

	return rutabaga_resource_transfer_read(rtb, 0, 20, &t, &iov);
}

static void
check_transfers_2d(struct rutabaga *rtb)
{
	struct iovec iov[4];
	struct rutabaga_iovecs vecs = { iov, 0 };
	uint32_t *out = malloc(W2D * H2D * 4), *guest, *again;
	struct rutabaga_transfer t = box(3, 2, 10, 5);

	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);	/* no backing yet */
	guest = guest_image(iov, &vecs.num_iovecs, W2D * H2D * 4);
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &vecs) == 0);

	/* TRANSFER_TO_HOST_2D of a box, then a flush as QEMU's (stride 0, w*h*4 bytes):
	 * the box's pixels where they were, the rest still black. */
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) == 0);
	CHECK(read_2d(rtb, box(0, 0, W2D, H2D), out, W2D * H2D * 4) == 0);
	for (uint32_t y = 0; y < H2D; y++)
		for (uint32_t x = 0; x < W2D; x++)
			CHECK(out[y * W2D + x] == (x >= 3 && x < 13 && y >= 2 && y < 7 ?
						   pattern(x, y) : 0));

	/* The whole screen, read back into a wider image (stride 4 * W + 16). */
	t = box(0, 0, W2D, H2D);
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) == 0);
	uint32_t *wide = calloc(H2D, W2D * 4 + 16);
	t.stride = W2D * 4 + 16;
	CHECK(rutabaga_resource_transfer_read(rtb, 0, 20, &t, &(struct iovec){ wide,
			H2D * (W2D * 4 + 16) }) == 0);
	for (uint32_t y = 0; y < H2D; y++)
		CHECK(memcmp(wide + y * (W2D + 4), guest + y * W2D, W2D * 4) == 0 &&
		      wide[y * (W2D + 4) + W2D] == 0);
	free(wide);

	/* The source offset: row 2 of the backing into row 0. */
	t = box(0, 0, W2D, 1);
	t.offset = 2 * W2D * 4;
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) == 0);
	CHECK(read_2d(rtb, box(0, 0, W2D, H2D), out, W2D * H2D * 4) == 0);
	CHECK(memcmp(out, guest + 2 * W2D, W2D * 4) == 0);
	CHECK(memcmp(out + W2D, guest + W2D, (H2D - 1) * W2D * 4) == 0);

	/* TRANSFER_FROM_HOST_3D (no buffer): into a new backing, split likewise. */
	CHECK(rutabaga_resource_detach_backing(rtb, 20) == 0);
	again = guest_image(iov, &vecs.num_iovecs, W2D * H2D * 4);
	memset(again, 0, W2D * H2D * 4);
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &vecs) == 0);
	t = box(0, 0, W2D, H2D);
	CHECK(rutabaga_resource_transfer_read(rtb, 0, 20, &t, NULL) == 0);
	CHECK(memcmp(again, out, W2D * H2D * 4) == 0);
	CHECK(rutabaga_resource_detach_backing(rtb, 20) == 0);
	free(again);
	free(guest);
	/* The backing is gone (ASan: its memory is freed): nothing reads it. */
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);
	free(out);
}

/* What a hostile or broken guest can send: each one refused, nothing copied, no crash. */
static void
check_hostile_2d(struct rutabaga *rtb)
{
	uint8_t *mem = calloc(1, W2D * H2D * 4), *out = malloc(W2D * H2D * 4);
	struct iovec iov[4] = { { mem, W2D * H2D * 4 - 1 } };
	struct rutabaga_iovecs vecs = { iov, 1 };
	struct rutabaga_transfer t;

	/* Backings: none, empty, without memory, wrapping 64 bits, too many entries. */
	CHECK(rutabaga_resource_attach_backing(rtb, 20, NULL) != 0);
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &(struct rutabaga_iovecs){ iov, 0 }) != 0);
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &(struct rutabaga_iovecs){ NULL, 1 }) != 0);
	iov[1] = (struct iovec){ NULL, 4096 };
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &(struct rutabaga_iovecs){ iov, 2 }) != 0);
	iov[1] = (struct iovec){ mem, SIZE_MAX };
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &(struct rutabaga_iovecs){ iov, 2 }) != 0);
	CHECK(rutabaga_resource_attach_backing(rtb, 20,
					       &(struct rutabaga_iovecs){ iov, 1u << 20 }) != 0);
	CHECK(rutabaga_resource_attach_backing(rtb, 1, &vecs) != 0);	/* a blob */
	CHECK(rutabaga_resource_attach_backing(rtb, 99, &vecs) != 0);	/* no such resource */

	/* A backing one byte short of the image: the last row does not fit. */
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &vecs) == 0);
	t = box(0, 0, W2D, H2D);
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);
	t = box(0, 0, W2D, H2D - 1);
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) == 0);
	t.offset = W2D * 4 + 1;			/* past the end by one byte */
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);
	t.offset = UINT64_MAX - 8;		/* wraps */
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);

	/* Boxes outside the resource, or wrapping 32 bits; an empty one does nothing. */
	struct rutabaga_transfer bad[] = { box(W2D - 4, 0, 5, 1), box(0, H2D - 2, 1, 3),
		box(UINT32_MAX, 0, 2, 1), box(0, UINT32_MAX, 1, 2), box(W2D, 0, 1, 1) };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &bad[i]) != 0);
		CHECK(read_2d(rtb, bad[i], out, W2D * H2D * 4) != 0);
	}
	t = box(UINT32_MAX, UINT32_MAX, 0, 0);
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) == 0);

	/* QEMU's buffer: short by one pixel, a stride that runs past it, no memory. The buffer
	 * is left as it was. */
	memset(out, 0xaa, W2D * H2D * 4);
	CHECK(read_2d(rtb, box(0, 0, W2D, H2D), out, W2D * H2D * 4 - 4) != 0);
	t = box(0, 0, W2D, H2D);
	t.stride = UINT32_MAX;
	CHECK(rutabaga_resource_transfer_read(rtb, 0, 20, &t, &(struct iovec){ out,
			W2D * H2D * 4 }) != 0);
	for (size_t i = 0; i < W2D * H2D * 4; i++)
		CHECK(out[i] == 0xaa);
	CHECK(read_2d(rtb, box(0, 0, 1, 1), NULL, 4) != 0);
	CHECK(rutabaga_resource_transfer_read(rtb, 0, 1, &t, NULL) != 0);	/* a blob */
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 99, &t) != 0);

	/* Unref while a context holds it: the pixels and backing go at once, transfers fail. */
	CHECK(rutabaga_context_attach_resource(rtb, 3, 20) == 0);
	CHECK(rutabaga_resource_unref(rtb, 20) == 0);
	free(mem);
	CHECK(rutabaga_resource_transfer_write(rtb, 0, 20, &t) != 0);
	CHECK(read_2d(rtb, box(0, 0, W2D, H2D), out, W2D * H2D * 4) != 0);
	CHECK(rutabaga_resource_attach_backing(rtb, 20, &vecs) != 0);
	free(out);
}

/* --- a DRM file closing: 6.1's drm_file_free detaches each GEM handle, then destroys the
 * context (postclose); a POLL may still be due in between --- */

/* Runs fn with stderr going to a file; returns what was written there (malloc'd). */
static char *
stderr_of(void (*fn)(struct rutabaga *rtb), struct rutabaga *rtb)
{
	char path[] = "/tmp/rutabaga-test-stderr-XXXXXX", *text = calloc(1, 4096);
	int saved = dup(2), fd = mkstemp(path);

	CHECK(saved >= 0 && fd >= 0 && text);
	fflush(stderr);
	CHECK(dup2(fd, 2) == 2);
	fn(rtb);
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	CHECK(pread(fd, text, 4095, 0) >= 0);
	close(fd);
	close(saved);
	unlink(path);
	return text;
}

static int closing_listener = -1;

/* Context ctx_id with its query and channel rings (GUEST blobs res and res + 1 over
 * query and chan, one page each), INIT connected to closing_listener: the compositor's end. */
static int
connected_context(struct rutabaga *rtb, uint32_t ctx_id, uint32_t res, uint8_t *query,
		  uint8_t *chan)
{
	struct iovec qv = { query, 4096 }, cv = { chan, 4096 };
	struct rutabaga_iovecs qvecs = { &qv, 1 }, cvecs = { &cv, 1 };
	struct rutabaga_create_blob guest = { RUTABAGA_BLOB_MEM_GUEST,
					      RUTABAGA_BLOB_FLAG_USE_MAPPABLE, 0, 4096 };
	struct cross_domain_init init = { { CROSS_DOMAIN_CMD_INIT, 0, sizeof init, 0 }, res,
					  res + 1, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND };
	struct rutabaga_command c = { .ctx_id = ctx_id, .cmd_size = sizeof init,
				      .cmd = (uint8_t *)&init };
	int conn;

	memset(chan, 0, 4096);
	CHECK(rutabaga_context_create(rtb, ctx_id, RUTABAGA_CAPSET_CROSS_DOMAIN, NULL, 0) == 0);
	CHECK(rutabaga_resource_create_blob(rtb, 0, res, &guest, &qvecs, NULL) == 0);
	CHECK(rutabaga_resource_create_blob(rtb, 0, res + 1, &guest, &cvecs, NULL) == 0);
	CHECK(rutabaga_context_attach_resource(rtb, ctx_id, res) == 0);
	CHECK(rutabaga_context_attach_resource(rtb, ctx_id, res + 1) == 0);
	CHECK(rutabaga_submit_command(rtb, &c) == 0);
	conn = accept(closing_listener, NULL, NULL);
	CHECK(conn >= 0);
	return conn;
}

static void
close_with_poll_due(struct rutabaga *rtb)
{
	uint8_t *query = aligned_alloc(4096, 4096), *chan = aligned_alloc(4096, 4096);
	struct cross_domain_poll poll_cmd = { { CROSS_DOMAIN_CMD_POLL, 0, sizeof poll_cmd, 0 }, 0 };
	struct rutabaga_command c = { .ctx_id = 4, .cmd_size = sizeof poll_cmd,
				      .cmd = (uint8_t *)&poll_cmd };
	struct rutabaga_fence f = { .flags = RUTABAGA_FLAG_FENCE | RUTABAGA_FLAG_INFO_RING_IDX,
				    .fence_id = 40, .ctx_id = 4, .ring_idx = 1 };
	char byte;
	ssize_t n;
	int conn = connected_context(rtb, 4, 30, query, chan);

	CHECK(rutabaga_submit_command(rtb, &c) == 0 && rutabaga_create_fence(rtb, &f) == 0);
	/* The guest process exits: its rings are detached, then the compositor speaks. */
	CHECK(rutabaga_context_detach_resource(rtb, 4, 30) == 0);
	CHECK(rutabaga_context_detach_resource(rtb, 4, 31) == 0);
	CHECK(write(conn, "bye", 3) == 3);
	/* Nothing goes into memory the guest let go, and its fence waits... */
	CHECK(!fence_wait(40, 300));
	CHECK(chan[0] == 0);
	/* ...until the context goes: QEMU keeps the POLL queued until its fence signals. */
	CHECK(rutabaga_context_destroy(rtb, 4) == 0);
	CHECK(fence_wait(40, 0));
	CHECK(chan[0] == 0);
	/* The compositor sees its client leave (a reset: its last bytes were not read). */
	n = read(conn, &byte, 1);
	CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
	CHECK(rutabaga_resource_unref(rtb, 30) == 0 && rutabaga_resource_unref(rtb, 31) == 0);
	close(conn);
	free(query);
	free(chan);
}

static size_t flood_bytes;

/* A guest that never waits for a fence SENDs to a compositor that never reads: QEMU answers
 * each unfenced submit at once, so only the library's bound (64 MiB a context) stops it. */
static void
flood_without_reader(struct rutabaga *rtb)
{
	enum { CHUNK = 4000 };
	uint8_t *query = aligned_alloc(4096, 4096), *chan = aligned_alloc(4096, 4096);
	static uint8_t cmd[CROSS_DOMAIN_SR_DATA_OFF(28) + CHUNK];
	struct cross_domain_header hdr = { CROSS_DOMAIN_CMD_SEND, 0, sizeof cmd, 0 };
	struct rutabaga_command c = { .ctx_id = 5, .cmd_size = sizeof cmd, .cmd = cmd };
	uint32_t chunk = CHUNK;
	size_t got = 0;
	char buf[65536];
	ssize_t n;
	int conn = connected_context(rtb, 5, 32, query, chan);

	memcpy(cmd, &hdr, sizeof hdr);
	memcpy(cmd + 12, &chunk, 4);
	flood_bytes = 0;
	for (int i = 0; i < (80 << 20) / CHUNK; i++) {
		memset(cmd + CROSS_DOMAIN_SR_DATA_OFF(28), 'a' + i % 26, CHUNK);
		if (rutabaga_submit_command(rtb, &c) != 0)
			break;
		flood_bytes += sizeof cmd;
	}
	/* Lost: the compositor has what went into its socket, in order, then the end. (Not
	 * lost: the socket stays open, so check_flood says what went wrong.) */
	if (flood_bytes >= (72u << 20))
		shutdown(conn, SHUT_RDWR);
	while ((n = read(conn, buf, sizeof buf)) > 0) {
		for (ssize_t j = 0; j < n; j++, got++)
			CHECK(buf[j] == 'a' + (int)(got / CHUNK) % 26);
	}
	CHECK(n == 0 || errno == ECONNRESET);
	CHECK(got < flood_bytes || flood_bytes >= (72u << 20));
	CHECK(rutabaga_context_destroy(rtb, 5) == 0);
	CHECK(rutabaga_resource_unref(rtb, 32) == 0 && rutabaga_resource_unref(rtb, 33) == 0);
	close(conn);
	free(query);
	free(chan);
}

static void
check_flood(struct rutabaga *rtb)
{
	char *log = stderr_of(flood_without_reader, rtb);

	/* Refused between 64 MiB and 64 MiB + what the socket took, with one line. */
	CHECK(flood_bytes >= 64u << 20 && flood_bytes < (72u << 20));
	if (!strstr(log, "context 5 lost") || !strstr(log, "64 MiB"))
		fputs("rutabaga-test: the flood logged:\n", stderr), fputs(log, stderr);
	CHECK(strstr(log, "context 5 lost") && strstr(log, "64 MiB"));
	free(log);
}

/* The order a closing guest gives is no fault of the guest's: no context is "lost". */
static void
check_close_order(struct rutabaga *rtb)
{
	char *log;

	log = stderr_of(close_with_poll_due, rtb);
	if (strstr(log, "lost"))
		fputs("rutabaga-test: a closing guest logged:\n", stderr), fputs(log, stderr);
	CHECK(!strstr(log, "lost"));
	free(log);
}

int
main(void)
{
	char dir[] = "/tmp/rutabaga-test-XXXXXX", path[128];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct rutabaga_channel channel = { path, RUTABAGA_CHANNEL_TYPE_WAYLAND };
	struct rutabaga_channels channels = { &channel, 1 };
	struct rutabaga_builder b = builder_for(&channels);
	struct rutabaga *rtb = NULL;
	uint32_t num, id, version, size;
	struct cross_domain_capabilities caps;
	uint8_t *query = aligned_alloc(4096, 4096), *chan = aligned_alloc(4096, 4096);
	struct iovec qv = { query, 4096 }, cv = { chan, 4096 };
	struct rutabaga_iovecs qvecs = { &qv, 1 }, cvecs = { &cv, 1 };
	struct rutabaga_create_blob guest = { RUTABAGA_BLOB_MEM_GUEST, RUTABAGA_BLOB_FLAG_USE_MAPPABLE, 0, 4096 };
	struct cross_domain_init init = { { CROSS_DOMAIN_CMD_INIT, 0, sizeof init, 0 }, 1, 2,
					  CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND };
	struct cross_domain_poll poll_cmd = { { CROSS_DOMAIN_CMD_POLL, 0, sizeof poll_cmd, 0 }, 0 };
	int listener, conn;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/wayland-0", dir);
	strcpy(addr.sun_path, path);
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(listener, 4) == 0);

	test_refusals(&channels);
	CHECK(rutabaga_init(&b, &rtb) == 0 && rtb);

	/* Capsets: one, cross-domain, version 0, 16 bytes; Wayland offered, memfd blobs. */
	CHECK(rutabaga_get_num_capsets(rtb, &num) == 0 && num == 1);
	CHECK(rutabaga_get_capset_info(rtb, 0, &id, &version, &size) == 0);
	CHECK(id == 5 && version == 0 && size == 16);
	CHECK(rutabaga_get_capset_info(rtb, 1, &id, &version, &size) != 0);
	CHECK(rutabaga_get_capset(rtb, 5, 0, (uint8_t *)&caps, sizeof caps) == 0);
	CHECK(caps.version == 1 && caps.supported_channels == 2 && caps.supports_dmabuf == 0);

	/* Contexts: cross-domain and the default one; another capset is refused. */
	CHECK(rutabaga_context_create(rtb, 1, RUTABAGA_CAPSET_CROSS_DOMAIN, "t", 1) == 0);
	CHECK(rutabaga_context_create(rtb, 1, RUTABAGA_CAPSET_CROSS_DOMAIN, NULL, 0) != 0);
	CHECK(rutabaga_context_create(rtb, 2, RUTABAGA_CAPSET_VIRGL2, NULL, 0) != 0);
	CHECK(rutabaga_context_create(rtb, 3, 0, NULL, 0) == 0);

	/* The rings: GUEST blobs over "guest memory", attached; then INIT connects. */
	CHECK(rutabaga_resource_create_blob(rtb, 0, 1, &guest, &qvecs, NULL) == 0);
	CHECK(rutabaga_resource_create_blob(rtb, 0, 2, &guest, &cvecs, NULL) == 0);

	/* The guest's console: a 2D resource in the same id space. */
	check_create_2d(rtb);
	check_transfers_2d(rtb);
	check_hostile_2d(rtb);
	CHECK(rutabaga_context_attach_resource(rtb, 1, 1) == 0);
	CHECK(rutabaga_context_attach_resource(rtb, 1, 2) == 0);
	/* A channel fence before INIT: rutabaga drops it, and QEMU would keep the command and
	 * its descriptor for good; it signals at once, with nothing in the ring. */
	memset(chan, 0xa5, 64);
	CHECK(ring_fence(rtb, 1, 1, true) == 0 && fence_wait(1, 0));
	CHECK(chan[0] == 0xa5 && chan[63] == 0xa5);
	memset(chan, 0, 64);
	CHECK(submit(rtb, &init, sizeof init) == 0);
	conn = accept(listener, NULL, NULL);
	CHECK(conn >= 0);

	/* Fences: global and query ring at once; an unknown ring or context refused (QEMU
	 * logs it) and signalled at once all the same, as QEMU answers the command only then. */
	CHECK(ring_fence(rtb, 2, 0, false) == 0 && fence_wait(2, 0));
	CHECK(ring_fence(rtb, 3, 0, true) == 0 && fence_wait(3, 0));
	CHECK(ring_fence(rtb, 4, 7, true) != 0 && fence_wait(4, 0));
	struct rutabaga_fence stranger = {
		.flags = RUTABAGA_FLAG_FENCE | RUTABAGA_FLAG_INFO_RING_IDX,
		.fence_id = 12, .ctx_id = 42, .ring_idx = 1,
	};
	CHECK(rutabaga_create_fence(rtb, &stranger) != 0 && fence_wait(12, 0));

	/* The channel: a poll fence signals once the compositor's bytes and fd are in the
	 * ring; the fd becomes a HOST3D blob QEMU maps, holding the same bytes. */
	CHECK(submit(rtb, &poll_cmd, sizeof poll_cmd) == 0);
	CHECK(ring_fence(rtb, 5, 1, true) == 0);
	CHECK(!fence_wait(5, 100));
	int memfd = memfd_create("keymap", 0);
	CHECK(ftruncate(memfd, 8192) == 0 && pwrite(memfd, "keymap!", 7, 4096) == 7);
	send_with_fd(conn, "hello", memfd);
	close(memfd);
	CHECK(fence_wait(5, 5000));
	uint32_t num_ids, data_size, ids[1], types[1], sizes[1];
	CHECK(chan[0] == CROSS_DOMAIN_CMD_RECEIVE);
	memcpy(&num_ids, chan + 8, 4);
	memcpy(&data_size, chan + 12, 4);
	memcpy(ids, chan + CROSS_DOMAIN_SR_IDS_OFF(28), 4);
	memcpy(types, chan + CROSS_DOMAIN_SR_TYPES_OFF(28), 4);
	memcpy(sizes, chan + CROSS_DOMAIN_SR_SIZES_OFF(28), 4);
	CHECK(num_ids == 1 && data_size == 5 && memcmp(chan + 352, "hello", 5) == 0);
	CHECK(types[0] == CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB && sizes[0] == 8192);
	struct rutabaga_create_blob host3d = { RUTABAGA_BLOB_MEM_HOST3D, 3, ids[0], 8192 };
	struct rutabaga_mapping map;
	uint32_t map_info;
	CHECK(rutabaga_resource_create_blob(rtb, 1, 10, &host3d, NULL, NULL) == 0);
	CHECK(rutabaga_resource_create_blob(rtb, 1, 11, &host3d, NULL, NULL) != 0);	/* consumed */
	CHECK(rutabaga_resource_map_info(rtb, 10, &map_info) == 0);
	CHECK((map_info & RUTABAGA_MAP_CACHE_MASK) == RUTABAGA_MAP_CACHE_CACHED);
	CHECK(rutabaga_resource_map(rtb, 10, &map) == 0 && map.size == 8192);
	CHECK(memcmp((char *)map.ptr + 4096, "keymap!", 7) == 0);
	CHECK(rutabaga_resource_map(rtb, 1, &map) != 0);	/* guest memory does not map */
	CHECK(rutabaga_resource_unmap(rtb, 10) == 0 && rutabaga_resource_unref(rtb, 10) == 0);

	/* A SEND reaches the compositor's socket. */
	uint8_t send[CROSS_DOMAIN_SR_DATA_OFF(28) + 8] = { 0 };
	struct cross_domain_header hdr = { CROSS_DOMAIN_CMD_SEND, 0, sizeof send, 0 };
	uint32_t five = 5;
	char got[16] = { 0 };
	memcpy(send, &hdr, sizeof hdr);
	memcpy(send + 12, &five, 4);
	memcpy(send + CROSS_DOMAIN_SR_DATA_OFF(28), "world", 5);
	CHECK(submit(rtb, send, sizeof send) == 0);
	CHECK(read(conn, got, sizeof got) == 5 && strcmp(got, "world") == 0);

	/* A compositor that does not read: SENDs past its socket's room wait in the library,
	 * QEMU's thread does not (it must go on serving the guest, whose next POLL is what
	 * lets a compositor blocked on its own writes read again). A query-ring fence after
	 * them signals only once they all went; the compositor gets every byte in order. */
	enum { CHUNK = 4000, CHUNKS = 150 };
	static uint8_t big[CROSS_DOMAIN_SR_DATA_OFF(28) + CHUNK];
	uint32_t chunk = CHUNK;
	struct timespec t0, t1;
	hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, sizeof big, 0 };
	memcpy(big, &hdr, sizeof hdr);
	memcpy(big + 12, &chunk, 4);
	alarm(20);	/* a submit that waits for the compositor hangs: fail, not hang */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < CHUNKS; i++) {
		memset(big + CROSS_DOMAIN_SR_DATA_OFF(28), 'a' + i % 26, CHUNK);
		CHECK(submit(rtb, big, sizeof big) == 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	CHECK(ring_fence(rtb, 7, 0, true) == 0 && !fence_wait(7, 200));
	for (int i = 0; i < CHUNKS; i++) {
		char part[CHUNK];
		size_t have = 0;

		while (have < CHUNK) {
			ssize_t n = read(conn, part + have, CHUNK - have);
			CHECK(n > 0);
			have += (size_t)n;
		}
		for (int j = 0; j < CHUNK; j++)
			CHECK(part[j] == 'a' + i % 26);
	}
	CHECK(fence_wait(7, 5000));
	alarm(0);

	/* The compositor closes: the next poll fence brings an empty RECEIVE (EOF). */
	close(conn);
	CHECK(ring_fence(rtb, 6, 1, true) == 0 && fence_wait(6, 5000));
	memcpy(&data_size, chan + 12, 4);
	memcpy(&num_ids, chan + 8, 4);
	CHECK(chan[0] == CROSS_DOMAIN_CMD_RECEIVE && data_size == 0 && num_ids == 0);

	/* A broken command fails its submit (one log line), and the context with it. The POLL
	 * due then is answered, with nothing in the ring, and so is a later channel fence: a
	 * guest waiting for them would hang (a QEMU that compares contexts answers a POLL with
	 * no other context's fence); the empty answer makes it fail with a line. */
	chan[0] = 0;
	CHECK(submit(rtb, &poll_cmd, sizeof poll_cmd) == 0);
	CHECK(ring_fence(rtb, 8, 1, true) == 0 && !fence_wait(8, 200));
	hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, 0, 0 };
	CHECK(submit(rtb, &hdr, sizeof hdr) != 0);
	CHECK(fence_wait(8, 5000) && chan[0] == 0);
	CHECK(submit(rtb, &poll_cmd, sizeof poll_cmd) != 0);
	CHECK(ring_fence(rtb, 9, 1, true) == 0 && fence_wait(9, 5000) && chan[0] == 0);

	closing_listener = listener;
	check_close_order(rtb);
	check_flood(rtb);

	CHECK(rutabaga_context_detach_resource(rtb, 1, 1) == 0);
	CHECK(rutabaga_context_destroy(rtb, 1) == 0 && rutabaga_context_destroy(rtb, 1) != 0);
	CHECK(rutabaga_resource_unref(rtb, 1) == 0 && rutabaga_resource_unref(rtb, 2) == 0);
	CHECK(rutabaga_finish(&rtb) == 0 && !rtb);
	unlink(path);
	rmdir(dir);
	free(query);
	free(chan);
	printf("rutabaga-test: ok\n");
	return 0;
}
