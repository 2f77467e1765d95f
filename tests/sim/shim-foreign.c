/*
 * A stand-in for a GPU that is not virtio-gpu (VIRTGPU_SIM_NODES=i915,...), to test probing:
 * its file is a plain socket, and it answers only the DRM core's VERSION and GET_CAP.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "shim.h"

static struct shim_driver shim_foreign_drivers[SHIM_MAX_NODES];
static char shim_foreign_names[SHIM_MAX_NODES][32];

static int
shim_foreign_open(struct shim_file *file, int flags)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	file->priv = (void *)(intptr_t)sv[1];
	return sv[0];
}

static size_t
shim_foreign_ioctl_size(unsigned idx)
{
	return 0;
}

static void
shim_foreign_release(struct shim_file *file)
{
	shim_real.close((int)(intptr_t)file->priv);
}

static const struct shim_driver shim_foreign_template = {
	.desc = "simulated non-virtio GPU",
	.version = { 1, 0, 0 },
	.prime = true,
	.open = shim_foreign_open,
	.ioctl_size = shim_foreign_ioctl_size,
	.release = shim_foreign_release,
};

const struct shim_driver *
shim_foreign_driver(int node, const char *name)
{
	snprintf(shim_foreign_names[node], sizeof shim_foreign_names[node], "%s", name);
	shim_foreign_drivers[node] = shim_foreign_template;
	shim_foreign_drivers[node].name = shim_foreign_names[node];
	return &shim_foreign_drivers[node];
}
