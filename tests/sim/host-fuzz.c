/*
 * libFuzzer target for the host device's cross-domain command parser and worker: each input
 * is a script of guest submits, compositor messages (with fds) and blob creations run
 * against one context with real ring memory (host-fuzz-replay.c replays seeds in CI).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host.h"
#include "host-fuzz.h"
#include "sim-ipc.h"

static const char *const fuzz_profiles[] = {
	"rutabaga", "rutabaga-dmabuf", "n4", "libkrun-1.15", "writepipe-bug", "no-eof",
};

static int fuzz_peer = -1;

/* INIT connects here instead of a compositor: a socketpair whose other end we hold. */
static int
fuzz_connect(const char *path)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (fuzz_peer >= 0)
		close(fuzz_peer);
	fuzz_peer = sv[1];
	fcntl(fuzz_peer, F_SETFL, O_NONBLOCK);
	return sv[0];
}

static void
fuzz_drain_peer(void)
{
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 32)];

	if (fuzz_peer < 0)
		return;
	for (;;) {
		struct iovec iov = { buf, sizeof buf };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof cbuf };
		struct cmsghdr *cmsg;
		ssize_t n = recvmsg(fuzz_peer, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			break;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			int count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < count; i++)
				close(((int *)CMSG_DATA(cmsg))[i]);
		}
	}
}

static int
fuzz_memfd(size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The compositor sends bytes, maybe with an fd of the kind the op names. */
static void
fuzz_peer_send(uint8_t op, const uint8_t *data, size_t size)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 32)];
	struct iovec iov = { (void *)data, size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[32], num_fds = 0, p[2];

	if (fuzz_peer < 0)
		return;
	if (op & 0x10) {
		int kinds = (op >> 5) + 1;
		for (int k = 0; k < kinds && num_fds < 30; k++) {
			switch ((op + k) % 5) {
			case 0: fds[num_fds++] = fuzz_memfd(4096); break;
			case 1:
				if (pipe2(p, O_CLOEXEC) == 0) {
					fds[num_fds++] = p[1];
					close(p[0]);
				}
				break;
			case 2: fds[num_fds++] = eventfd(0, EFD_CLOEXEC); break;
			case 3:
				if (pipe2(p, O_CLOEXEC) == 0) {
					fds[num_fds++] = p[0];
					close(p[1]);
				}
				break;
			default: fds[num_fds++] = fuzz_memfd(100); break;
			}
		}
	}
	for (int i = 0; i < num_fds; i++)
		if (fds[i] < 0)
			fds[i] = fds[0] >= 0 ? fds[0] : 0;
	sim_ipc_attach_fds(&msg, cbuf, fds, (unsigned)num_fds);
	if (size > 0 || num_fds > 0)
		sendmsg(fuzz_peer, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < num_fds; i++)
		close(fds[i]);
	if (op & 0x08) {
		/* The compositor hangs up. */
		close(fuzz_peer);
		fuzz_peer = -1;
	}
}

static struct host_resource *
fuzz_resource(struct host_file *file, enum host_res_kind kind, uint32_t blob_mem)
{
	int fd = fuzz_memfd(4096);
	struct host_resource *res;

	if (fd < 0)
		return NULL;
	res = host_resource_create(kind, fd, 4096);
	if (!res) {
		close(fd);
		return NULL;
	}
	res->blob_mem = blob_mem;
	host_file_handle_open(file, res->id);
	return res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cd_config config = { .wayland_path = "fuzz", .connect_socket = fuzz_connect };
	struct host_file *file;
	size_t off = 2;

	if (size < 2)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	host_log_quiet = true;
	host_resource_reset_ids();
	config.profile = host_profile_find(fuzz_profiles[data[0] % 6]);
	file = host_file_create(-1);
	if (!file)
		return 0;
	file->ctx = cd_context_create(&config, file, file->id);
	/* Ids 1 and 2: the rings; 3: host memory; 4: a buffer without a host handle. */
	fuzz_resource(file, HOST_RES_GUEST, VIRTGPU_BLOB_MEM_GUEST);
	fuzz_resource(file, HOST_RES_GUEST, VIRTGPU_BLOB_MEM_GUEST);
	fuzz_resource(file, HOST_RES_HOST3D, VIRTGPU_BLOB_MEM_HOST3D);
	fuzz_resource(file, HOST_RES_GPU_NO_HANDLE, VIRTGPU_BLOB_MEM_HOST3D);

	if (data[1] & 1) {
		struct cross_domain_init_kr init = {
			.hdr = { .cmd = CROSS_DOMAIN_CMD_INIT, .cmd_size = 20 },
			.query_ring_id = 1, .channel_ring_id = 2, .channel_type = 1,
			.protocol_version = 1,
		};
		if (data[1] & 2)
			init.hdr.cmd_size = 24;
		cd_context_submit_wait(file->ctx, (const uint8_t *)&init, init.hdr.cmd_size);
	}

	while (off + 3 <= size && file->ctx) {
		uint8_t op = data[off];
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;
		const uint8_t *body = data + off + 3;
		bool dmabuf;
		int fd;

		if (len > size - off - 3)
			len = size - off - 3;
		off += 3 + len;
		switch (op & 3) {
		case 0:
			cd_context_submit(file->ctx, body, len);
			break;
		case 1:
			fuzz_peer_send(op, body, len);
			cd_context_service(file->ctx);
			break;
		case 2: {
			uint32_t blob_id = 0, blob_size = 0;
			memcpy(&blob_id, body, len < 4 ? len : 4);
			if (len > 4)
				memcpy(&blob_size, body + 4, len - 4 < 4 ? len - 4 : 4);
			fd = cd_context_create_blob(file->ctx, blob_id, blob_size, &dmabuf);
			if (fd >= 0)
				close(fd);
			break;
		}
		default:
			cd_context_service(file->ctx);
			break;
		}
		fuzz_drain_peer();
		if (file->ctx)
			cd_context_resume(file->ctx);
	}

	host_file_destroy(file);
	if (fuzz_peer >= 0) {
		close(fuzz_peer);
		fuzz_peer = -1;
	}
	return 0;
}
