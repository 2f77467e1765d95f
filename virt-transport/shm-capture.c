/*
 * SPDX-License-Identifier: MIT
 * wl_shm buffers the compositor writes into: screen capture
 * (zwlr_screencopy_frame_v1.copy, ext_image_copy_capture_frame_v1.
 * attach_buffer, weston_screenshooter.shoot, ...) has the compositor fill
 * a client's buffer and then say so with an event on the object the
 * buffer was handed to. The compositor writes host memory; a client that
 * reads anything else (a copied pool's file, a view of newer host memory
 * than the buffer's) must see what was written.
 *
 * The rule covers every such protocol without knowing it: a wl_shm buffer
 * named as an argument of a request of any object other than a
 * wl_surface (which only reads it) is lent to that object. From then on,
 * before each event of that object is queued, the buffer's bytes go from
 * the host memory the compositor wrote to where the client reads them.
 * The object's events are the only way a compositor can say "written";
 * one of them (ready, done, ...) comes after the write, and each is a
 * copy of at most the buffer (none for a buffer the client reads in place,
 * the zero-copy case). The loan ends when the object's id is deleted or
 * the buffer is destroyed.
 *
 * A zero-copy pool the process has no view of at the loan (it reads with
 * read(), or maps once the capture is ready) has an emptied file: it
 * becomes a mixed pool, its file refilled, and is copied from then on.
 * A process that reads a zero-copy pool through its fd while it also has
 * views of it still reads the emptied file (README.md).
 *
 * The core tells the library of such requests only for objects it asked
 * to watch (transport.h watch_object): every wl_shm buffer is, from its
 * create_buffer on; the borrowing object's events reach the event hook
 * once it borrows (hook_object).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm-private.h"
#include "wayland-client-protocol.h"
#include "wayland-private.h"

/* wl_display's events: error (0), delete_id (1). */
#define DISPLAY_DELETE_ID 1

struct shm_loan {
	struct shm_loan *next;
	uint32_t borrower;	/* the object the buffers were handed to */
	int count;
	uint32_t buffers[];	/* their ids */
};

void
shm_capture_watch(struct wl_transport *transport, uint32_t buffer_id)
{
	const struct wl_transport_core *core = transport->core;

	if (core && core->watch_object)
		core->watch_object(transport->core_data, buffer_id);
}

static struct shm_loan *
loan_find(struct virt_shm *shm, uint32_t borrower)
{
	struct shm_loan *loan;

	for (loan = shm->captures.loans; loan; loan = loan->next)
		if (loan->borrower == borrower)
			return loan;
	return NULL;
}

static int
loan_add(struct virt_shm *shm, uint32_t borrower, uint32_t buffer_id)
{
	struct shm_loan *loan = loan_find(shm, borrower), *grown, **p;
	int i;

	if (loan) {
		for (i = 0; i < loan->count; i++)
			if (loan->buffers[i] == buffer_id)
				return 0;
	}
	grown = realloc(loan, sizeof *loan +
			(size_t) ((loan ? loan->count : 0) + 1) * sizeof(uint32_t));
	if (grown == NULL)
		return -1;
	if (loan == NULL) {
		grown->borrower = borrower;
		grown->count = 0;
		grown->next = shm->captures.loans;
		shm->captures.loans = grown;
	} else {
		for (p = &shm->captures.loans; *p != loan; p = &(*p)->next)
			;
		*p = grown;
	}
	grown->buffers[grown->count++] = buffer_id;
	return 0;
}

/* A buffer of a zero-copy pool that the process has no view of: it will
 * read what the compositor writes through the file (read(), or a view
 * made once the capture is ready), which a zero-copy pool emptied. Such
 * a pool becomes a mixed one: the file holds the pool again and is the
 * client's copy from now on. */
static void
lend_viewless_pool(struct virt_shm *shm, struct shm_pool *pool)
{
	if (pool->mode != SHM_POOL_ZERO_COPY || !shm_remap_has_no_views(pool))
		return;
	if (pool->windowed) {
		/* Its windows' bytes go back to the file, which it reads. */
		shm_windows_to_file(shm, pool);
		return;
	}
	if (pool->emptied) {
		shm->stats->shm_bytes_copied +=
			shm_file_refill(pool->client_fd, pool->blob->map,
					pool->size);
		pool->emptied = false;
	}
	shm_pool_copied(shm, pool, SHM_POOL_MIXED, SHM_COPY_CAPTURE_NO_VIEW);
}

/* A request of an object that is not a wl_surface: does it name one of
 * the library's wl_shm buffers? Then that buffer is lent to the object. */
int
shm_capture_request(struct virt_shm *shm, struct wl_transport *transport,
		    struct wl_object *target, const struct wl_message *message,
		    union wl_argument *args)
{
	const struct wl_transport_core *core = transport->core;
	const char *signature = message->signature;
	struct argument_details arg;
	bool lent = false;
	int i;

	if (strcmp(target->interface->name, "wl_surface") == 0)
		return 0;

	for (i = 0; (signature = wire_next_argument(signature, &arg)), arg.type; i++) {
		struct shm_buffer *buffer;

		if (arg.type != 'o' || args[i].o == NULL ||
		    !(buffer = shm_buffer_find(shm, args[i].o->id)))
			continue;
		/* The compositor writes host memory: the client's views
		 * must show it. */
		if (shm_pool_settle(shm, buffer->pool) < 0 ||
		    loan_add(shm, target->id, buffer->id) < 0)
			return -1;
		lend_viewless_pool(shm, buffer->pool);
		lent = true;
	}
	if (lent && core && core->hook_object)
		core->hook_object(transport->core_data, target->id);
	return 0;
}

/* Bytes [from, to) of the client's file from host memory, no further than
 * the file's end (the client may have shrunk it; pwrite does not fault). */
static size_t
file_write_back(int fd, const char *src, size_t from, size_t to)
{
	struct stat st;
	size_t done = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return 0;
	if (to > (size_t) st.st_size)
		to = (size_t) st.st_size;
	while (from + done < to) {
		n = pwrite(fd, src + from + done, to - from - done,
			   (off_t) (from + done));
		if (n <= 0)
			break;
		done += (size_t) n;
	}
	return done;
}

/* What the compositor wrote into one buffer, to where the client reads. */
static void
buffer_write_back(struct virt_shm *shm, struct shm_buffer *buffer)
{
	struct shm_pool *pool = buffer->pool;
	size_t from = buffer->offset, to = buffer->offset + buffer->bytes;
	/* Host memory holds the pool from blob->base on (windows). */
	const char *src = (const char *) buffer->blob->map - buffer->blob->base;
	struct shm_window *w;
	bool newer_memory;

	if (to < from || to > buffer->blob->base + buffer->blob->size)
		return;		/* a buffer the compositor refused */

	/* The window the client now draws in, when it took in this
	 * buffer's. */
	w = pool->windowed ? shm_window_of(pool, from, to) : NULL;
	if (w && w->blob != buffer->blob && pool->mode != SHM_POOL_COPY) {
		memcpy((char *) w->blob->map + (from - w->base), src + from,
		       to - from);
		shm->stats->shm_bytes_copied_back += to - from;
	}

	/* Views of the pool's current host memory, when the buffer lives in
	 * earlier memory the client no longer draws into. */
	newer_memory = !pool->windowed && buffer->blob != pool->blob &&
		       !shm_remap_client_draws_in(shm, buffer->blob);
	if (newer_memory && to <= pool->blob->size && pool->mode != SHM_POOL_COPY) {
		memcpy((char *) pool->blob->map + from,
		       (char *) buffer->blob->map + from, to - from);
		shm->stats->shm_bytes_copied_back += to - from;
	}

	/* Views of the file: every view in a copied pool, some in a mixed
	 * one. A zero-copy pool has none (and data in its file would mean
	 * one to look for). */
	if (pool->mode != SHM_POOL_ZERO_COPY)
		shm->stats->shm_bytes_copied_back +=
			file_write_back(pool->client_fd, src, from, to);
}

/* An event of `target`, about to be queued: the buffers lent to it show
 * the client what the compositor wrote. */
static void
loan_write_back(struct virt_shm *shm, struct shm_loan *loan)
{
	struct shm_buffer *buffer;
	int i;

	for (i = 0; i < loan->count; i++) {
		buffer = shm_buffer_find(shm, loan->buffers[i]);
		if (buffer)
			buffer_write_back(shm, buffer);
	}
}

static void
loan_end(struct virt_shm *shm, struct shm_loan *loan)
{
	struct shm_loan **p;

	for (p = &shm->captures.loans; *p != loan; p = &(*p)->next)
		;
	*p = loan->next;
	free(loan);
}

void
shm_capture_event(struct virt_shm *shm, struct wl_object *target,
		  uint32_t opcode, union wl_argument *args)
{
	struct shm_loan *loan;

	if (shm->captures.loans == NULL)
		return;

	/* wl_display.delete_id: the borrower is gone. */
	if (target->id == 1) {
		if (opcode == DISPLAY_DELETE_ID &&
		    (loan = loan_find(shm, args[0].u)))
			loan_end(shm, loan);
		return;
	}

	loan = loan_find(shm, target->id);
	if (loan)
		loan_write_back(shm, loan);
}

/* A buffer destroyed: no loan names it (its id may come back as another
 * object). */
void
shm_capture_buffer_gone(struct virt_shm *shm, uint32_t buffer_id)
{
	struct shm_loan *loan, *next;
	int i;

	for (loan = shm->captures.loans; loan; loan = next) {
		next = loan->next;
		for (i = 0; i < loan->count; i++) {
			if (loan->buffers[i] != buffer_id)
				continue;
			loan->buffers[i] = loan->buffers[--loan->count];
			i--;
		}
		if (loan->count == 0)
			loan_end(shm, loan);
	}
}

void
shm_capture_fini(struct virt_shm *shm)
{
	while (shm->captures.loans)
		loan_end(shm, shm->captures.loans);
}
