/*
 * librutabaga_gfx_ffi driven as QEMU's virtio-gpu-rutabaga drives it (host/rutabaga/
 * README.md), against a compositor socket of the test's own: capsets, contexts, rings in
 * "guest memory", INIT, fences per ring, a RECEIVE with an fd turned into a mapped HOST3D
 * blob, a SEND, SENDs past the socket's room (QEMU's thread never waits), EOF, and what it
 * refuses. Checks the bytes and results QEMU would see.
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
	CHECK(rutabaga_resource_create_3d(rtb, 9, &(struct rutabaga_create_3d){ .target = 2 }) != 0);

	/* The rings: GUEST blobs over "guest memory", attached; then INIT connects. */
	CHECK(rutabaga_resource_create_blob(rtb, 0, 1, &guest, &qvecs, NULL) == 0);
	CHECK(rutabaga_resource_create_blob(rtb, 0, 2, &guest, &cvecs, NULL) == 0);
	CHECK(rutabaga_context_attach_resource(rtb, 1, 1) == 0);
	CHECK(rutabaga_context_attach_resource(rtb, 1, 2) == 0);
	CHECK(ring_fence(rtb, 1, 1, true) == 0);	/* before INIT: dropped, as rutabaga */
	CHECK(submit(rtb, &init, sizeof init) == 0);
	conn = accept(listener, NULL, NULL);
	CHECK(conn >= 0);
	CHECK(!fence_wait(1, 100));

	/* Fences: global and query ring at once, an unknown ring refused. */
	CHECK(ring_fence(rtb, 2, 0, false) == 0 && fence_wait(2, 0));
	CHECK(ring_fence(rtb, 3, 0, true) == 0 && fence_wait(3, 0));
	CHECK(ring_fence(rtb, 4, 7, true) != 0);

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

	/* A broken command fails its submit (one log line), and the context with it. */
	hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, 0, 0 };
	CHECK(submit(rtb, &hdr, sizeof hdr) != 0);
	CHECK(submit(rtb, &poll_cmd, sizeof poll_cmd) != 0);

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
