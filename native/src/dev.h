/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device objects read from sysfs (PROTOCOL.md "PCI object" and "VDPA
 * object"): the PCI function writer shared by pci-show, pci-bind,
 * sriov-numvfs and inventory, and the sysfs half of a vdpa device (driver,
 * char device, netdev, parent) shared by inventory and the vdpa commands.
 */
#ifndef ACN_DEV_H
#define ACN_DEV_H

#include <stdbool.h>

#include "acn.h"
#include "reply.h"

/* The sysfs view of one vdpa device. */
struct acn_vdpa_sys {
	char name[ACN_VDPA_NAME_MAX + 1];
	char driver[64];            /* "" when unbound */
	char chardev[256];          /* <dev-root>/vhost-vdpa-N or "" */
	char netdev[16];            /* virtio_vdpa's netdev or "" */
	char parent_pci[ACN_PCI_ADDR_LEN + 1]; /* "" when the parent is not a PCI function */
	char mgmtdev[64];           /* from the parent: "pci/<addr>", "vduse", or the parent's name */
};

/* All vdpa devices on the bus (empty when the tree has no vdpa bus). *list is malloc'd. */
int acn_vdpa_sys_all(const struct acn_globals *g, struct acn_vdpa_sys **list, size_t *n);
/* One device by name: ENODEV when it is not on the bus. */
int acn_vdpa_sys_get(const struct acn_globals *g, const char *name, struct acn_vdpa_sys *s, struct acn_err *err);

/* Netlink facts about a vdpa device; has_* say which were reported. */
struct acn_vdpa_nl {
	char name[ACN_VDPA_NAME_MAX + 1];
	char mgmtdev[96];
	char parent_pci[ACN_PCI_ADDR_LEN + 1];
	bool has_ids, has_mac, has_mtu;
	uint32_t device_id, vendor_id;
	unsigned char mac[6];
	uint16_t mtu;
};

/* Writes @key: VDPA from sysfs and, when nl is not NULL, netlink (else ids, mac, mtu are null). */
void acn_vdpa_put(struct acn_json *out, const char *key, const struct acn_vdpa_sys *s, const struct acn_vdpa_nl *nl);

/* What the caller already knows about a VF, to skip scanning the PF's virtfn links. */
struct acn_vf_hint {
	const char *pf;
	int index;
};

/*
 * Writes @key: PCI for the function at addr. vdpa lists the vdpa devices to
 * match children against (NULL/0: none); hint may be NULL.
 */
int acn_pci_put(const struct acn_globals *g, const char *addr, const struct acn_vf_hint *hint,
		const struct acn_vdpa_sys *vdpa, size_t nvdpa, struct acn_json *out, const char *key,
		struct acn_err *err);

/* Writes "pci": PCI for addr with its vdpa children (the reply of pci-show, pci-bind, sriov-numvfs, pci-reprobe). */
int acn_pci_reply(struct acn_ctx *ctx, const char *addr);
/* True for a PF's "virtfnN" link names. */
bool acn_is_virtfn(const char *name);

/*
 * EBUSY (op "open vfio group") when addr is bound to vfio-pci and its VFIO
 * group file is open elsewhere; EBUSY (op "open vhost-vdpa") when the vdpa
 * device is on vhost_vdpa and its char device is open elsewhere. Unbinding
 * such a device would block until the holder lets go. 0 otherwise.
 */
int acn_vfio_check_released(const struct acn_globals *g, const char *addr, struct acn_err *err);
int acn_vhost_vdpa_check_released(const struct acn_globals *g, const char *name, struct acn_err *err);

#endif
