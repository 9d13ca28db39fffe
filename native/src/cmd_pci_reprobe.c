// SPDX-License-Identifier: Apache-2.0
/*
 * pci-reprobe: gives a PCI function back to its default kernel driver (a VF
 * leaving vfio-pci for igbvf): clear driver_override, unbind from the current
 * driver, drivers_probe, and reply with the function read back. Refused with
 * EBUSY, before anything is written, while a workload holds the function's
 * VFIO group (the unbind would block until it is closed).
 */
#include "dev.h"
#include "sysfs.h"

int acn_pci_reprobe(struct acn_ctx *ctx, const struct acn_opts *o)
{
	char dev[ACN_PATH_MAX];
	int rc;

	rc = acn_sysfs_device(ctx->g, "pci", o->pci, dev, sizeof(dev), ctx->err);
	if (rc == 0)
		rc = acn_vfio_check_released(ctx->g, o->pci, ctx->err);
	if (rc == 0)
		rc = acn_sysfs_reprobe(ctx->g, "pci", o->pci, ctx->err);
	return rc < 0 ? rc : acn_pci_reply(ctx, o->pci);
}
