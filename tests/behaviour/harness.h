/*
 * Shared by the behaviour tests: a runner that forks one child per case,
 * checks that print what differed, fd counting, log capture, and the way to
 * start the test compositor.
 */

#ifndef BEH_HARNESS_H
#define BEH_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <wayland-client.h>

#include "test-protocol-client.h"

struct beh_case {
	const char *name;
	void (*run)(void);
	/* Why the case does not run over the virtio-gpu transport (it is
	 * about the socket itself), or NULL. */
	const char *socket_only;
	/* The case needs the simulated virtio-gpu. */
	bool virtgpu_only;
	/* Why the case needs the simulator rather than a real guest kernel,
	 * or NULL. */
	const char *sim_only;
};

/* Registers a case; main() is in harness.c and runs every case in a fork. */
#define BEH_CASE_(fn, socket_only, virtgpu_only, sim_only)		\
	static void fn(void);						\
	static const struct beh_case beh_case_##fn			\
	__attribute__((used, section("beh_cases"),			\
		       aligned(sizeof(void *)))) =			\
		{ #fn, fn, socket_only, virtgpu_only, sim_only };	\
	static void fn(void)

#define BEH_TEST(fn) BEH_CASE_(fn, NULL, false, NULL)
/* Listed, not run and not counted, over virtgpu; why says why. */
#define BEH_TEST_SOCKET_ONLY(fn, why) BEH_CASE_(fn, why, false, NULL)
/* Listed, not run and not counted, on a plain socket. */
#define BEH_TEST_VIRTGPU_ONLY(fn) BEH_CASE_(fn, NULL, true, NULL)
/* Virtgpu only, and listed, not run and not counted, in a real guest
 * (tests/vm/vm-run); why says what it needs of the simulator. */
#define BEH_TEST_SIM_ONLY(fn, why) BEH_CASE_(fn, NULL, true, why)

void
beh_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define check(cond)							\
	do {								\
		if (!(cond))						\
			beh_fail(__FILE__, __LINE__, "%s", #cond);	\
	} while (0)

#define check_int(a, op, b)						\
	do {								\
		long long a_ = (long long) (a), b_ = (long long) (b);	\
		if (!(a_ op b_))					\
			beh_fail(__FILE__, __LINE__,			\
				 "%s %s %s (%lld vs %lld)",		\
				 #a, #op, #b, a_, b_);			\
	} while (0)

#define check_str(a, b)							\
	do {								\
		const char *a_ = (a), *b_ = (b);			\
		if (!a_ || !b_ || strcmp(a_, b_) != 0)			\
			beh_fail(__FILE__, __LINE__,			\
				 "%s == %s (\"%s\" vs \"%s\")",		\
				 #a, #b, a_ ? a_ : "(null)",		\
				 b_ ? b_ : "(null)");			\
	} while (0)

#define check_errno(call_result, expected_errno)			\
	do {								\
		long long r_ = (long long) (call_result);		\
		int e_ = errno;						\
		if (r_ != -1 || e_ != (expected_errno))			\
			beh_fail(__FILE__, __LINE__,			\
				 "%s: want -1/%s, got %lld/%s", 	\
				 #call_result, strerror(expected_errno),\
				 r_, strerror(e_));			\
	} while (0)

/* Number of open fds of this process. */
int
beh_fd_count(void);

/* True when the loaded libwayland-client has the 1.23+ connection code
 * (wl_display_set_max_buffer_size exists): unbounded buffers by default,
 * "#" and queue names in WAYLAND_DEBUG lines. Our library is one. */
bool
beh_lib_is_1_23_plus(void);

/* Log capture through wl_log_set_handler_client. */
void
beh_log_capture(void);
const char *
beh_log_text(void);
bool
beh_log_contains(const char *needle);
void
beh_log_clear(void);

/* Starts the test compositor on one end of a socketpair; returns the other
 * end (close-on-exec) and stores the compositor's pid. */
int
beh_compositor_spawn(pid_t *pid);

/* Starts the test compositor listening on XDG_RUNTIME_DIR-less absolute
 * path dir/name (dir is created); returns its pid once it listens. */
pid_t
beh_compositor_spawn_socket(const char *dir, const char *name);

/* Kills the compositor (SIGKILL); reap it with beh_compositor_reap_killed.
 * Its pid is only a handle: in a real guest the compositor runs on the host
 * (README.md, "In a real guest"). */
void
beh_compositor_kill(pid_t pid);

/* Waits for the compositor to exit (it does when its client leaves). */
void
beh_compositor_reap(pid_t pid);

/* Waits for a compositor this test killed. */
void
beh_compositor_reap_killed(pid_t pid);

/* A connected client with beh_test (and beh_fd_test) bound. */
struct beh_client {
	struct wl_display *display;
	struct wl_registry *registry;
	struct beh_test *test;
	struct beh_fd_test *fd_test;
	struct wl_shm *shm;
	uint32_t test_version;
	pid_t compositor;
};

void
beh_client_connect(struct beh_client *c, uint32_t version);
void
beh_client_bind(struct beh_client *c, struct wl_display *display,
		uint32_t version);
void
beh_client_disconnect(struct beh_client *c);

/* Same, for a client in the error state: the compositor's exit status is
 * not checked (it may have dropped the client itself). */
void
beh_client_disconnect_after_error(struct beh_client *c);

/* Sends beh_test.noop with a payload that makes the request size bytes
 * (8 header + 4 length + payload). */
void
beh_send_noop_of_size(struct beh_client *c, size_t size);

/*
 * Listener pieces for cases that care about some events only: the
 * everything, fds and fd handlers close the fds they get and keep nothing;
 * store_noop_count stores the count in *(uint32_t *) data.
 */
void
beh_test_close_everything(void *data, struct beh_test *test, int32_t i,
			  uint32_t u, wl_fixed_t f, const char *s,
			  const char *ns, struct beh_obj *o, void *any,
			  struct beh_obj *id, struct wl_array *a, int32_t fd);
void
beh_test_close_fds(void *data, struct beh_test *test, int32_t a, int32_t b,
		   int32_t c);
void
beh_test_ignore_noop_count(void *data, struct beh_test *test, uint32_t count);
void
beh_test_store_noop_count(void *data, struct beh_test *test, uint32_t count);
void
beh_test_ignore_pong(void *data, struct beh_test *test, uint32_t serial);
void
beh_obj_close_fd(void *data, struct beh_obj *obj, int32_t fd);
void
beh_obj_ignore_version(void *data, struct beh_obj *obj, uint32_t version);

/* Runs fn in a forked child; returns its wait status. */
int
beh_run_forked(void (*fn)(void *), void *data);

/* A memfd holding text. */
int
beh_memfd(const char *text);

/* Reads up to size-1 bytes of the file behind fd from offset 0. */
void
beh_read_fd(int fd, char *buf, size_t size);

/* True when both fds refer to the same open file description's inode. */
bool
beh_same_file(int a, int b);

/*
 * The virtio-gpu mode (run-virtgpu, README.md): the program runs as a guest
 * of the simulated device (tests/sim/virtgpu-run) and BEH_VIRTGPU_HOST_SOCKET
 * names the host path the device connects to. There
 * beh_client_connect starts the compositor on a fresh socket in that
 * directory, points the host path at it and connects with
 * wl_display_connect(NULL), which can only succeed through the device.
 */
bool
beh_virtgpu(void);

/* Virtgpu mode in a real guest kernel (tests/vm/vm-run): the compositors run
 * on the host through run-virtgpu's compositor-spawner. */
bool
beh_real_guest(void);

/* Points the host path the device connects to at socket_path (a socket
 * this test made); returns the host path. Virtgpu mode only. */
const char *
beh_virtgpu_route(const char *socket_path);

/* A fresh unique socket path in the host directory. Virtgpu mode only. */
void
beh_virtgpu_socket_path(char *path, size_t size);

/* What the case waits for now (a literal), or NULL when it waits for nothing
 * the harness knows: a case that times out prints it, so a hang says where. */
void
beh_waiting_for(const char *what);

/* The virtio-gpu render node in a real guest. */
#define BEH_RENDER_NODE "/dev/dri/renderD128"

/* A GPU buffer of the real guest's virtio-gpu (real-gpu-buffer.c): a dma-buf
 * of host memory; its fd, or -errno. As virtgpu_sim_gpu_buffer_create
 * (tests/sim/virtgpu-sim.h); VIRTGPU_SIM_BUFFER_NO_HOST_HANDLE makes a dumb
 * buffer (a 2D resource in guest memory), other flags are -EINVAL. */
int
beh_real_gpu_buffer(uint32_t width, uint32_t height, uint32_t fourcc,
		    uint32_t flags, uint32_t *stride, uint64_t *size);

/* A GPU buffer (virtio-gpu dma-buf: the simulator's, or the real guest's)
 * holding text and its NUL, at least min_size bytes; *size gets its size.
 * Virtgpu mode only. */
int
beh_gpu_buffer(const char *text, size_t min_size, uint64_t *size);

/* An fd holding text that the transport can send: a memfd on a socket,
 * a GPU buffer over virtgpu. */
int
beh_sendable_fd(const char *text);

/* The text at the start of the memory behind fd, read through mmap (what a
 * dma-buf allows), or pread where the fd does not map (a 0-byte memfd). */
void
beh_fd_text(int fd, char *buf, size_t size);

/* The fd the compositor echoed back is the one sent: the same file on a
 * socket; over virtgpu (memory crosses as host memory, a new file) the
 * same text. */
bool
beh_same_payload(int sent, int received);

#endif
