/*
 * What the parts of one cross-domain context share (host-cross-domain*.c): the context, its
 * items (what the compositor and guest exchanged, by id) and read pipes, and the functions the
 * parts call in each other. The device sees a context only through host.h.
 */
#ifndef HOST_CROSS_DOMAIN_H
#define HOST_CROSS_DOMAIN_H

#include <stdint.h>

#include "host.h"

#define CD_RING_MIN_SIZE	4096u	/* one page: the host writes a whole RECEIVE (§2) */

#define CD_MAX_ITEMS		65536u

#define CD_MAX_READ_PIPES	1024u
/* Command bytes a context may have waiting behind a SEND or WRITE its compositor does not
 * take. A VMM that answers unfenced submits at once (QEMU) lets a guest that never waits
 * for its fences queue without end; past this the context is lost, not the host's memory. */
#define CD_MAX_HELD		(64u << 20)

#define CD_HOST_BUFFER_SIZE	4096u	/* RECEIVE header + data = 4096 (§3.4) */

enum cd_item_kind {
	CD_ITEM_MEMORY,		/* host memory received from the compositor: one blob */
	CD_ITEM_IMAGE,		/* GET_IMAGE_REQUIREMENTS: reusable blob_id (§5.1) */
	CD_ITEM_WRITE_PIPE,
	CD_ITEM_EVENT,
	CD_ITEM_SOCKET,
};

struct cd_item {
	uint32_t id;
	enum cd_item_kind kind;
	int fd;
	uint64_t size;
	bool dmabuf;
	struct cd_item *next;
};

struct cd_read_pipe {
	uint32_t id;
	int fd;
	struct cd_read_pipe *next;
};

struct cd_context {
	struct cd_config config;
	struct host_file *file;
	uint32_t ctx_id;
	bool initialized;
	bool lost;
	bool ring_detached;		/* the guest let its channel ring go: it is closing */
	char lost_reason[160];
	uint32_t num_ids;		/* N of SEND/RECEIVE for this context */
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	int socket;
	bool socket_eof;
	bool send_error_logged;
	uint32_t read_pipe_counter;
	uint32_t next_item_id;
	uint32_t num_items;
	uint32_t num_read_pipes;
	struct cd_item *items;
	struct cd_read_pipe *read_pipes;
	unsigned service_turn;
	uint64_t served_wait;		/* host_waits when an event was last taken */
	/* A SEND the compositor's socket did not take at once, or a WRITE to a pipe that is
	 * full. rutabaga's sendmsg and write() block its command thread until the compositor
	 * reads, while its worker thread goes on serving POLLs; the simulated device, one
	 * thread, does not block, but keeps the unsent bytes (and fds, when none went yet) of a
	 * SEND, or the WRITE itself, and runs later commands only after them, as a device
	 * queue behind a busy command thread does. wait_fd is what must become writable. */
	bool blocked;
	int wait_fd;
	uint8_t *tail;
	size_t tail_size, tail_off;
	int tail_fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	unsigned tail_num_fds;
	uint16_t tail_cmd_size;
	uint8_t *held;			/* commands accepted behind the blocked SEND: */
	size_t held_off, held_size;	/* those from held_off to held_size wait */
	size_t held_cap;
	uint64_t accepted, completed;	/* command bytes, for the device's fences */
};

int
cd_context_lose(struct cd_context *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct cd_item *
cd_item_find(struct cd_context *ctx, uint64_t id);
struct cd_item *
cd_item_add(struct cd_context *ctx, enum cd_item_kind kind, int fd, uint64_t size);
void
cd_item_remove(struct cd_context *ctx, struct cd_item *item);
uint8_t *
cd_ring(struct cd_context *ctx, uint32_t ring_id, size_t need, const char *what);
int
cd_send_tail(struct cd_context *ctx);
int
cd_handle_send(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size);
int
cd_handle_write(struct cd_context *ctx, const uint8_t *cmd, uint16_t cmd_size);

#endif
