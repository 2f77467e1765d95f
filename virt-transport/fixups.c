/*
 * SPDX-License-Identifier: MIT
 * Events whose meaning the guest must change, keyed by interface and
 * event name: the only place besides shm.c that knows interface names.
 * Host memory that clients map MAP_PRIVATE (keymaps, dma-buf format
 * tables) becomes sealed guest copies; devices the host names (dma-buf
 * feedback, wl_drm) become the guest's render node; globals whose fds
 * cannot cross the channel are not offered (gpu-path.md §1, §2, §4).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"
#include "transport-virtgpu.h"
#include "wayland-private.h"

/* Small read-only tables (keymaps, format tables) are copied into sealed
 * guest memory up to this size. */
#define SEALED_COPY_MAX (16u << 20)
/* One entry of a dma-buf format table: u32 format, u32 pad, u64 modifier. */
#define FORMAT_TABLE_ENTRY 16
/* The highest zwp_linux_dmabuf_v1 version whose events the library knows
 * (feedback is v4's; Mesa binds at most 4). */
#define LINUX_DMABUF_VERSION_MAX 4

/* Globals whose requests or events carry fds no host can pass: sync
 * objects and sync_files (no identifier type crosses, gpu-path.md §4), a
 * DRM lease's device fd, a listening socket. Clients fall back when they
 * are absent (Mesa: implicit sync). A gamma table or any other file in a
 * request crosses as host memory (memory-fds.c), so
 * zwlr_gamma_control_manager_v1 is offered. WAYLAND_VIRTGPU_HIDE_GLOBALS
 * replaces the list. */
static const char default_hidden[] =
	"wp_linux_drm_syncobj_manager_v1,"
	"zwp_linux_explicit_synchronization_v1,"
	"wp_drm_lease_device_v1,"
	"wp_security_context_manager_v1";

int
fixups_init(struct virtgpu_transport *t)
{
	struct vt_fixups *f = &t->fixups;
	const char *list = getenv("WAYLAND_VIRTGPU_HIDE_GLOBALS");
	struct stat st;

	if (fstat(t->cd.dev.fd, &st) == 0 && S_ISCHR(st.st_mode)) {
		f->guest_rdev = st.st_rdev;
		f->have_rdev = true;
	}
	f->hidden_list = strdup(list ? list : default_hidden);
	f->debug = virtgpu_debug_client();
	return f->hidden_list ? 0 : -1;
}

void
fixups_fini(struct virtgpu_transport *t)
{
	free(t->fixups.hidden_list);
	free(t->fixups.hidden);
	free(t->fixups.tables);
}

/* Keymaps and format tables are read-only and small; clients map them
 * MAP_PRIVATE, which host memory may not allow, so give them a sealed
 * guest copy (cross-domain-protocol.md §4.5). */
static int
seal_copy(int *fd, uint32_t size)
{
	void *src;
	off_t end;
	int copy;

	if (size == 0 || size > SEALED_COPY_MAX)
		return 0;
	/* A size past the memory that came with it would fault on the
	 * copy (host memory and dma-bufs say their size at SEEK_END). */
	end = lseek(*fd, 0, SEEK_END);
	if (end >= 0 && (uint64_t) end < size) {
		wl_log("wayland-virtgpu: the compositor sent a table of %u "
		       "bytes in memory of %lld\n", size, (long long) end);
		errno = EPROTO;
		return -1;
	}

	/* A real kernel makes the blob of an identifier the host does not
	 * know without asking it; the host's refusal shows here, as EINVAL
	 * (virtio_gpu_vram_mmap). The host sent it: a protocol error. */
	src = mmap(NULL, size, PROT_READ, MAP_SHARED, *fd, 0);
	if (src == MAP_FAILED) {
		wl_log("wayland-virtgpu: cannot map host memory of %u bytes "
		       "(%s)\n", size, strerror(errno));
		errno = EPROTO;
		return -1;
	}

	copy = memfd_create("wayland-virtgpu-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0 || ftruncate(copy, size) < 0 ||
	    pwrite(copy, src, size, 0) != (ssize_t) size) {
		munmap(src, size);
		if (copy >= 0)
			close(copy);
		return -1;
	}
	munmap(src, size);
	fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

	close(*fd);
	*fd = copy;

	return 0;
}

/* --- globals that cannot cross ----------------------------------------- */

static bool
interface_hidden(struct vt_fixups *f, const char *interface)
{
	size_t len = strlen(interface);
	const char *p = f->hidden_list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t) (end - p) : strlen(p);

		if (n == len && memcmp(p, interface, len) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static struct hidden_name *
hidden_find(struct vt_fixups *f, uint32_t name)
{
	int i;

	for (i = 0; i < f->nhidden; i++) {
		if (f->hidden[i].name == name)
			return &f->hidden[i];
	}
	return NULL;
}

static int
hide_global(struct vt_fixups *f, uint32_t name, const char *interface,
	    uint32_t version)
{
	struct hidden_name *h = hidden_find(f, name);

	if (h == NULL) {
		if (f->nhidden == f->hidden_capacity) {
			int capacity = f->hidden_capacity ? f->hidden_capacity * 2 : 8;
			void *grown = realloc(f->hidden, capacity * sizeof *f->hidden);

			if (grown == NULL)
				return -1;
			f->hidden = grown;
			f->hidden_capacity = capacity;
		}
		h = &f->hidden[f->nhidden++];
		*h = (struct hidden_name) { .name = name };
	}
	h->count++;
	f->globals_hidden++;
	if (f->debug)
		wl_log("wayland-virtgpu: not offering global %u %s v%u: its fds "
		       "cannot cross the virtio-gpu channel "
		       "(WAYLAND_VIRTGPU_HIDE_GLOBALS)\n", name, interface,
		       version);
	return FIXUPS_DROP;
}

/* wl_registry.global and global_remove, consistently. */
static int
registry_event(struct vt_fixups *f, const char *event, union wl_argument *args)
{
	struct hidden_name *h;

	if (strcmp(event, "global") == 0) {
		if (interface_hidden(f, args[1].s))
			return hide_global(f, args[0].u, args[1].s, args[2].u);
		if (strcmp(args[1].s, "zwp_linux_dmabuf_v1") == 0 &&
		    args[2].u > LINUX_DMABUF_VERSION_MAX)
			args[2].u = LINUX_DMABUF_VERSION_MAX;
		return 0;
	}
	if (strcmp(event, "global_remove") == 0 &&
	    (h = hidden_find(f, args[0].u))) {
		if (--h->count == 0)
			*h = f->hidden[--f->nhidden];
		return FIXUPS_DROP;
	}
	return 0;
}

/* --- devices the host names -------------------------------------------- */

/* A dev_t array naming a host device: the guest's render node instead,
 * the one the transport uses (gpu-path.md §1: a host dev_t makes Mesa
 * fall back to software silently). */
static int
device_event(struct vt_fixups *f, const char *interface, const char *event,
	     struct wl_array *device)
{
	if (device->size != sizeof(dev_t)) {
		wl_log("wayland-virtgpu: %s.%s: a device of %zu bytes, not "
		       "%zu; dropped\n", interface, event, device->size,
		       sizeof(dev_t));
		return FIXUPS_DROP;
	}
	if (f->have_rdev)
		memcpy(device->data, &f->guest_rdev, sizeof f->guest_rdev);
	return 0;
}

static struct feedback_table *
table_find(struct vt_fixups *f, uint32_t object_id, bool add)
{
	int i;

	for (i = 0; i < f->ntables; i++) {
		if (f->tables[i].object_id == object_id)
			return &f->tables[i];
	}
	if (!add)
		return NULL;
	if (f->ntables == f->tables_capacity) {
		int capacity = f->tables_capacity ? f->tables_capacity * 2 : 4;
		void *grown = realloc(f->tables, capacity * sizeof *f->tables);

		if (grown == NULL)
			return NULL;
		f->tables = grown;
		f->tables_capacity = capacity;
	}
	f->tables[f->ntables] = (struct feedback_table) { .object_id = object_id };
	return &f->tables[f->ntables++];
}

/* format_table: Mesa maps it without looking at its size and indexes it
 * without bounds, so a table of whole entries only, and its size kept
 * for the tranches. */
static int
feedback_format_table(struct vt_fixups *f, uint32_t object_id,
		      union wl_argument *args)
{
	struct feedback_table *table;

	if (args[1].u % FORMAT_TABLE_ENTRY != 0) {
		wl_log("wayland-virtgpu: zwp_linux_dmabuf_feedback_v1."
		       "format_table of %u bytes is not whole %d-byte entries; "
		       "dropped\n", args[1].u, FORMAT_TABLE_ENTRY);
		return FIXUPS_DROP;
	}
	table = table_find(f, object_id, true);
	if (table == NULL)
		return -1;
	/* Without its table, no index of the tranches holds. */
	table->entries = 0;
	if (seal_copy(&args[0].h, args[1].u) < 0)
		return FIXUPS_DROP;	/* said why */
	table->entries = args[1].u / FORMAT_TABLE_ENTRY;
	return 0;
}

/* tranche_formats: u16 indices into the table; those past its end go. */
static int
feedback_tranche_formats(struct vt_fixups *f, uint32_t object_id,
			 struct wl_array *indices)
{
	struct feedback_table *table = table_find(f, object_id, false);
	uint32_t entries = table ? table->entries : 0;
	uint16_t *index = indices->data;
	size_t i, n = indices->size / sizeof(uint16_t), kept = 0;

	if (indices->size % sizeof(uint16_t) != 0) {
		wl_log("wayland-virtgpu: zwp_linux_dmabuf_feedback_v1."
		       "tranche_formats of %zu bytes is not whole indices; "
		       "dropped\n", indices->size);
		return FIXUPS_DROP;
	}
	for (i = 0; i < n; i++) {
		if (index[i] < entries)
			index[kept++] = index[i];
	}
	if (kept < n)
		wl_log("wayland-virtgpu: zwp_linux_dmabuf_feedback_v1."
		       "tranche_formats: %zu of %zu indices past the format "
		       "table's %u entries; dropped\n", n - kept, n, entries);
	indices->size = kept * sizeof(uint16_t);
	return 0;
}

static int
feedback_event(struct vt_fixups *f, uint32_t object_id, const char *event,
	       union wl_argument *args)
{
	if (strcmp(event, "format_table") == 0)
		return feedback_format_table(f, object_id, args);
	if (strcmp(event, "main_device") == 0 ||
	    strcmp(event, "tranche_target_device") == 0)
		return device_event(f, "zwp_linux_dmabuf_feedback_v1", event,
				    args[0].a);
	if (strcmp(event, "tranche_formats") == 0)
		return feedback_tranche_formats(f, object_id, args[0].a);
	return 0;
}

/* An event about to be queued: 0 to deliver it (maybe changed),
 * FIXUPS_DROP to drop it, -1 (after a line) to fail the connection. */
int
fixups_event(struct virtgpu_transport *t, struct wl_object *target,
	     uint32_t opcode, const struct wl_message *message,
	     union wl_argument *args)
{
	struct vt_fixups *f = &t->fixups;
	const char *name = target->interface->name;

	if (strcmp(name, "wl_registry") == 0)
		return registry_event(f, message->name, args);
	if (strcmp(name, "wl_keyboard") == 0 && opcode == 0)	/* keymap */
		return seal_copy(&args[1].h, args[2].u);
	if (strcmp(name, "zwp_linux_dmabuf_feedback_v1") == 0)
		return feedback_event(f, target->id, message->name, args);
	if (strcmp(name, "ext_image_copy_capture_session_v1") == 0 &&
	    strcmp(message->name, "dmabuf_device") == 0)
		return device_event(f, name, message->name, args[0].a);
	if (strcmp(name, "wl_drm") == 0 && strcmp(message->name, "device") == 0)
		args[0].s = t->cd.dev.path;	/* lives as long as we do */

	return 0;
}

/* The interfaces whose events fixups_event changes (and the feedback,
 * whose destroy request ends its table). */
bool
fixups_hooks(const char *interface)
{
	static const char *const names[] = {
		"wl_registry", "wl_keyboard", "zwp_linux_dmabuf_feedback_v1",
		"ext_image_copy_capture_session_v1", "wl_drm",
	};

	return virt_name_listed(interface, names, VIRT_NAMES_COUNT(names));
}

/* A request about to be sent: a feedback object's table goes with it. */
void
fixups_request(struct virtgpu_transport *t, struct wl_object *target,
	       const struct wl_message *message)
{
	struct vt_fixups *f = &t->fixups;
	struct feedback_table *table;

	/* Every request passes here: the cheap test first (destroy is the
	 * feedback's request 0, without arguments). */
	if (message->signature[0] == '\0' &&
	    strcmp(message->name, "destroy") == 0 &&
	    strcmp(target->interface->name, "zwp_linux_dmabuf_feedback_v1") == 0 &&
	    (table = table_find(f, target->id, false)))
		*table = f->tables[--f->ntables];
}
