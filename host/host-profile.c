/*
 * The host variants the simulated device can act as, one per row of the compatibility
 * matrix in cross-domain-protocol.md §3.5 that a guest must cope with.
 */
#include <stdio.h>
#include <string.h>

#include "host.h"

static const struct host_profile host_profiles[] = {
	{
		.name = "rutabaga",
		.description = "rutabaga_gfx >= 0.1.80 (crosvm today): INIT of 16/20/36 B, N=28, memfd blobs",
		.init_rule = HOST_INIT_RG_EXACT,
		.classify_rule = HOST_CLASSIFY_RG,
		.num_identifiers = CROSS_DOMAIN_MAX_IDENTIFIERS,
	},
	{
		.name = "rutabaga-dmabuf",
		.description = "as rutabaga, with a dma-buf gralloc (supports_dmabuf=1, aligned strides)",
		.init_rule = HOST_INIT_RG_EXACT,
		.classify_rule = HOST_CLASSIFY_RG,
		.num_identifiers = CROSS_DOMAIN_MAX_IDENTIFIERS,
		.supports_dmabuf = true,
	},
	{
		.name = "n4",
		.description = "rutabaga_gfx 0.1.2 / crosvm before 2024-02: 4 identifiers per SEND/RECEIVE",
		.init_rule = HOST_INIT_CV_PREFIX,
		.classify_rule = HOST_CLASSIFY_CV,
		.num_identifiers = CROSS_DOMAIN_OLD_IDENTIFIERS,
	},
	{
		.name = "libkrun-1.15",
		.description = "libkrun 1.10-1.15: INIT by bytes remaining, N=28 only after a 24-B INIT, 3D resources without a host handle",
		.init_rule = HOST_INIT_KR_REMAINING,
		.classify_rule = HOST_CLASSIFY_KR,
		.num_identifiers = CROSS_DOMAIN_OLD_IDENTIFIERS,
		.kr_v1_identifiers = true,
		.no_3d_handle = true,	/* KR create_3d: export_blob only (gpu-path.md §3) */
	},
	{
		.name = "writepipe-bug",
		.description = "rutabaga 2024-10..0.1.74: write pipes in RECEIVE tagged 1 with size 0",
		.init_rule = HOST_INIT_CV_PREFIX,
		.classify_rule = HOST_CLASSIFY_CV,
		.num_identifiers = CROSS_DOMAIN_MAX_IDENTIFIERS,
		.writepipe_bug = true,
	},
	{
		.name = "no-eof",
		.description = "crosvm in-tree rutabaga <= 0.1.71: the compositor closing is never reported",
		.init_rule = HOST_INIT_CV_PREFIX,
		.classify_rule = HOST_CLASSIFY_CV,
		.num_identifiers = CROSS_DOMAIN_MAX_IDENTIFIERS,
		.no_eof = true,
	},
};

const struct host_profile *
host_profile_find(const char *name)
{
	for (size_t i = 0; i < sizeof host_profiles / sizeof host_profiles[0]; i++)
		if (strcmp(host_profiles[i].name, name) == 0)
			return &host_profiles[i];
	return NULL;
}

void
host_profile_list(FILE *out)
{
	for (size_t i = 0; i < sizeof host_profiles / sizeof host_profiles[0]; i++)
		fprintf(out, "  %-16s %s\n", host_profiles[i].name, host_profiles[i].description);
}
