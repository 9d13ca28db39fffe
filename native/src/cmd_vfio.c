// SPDX-License-Identifier: Apache-2.0
/*
 * vfio-info: the VFIO group of a PCI function (legacy group/container API;
 * the 6.12 lab kernel has no iommufd cdev): iommu_group -> N, open
 * <dev-root>/vfio/N, VFIO_GROUP_GET_STATUS, close. A group file is opened by
 * one process at a time, so EBUSY means a workload holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "reply.h"
#include "sysfs.h"

int acn_vfio_info(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char dev[ACN_PATH_MAX], group[32], path[ACN_PATH_MAX];
	char *end;
	long n;
	int dfd, fd, rc;

	rc = acn_sysfs_device(ctx->g, "pci", o->pci, dev, sizeof(dev), ctx->err);
	if (rc < 0)
		return rc;
	dfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return acn_fail(ctx->err, -errno, "open device", o->pci);
	rc = acn_sysfs_link_at(dfd, "iommu_group", group, sizeof(group));
	close(dfd);
	if (rc < 0) {
		rc = acn_fail(ctx->err, rc == -ENOENT ? -ENODEV : rc, "readlink iommu_group", o->pci);
		snprintf(ctx->err->message, sizeof(ctx->err->message), "%s has no IOMMU group (is the IOMMU enabled?)",
			 o->pci);
		return rc;
	}
	n = strtol(group, &end, 10);
	if (*end || end == group || n < 0)
		return acn_fail(ctx->err, -EPROTO, "readlink iommu_group", o->pci);
	rc = acn_path_fmt(path, sizeof(path), "%s/vfio/%ld", ctx->g->dev_root, n);
	if (rc < 0)
		return acn_fail(ctx->err, rc, "open vfio group", o->pci);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = acn_fail(ctx->err, -errno, "open vfio group", o->pci);
		if (rc == -ENOENT)
			snprintf(ctx->err->message, sizeof(ctx->err->message),
				 "%.300s does not exist (is %s bound to vfio-pci?)", path, o->pci);
		return rc;
	}
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0)
		rc = acn_fail(ctx->err, -errno, "VFIO_GROUP_GET_STATUS", o->pci);
	close(fd);
	if (rc < 0)
		return rc;
	acn_json_int(ctx->out, "group", n);
	acn_json_str(ctx->out, "path", path);
	acn_json_bool(ctx->out, "viable", (status.flags & VFIO_GROUP_FLAGS_VIABLE) != 0);
	return 0;
}
