/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysfs access under --sysfs-root. Every path is the root plus a fixed
 * template filled only with validated components (PCI address, driver name,
 * vdpa name, a number), so nothing from argv can walk elsewhere. Device
 * directories are checked to resolve inside the root (a symlink escape in a
 * fake or tampered tree is refused with EXDEV). Reads strip the trailing
 * newline; writes are one write(2) of the whole value, traced in order
 * (ACCELNET_HELPER_TRACE=1) so tests on fake trees can check the sequence.
 */
#ifndef ACN_SYSFS_H
#define ACN_SYSFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "acn.h"

#define ACN_PATH_MAX PATH_MAX

/* snprintf into buf; -ENAMETOOLONG when it does not fit. */
int acn_path_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a small attribute at dirfd/name (dirfd AT_FDCWD: name is a path); strips one trailing newline. */
int acn_sysfs_read_at(int dirfd, const char *name, char *buf, size_t len);
/* The last component of the symlink dirfd/name ("driver" -> "igb"). */
int acn_sysfs_link_at(int dirfd, const char *name, char *buf, size_t len);
/* Reads an attribute as a decimal or 0x-hex integer. */
int acn_sysfs_long_at(int dirfd, const char *name, long *out);
/* Writes value to an existing attribute (never creates a file). Traced. */
int acn_sysfs_write(const char *path, const char *value, struct acn_err *err, const char *op, const char *object);

/* True when realpath(path) lies inside realpath(root). */
bool acn_sysfs_inside(const char *root, const char *path);

/*
 * Resolves <root>/bus/<bus>/devices/<name> into path: ENODEV (op "lookup
 * device") when it does not exist, EXDEV when it resolves outside the root.
 */
int acn_sysfs_device(const struct acn_globals *g, const char *bus, const char *name, char *path, size_t len,
		     struct acn_err *err);

/* Sorted names in dirfd/sub (NULL: dirfd itself) that match keep(); *names is malloc'd, free with acn_names_free. */
struct acn_names {
	char **v;
	size_t n;
};
int acn_names_read(int dirfd, const char *sub, bool (*keep)(const char *name), struct acn_names *names);
void acn_names_free(struct acn_names *names);

/* Binds a device on bus (pci, vdpa) to driver: driver_override, unbind, drivers_probe, clear override, verify. */
int acn_sysfs_bind(const struct acn_globals *g, const char *bus, const char *name, const char *driver,
		   struct acn_err *err);

/*
 * Gives a device on bus back to the driver the bus matches by itself: "\n" to
 * driver_override, unbind when bound, drivers_probe. No driver claiming it
 * is not an error (the caller reads the driver back).
 */
int acn_sysfs_reprobe(const struct acn_globals *g, const char *bus, const char *name, struct acn_err *err);

#endif
