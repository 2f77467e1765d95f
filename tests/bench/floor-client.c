/*
 * SPDX-License-Identifier: MIT
 * The simulator's floor: the cheapest wl_display.sync round trip the fake
 * kernel allows, with no libwayland in between. It opens the render node
 * and sets up the cross-domain channel as the library does (§2), then per
 * round trip makes one EXECBUFFER holding a SEND of the sync and the next
 * POLL, and waits on the DRM fd for the RECEIVE with the callback's done.
 * With -m, the floor of marshalling: wl_region.add messages (24 bytes, as
 * client-bench -b marshal sends them), 64 to a SEND, one EXECBUFFER each
 * on the query ring (no fence, no POLL), until a round trip shows the
 * compositor has them all.
 * Runs as a guest: tests/sim/virtgpu-run -- floor-client [-n N] [-w N] [-m N].
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "virtgpu-uapi.h"

#define PAGE 4096u
#define IDS 28u			/* the identifiers of the 20-byte INIT (§3.5) */
#define CALLBACK_ID 2u		/* the sync's wl_callback, reused each time */
#define REGISTRY_ID 3u		/* -m: the objects it makes */
#define COMPOSITOR_ID 4u
#define REGION_ID 5u
#define BATCH 64u		/* wl_region.add per SEND, as client-bench's flush */

struct floor_channel {
	int fd;
	uint32_t channel_bo, query_res, channel_res;
	volatile uint8_t *ring;
	/* Event bytes not yet a whole message. */
	uint8_t stream[PAGE * 2];
	size_t stream_len;
	uint32_t compositor_name;	/* wl_compositor's global, once seen */
};

static void
die(const char *what)
{
	fprintf(stderr, "floor-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
guest_blob(struct floor_channel *c, uint32_t *bo, uint32_t *res, void **map)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = PAGE,
	};
	struct drm_virtgpu_map map_req = { 0 };

	if (ioctl(c->fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc) < 0)
		die("RESOURCE_CREATE_BLOB");
	map_req.handle = rc.bo_handle;
	if (ioctl(c->fd, DRM_IOCTL_VIRTGPU_MAP, &map_req) < 0)
		die("MAP");
	*map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		    (off_t) map_req.offset);
	if (*map == MAP_FAILED)
		die("mmap of a ring");
	*bo = rc.bo_handle;
	*res = rc.res_handle;
}

static void
submit(struct floor_channel *c, const void *cmd, uint32_t size, bool channel)
{
	struct drm_virtgpu_execbuffer eb = {
		.flags = channel ? VIRTGPU_EXECBUF_RING_IDX : 0,
		.size = size,
		.command = (uintptr_t) cmd,
		.bo_handles = channel ? (uintptr_t) &c->channel_bo : 0,
		.num_bo_handles = channel ? 1 : 0,
		.ring_idx = channel ? CROSS_DOMAIN_CHANNEL_RING : 0,
	};

	if (ioctl(c->fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) < 0)
		die("EXECBUFFER");
}

/* A SEND without a POLL goes on the query ring, as the library's do: a fence of the channel
 * ring is a POLL's, which the host holds until the compositor answers. */
static void
submit_query(struct floor_channel *c, const void *cmd, uint32_t size)
{
	struct drm_virtgpu_execbuffer eb = {
		.flags = VIRTGPU_EXECBUF_RING_IDX,
		.size = size,
		.command = (uintptr_t) cmd,
		.ring_idx = CROSS_DOMAIN_QUERY_RING,
	};

	if (ioctl(c->fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) < 0)
		die("EXECBUFFER");
}

static void
channel_open(struct floor_channel *c)
{
	struct drm_virtgpu_context_set_param params[] = {
		{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID, VIRTGPU_CAPSET_CROSS_DOMAIN },
		{ VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2 },
		{ VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, 1u << CROSS_DOMAIN_CHANNEL_RING },
	};
	struct drm_virtgpu_context_init init_ctx = { 3, 0, (uintptr_t) params };
	struct cross_domain_init init = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_INIT, .cmd_size = sizeof init },
		.channel_type = CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND,
	};
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};
	const char *node = getenv("WAYLAND_VIRTGPU_DEVICE");
	uint32_t query_bo;
	void *query, *ring;

	c->fd = open(node ? node : "/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		die("open the render node");
	if (ioctl(c->fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init_ctx) < 0)
		die("CONTEXT_INIT");
	guest_blob(c, &query_bo, &c->query_res, &query);
	guest_blob(c, &c->channel_bo, &c->channel_res, &ring);
	c->ring = ring;
	init.query_ring_id = c->query_res;
	init.channel_ring_id = c->channel_res;
	submit(c, &init, sizeof init, false);	/* alone (§3.5) */
	submit(c, &poll_cmd, sizeof poll_cmd, true);
}

/* One EXECBUFFER: a SEND of `len` bytes of requests, then, with `poll`, the
 * next POLL. */
static void
send_requests(struct floor_channel *c, const void *requests, uint32_t len, bool poll)
{
	uint8_t buf[CROSS_DOMAIN_SR_DATA_OFF(IDS) + CROSS_DOMAIN_MAX_SEND_DATA +
		    sizeof(struct cross_domain_poll)];
	struct cross_domain_header send_hdr = {
		.cmd = CROSS_DOMAIN_CMD_SEND,
		.cmd_size = CROSS_DOMAIN_SR_DATA_OFF(IDS) + len,
	};
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};
	uint32_t num_ids = 0, size = len;

	memset(buf, 0, CROSS_DOMAIN_SR_DATA_OFF(IDS));
	memcpy(buf, &send_hdr, sizeof send_hdr);
	memcpy(buf + 8, &num_ids, 4);
	memcpy(buf + 12, &size, 4);
	memcpy(buf + CROSS_DOMAIN_SR_DATA_OFF(IDS), requests, len);
	if (!poll) {
		submit_query(c, buf, send_hdr.cmd_size);
		return;
	}
	memcpy(buf + send_hdr.cmd_size, &poll_cmd, sizeof poll_cmd);
	submit(c, buf, send_hdr.cmd_size + sizeof poll_cmd, true);
}

/* One EXECBUFFER: the SEND of wl_display.sync, then the next POLL. */
static void
send_sync_and_poll(struct floor_channel *c)
{
	const uint32_t sync[3] = { 1, 12u << 16, CALLBACK_ID };

	send_requests(c, sync, sizeof sync, true);
}

/* Whole events in the stream: true once the callback's done came. */
static bool
stream_take_done(struct floor_channel *c)
{
	bool done = false;
	size_t off = 0;

	while (c->stream_len - off >= 8) {
		uint32_t head[2], size;

		memcpy(head, c->stream + off, sizeof head);
		size = head[1] >> 16;
		if (size < 8 || size > c->stream_len - off)
			break;
		if (head[0] == CALLBACK_ID && (head[1] & 0xffff) == 0)
			done = true;
		/* wl_registry.global(name, interface, version) */
		if (head[0] == REGISTRY_ID && (head[1] & 0xffff) == 0 && size >= 16 + 14 &&
		    memcmp(c->stream + off + 16, "wl_compositor", 14) == 0)
			memcpy(&c->compositor_name, c->stream + off + 8, 4);
		off += size;
	}
	memmove(c->stream, c->stream + off, c->stream_len - off);
	c->stream_len -= off;
	return done;
}

/* Waits for one fence event and takes the channel ring's message; a
 * message without the callback's done makes the next POLL alone. */
static bool
wait_message(struct floor_channel *c)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	struct drm_event ev;
	uint32_t num_ids, size;

	if (poll(&pfd, 1, 10000) != 1)
		die("no fence event within 10 s");
	if (read(c->fd, &ev, sizeof ev) != sizeof ev)
		die("read of the drm_event");
	if (c->ring[0] != CROSS_DOMAIN_CMD_RECEIVE) {
		fprintf(stderr, "floor-client: ring message %u, not RECEIVE\n", c->ring[0]);
		exit(1);
	}
	memcpy(&num_ids, (const void *) (c->ring + 8), 4);
	memcpy(&size, (const void *) (c->ring + 12), 4);
	if (num_ids != 0 || size == 0 || size > PAGE - CROSS_DOMAIN_SR_DATA_OFF(IDS) ||
	    size > sizeof c->stream - c->stream_len) {
		fprintf(stderr, "floor-client: RECEIVE of %u ids, %u bytes: the "
			"compositor hung up or sent fds\n", num_ids, size);
		exit(1);
	}
	memcpy(c->stream + c->stream_len, (const void *) (c->ring + CROSS_DOMAIN_SR_DATA_OFF(IDS)),
	       size);
	c->stream_len += size;
	c->ring[0] = 0;
	return stream_take_done(c);
}

static double
now_us(void);
static double
cpu_us(void);

/* Waits for the callback's done, each RECEIVE without it followed by a POLL. */
static void
wait_done(struct floor_channel *c)
{
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};

	while (!wait_message(c))
		submit(c, &poll_cmd, sizeof poll_cmd, true);
}

static void
roundtrip(struct floor_channel *c)
{
	send_sync_and_poll(c);
	wait_done(c);
}

/* -m: a wl_region to add to, from the registry's wl_compositor. */
static void
region_create(struct floor_channel *c)
{
	const uint32_t get_registry[3] = { 1, (12u << 16) | 1, REGISTRY_ID };
	const uint32_t sync[3] = { 1, 12u << 16, CALLBACK_ID };
	uint32_t first[6], bind_region[13];

	/* The compositor takes new ids in order: the callback's 2 first. */
	roundtrip(c);
	memcpy(first, get_registry, sizeof get_registry);
	memcpy(first + 3, sync, sizeof sync);
	send_requests(c, first, sizeof first, true);
	wait_done(c);
	if (c->compositor_name == 0) {
		fprintf(stderr, "floor-client: the registry has no wl_compositor\n");
		exit(1);
	}
	/* wl_registry.bind(name, "wl_compositor", 1, id), wl_compositor.create_region(id) */
	bind_region[0] = REGISTRY_ID;
	bind_region[1] = 40u << 16;
	bind_region[2] = c->compositor_name;
	bind_region[3] = 14;
	memcpy(&bind_region[4], "wl_compositor\0\0", 16);
	bind_region[8] = 1;
	bind_region[9] = COMPOSITOR_ID;
	bind_region[10] = COMPOSITOR_ID;
	bind_region[11] = (12u << 16) | 1;
	bind_region[12] = REGION_ID;
	send_requests(c, bind_region, sizeof bind_region, false);
	roundtrip(c);
}

/* -m: `messages` wl_region.add, BATCH to a SEND; the floor's line. */
static void
marshal(struct floor_channel *c, long messages)
{
	uint32_t batch[BATCH * 6];
	double start, cpu, secs;
	long sent = 0;
	uint32_t n;

	region_create(c);
	for (n = 0; n < BATCH; n++) {
		const uint32_t add[6] = { REGION_ID, (24u << 16) | 1, 0, 0, 64, 64 };

		memcpy(batch + n * 6, add, sizeof add);
	}
	cpu = cpu_us();
	start = now_us();
	while (sent < messages) {
		n = messages - sent < BATCH ? (uint32_t) (messages - sent) : BATCH;
		send_requests(c, batch, n * 24u, false);
		sent += n;
	}
	roundtrip(c);	/* the compositor has them all */
	secs = (now_us() - start) / 1e6;
	cpu = (cpu_us() - cpu) * 1000 / (double) messages;
	printf("floor-marshal n=%ld msgs_per_s=%.0f client_cpu_ns_per_msg=%.1f\n", messages,
	       messages / secs, cpu);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int
main(int argc, char **argv)
{
	struct floor_channel c = { 0 };
	int n = 20000, warmup = 1000, opt, i;
	long messages = 0;
	double *times, cpu;

	while ((opt = getopt(argc, argv, "n:w:m:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'w')
			warmup = atoi(optarg);
		else if (opt == 'm' && atol(optarg) > 0)
			messages = atol(optarg);
		else
			n = 0;
	}
	if (n < 1 || warmup < 0 || optind < argc) {
		fprintf(stderr, "usage: floor-client [-n roundtrips] [-w warm-up] "
			"[-m wl_region.add messages]\n");
		return 2;
	}
	if (messages > 0) {
		channel_open(&c);
		marshal(&c, messages);
		close(c.fd);
		return 0;
	}
	times = calloc((size_t) n, sizeof *times);
	if (!times)
		die("calloc");

	channel_open(&c);
	for (i = 0; i < warmup; i++)
		roundtrip(&c);
	cpu = cpu_us();
	for (i = 0; i < n; i++) {
		double start = now_us();

		roundtrip(&c);
		times[i] = now_us() - start;
	}
	cpu = (cpu_us() - cpu) / n;
	qsort(times, (size_t) n, sizeof *times, compare_doubles);
	printf("floor n=%d median_us=%.2f p90_us=%.2f min_us=%.2f client_cpu_us=%.2f\n", n,
	       times[n / 2], times[n * 9 / 10], times[0], cpu);
	free(times);
	close(c.fd);
	return 0;
}
