/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One kernel uevent (NETLINK_KOBJECT_UEVENT, group 1) checked, filtered and
 * turned into the uevent-monitor line (PROTOCOL.md "uevent-monitor").
 * Pure functions: no I/O, so the parser is tested on built messages.
 */
#ifndef ACN_UEVENT_H
#define ACN_UEVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "acn.h"

struct acn_json;

/* Longest DEVPATH we report; the kernel's whole message is at most 2048 bytes (UEVENT_BUFFER_SIZE). */
#define ACN_UEVENT_DEVPATH_MAX 1024

struct acn_uevent {
	const char *action;    /* a string literal from the action table */
	const char *subsystem; /* a string literal from the subsystem table */
	char devpath[ACN_UEVENT_DEVPATH_MAX + 1];
	char driver[ACN_DRIVER_NAME_MAX + 1];    /* "" when absent or invalid */
	char interface[IFNAMSIZ];                /* "" when absent or invalid */
	char pci_slot[ACN_PCI_ADDR_LEN + 1];     /* "" when absent or invalid */
};

/*
 * Parses one datagram of @len bytes. Returns 1 when it is a relevant event
 * (filled into @ev), 0 when it is valid but filtered out (another action or
 * subsystem, or a virtual netdev without @with_virtual), -EBADMSG when it is
 * malformed (not NUL-terminated, no "ACTION@DEVPATH" header matching the
 * ACTION and DEVPATH keys, a duplicate key, a DEVPATH that is not a clean
 * path under /devices/).
 */
int acn_uevent_parse(const char *buf, size_t len, bool with_virtual, struct acn_uevent *ev);

/* Writes the event as one JSON object (without the newline). */
void acn_uevent_json(struct acn_json *j, const struct acn_uevent *ev);

#endif
