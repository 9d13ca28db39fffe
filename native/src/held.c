// SPDX-License-Identifier: Apache-2.0
/*
 * Is a workload holding this device? Unbinding vfio-pci from a function
 * whose VFIO group is open, or vhost_vdpa from a device whose
 * /dev/vhost-vdpa-N is open, blocks in the kernel until the holder closes
 * it (vfio-pci's and vhost_vdpa's remove wait for the release), so the
 * helper would hang. Both files allow a single opener, so an open that
 * fails with EBUSY means someone holds the device: the commands that would
 * unbind refuse with EBUSY before writing anything. This narrows the window
 * without closing it (a workload may open the file right after the check);
 * the device plugin's owner markers are the real guard.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "sysfs.h"

/* 0 when the file can be opened or does not exist; -EBUSY when another process has it open. */
static int try_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EBUSY ? -EBUSY : 0;
}

int acn_vfio_check_released(const struct acn_globals *g, const char *addr, struct acn_err *err)
{
	char dev[ACN_PATH_MAX], driver[64], group[32], path[ACN_PATH_MAX];
	char *end;
	long n;
	int dfd, rc;

	if (acn_path_fmt(dev, sizeof(dev), "%s/bus/pci/devices/%s", g->sysfs_root, addr) < 0)
		return 0;
	dfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0; /* no such device: the caller's own look-up reports it */
	rc = acn_sysfs_link_at(dfd, "driver", driver, sizeof(driver));
	if (rc == 0 && strcmp(driver, "vfio-pci") == 0)
		rc = acn_sysfs_link_at(dfd, "iommu_group", group, sizeof(group));
	else
		rc = -ENOENT;
	close(dfd);
	if (rc < 0)
		return 0;
	n = strtol(group, &end, 10);
	if (*end || end == group || n < 0 || acn_path_fmt(path, sizeof(path), "%s/vfio/%ld", g->dev_root, n) < 0)
		return 0;
	if (try_open(path) == 0)
		return 0;
	rc = acn_fail(err, -EBUSY, "open vfio group", addr);
	snprintf(err->message, sizeof(err->message),
		 "%s is bound to vfio-pci and %.200s is open (a workload holds it); unbinding it would block until it "
		 "is closed",
		 addr, path);
	return rc;
}

int acn_vhost_vdpa_check_released(const struct acn_globals *g, const char *name, struct acn_err *err)
{
	struct acn_vdpa_sys sys;
	struct acn_err ignored;
	int rc;

	if (acn_vdpa_sys_get(g, name, &sys, &ignored) < 0)
		return 0; /* not on the vdpa bus: the caller's own look-up reports it */
	if (strcmp(sys.driver, "vhost_vdpa") != 0 || !sys.chardev[0] || try_open(sys.chardev) == 0)
		return 0;
	rc = acn_fail(err, -EBUSY, "open vhost-vdpa", name);
	snprintf(err->message, sizeof(err->message),
		 "%s is bound to vhost_vdpa and %.200s is open (a workload holds it); unbinding it would block until it "
		 "is closed",
		 name, sys.chardev);
	return rc;
}
