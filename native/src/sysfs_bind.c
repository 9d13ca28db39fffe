// SPDX-License-Identifier: Apache-2.0
/*
 * Driver binding through sysfs, the sequence the kernel documents for both
 * the PCI and the vdpa bus (Documentation/ABI/testing/sysfs-bus-pci,
 * driver_override): write the driver name to driver_override, unbind from
 * the current driver, ask the bus to probe the device, clear the override
 * again so a later re-probe is not pinned, then verify the driver link.
 * Already bound to the requested driver: nothing is written (unbinding a
 * vfio-pci device whose group is open would block).
 * Reprobing gives a device back to the driver the bus picks by itself: clear
 * driver_override, unbind, drivers_probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs.h"

static int driver_loaded(const struct acn_globals *g, const char *bus, const char *driver, struct acn_err *err)
{
	char path[ACN_PATH_MAX];
	struct stat st;
	int rc;

	rc = acn_path_fmt(path, sizeof(path), "%s/bus/%s/drivers/%s", g->sysfs_root, bus, driver);
	if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	rc = acn_fail(err, -ENOENT, "lookup driver", driver);
	snprintf(err->message, sizeof(err->message), "no %s driver \"%s\" is loaded (%.300s does not exist)", bus, driver,
		 path);
	return rc;
}

static int current_driver(const char *dev, char *buf, size_t len)
{
	char path[ACN_PATH_MAX];
	int rc = acn_path_fmt(path, sizeof(path), "%s/driver", dev);

	if (rc < 0)
		return rc;
	rc = acn_sysfs_link_at(AT_FDCWD, path, buf, len);
	if (rc == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return rc;
}

static int write_at(const char *dir, const char *file, const char *value, struct acn_err *err, const char *op,
		    const char *object)
{
	char path[ACN_PATH_MAX];
	int rc = acn_path_fmt(path, sizeof(path), "%s/%s", dir, file);

	if (rc < 0)
		return acn_fail(err, rc, op, object);
	return acn_sysfs_write(path, value, err, op, object);
}

int acn_sysfs_bind(const struct acn_globals *g, const char *bus, const char *name, const char *driver,
		   struct acn_err *err)
{
	char dev[ACN_PATH_MAX], busdir[ACN_PATH_MAX], now[64];
	struct acn_err clear_err;
	int rc;

	rc = acn_sysfs_device(g, bus, name, dev, sizeof(dev), err);
	if (rc < 0)
		return rc;
	rc = driver_loaded(g, bus, driver, err);
	if (rc < 0)
		return rc;
	rc = current_driver(dev, now, sizeof(now));
	if (rc < 0)
		return acn_fail(err, rc, "readlink driver", name);
	if (strcmp(now, driver) == 0)
		return 0;
	rc = acn_path_fmt(busdir, sizeof(busdir), "%s/bus/%s", g->sysfs_root, bus);
	if (rc < 0)
		return acn_fail(err, rc, "lookup device", name);

	rc = write_at(dev, "driver_override", driver, err, "write driver_override", name);
	if (rc < 0)
		return rc;
	if (now[0]) {
		rc = write_at(dev, "driver/unbind", name, err, "write unbind", name);
		if (rc < 0)
			goto clear_override;
	}
	rc = write_at(busdir, "drivers_probe", name, err, "write drivers_probe", name);
clear_override:
	/* Always cleared; a failure here matters only when everything else worked. */
	if (write_at(dev, "driver_override", "\n", &clear_err, "write driver_override", name) < 0 && rc == 0) {
		*err = clear_err;
		rc = -clear_err.code;
	}
	if (rc < 0)
		return rc;
	rc = current_driver(dev, now, sizeof(now));
	if (rc < 0)
		return acn_fail(err, rc, "readlink driver", name);
	if (strcmp(now, driver) != 0) {
		rc = acn_fail(err, -EIO, "verify driver", name);
		snprintf(err->message, sizeof(err->message),
			 "%s is %s%s after binding to %s (the probe failed; the kernel log has the reason)", name,
			 now[0] ? "bound to " : "unbound", now, driver);
	}
	return rc;
}

int acn_sysfs_reprobe(const struct acn_globals *g, const char *bus, const char *name, struct acn_err *err)
{
	char dev[ACN_PATH_MAX], busdir[ACN_PATH_MAX], now[64];
	int rc;

	rc = acn_sysfs_device(g, bus, name, dev, sizeof(dev), err);
	if (rc < 0)
		return rc;
	rc = acn_path_fmt(busdir, sizeof(busdir), "%s/bus/%s", g->sysfs_root, bus);
	if (rc < 0)
		return acn_fail(err, rc, "lookup device", name);
	/* First, so that the probe matches by id tables again, not by a leftover override. */
	rc = write_at(dev, "driver_override", "\n", err, "write driver_override", name);
	if (rc < 0)
		return rc;
	rc = current_driver(dev, now, sizeof(now));
	if (rc < 0)
		return acn_fail(err, rc, "readlink driver", name);
	if (now[0]) {
		rc = write_at(dev, "driver/unbind", name, err, "write unbind", name);
		if (rc < 0)
			return rc;
	}
	return write_at(busdir, "drivers_probe", name, err, "write drivers_probe", name);
}
