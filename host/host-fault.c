/*
 * Fault injection for the host device: a broken or hostile host, as the guest sees it on the
 * wire (README.md "Faults"). Off unless --fault / VIRTGPU_SIM_FAULT names some; then each
 * named fault fires at the Nth occurrence of the event it hooks (and later ones with '+').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define HOST_FAULT_MAX 8

static const struct {
	enum host_fault_kind kind;
	const char *name;
	const char *what;	/* what the Nth occurrence counts, for --list-faults */
} host_fault_names[] = {
	{ HOST_FAULT_GARBAGE_RECEIVE, "garbage-receive",
	  "RECEIVE: the ring page is random bytes after a RECEIVE header" },
	{ HOST_FAULT_GARBAGE_CMD, "garbage-cmd",
	  "channel message: random bytes with an unknown command id (0xee)" },
	{ HOST_FAULT_SIZE_PAST_RING, "size-past-ring",
	  "RECEIVE: opaque_data_size and cmd_size reach past the ring page" },
	{ HOST_FAULT_READ_PAST_RING, "read-past-ring",
	  "READ: opaque_data_size reaches past the ring page" },
	{ HOST_FAULT_TOO_MANY_IDS, "too-many-ids",
	  "RECEIVE: num_identifiers = N + 1" },
	{ HOST_FAULT_UNKNOWN_ID_TYPE, "unknown-id-type",
	  "RECEIVE with fds: the first identifier's type is 99" },
	{ HOST_FAULT_BAD_BLOB_ID, "bad-blob-id",
	  "RECEIVE with fds: the first identifier names no host item" },
	{ HOST_FAULT_CLOSE_MID_TRANSFER, "close-mid-transfer",
	  "RECEIVE of >= 2 bytes: half of them, no fds, then the compositor connection is closed" },
	{ HOST_FAULT_HOST_EXIT, "host-exit",
	  "channel message: the host device process exits instead of writing it" },
	{ HOST_FAULT_SPURIOUS_FENCE, "spurious-fence",
	  "channel message: the fence signals with nothing new written to the ring" },
	{ HOST_FAULT_DUPLICATE_EVENT, "duplicate-event",
	  "channel message: its fence event is queued twice" },
	{ HOST_FAULT_SEND_ERROR, "send-error",
	  "EXECBUFFER with a SEND: the host fails it (an error answer the kernel only logs; "
	  "the fence signals, the bytes never reach the compositor)" },
	{ HOST_FAULT_BLOB_ALLOC_FAIL, "blob-alloc-fail",
	  "HOST3D RESOURCE_CREATE_BLOB: refused with ENOMEM" },
	{ HOST_FAULT_BLOB_LOST, "blob-lost",
	  "HOST3D RESOURCE_CREATE_BLOB: succeeds, but the host has no memory for it" },
};

static struct host_fault {
	enum host_fault_kind kind;
	unsigned long at;	/* 1-based occurrence */
	bool repeat;		/* also every later occurrence */
	unsigned long seen;
} host_faults[HOST_FAULT_MAX];
static int host_num_faults;

static int
host_fault_parse_one(const char *spec, size_t len)
{
	char name[64];
	const char *at = memchr(spec, '@', len);
	size_t name_len = at ? (size_t)(at - spec) : len;
	struct host_fault fault = { .at = 1 };
	size_t i;

	if (name_len == 0 || name_len >= sizeof name || host_num_faults == HOST_FAULT_MAX)
		return -1;
	memcpy(name, spec, name_len);
	name[name_len] = '\0';
	for (i = 0; i < sizeof host_fault_names / sizeof host_fault_names[0]; i++)
		if (strcmp(host_fault_names[i].name, name) == 0)
			break;
	if (i == sizeof host_fault_names / sizeof host_fault_names[0])
		return -1;
	fault.kind = host_fault_names[i].kind;
	if (at) {
		char num[32], *end;
		size_t num_len = len - name_len - 1;

		if (num_len == 0 || num_len >= sizeof num)
			return -1;
		memcpy(num, at + 1, num_len);
		num[num_len] = '\0';
		if (num[num_len - 1] == '+') {
			fault.repeat = true;
			num[num_len - 1] = '\0';
		}
		fault.at = strtoul(num, &end, 10);
		if (*end || fault.at == 0)
			return -1;
	}
	host_faults[host_num_faults++] = fault;
	return 0;
}

int
host_fault_parse(const char *spec)
{
	while (spec && *spec) {
		const char *comma = strchr(spec, ',');
		size_t len = comma ? (size_t)(comma - spec) : strlen(spec);

		if (host_fault_parse_one(spec, len) < 0) {
			fprintf(stderr, "virtgpu-sim host: bad fault '%.*s' (KIND[@N[+]], "
				"--list-faults)\n", (int)len, spec);
			return -1;
		}
		spec = comma ? comma + 1 : NULL;
	}
	return 0;
}

void
host_fault_list(FILE *out)
{
	for (size_t i = 0; i < sizeof host_fault_names / sizeof host_fault_names[0]; i++)
		fprintf(out, "  %-19s %s\n", host_fault_names[i].name, host_fault_names[i].what);
}

bool
host_fault_fires(enum host_fault_kind kind)
{
	bool fires = false;

	for (int i = 0; i < host_num_faults; i++) {
		struct host_fault *f = &host_faults[i];

		if (f->kind != kind)
			continue;
		f->seen++;
		if (f->seen == f->at || (f->repeat && f->seen > f->at)) {
			fires = true;
			for (size_t k = 0; k < sizeof host_fault_names / sizeof host_fault_names[0]; k++)
				if (host_fault_names[k].kind == kind)
					host_log("fault %s fired (occurrence %lu)",
						 host_fault_names[k].name, f->seen);
		}
	}
	return fires;
}

void
host_fault_random(uint8_t *buf, size_t size, uint32_t seed)
{
	/* Deterministic garbage (xorshift32): a failing run can be repeated. */
	uint32_t x = seed ? seed : 0x9e3779b9u;

	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}
