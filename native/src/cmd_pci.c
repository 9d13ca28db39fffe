// SPDX-License-Identifier: Apache-2.0
/*
 * PCI functions through sysfs: pci-show, pci-bind (driver_override, unbind,
 * drivers_probe, clear override, verify) and sriov-numvfs. Each replies with
 * the PCI object read back after the change. Neither unbinds a function
 * whose VFIO group a workload holds open (the kernel would block until it
 * is closed): EBUSY before anything is written (held.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "sysfs.h"
#include "validate.h"

/* The PCI object with its vdpa children (an absent vdpa bus simply means none). */
int acn_pci_reply(struct acn_ctx *ctx, const char *addr)
{
	struct acn_vdpa_sys *vdpa = NULL;
	size_t nvdpa = 0;
	int rc;

	if (acn_vdpa_sys_all(ctx->g, &vdpa, &nvdpa) < 0)
		nvdpa = 0;
	rc = acn_pci_put(ctx->g, addr, NULL, vdpa, nvdpa, ctx->out, "pci", ctx->err);
	free(vdpa);
	return rc;
}

int acn_pci_show(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return acn_pci_reply(ctx, o->pci);
}

int acn_pci_bind(struct acn_ctx *ctx, const struct acn_opts *o)
{
	int rc = 0;

	/* Only a move away from vfio-pci unbinds it; binding to vfio-pci when already there writes nothing. */
	if (strcmp(o->driver, "vfio-pci") != 0)
		rc = acn_vfio_check_released(ctx->g, o->pci, ctx->err);
	if (rc == 0)
		rc = acn_sysfs_bind(ctx->g, "pci", o->pci, o->driver, ctx->err);
	return rc < 0 ? rc : acn_pci_reply(ctx, o->pci);
}

/* Removing VFs unbinds every one of them: refuse while any VF's VFIO group is held. */
static int vfs_released(struct acn_ctx *ctx, int pf_dfd)
{
	struct acn_names links;
	char vf[64];
	size_t i;
	int rc = 0;

	if (acn_names_read(pf_dfd, NULL, acn_is_virtfn, &links) < 0)
		return 0;
	for (i = 0; i < links.n && rc == 0; i++)
		if (acn_sysfs_link_at(pf_dfd, links.v[i], vf, sizeof(vf)) == 0 && acn_pci_addr_valid(vf))
			rc = acn_vfio_check_released(ctx->g, vf, ctx->err);
	acn_names_free(&links);
	return rc;
}

/*
 * The kernel refuses to change a non-zero VF count to another non-zero one
 * (EBUSY), so such a change is two writes: 0, then the count.
 */
int acn_sriov_numvfs(struct acn_ctx *ctx, const struct acn_opts *o)
{
	char dev[ACN_PATH_MAX], path[ACN_PATH_MAX], value[16];
	long now, total;
	int dfd, rc;

	rc = acn_sysfs_device(ctx->g, "pci", o->pci, dev, sizeof(dev), ctx->err);
	if (rc < 0)
		return rc;
	dfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return acn_fail(ctx->err, -errno, "open device", o->pci);
	if (acn_sysfs_long_at(dfd, "sriov_totalvfs", &total) < 0 || acn_sysfs_long_at(dfd, "sriov_numvfs", &now) < 0) {
		rc = acn_fail(ctx->err, -EOPNOTSUPP, "read sriov_numvfs", o->pci);
		snprintf(ctx->err->message, sizeof(ctx->err->message),
			 "%s is not an SR-IOV physical function (no sriov_numvfs/sriov_totalvfs)", o->pci);
		goto close_dfd;
	}
	if ((long)o->numvfs > total) {
		rc = acn_fail(ctx->err, -ERANGE, "write sriov_numvfs", o->pci);
		snprintf(ctx->err->message, sizeof(ctx->err->message), "%s supports at most %ld VFs (asked for %u)",
			 o->pci, total, o->numvfs);
		goto close_dfd;
	}
	rc = acn_path_fmt(path, sizeof(path), "%s/sriov_numvfs", dev);
	if (rc < 0) {
		acn_fail(ctx->err, rc, "write sriov_numvfs", o->pci);
		goto close_dfd;
	}
	if (now == (long)o->numvfs)
		goto close_dfd;
	rc = now != 0 ? vfs_released(ctx, dfd) : 0;
	if (rc < 0)
		goto close_dfd;
	if (now != 0 && o->numvfs != 0) {
		rc = acn_sysfs_write(path, "0", ctx->err, "write sriov_numvfs", o->pci);
		if (rc < 0)
			goto close_dfd;
	}
	snprintf(value, sizeof(value), "%u", o->numvfs);
	rc = acn_sysfs_write(path, value, ctx->err, "write sriov_numvfs", o->pci);
close_dfd:
	close(dfd);
	return rc < 0 ? rc : acn_pci_reply(ctx, o->pci);
}
