/*
 * The simulator's own test guest: drives the fake kernel's ioctls and the host device's
 * cross-domain commands directly (no libwayland), against sim-fake-compositor, and checks
 * replies, limits and error paths as cross-domain-protocol.md states them, per host profile.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "virtgpu-sim.h"
#include "virtgpu-uapi.h"

#define NODE "/dev/dri/renderD128"

static const char *profile = "rutabaga";
static uint32_t prof_n = 28;			/* N after the INIT this test sends */
static bool prof_dmabuf, prof_writepipe_bug, prof_no_eof, prof_cv, prof_kr;
static int failures, checks;
static const char *current_test = "";

#define CHECK(cond, ...) do { \
		checks++; \
		if (!(cond)) { \
			failures++; \
			fprintf(stderr, "FAIL %s:%d [%s/%s] %s: ", __FILE__, __LINE__, profile, \
				current_test, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
		} \
	} while (0)

static int
xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) == 0 ? 0 : errno;
}

static int
open_node(void)
{
	int fd = open(NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "FAIL: cannot open %s: %s\n", NODE, strerror(errno));
		exit(1);
	}
	return fd;
}

static int
context_init(int fd, uint64_t capset, uint64_t rings, uint64_t mask, uint32_t num)
{
	struct drm_virtgpu_context_set_param params[5] = {
		{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID, capset },
		{ VIRTGPU_CONTEXT_PARAM_NUM_RINGS, rings },
		{ VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, mask },
		{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID, capset },
		{ VIRTGPU_CONTEXT_PARAM_NUM_RINGS, rings },
	};
	struct drm_virtgpu_context_init init = { num, 0, (uintptr_t)params };

	return xioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init);
}

static int
blob_create(int fd, uint32_t mem, uint32_t flags, uint64_t size, uint64_t blob_id,
	    uint32_t *handle, uint32_t *res)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = mem, .blob_flags = flags, .size = size, .blob_id = blob_id,
	};
	int err = xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc);

	if (handle)
		*handle = rc.bo_handle;
	if (res)
		*res = rc.res_handle;
	return err;
}

static void *
map_handle(int fd, uint32_t handle, size_t size, int *err)
{
	struct drm_virtgpu_map map = { .handle = handle };
	void *p;

	*err = xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map);
	if (*err)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map.offset);
	if (p == MAP_FAILED) {
		*err = errno;
		return NULL;
	}
	return p;
}

static int
exec(int fd, const void *cmd, uint32_t size, int ring, const uint32_t *handles, uint32_t num)
{
	struct drm_virtgpu_execbuffer eb = {
		.flags = ring >= 0 ? VIRTGPU_EXECBUF_RING_IDX : 0,
		.size = size,
		.command = (uintptr_t)cmd,
		.bo_handles = (uintptr_t)handles,
		.num_bo_handles = num,
		.ring_idx = ring >= 0 ? ring : 0,
	};

	return xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb);
}

/* --- a cross-domain channel, as a transport would set it up (§2) ------------------------- */

struct chan {
	int fd;
	uint32_t qh, qres, ch, cres;
	uint8_t *qmap, *cmap;
	uint32_t n;
	uint32_t read_pipe_counter;
};

struct msg {
	uint8_t cmd;
	uint32_t num, size, rid, hang_up;
	uint32_t ids[28], types[28], sizes[28];
	uint8_t data[4096];
};

static int
chan_poll(struct chan *c)
{
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};

	return exec(c->fd, &poll_cmd, sizeof poll_cmd, CROSS_DOMAIN_CHANNEL_RING, NULL, 0);
}

/* init_size 16, 20, 24 or 36: the INIT layouts of §3.2. */
static bool
chan_open_init(struct chan *c, uint16_t init_size, uint32_t channel_type, uint32_t kr_version)
{
	uint8_t init[36] = { 0 };
	struct cross_domain_init_kr *kr = (void *)init;
	int err;

	memset(c, 0, sizeof *c);
	c->fd = open_node();
	c->n = prof_n;
	c->read_pipe_counter = CROSS_DOMAIN_PIPE_READ_START;
	err = context_init(c->fd, VIRTGPU_CAPSET_CROSS_DOMAIN, 2, 1u << 1, 3);
	CHECK(err == 0, "CONTEXT_INIT: %s", strerror(err));
	err = blob_create(c->fd, VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0,
			  &c->qh, &c->qres);
	CHECK(err == 0, "query ring: %s", strerror(err));
	err = blob_create(c->fd, VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0,
			  &c->ch, &c->cres);
	CHECK(err == 0, "channel ring: %s", strerror(err));
	c->qmap = map_handle(c->fd, c->qh, 4096, &err);
	CHECK(c->qmap, "map query ring: %s", strerror(err));
	c->cmap = map_handle(c->fd, c->ch, 4096, &err);
	CHECK(c->cmap, "map channel ring: %s", strerror(err));
	if (!c->qmap || !c->cmap)
		return false;

	kr->hdr.cmd = CROSS_DOMAIN_CMD_INIT;
	kr->hdr.cmd_size = init_size;
	kr->query_ring_id = c->qres;
	if (init_size == 16) {
		kr->channel_ring_id = channel_type;	/* legacy: channel_type at 12 */
	} else {
		kr->channel_ring_id = c->cres;
		kr->channel_type = channel_type;
		kr->protocol_version = kr_version;
	}
	/* INIT alone in its EXECBUFFER (§3.5). */
	err = exec(c->fd, init, init_size, -1, NULL, 0);
	CHECK(err == 0, "INIT exec: %s", strerror(err));
	err = chan_poll(c);
	CHECK(err == 0, "POLL: %s", strerror(err));
	return err == 0;
}

static bool
chan_open(struct chan *c)
{
	if (prof_kr)
		return chan_open_init(c, 24, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, 1);
	return chan_open_init(c, 20, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, 0);
}

static void
chan_close(struct chan *c)
{
	if (c->qmap)
		munmap(c->qmap, 4096);
	if (c->cmap)
		munmap(c->cmap, 4096);
	close(c->fd);
}

static bool
chan_wait_event(struct chan *c, int timeout_ms)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	struct drm_event ev;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = read(c->fd, &ev, sizeof ev);
	CHECK(n == sizeof ev, "drm_event read: %zd", n);
	CHECK(ev.type == VIRTGPU_EVENT_FENCE_SIGNALED && ev.length == 8, "event %x/%u", ev.type,
	      ev.length);
	return n == sizeof ev;
}

/* One message per fence event; the next POLL goes out at once (§2). */
static bool
chan_next(struct chan *c, struct msg *m, int timeout_ms)
{
	uint32_t off;

	if (!chan_wait_event(c, timeout_ms))
		return false;
	memset(m, 0, sizeof *m);
	m->cmd = c->cmap[0];
	if (m->cmd == CROSS_DOMAIN_CMD_RECEIVE) {
		memcpy(&m->num, c->cmap + 8, 4);
		memcpy(&m->size, c->cmap + 12, 4);
		CHECK(m->num <= c->n && m->size <= 4096 - CROSS_DOMAIN_SR_DATA_OFF(c->n),
		      "RECEIVE num %u size %u", m->num, m->size);
		if (m->num > c->n)
			m->num = c->n;
		memcpy(m->ids, c->cmap + CROSS_DOMAIN_SR_IDS_OFF(c->n), 4 * c->n);
		memcpy(m->types, c->cmap + CROSS_DOMAIN_SR_TYPES_OFF(c->n), 4 * c->n);
		memcpy(m->sizes, c->cmap + CROSS_DOMAIN_SR_SIZES_OFF(c->n), 4 * c->n);
		off = CROSS_DOMAIN_SR_DATA_OFF(c->n);
	} else {
		CHECK(m->cmd == CROSS_DOMAIN_CMD_READ, "ring message %u", m->cmd);
		memcpy(&m->rid, c->cmap + 8, 4);
		memcpy(&m->hang_up, c->cmap + 12, 4);
		memcpy(&m->size, c->cmap + 16, 4);
		off = 24;
	}
	if (m->size > 4096 - off)
		m->size = 4096 - off;
	memcpy(m->data, c->cmap + off, m->size);
	CHECK(chan_poll(c) == 0, "re-POLL");
	return true;
}

static int
chan_send(struct chan *c, const void *data, uint32_t size, const uint32_t *ids,
	  const uint32_t *types, uint32_t num)
{
	uint32_t off = CROSS_DOMAIN_SR_DATA_OFF(c->n);
	uint8_t *cmd = calloc(1, off + size);
	struct cross_domain_header hdr = { CROSS_DOMAIN_CMD_SEND, 0, (uint16_t)(off + size), 0 };
	int err;

	memcpy(cmd, &hdr, sizeof hdr);
	memcpy(cmd + 8, &num, 4);
	memcpy(cmd + 12, &size, 4);
	if (num) {
		memcpy(cmd + CROSS_DOMAIN_SR_IDS_OFF(c->n), ids, 4 * num);
		memcpy(cmd + CROSS_DOMAIN_SR_TYPES_OFF(c->n), types, 4 * num);
	}
	memcpy(cmd + off, data, size);
	err = exec(c->fd, cmd, off + size, -1, NULL, 0);
	free(cmd);
	return err;
}

static int
chan_send_str(struct chan *c, const char *s)
{
	return chan_send(c, s, strlen(s), NULL, NULL, 0);
}

/* Collects RECEIVE bytes until a full line; the ids that came with it go to *m. */
static bool
chan_line(struct chan *c, char *line, size_t size, struct msg *ids_msg)
{
	static char pending[8192];
	static size_t pending_len;
	static struct chan *pending_chan;
	struct msg m;

	if (pending_chan != c)
		pending_len = 0;
	pending_chan = c;
	if (ids_msg)
		memset(ids_msg, 0, sizeof *ids_msg);
	for (;;) {
		char *nl = memchr(pending, '\n', pending_len);
		if (nl) {
			size_t len = nl - pending;
			snprintf(line, size, "%.*s", (int)len, pending);
			memmove(pending, nl + 1, pending_len - len - 1);
			pending_len -= len + 1;
			return true;
		}
		if (!chan_next(c, &m, 2000))
			return false;
		if (m.cmd != CROSS_DOMAIN_CMD_RECEIVE)
			continue;
		if (ids_msg && m.num) {
			memcpy(ids_msg->ids + ids_msg->num, m.ids, 4 * m.num);
			memcpy(ids_msg->types + ids_msg->num, m.types, 4 * m.num);
			memcpy(ids_msg->sizes + ids_msg->num, m.sizes, 4 * m.num);
			ids_msg->num += m.num;
		}
		if (m.size == 0 && m.num == 0)
			return false;	/* EOF */
		if (pending_len + m.size <= sizeof pending) {
			memcpy(pending + pending_len, m.data, m.size);
			pending_len += m.size;
		}
	}
}

static int
context_state(int fd, char *reason, size_t size)
{
	virtgpu_sim_context_state_t fn = (virtgpu_sim_context_state_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_CONTEXT_STATE);

	return fn ? fn(fd, reason, size) : -ENOSYS;
}

/* The host loses a context when it serves the bad input, which may come a moment later. */
static bool
wait_lost(struct chan *c)
{
	char reason[160];

	for (int i = 0; i < 200; i++) {
		if (context_state(c->fd, reason, sizeof reason) == 0)
			return true;
		usleep(5000);
	}
	return false;
}

static bool
chan_echo_ok(struct chan *c)
{
	char line[256];

	if (chan_send_str(c, "ECHO 6\nalive\n") != 0)
		return false;
	return chan_line(c, line, sizeof line, NULL) && strcmp(line, "alive") == 0;
}

/* --- tests ----------------------------------------------------------------------------------- */

static void
test_probe(void)
{
	int fd = open_node();
	char name[32] = { 0 };
	struct drm_version v = { .name = name, .name_len = sizeof name - 1 };
	struct cross_domain_capabilities caps;
	struct drm_virtgpu_get_caps gc = { VIRTGPU_CAPSET_CROSS_DOMAIN, 0, (uintptr_t)&caps,
					   sizeof caps, 0 };
	struct drm_get_cap cap = { DRM_CAP_PRIME, 0 };
	struct stat st;
	int err;

	CHECK(xioctl(fd, DRM_IOCTL_VERSION, &v) == 0, "VERSION");
	CHECK(strcmp(name, "virtio_gpu") == 0 && v.name_len == 10, "name %s", name);
	v = (struct drm_version){ .name = name, .name_len = 3 };
	memset(name, 0, sizeof name);
	CHECK(xioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && v.name_len == 10 &&
	      strcmp(name, "vir") == 0, "short VERSION buffer: %s", name);

	static const uint64_t params[] = { 1, 3, 4, 6 };
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		uint64_t value = ~0ull;
		struct drm_virtgpu_getparam gp = { params[i], (uintptr_t)&value };
		CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) == 0, "GETPARAM %llu",
		      (unsigned long long)params[i]);
		/* §1: only 4 bytes are written. */
		CHECK(value == 0xffffffff00000001ull, "GETPARAM %llu wrote %llx",
		      (unsigned long long)params[i], (unsigned long long)value);
	}
	uint64_t mask = 0;
	struct drm_virtgpu_getparam gp = { VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, (uintptr_t)&mask };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) == 0 && mask == 1u << 5,
	      "capset ids %llx", (unsigned long long)mask);
	gp = (struct drm_virtgpu_getparam){ 99, (uintptr_t)&mask };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) == EINVAL, "unknown param");
	gp = (struct drm_virtgpu_getparam){ 1, 8 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) == EFAULT, "bad pointer");

	err = xioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc);
	CHECK(err == 0, "GET_CAPS: %s", strerror(err));
	CHECK(caps.version == 1 && caps.supported_channels == 0x2 &&
	      caps.supports_dmabuf == prof_dmabuf, "caps %u %x %u", caps.version,
	      caps.supported_channels, caps.supports_dmabuf);
	gc.size = 0;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc) == EINVAL, "size 0");
	gc.size = 16;
	gc.cap_set_ver = 1;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc) == EINVAL, "version 1");
	gc.cap_set_ver = 0;
	gc.cap_set_id = 4;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc) == EINVAL, "capset 4");
	gc.cap_set_id = 5;
	gc.addr = 16;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc) == EFAULT, "bad addr");

	CHECK(xioctl(fd, DRM_IOCTL_GET_CAP, &cap) == 0 && cap.value == 3, "PRIME cap");
	CHECK(xioctl(fd, _IOWR('d', 0x01, struct drm_version), &v) == EACCES, "GET_UNIQUE");
	CHECK(xioctl(fd, _IOWR('d', 0x4c, struct drm_virtgpu_map), &v) == EINVAL, "nr 0x4c");
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU(0, struct drm_virtgpu_map), &v) == EINVAL, "nr 0x40");

	CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 226 &&
	      minor(st.st_rdev) == 128, "fstat");
	CHECK(stat(NODE, &st) == 0 && S_ISCHR(st.st_mode) && minor(st.st_rdev) == 128, "stat");
	CHECK(open("/dev/dri/renderD129", O_RDWR) < 0 && errno == ENOENT, "renderD129");
	CHECK(write(fd, "x", 1) < 0 && errno == EINVAL, "write");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	CHECK(read(fd, name, 8) < 0 && errno == EAGAIN, "read without events");

	/* dup and close keep the open file alive as the kernel does. */
	int fd2 = dup(fd), fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
	CHECK(xioctl(fd2, DRM_IOCTL_VERSION, &v) == 0, "VERSION on a dup");
	CHECK(fd3 >= 100 && xioctl(fd3, DRM_IOCTL_VERSION, &v) == 0, "VERSION on F_DUPFD");
	close(fd2);
	close(fd3);
	CHECK(xioctl(fd3, DRM_IOCTL_VERSION, &v) == EBADF, "closed fd");
}

static void
test_context_init_rules(void)
{
	struct drm_virtgpu_context_init init = { 1, 0, 16 };
	uint32_t h;
	int fd;

	fd = open_node();
	CHECK(context_init(fd, 5, 2, 2, 5) == EINVAL, "5 params");
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init) == EFAULT, "bad params pointer");
	CHECK(context_init(fd, 4, 2, 2, 3) == EINVAL, "capset 4");
	close(fd);
	fd = open_node();
	CHECK(context_init(fd, 5, 2, 4, 3) == EINVAL, "poll mask outside the rings");
	close(fd);
	fd = open_node();
	CHECK(context_init(fd, 5, 65, 2, 3) == EINVAL, "65 rings");
	close(fd);
	fd = open_node();
	CHECK(context_init(fd, 5, 2, 2, 3) == 0, "valid");
	CHECK(context_init(fd, 5, 2, 2, 3) == EEXIST, "second CONTEXT_INIT");
	close(fd);

	/* §2: EXECBUFFER and CREATE_BLOB make a default context first. */
	fd = open_node();
	CHECK(blob_create(fd, VIRTGPU_BLOB_MEM_GUEST, 1, 4096, 0, &h, NULL) == 0, "blob");
	CHECK(context_init(fd, 5, 2, 2, 3) == EEXIST, "CONTEXT_INIT after CREATE_BLOB");
	close(fd);
	fd = open_node();
	CHECK(exec(fd, NULL, 0, -1, NULL, 0) == 0, "empty EXECBUFFER");
	CHECK(context_init(fd, 5, 2, 2, 3) == EEXIST, "CONTEXT_INIT after EXECBUFFER");
	CHECK(exec(fd, NULL, 0, 0, NULL, 0) == EINVAL, "RING_IDX without rings");
	close(fd);
}

static void
test_blob_rules(void)
{
	int fd = open_node(), other = open_node(), err;
	uint32_t h, res, h2;
	struct drm_virtgpu_resource_info ri = { 0 };
	struct drm_virtgpu_map map = { .handle = 999 };
	struct drm_gem_close gc = { 999, 0 };
	struct drm_virtgpu_3d_wait wait = { 999, 0 };
	uint8_t *p, *q;

	CHECK(context_init(fd, 5, 2, 2, 3) == 0, "CONTEXT_INIT");
	CHECK(blob_create(fd, 0, 1, 4096, 0, &h, NULL) == EINVAL, "blob_mem 0");
	CHECK(blob_create(fd, 7, 1, 4096, 0, &h, NULL) == EINVAL, "blob_mem 7");
	CHECK(blob_create(fd, 1, 8, 4096, 0, &h, NULL) == EINVAL, "flag 8");
	CHECK(blob_create(fd, 1, 1, 0, 0, &h, NULL) == EINVAL, "size 0");
	struct drm_virtgpu_resource_create_blob rc = { .blob_mem = 2, .blob_flags = 3,
						       .size = 4096, .cmd_size = 2, .cmd = 8 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc) == EINVAL, "cmd_size 2");
	rc.cmd_size = 4;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc) == EFAULT, "bad cmd");

	CHECK(blob_create(fd, 1, 1, 100, 0, &h, &res) == 0 && h == 1 && res > 0, "guest blob");
	ri.bo_handle = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == 0 && ri.size == 4096 &&
	      ri.res_handle == res && ri.blob_mem == 1, "RESOURCE_INFO %u %u", ri.size,
	      ri.res_handle);
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map) == ENOENT, "MAP bad handle");
	map.handle = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map) == 0 && map.offset >= (1ull << 32),
	      "MAP offset %llx", (unsigned long long)map.offset);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map.offset);
	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	if (p != MAP_FAILED) {
		memset(p, 0xab, 4096);
		/* MAP_FIXED over an existing mapping sees the same pages. */
		void *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		q = mmap(anon, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, map.offset);
		CHECK(q == anon && q[17] == 0xab, "MAP_FIXED");
		munmap(q, 4096);
		munmap(p, 4096);
	}
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, map.offset) == MAP_FAILED &&
	      errno == EINVAL, "MAP_PRIVATE");
	CHECK(mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, map.offset) == MAP_FAILED &&
	      errno == EINVAL, "past the object");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 1ull << 20) == MAP_FAILED &&
	      errno == EINVAL, "unknown offset");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, other, map.offset) == MAP_FAILED &&
	      errno == EACCES, "no handle on this file");

	wait.flags = 2;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == EINVAL, "WAIT flags");
	wait.flags = 0;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == ENOENT, "WAIT bad handle");
	wait.handle = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == 0, "WAIT idle");

	/* HOST3D with an unknown blob_id: the ioctl succeeds, the mapping fails (§4.2). */
	CHECK(blob_create(fd, 2, 3, 4096, 12345, &h2, NULL) == 0, "HOST3D unknown blob_id");
	CHECK(map_handle(fd, h2, 4096, &err) == NULL && err == EINVAL, "mmap it: %s",
	      strerror(err));
	/* The kernel exports it without the host (a dma-buf of the GEM object), and the
	 * dma-buf's mmap fails as the handle's does (virtio_gpu_vram_mmap). */
	struct drm_prime_handle ph = { .handle = h2, .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };
	CHECK(xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0 && ph.fd >= 0,
	      "export it");
	errno = 0;
	CHECK(ph.fd >= 0 && mmap(NULL, 4096, PROT_READ, MAP_SHARED, ph.fd, 0) == MAP_FAILED &&
	      errno == EINVAL, "mmap its dma-buf: %s", strerror(errno));
	if (ph.fd >= 0)
		close(ph.fd);
	CHECK(blob_create(fd, 1, 1 | 4, 4096, 0, &h2, NULL) == 0, "CROSS_DEVICE with uuid");

	CHECK(xioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) == EINVAL, "GEM_CLOSE bad handle");
	gc.handle = h;
	CHECK(xioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE");
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == ENOENT, "closed handle");
	CHECK(blob_create(fd, 1, 1, 4096, 0, &h2, NULL) == 0 && h2 == 1, "lowest free handle");
	close(fd);
	close(other);
}

static void
test_execbuffer_rules(void)
{
	int fd = open_node(), fence_fd;
	uint32_t h, bad = 999;
	struct drm_virtgpu_execbuffer eb = { 0 };
	struct pollfd pfd;

	CHECK(context_init(fd, 5, 2, 2, 3) == 0, "CONTEXT_INIT");
	CHECK(blob_create(fd, 1, 1, 4096, 0, &h, NULL) == 0, "blob");
	eb.flags = 8;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EINVAL, "flags");
	eb = (struct drm_virtgpu_execbuffer){ .flags = VIRTGPU_EXECBUF_RING_IDX, .ring_idx = 2 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EINVAL, "ring 2 of 2");
	CHECK(exec(fd, NULL, 0, 0, &bad, 1) == ENOENT, "bad bo handle");
	eb = (struct drm_virtgpu_execbuffer){ .size = 8, .command = 16 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EFAULT, "bad command");
	/* The handles and the commands are copied at once, the errors still the kernel's in
	 * its order: the handles copied, looked up, then the commands copied. */
	eb = (struct drm_virtgpu_execbuffer){ .size = 8, .command = 16,
					      .bo_handles = (uintptr_t)&bad, .num_bo_handles = 1 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == ENOENT,
	      "bad bo handle before a bad command");
	eb.bo_handles = (uintptr_t)&h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EFAULT,
	      "bad command after good handles");
	eb = (struct drm_virtgpu_execbuffer){ .size = 4, .command = (uintptr_t)&bad,
					      .bo_handles = 16, .num_bo_handles = 1 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EFAULT, "bad bo handles pointer");
	eb = (struct drm_virtgpu_execbuffer){ .num_in_syncobjs = 1, .syncobj_stride = 16 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EINVAL, "syncobjs");
	eb = (struct drm_virtgpu_execbuffer){ .flags = VIRTGPU_EXECBUF_RING_IDX };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER_V1, &eb) == 0, "40-byte EXECBUFFER");

	eb = (struct drm_virtgpu_execbuffer){ .flags = VIRTGPU_EXECBUF_RING_IDX |
						       VIRTGPU_EXECBUF_FENCE_FD_OUT,
					      .bo_handles = (uintptr_t)&h, .num_bo_handles = 1 };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == 0 && eb.fence_fd >= 0,
	      "FENCE_FD_OUT");
	fence_fd = eb.fence_fd;
	pfd = (struct pollfd){ fence_fd, POLLIN, 0 };
	CHECK(poll(&pfd, 1, 1000) == 1, "ring-0 fence signalled at once");
	eb = (struct drm_virtgpu_execbuffer){ .flags = VIRTGPU_EXECBUF_FENCE_FD_IN,
					      .fence_fd = fd };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == EINVAL, "FENCE_FD_IN not a fence");
	eb.fence_fd = fence_fd;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb) == 0, "FENCE_FD_IN");
	close(fence_fd);
	close(fd);
}

/* The fake kernel reads what follows an EXECBUFFER's struct, and the handles the thread named
 * last, together with the struct (tests/sim/README.md): each call must still see the bytes
 * there at that call, and a page gone since must fault as with the kernel's copies. */
static void
test_execbuffer_read_ahead(void)
{
	int fd = open_node();
	uint32_t h, bad = 999, *handles;
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *mem = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	struct drm_virtgpu_execbuffer *eb;
	const uint64_t ring0 = VIRTGPU_EXECBUF_RING_IDX;

	CHECK(mem != MAP_FAILED, "mmap");
	if (mem == MAP_FAILED)
		return;
	CHECK(context_init(fd, 5, 2, 2, 3) == 0, "CONTEXT_INIT");
	CHECK(blob_create(fd, 1, 1, 4096, 0, &h, NULL) == 0, "blob");

	/* Handles right after the struct, changed between two calls. */
	eb = (struct drm_virtgpu_execbuffer *)mem;
	handles = (uint32_t *)(eb + 1);
	*eb = (struct drm_virtgpu_execbuffer){ .flags = ring0, .bo_handles = (uintptr_t)handles,
					       .num_bo_handles = 1 };
	handles[0] = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == 0, "handles after the struct");
	handles[0] = bad;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == ENOENT,
	      "handles after the struct, changed since");

	/* Handles elsewhere, named twice at one address: read anew; their page gone: EFAULT. */
	handles = (uint32_t *)(mem + 2 * page);
	eb->bo_handles = (uintptr_t)handles;
	handles[0] = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == 0, "handles elsewhere");
	handles[0] = bad;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == ENOENT,
	      "handles elsewhere, changed since");
	handles[0] = h;
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == 0, "handles elsewhere again");
	munmap(mem + 2 * page, page);
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == EFAULT,
	      "handles whose page is gone since");

	/* A struct that ends its page, the next page gone: commands named there fault. */
	munmap(mem + page, page);
	eb = (struct drm_virtgpu_execbuffer *)(mem + page - sizeof *eb);
	*eb = (struct drm_virtgpu_execbuffer){ .flags = ring0, .size = 8,
					       .command = (uintptr_t)(mem + page) };
	CHECK(xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, eb) == EFAULT,
	      "commands on the gone page after the struct");
	munmap(mem, page);
	close(fd);
}

static void
test_echo_and_chunks(void)
{
	struct chan c;
	char line[64];
	uint8_t *all = malloc(20000);
	size_t got = 0;
	int chunks = 0;
	struct msg m;

	if (!chan_open(&c))
		return;
	CHECK(chan_send_str(&c, "ECHO 6\nhello\n") == 0, "SEND");
	CHECK(chan_line(&c, line, sizeof line, NULL) && strcmp(line, "hello") == 0, "echo %s",
	      line);

	/* §3.4: at most 4096 - header bytes per RECEIVE; the stream is cut anywhere. */
	CHECK(chan_send_str(&c, "FLOOD 20000\n") == 0, "FLOOD");
	while (got < 20000 && chan_next(&c, &m, 2000)) {
		CHECK(m.cmd == CROSS_DOMAIN_CMD_RECEIVE && m.num == 0, "chunk");
		CHECK(m.size > 0 && m.size <= 4096 - CROSS_DOMAIN_SR_DATA_OFF(c.n), "size %u",
		      m.size);
		if (got + m.size > 20000)
			break;
		memcpy(all + got, m.data, m.size);
		got += m.size;
		chunks++;
	}
	CHECK(got == 20000 && chunks >= 5, "got %zu in %d chunks", got, chunks);
	for (size_t i = 0; i < got; i++)
		if (all[i] != (uint8_t)(i * 7)) {
			CHECK(false, "byte %zu", i);
			break;
		}
	free(all);
	chan_close(&c);
}

static void
test_host_memory(void)
{
	struct chan c;
	struct msg ids;
	char line[64], link[64], path[64];
	uint32_t h, h2, res;
	struct drm_prime_handle ph = { 0 };
	uint8_t *p;
	int err;

	if (!chan_open(&c))
		return;
	CHECK(chan_send_str(&c, "MEMFD 5000 90\n") == 0, "SEND");
	CHECK(chan_line(&c, line, sizeof line, &ids) && strcmp(line, "MEMFD") == 0, "%s", line);
	CHECK(ids.num == 1 && ids.types[0] == CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB &&
	      ids.sizes[0] == 5000, "ids %u type %u size %u", ids.num, ids.types[0], ids.sizes[0]);

	/* §4.2: a HOST3D blob of the item, page-aligned, mapped whole. */
	CHECK(blob_create(c.fd, 2, 3, 8192, ids.ids[0], &h, &res) == 0, "HOST3D");
	p = map_handle(c.fd, h, 8192, &err);
	CHECK(p && p[0] == 90 && p[4999] == 90, "host memory: %s", strerror(err));
	if (p)
		munmap(p, 8192);
	p = map_handle(c.fd, h, 4096, &err);
	CHECK(!p && err == EINVAL, "partial mapping of a HOST3D blob");

	ph.handle = h;
	ph.flags = DRM_CLOEXEC | DRM_RDWR;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0, "PRIME export");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ph.fd, 0);
	CHECK(p != MAP_FAILED && p[100] == 90, "mmap of the dma-buf");
	snprintf(path, sizeof path, "/proc/self/fd/%d", ph.fd);
	memset(link, 0, sizeof link);
	CHECK(readlink(path, link, sizeof link - 1) > 0 && strncmp(link, "/dmabuf:", 8) == 0,
	      "link %s", link);
	ph.flags = 0x10;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == EINVAL, "bad flags");
	ph.flags = 0;
	ph.handle = 777;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == ENOENT, "bad handle");

	/* The create consumed the item. */
	CHECK(blob_create(c.fd, 2, 3, 8192, ids.ids[0], &h2, NULL) == 0, "again");
	CHECK(!map_handle(c.fd, h2, 8192, &err) && err == EINVAL, "consumed item");
	CHECK(chan_echo_ok(&c), "channel still works");
	chan_close(&c);
}

static void
test_image_requirements(void)
{
	struct chan c;
	struct cross_domain_get_image_requirements req = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, .cmd_size = sizeof req },
		.width = 100, .height = 50, .drm_format = SIM_FORMAT_XRGB8888, .flags = 0x11,
	};
	struct cross_domain_image_requirements reqs;
	struct drm_virtgpu_3d_wait wait;
	uint32_t h, h2, hbad, res, stride;
	uint64_t size;
	struct msg ids;
	char line[128], expect[128];
	uint8_t *p;
	int err;

	if (!chan_open(&c))
		return;
	/* §5.1: ring 0, the query ring in bo_handles, WAIT, reply at offset 0. */
	CHECK(exec(c.fd, &req, sizeof req, 0, &c.qh, 1) == 0, "GET_IMAGE_REQUIREMENTS");
	wait = (struct drm_virtgpu_3d_wait){ c.qh, 0 };
	CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == 0, "WAIT");
	memcpy(&reqs, c.qmap, sizeof reqs);
	stride = prof_dmabuf ? 512 : 400;
	size = ((uint64_t)stride * 50 + 4095) & ~4095ull;
	CHECK(reqs.strides[0] == stride && reqs.offsets[0] == 0 && reqs.size == size &&
	      reqs.modifier == 0 && reqs.map_info == 1 && reqs.memory_idx == -1 &&
	      reqs.physical_device_idx == -1 && reqs.blob_id != 0,
	      "stride %u size %llu map_info %u", reqs.strides[0], (unsigned long long)reqs.size,
	      reqs.map_info);

	/* §5.1: the blob size must equal the reply's size; the blob_id is reusable. */
	CHECK(blob_create(c.fd, 2, 3, size + 4096, reqs.blob_id, &hbad, NULL) == 0, "wrong size");
	CHECK(!map_handle(c.fd, hbad, size + 4096, &err) && err == EINVAL, "wrong size mapped");
	CHECK(blob_create(c.fd, 2, 3, size, reqs.blob_id, &h, &res) == 0, "blob");
	CHECK(blob_create(c.fd, 2, 3, size, reqs.blob_id, &h2, NULL) == 0, "blob again");
	p = map_handle(c.fd, h, size, &err);
	CHECK(p, "map: %s", strerror(err));
	if (p) {
		memset(p, 0x33, size);
		munmap(p, size);
	}
	/* §4.1: the resource id goes out as type 1; the compositor gets the same memory. */
	uint32_t type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
	CHECK(chan_send(&c, "FDINFO\n", 7, &res, &type, 1) == 0, "SEND blob");
	snprintf(expect, sizeof expect, "FDINFO 1 mem:%llu:51", (unsigned long long)size);
	CHECK(chan_line(&c, line, sizeof line, &ids) && strcmp(line, expect) == 0, "%s", line);

	req.drm_format = SIM_FORMAT_NV12;
	req.width = 64;
	req.height = 32;
	CHECK(exec(c.fd, &req, sizeof req, 0, &c.qh, 1) == 0, "NV12");
	CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == 0, "WAIT");
	memcpy(&reqs, c.qmap, sizeof reqs);
	CHECK(reqs.offsets[1] == (prof_dmabuf ? 256u : 64u) * 32 &&
	      reqs.strides[1] == (prof_dmabuf ? 256u : 64u), "NV12 planes %u %u", reqs.strides[1],
	      reqs.offsets[1]);

	/* rutabaga's memfd allocator has no cap on dimensions (only GPU allocators do):
	 * a pool as one row of R8 as wide as the pool, as proxies ask for it. */
	if (!prof_dmabuf) {
		req.drm_format = SIM_FORMAT_R8;
		req.width = 1u << 20;
		req.height = 1;
		CHECK(exec(c.fd, &req, sizeof req, 0, &c.qh, 1) == 0, "R8 1 MiB wide");
		CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == 0, "WAIT");
		memcpy(&reqs, c.qmap, sizeof reqs);
		CHECK(reqs.strides[0] == 1u << 20 && reqs.size == 1u << 20,
		      "R8 1 MiB wide: stride %u size %llu", reqs.strides[0],
		      (unsigned long long)reqs.size);
	}
	chan_close(&c);
}

/* The host-visible window (1 GiB by default) holds a mappable blob until its last handle
 * and its last dma-buf fd are gone, as the kernel's drm_mm node lives with the object. */
static void
test_host_window(void)
{
	struct chan c;
	struct cross_domain_get_image_requirements req = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, .cmd_size = sizeof req },
		.width = 16384, .height = 600 * 64, .drm_format = SIM_FORMAT_R8, .flags = 0x11,
	};
	struct cross_domain_image_requirements reqs;
	struct drm_virtgpu_3d_wait wait;
	struct drm_prime_handle ph = { .flags = DRM_CLOEXEC | DRM_RDWR };
	struct drm_gem_close gc = { 0, 0 };
	uint32_t h, h2;
	int copy;

	if (!chan_open(&c))
		return;
	CHECK(exec(c.fd, &req, sizeof req, 0, &c.qh, 1) == 0, "GET_IMAGE_REQUIREMENTS");
	wait = (struct drm_virtgpu_3d_wait){ c.qh, 0 };
	CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == 0, "WAIT");
	memcpy(&reqs, c.qmap, sizeof reqs);
	CHECK(reqs.size == 600ull << 20, "600 MiB: size %llu", (unsigned long long)reqs.size);

	CHECK(blob_create(c.fd, 2, 3, reqs.size, reqs.blob_id, &h, NULL) == 0, "600 MiB");
	CHECK(blob_create(c.fd, 2, 3, reqs.size, reqs.blob_id, &h2, NULL) == ENOSPC,
	      "600 MiB more in a 1 GiB window");
	ph.handle = h;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0, "PRIME export");
	copy = dup(ph.fd);
	close(ph.fd);
	gc.handle = h;
	CHECK(xioctl(c.fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE");
	CHECK(blob_create(c.fd, 2, 3, reqs.size, reqs.blob_id, &h2, NULL) == ENOSPC,
	      "a dma-buf fd (a dup) still holds the window");
	close(copy);
	CHECK(blob_create(c.fd, 2, 3, reqs.size, reqs.blob_id, &h2, NULL) == 0,
	      "the window is free with the last fd");
	gc.handle = h2;
	CHECK(xioctl(c.fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE");
	/* The GEM close is queued, not answered: the blob after it still finds the window
	 * it freed, as on the kernel's one queue. */
	CHECK(blob_create(c.fd, 2, 3, reqs.size, reqs.blob_id, &h2, NULL) == 0,
	      "the window is free right after a GEM_CLOSE");
	gc.handle = h2;
	CHECK(xioctl(c.fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE");
	chan_close(&c);
}

static void
test_read_pipe(void)
{
	struct chan c;
	struct msg m;
	uint8_t *data = malloc(10000);
	size_t got = 0;
	bool hung_up = false, ok_line = false;
	uint32_t id = CROSS_DOMAIN_PIPE_READ_START + 1, type = CROSS_DOMAIN_ID_TYPE_READ_PIPE;

	if (!chan_open(&c))
		return;
	/* §4.3: the first predicted id is 0x80000001. */
	CHECK(chan_send(&c, "RPIPE 10000\n", 12, &id, &type, 1) == 0, "SEND read pipe");
	while ((!hung_up || !ok_line) && chan_next(&c, &m, 2000)) {
		if (m.cmd == CROSS_DOMAIN_CMD_READ) {
			CHECK(m.rid == id, "READ id %x", m.rid);
			CHECK(m.size <= 4096 - 24 && got + m.size <= 10000, "READ size %u", m.size);
			if (got + m.size <= 10000)
				memcpy(data + got, m.data, m.size);
			got += m.size;
			if (m.hang_up) {
				CHECK(m.size == 0, "hang_up with data");
				hung_up = true;
			}
		} else {
			ok_line = m.size >= 9 && memcmp(m.data, "RPIPE-OK\n", 9) == 0;
		}
	}
	CHECK(hung_up && ok_line && got == 10000, "got %zu hung_up %d", got, hung_up);
	for (size_t i = 0; i < got && i < 10000; i++)
		if (data[i] != (uint8_t)(i * 13)) {
			CHECK(false, "pipe byte %zu", i);
			break;
		}
	free(data);
	CHECK(chan_echo_ok(&c), "alive");
	chan_close(&c);
}

static void
test_write_pipe(void)
{
	struct chan c;
	struct msg ids;
	char line[64], expect[64];
	uint8_t cmd[24 + 3000];
	struct cross_domain_read_write wr = { .hdr = { .cmd = CROSS_DOMAIN_CMD_WRITE } };
	unsigned sum = 0;

	if (!chan_open(&c))
		return;
	CHECK(chan_send_str(&c, "WPIPE\n") == 0, "SEND");
	CHECK(chan_line(&c, line, sizeof line, &ids) && strcmp(line, "WPIPE") == 0, "%s", line);
	/* §3.5: the bug window tags write pipes 1 with size 0. */
	CHECK(ids.num == 1 && ids.types[0] == (prof_writepipe_bug ? 1u : 4u) && ids.sizes[0] == 0,
	      "type %u size %u", ids.types[0], ids.sizes[0]);
	for (int part = 0; part < 2; part++) {
		uint32_t n = part == 0 ? 3000 : 2000;
		wr.identifier = ids.ids[0];
		wr.hang_up = part == 1;
		wr.opaque_data_size = n;
		wr.hdr.cmd_size = sizeof wr + n;
		memcpy(cmd, &wr, sizeof wr);
		for (uint32_t i = 0; i < n; i++) {
			cmd[24 + i] = (uint8_t)(i + part);
			sum += (uint8_t)(i + part);
		}
		CHECK(exec(c.fd, cmd, sizeof wr + n, -1, NULL, 0) == 0, "WRITE");
	}
	snprintf(expect, sizeof expect, "WPIPE-DATA 5000 %u", sum);
	CHECK(chan_line(&c, line, sizeof line, NULL) && strcmp(line, expect) == 0, "%s", line);
	chan_close(&c);
}

static void
test_gpu_buffer(void)
{
	virtgpu_sim_gpu_buffer_create_t create = (virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	struct drm_prime_handle ph = { 0 };
	struct drm_virtgpu_resource_info ri = { 0 };
	struct chan c;
	struct msg ids;
	char line[64];
	uint32_t stride = 0, type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, h;
	uint64_t size = 0;
	int fd, p[2];
	uint8_t *map;

	CHECK(create != NULL, "virtgpu_sim_gpu_buffer_create");
	if (!create || !chan_open(&c))
		return;
	fd = create(64, 64, SIM_FORMAT_ARGB8888, 0, &stride, &size);
	CHECK(fd >= 0 && stride == 256 && size == 16384, "buffer %d stride %u size %llu", fd,
	      stride, (unsigned long long)size);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED, "mmap the dma-buf");
	if (map != MAP_FAILED) {
		memset(map, 0x77, size);
		munmap(map, size);
	}
	/* §4.1: PRIME import on the context's fd, RESOURCE_INFO, the res id as type 1. */
	ph.fd = fd;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == 0, "import");
	h = ph.handle;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == 0 && ph.handle == h,
	      "second import, same handle");
	ri.bo_handle = h;
	CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == 0, "RESOURCE_INFO");
	CHECK(chan_send(&c, "FDINFO\n", 7, &ri.res_handle, &type, 1) == 0, "SEND");
	CHECK(chan_line(&c, line, sizeof line, &ids) && strcmp(line, "FDINFO 1 mem:16384:119") == 0,
	      "%s", line);
	struct drm_gem_close gc = { h, 0 };
	CHECK(xioctl(c.fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE after the submit");

	/* Not dma-bufs of this device: EINVAL; not an fd: EBADF. */
	ph.fd = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == EINVAL, "memfd");
	close(ph.fd);
	pipe(p);
	ph.fd = p[0];
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == EINVAL, "pipe");
	close(p[0]);
	close(p[1]);
	ph.fd = 1000;
	CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == EBADF, "closed fd");
	close(fd);
	chan_close(&c);
}

static void
test_wait_threads_body(struct chan *c, int *result)
{
	struct drm_virtgpu_3d_wait wait = { c->ch, 0 };

	*result = xioctl(c->fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
}

static void *
test_wait_thread(void *data)
{
	void **args = data;

	test_wait_threads_body(args[0], args[1]);
	return NULL;
}

static void
test_wait_threads(void)
{
	struct chan c;
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};
	struct drm_virtgpu_3d_wait wait;
	struct pollfd pfd;
	struct drm_event ev;
	pthread_t thread;
	int result = -1;
	void *args[2] = { &c, &result };

	if (!chan_open(&c))
		return;
	/* A second POLL naming the channel ring: the ring is busy until it signals. */
	CHECK(exec(c.fd, &poll_cmd, sizeof poll_cmd, 1, &c.ch, 1) == 0, "POLL with bo");
	wait = (struct drm_virtgpu_3d_wait){ c.ch, VIRTGPU_WAIT_NOWAIT };
	CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == EBUSY, "NOWAIT while busy");
	pthread_create(&thread, NULL, test_wait_thread, args);
	usleep(100000);
	CHECK(result == -1, "blocking WAIT returned early");
	/* Two events: one for each POLL; the other thread's WAIT ends with the second. */
	CHECK(chan_send_str(&c, "ECHO 2\na\n") == 0, "SEND while another thread waits");
	usleep(50000);
	CHECK(chan_send_str(&c, "ECHO 2\nb\n") == 0, "SEND");
	pthread_join(thread, NULL);
	CHECK(result == 0, "blocking WAIT: %d", result);
	pfd = (struct pollfd){ c.fd, POLLIN, 0 };
	CHECK(poll(&pfd, 1, 1000) == 1 && read(c.fd, &ev, sizeof ev) == sizeof ev, "event");
	chan_close(&c);
}

/* sim-ipc.h: an EXECBUFFER returns once its SUBMIT is written, before the host ran it, and
 * the file's later requests go on other connections: none may overtake it. A WAIT sees the
 * resource the submit before it made busy, a GEM close comes after the SEND that names the
 * resource, and SENDs past the queue's credit keep their order. */
static void
test_order(void)
{
	virtgpu_sim_gpu_buffer_create_t create = (virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	struct cross_domain_poll poll_cmd = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_POLL, .cmd_size = sizeof poll_cmd },
	};
	uint32_t type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, h, stride;
	struct drm_virtgpu_resource_info ri;
	struct drm_virtgpu_3d_wait wait;
	struct drm_prime_handle ph;
	struct drm_gem_close gc;
	char line[64], want[16];
	int busy = 0, fdinfo = 0, echoed = 0, fd;
	struct chan c, w;
	uint64_t size;

	CHECK(create != NULL, "virtgpu_sim_gpu_buffer_create");
	if (!create || !chan_open(&w))
		return;
	/* A POLL naming a blob keeps it busy until a message comes (none will here). */
	for (int i = 0; i < 20; i++) {
		CHECK(blob_create(w.fd, VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
				  4096, 0, &h, NULL) == 0, "blob");
		CHECK(exec(w.fd, &poll_cmd, sizeof poll_cmd, 1, &h, 1) == 0, "POLL naming it");
		wait = (struct drm_virtgpu_3d_wait){ h, VIRTGPU_WAIT_NOWAIT };
		busy += xioctl(w.fd, DRM_IOCTL_VIRTGPU_WAIT, &wait) == EBUSY;
	}
	CHECK(busy == 20, "%d of 20 WAITs came after the EXECBUFFER before them", busy);
	chan_close(&w);

	if (!chan_open(&c))
		return;
	fd = create(64, 64, SIM_FORMAT_ARGB8888, 0, &stride, &size);
	CHECK(fd >= 0, "GPU buffer");
	for (int i = 0; fd >= 0 && i < 10; i++) {
		ph = (struct drm_prime_handle){ .fd = fd };
		ri = (struct drm_virtgpu_resource_info){ 0 };
		CHECK(xioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == 0, "import");
		ri.bo_handle = ph.handle;
		CHECK(xioctl(c.fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == 0, "RESOURCE_INFO");
		CHECK(chan_send(&c, "FDINFO\n", 7, &ri.res_handle, &type, 1) == 0, "SEND");
		/* At once: the SEND that names it must still find it. */
		gc = (struct drm_gem_close){ ph.handle, 0 };
		CHECK(xioctl(c.fd, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "GEM_CLOSE");
		fdinfo += chan_line(&c, line, sizeof line, NULL) && strncmp(line, "FDINFO 1 ", 9) == 0;
	}
	CHECK(fdinfo == 10, "%d of 10 SENDs ran before the GEM close after them", fdinfo);
	if (fd >= 0)
		close(fd);

	/* Three times the queue's credit (sim-ipc.h) in a row: the order holds across it. */
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof line, "ECHO 4\n%03d\n", i);
		CHECK(chan_send_str(&c, line) == 0, "SEND %d", i);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(want, sizeof want, "%03d", i);
		echoed += chan_line(&c, line, sizeof line, NULL) && strcmp(line, want) == 0;
	}
	CHECK(echoed == 200, "%d of 200 echoes in order", echoed);
	CHECK(chan_echo_ok(&c), "channel still works");
	chan_close(&c);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A submit behind a SEND the compositor has not taken keeps its place in the file's queue:
 * SIM_IPC_QUEUE_DEPTH (64) of them fit, then the EXECBUFFER waits until the compositor reads
 * again, as the kernel's waits for room in a full virtqueue, and nothing is lost. */
static void
test_queue_depth(void)
{
	enum { SENDS = 400, SIZE = 3000 };
	static uint8_t data[SIZE];
	int err = 0, before_wait = -1;
	double t0, dt, longest = 0;
	char cmd[64];
	struct chan c;

	if (!chan_open(&c))
		return;
	snprintf(cmd, sizeof cmd, "SLEEP 2000\nSINK %d\n", SENDS * SIZE);
	CHECK(chan_send_str(&c, cmd) == 0, "SLEEP");
	memset(data, 0x33, sizeof data);
	for (int i = 0; i < SENDS && err == 0; i++) {
		t0 = now_ms();
		err = chan_send(&c, data, SIZE, NULL, NULL, 0);
		dt = now_ms() - t0;
		if (dt > 300 && before_wait < 0)
			before_wait = i;
		if (dt > longest)
			longest = dt;
	}
	CHECK(err == 0, "SEND: %s", strerror(err));
	CHECK(before_wait >= 64, "the first EXECBUFFER that waited came after %d SENDs (longest "
	      "%.0f ms)", before_wait, longest);
	CHECK(chan_echo_ok(&c), "the compositor got everything");
	chan_close(&c);
}

static void
test_fd_kinds(void)
{
	struct chan c;
	struct msg ids;
	char line[64], reason[160];

	/* §4.5: each host classifies eventfds and sockets its own way. */
	if (!chan_open(&c))
		return;
	chan_send_str(&c, "EVENTFD\n");
	if (prof_cv) {
		/* CV: an eventfd seeks (noop_llseek), so it is "memory" of size 0. */
		CHECK(chan_line(&c, line, sizeof line, &ids) && ids.num == 1 && ids.types[0] == 1 &&
		      ids.sizes[0] == 0, "eventfd on CV: type %u", ids.types[0]);
		CHECK(context_state(c.fd, reason, sizeof reason) == 1, "alive");
	} else {
		CHECK(chan_line(&c, line, sizeof line, &ids) && ids.num == 1 &&
		      ids.types[0] == (prof_kr ? 6u : 5u), "eventfd type %u", ids.types[0]);
	}
	chan_close(&c);

	if (!chan_open(&c))
		return;
	chan_send_str(&c, "SOCKET\n");
	if (!prof_kr && !prof_cv) {
		CHECK(chan_line(&c, line, sizeof line, &ids) && ids.num == 1 && ids.types[0] == 7,
		      "socket type %u", ids.types[0]);
	} else {
		CHECK(wait_lost(&c), "socket kills the context");
	}
	chan_close(&c);

	if (!chan_open(&c))
		return;
	chan_send_str(&c, "RDPIPE\n");
	CHECK(wait_lost(&c), "a read end kills the context");
	chan_close(&c);
}

static void
test_identifier_limit(void)
{
	struct chan c;
	struct msg ids;
	char line[64], cmd[32], reason[160];

	if (!chan_open(&c))
		return;
	snprintf(cmd, sizeof cmd, "MANYFDS %u\n", c.n);
	chan_send_str(&c, cmd);
	CHECK(chan_line(&c, line, sizeof line, &ids) && ids.num == c.n, "N fds: %u", ids.num);
	CHECK(context_state(c.fd, reason, sizeof reason) == 1, "alive after N fds");
	snprintf(cmd, sizeof cmd, "MANYFDS %u\n", c.n + 1);
	chan_send_str(&c, cmd);
	CHECK(wait_lost(&c), "N+1 fds from the compositor");
	chan_close(&c);
}

static void
test_eof(void)
{
	struct chan c;
	struct msg m;

	if (!chan_open(&c))
		return;
	CHECK(chan_send_str(&c, "CLOSE\n") == 0, "SEND");
	if (prof_no_eof) {
		CHECK(!chan_wait_event(&c, 300), "no-eof host reported EOF");
	} else {
		/* §4.2: an empty RECEIVE is EOF. */
		CHECK(chan_next(&c, &m, 2000) && m.cmd == CROSS_DOMAIN_CMD_RECEIVE && m.size == 0 &&
		      m.num == 0, "EOF RECEIVE");
		CHECK(!chan_wait_event(&c, 200), "nothing after EOF");
	}
	chan_close(&c);
}

static void
test_init_rules(void)
{
	struct chan c;
	char reason[160];

	/* §3.5: rutabaga >= 0.1.80 rejects a 24-byte INIT; the others read a prefix. */
	if (!chan_open_init(&c, 24, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, 1))
		return;
	if (!prof_cv && !prof_kr)
		CHECK(context_state(c.fd, reason, sizeof reason) == 0, "24-byte INIT on rutabaga");
	else
		CHECK(chan_echo_ok(&c), "24-byte INIT on %s", profile);
	chan_close(&c);

	if (chan_open_init(&c, 16, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, 0)) {
		/* Legacy INIT: one ring for both; the reply shares the query ring. */
		CHECK(context_state(c.fd, reason, sizeof reason) == 1, "16-byte INIT: %s", reason);
		chan_close(&c);
	}
	if (prof_kr) {
		/* libkrun 1.10-1.15: a 20-byte INIT means the 4-identifier layout. */
		uint32_t saved = prof_n;
		prof_n = 4;
		if (chan_open_init(&c, 20, CROSS_DOMAIN_CHANNEL_TYPE_WAYLAND, 0)) {
			CHECK(chan_echo_ok(&c), "N=4 layout after a 20-byte INIT");
			chan_close(&c);
		}
		prof_n = saved;
	}
	if (chan_open_init(&c, 20, CROSS_DOMAIN_CHANNEL_TYPE_NONE, 0)) {
		CHECK(context_state(c.fd, reason, sizeof reason) == 1, "channel type 0");
		CHECK(chan_send_str(&c, "ECHO 1\nx") == 0, "SEND on no channel");
		CHECK(context_state(c.fd, reason, sizeof reason) == 0, "SEND without a channel");
		chan_close(&c);
	}
	if (chan_open_init(&c, 20, 7, 0)) {
		CHECK(context_state(c.fd, reason, sizeof reason) == 0, "unconfigured channel 7");
		chan_close(&c);
	}
}

/* One broken command: its bytes go in buf, the rest is filled in by
 * broken_command_encode. */
struct broken_command {
	uint32_t num, size, len, id, type;
};

/* The host resource of a GPU buffer the guest made without a host handle. */
static uint32_t
gpu_buffer_without_host_handle(struct chan *c)
{
	virtgpu_sim_gpu_buffer_create_t create = (virtgpu_sim_gpu_buffer_create_t)
		dlsym(RTLD_DEFAULT, VIRTGPU_SIM_GPU_BUFFER_CREATE);
	struct drm_prime_handle ph = { 0 };
	struct drm_virtgpu_resource_info ri = { 0 };

	ph.fd = create(16, 16, SIM_FORMAT_XRGB8888, VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE,
		       NULL, NULL);
	CHECK(xioctl(c->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph) == 0, "import");
	ri.bo_handle = ph.handle;
	xioctl(c->fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri);
	close(ph.fd);
	return ri.res_handle;
}

/* Case kase of test_broken_guest: what is wrong with the command. */
static void
broken_command_case(int kase, struct chan *c, uint8_t *buf, struct broken_command *cmd)
{
	uint32_t n = prof_n, data_off = CROSS_DOMAIN_SR_DATA_OFF(prof_n);
	struct cross_domain_header *hdr = (void *)buf;

	switch (kase) {
	case 0: /* cmd_size 0 would loop forever */
		hdr->cmd = CROSS_DOMAIN_CMD_POLL;
		cmd->len = 16;
		break;
	case 1: /* cmd_size past the buffer */
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_POLL, 0, 64, 0 };
		cmd->len = 16;
		break;
	case 2:
		*hdr = (struct cross_domain_header){ 99, 0, 8, 0 };
		cmd->len = 8;
		break;
	case 3: /* host-to-guest command from the guest */
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_RECEIVE, 0, data_off, 0 };
		cmd->len = data_off;
		break;
	case 4: /* N + 1 identifiers */
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, data_off, 0 };
		cmd->num = n + 1;
		cmd->len = data_off;
		break;
	case 5: /* opaque_data_size past cmd_size */
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, data_off + 4, 0 };
		cmd->size = 5;
		cmd->len = data_off + 4;
		break;
	case 6: /* a resource not attached to this context */
		cmd->num = 1, cmd->id = 999999, cmd->type = 1;
		break;
	case 7: /* guest memory has no host handle */
		cmd->num = 1, cmd->id = c->cres, cmd->type = 1;
		break;
	case 8: /* a wrong read pipe id */
		cmd->num = 1, cmd->id = CROSS_DOMAIN_PIPE_READ_START + 5, cmd->type = 3;
		break;
	case 9:
		cmd->num = 1, cmd->id = 1, cmd->type = CROSS_DOMAIN_ID_TYPE_VIRTGPU_SYNC;
		break;
	case 10: { /* second INIT */
		struct cross_domain_init init = { { CROSS_DOMAIN_CMD_INIT, 0, 20, 0 }, c->qres,
						  c->cres, 1 };
		memcpy(buf, &init, sizeof init);
		cmd->len = prof_kr ? 20 : sizeof init;
		if (prof_kr)
			buf[16] = 1;
		break;
	}
	case 11: { /* WRITE to an unknown identifier */
		struct cross_domain_read_write wr = { { CROSS_DOMAIN_CMD_WRITE, 0, 28, 0 },
						      4242, 0, 4, 0 };
		memcpy(buf, &wr, sizeof wr);
		cmd->len = 28;
		break;
	}
	case 12: { /* an unknown format */
		struct cross_domain_get_image_requirements req = {
			{ CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, 0, 24, 0 }, 16, 16, 0x1234, 0 };
		memcpy(buf, &req, sizeof req);
		cmd->len = 24;
		break;
	}
	case 13: /* trailing bytes without a header */
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_POLL, 0, 16, 0 };
		cmd->len = 20;
		break;
	case 14: /* a futex / eventfd command */
		*hdr = (struct cross_domain_header){ 9, 0, 16, 0 };
		cmd->len = 16;
		break;
	case 15: /* a GPU buffer without a host handle (§4.1) */
		cmd->num = 1, cmd->id = gpu_buffer_without_host_handle(c), cmd->type = 1;
		break;
	}
}

/* A case that set no bytes of its own is a SEND; then its identifier
 * count, opaque size and identifier go in. */
static void
broken_command_encode(uint8_t *buf, struct broken_command *cmd)
{
	uint32_t n = prof_n, data_off = CROSS_DOMAIN_SR_DATA_OFF(prof_n);
	struct cross_domain_header *hdr = (void *)buf;

	if (cmd->len == 0) {
		*hdr = (struct cross_domain_header){ CROSS_DOMAIN_CMD_SEND, 0, data_off, 0 };
		cmd->len = data_off;
	}
	if (cmd->num || cmd->size) {
		memcpy(buf + 8, &cmd->num, 4);
		memcpy(buf + 12, &cmd->size, 4);
	}
	if (cmd->id) {
		memcpy(buf + CROSS_DOMAIN_SR_IDS_OFF(n), &cmd->id, 4);
		memcpy(buf + CROSS_DOMAIN_SR_TYPES_OFF(n), &cmd->type, 4);
	}
}

/* Each broken command costs its own context and nothing else (§3.1, §3.4, §4). */
static void
test_broken_guest(void)
{
	struct chan healthy, c;
	char reason[160];
	uint8_t buf[512];

	if (!chan_open(&healthy))
		return;
	for (int kase = 0; kase < 16; kase++) {
		struct broken_command cmd = { 0 };

		if (!chan_open(&c))
			return;
		memset(buf, 0, sizeof buf);
		broken_command_case(kase, &c, buf, &cmd);
		broken_command_encode(buf, &cmd);
		/* The kernel takes any bytes; the host decides. */
		CHECK(exec(c.fd, buf, cmd.len, -1, NULL, 0) == 0, "case %d exec", kase);
		CHECK(context_state(c.fd, reason, sizeof reason) == 0, "case %d not lost", kase);
		CHECK(strlen(reason) > 0, "case %d: no reason", kase);
		/* The POLL due is answered, with nothing in the ring (as host/rutabaga does): the
		 * guest fails with a line rather than waiting for ever. */
		CHECK(chan_wait_event(&c, 2000), "case %d: no answer to the POLL after the loss",
		      kase);
		CHECK(c.cmap[0] == 0, "case %d: a message after the loss", kase);
		chan_close(&c);
	}
	CHECK(chan_echo_ok(&healthy), "the healthy context lives on");
	chan_close(&healthy);
}

static void
test_n4_layout(void)
{
	struct chan c;
	struct msg m;

	if (prof_n != 4 || !chan_open(&c))
		return;
	CHECK(chan_send_str(&c, "ECHO 3\nabc") == 0, "SEND with the 64-byte header");
	CHECK(chan_next(&c, &m, 2000) && m.size == 3 && memcmp(c.cmap + 64, "abc", 3) == 0,
	      "data at offset 64");
	chan_close(&c);
}

/* --list-nodes: what a probe of renderD128..191 finds (VIRTGPU_SIM_NODES). */
static int
list_nodes(void)
{
	for (int minor = 128; minor < 192; minor++) {
		char path[64], name[32] = { 0 };
		struct drm_version v = { .name = name, .name_len = sizeof name - 1 };
		int fd;

		snprintf(path, sizeof path, "/dev/dri/renderD%d", minor);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0)
			printf("renderD%d %s\n", minor, name);
		close(fd);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		void (*run)(void);
	} tests[] = {
		{ "probe", test_probe },
		{ "context-init-rules", test_context_init_rules },
		{ "blob-rules", test_blob_rules },
		{ "execbuffer-rules", test_execbuffer_rules },
		{ "execbuffer-read-ahead", test_execbuffer_read_ahead },
		{ "echo-and-chunks", test_echo_and_chunks },
		{ "host-memory", test_host_memory },
		{ "image-requirements", test_image_requirements },
		{ "host-window", test_host_window },
		{ "read-pipe", test_read_pipe },
		{ "write-pipe", test_write_pipe },
		{ "gpu-buffer", test_gpu_buffer },
		{ "wait-threads", test_wait_threads },
		{ "order", test_order },
		{ "queue-depth", test_queue_depth },
		{ "fd-kinds", test_fd_kinds },
		{ "identifier-limit", test_identifier_limit },
		{ "eof", test_eof },
		{ "init-rules", test_init_rules },
		{ "broken-guest", test_broken_guest },
		{ "n4-layout", test_n4_layout },
	};
	const char *only = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
			profile = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--list-nodes") == 0)
			return list_nodes();
	}
	prof_dmabuf = strcmp(profile, "rutabaga-dmabuf") == 0;
	prof_writepipe_bug = strcmp(profile, "writepipe-bug") == 0;
	prof_no_eof = strcmp(profile, "no-eof") == 0;
	prof_kr = strcmp(profile, "libkrun-1.15") == 0;
	prof_cv = strcmp(profile, "n4") == 0 || prof_writepipe_bug || prof_no_eof;
	prof_n = strcmp(profile, "n4") == 0 ? 4 : 28;

	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int before = failures;

		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		current_test = tests[i].name;
		tests[i].run();
		printf("%s %s/%s\n", failures == before ? "ok  " : "FAIL", profile, tests[i].name);
		fflush(stdout);
	}
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
