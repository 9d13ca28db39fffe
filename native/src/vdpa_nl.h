/* SPDX-License-Identifier: Apache-2.0 */
/* vdpa generic netlink requests (see vdpa_nl.c). */
#ifndef ACN_VDPA_NL_H
#define ACN_VDPA_NL_H

#include "dev.h"
#include "nl.h"

struct acn_vdpa_conn {
	struct acn_nl nl;
	uint16_t family;
};

struct acn_vdpa_nl_list {
	struct acn_vdpa_nl *v;
	size_t n;
};

/* One management device from VDPA_CMD_MGMTDEV_GET; has_* say which attributes the kernel sent. */
struct acn_vdpa_mgmtdev {
	struct acn_mgmtdev handle; /* bus "" when the kernel sent no VDPA_ATTR_MGMTDEV_BUS_NAME */
	bool has_classes, has_max_vqs, has_features;
	uint64_t classes;          /* bit N: virtio device id N (VIRTIO_ID_NET = 1) */
	uint32_t max_vqs;
	uint64_t features;
};

struct acn_vdpa_mgmtdev_list {
	struct acn_vdpa_mgmtdev *v;
	size_t n;
};

/* What VDPA_CMD_DEV_NEW asks for; the net attributes are sent only when has_* is set. */
struct acn_vdpa_dev_new {
	const char *name;
	const struct acn_mgmtdev *mgmtdev;
	bool has_mac, has_mtu, has_max_vqp;
	unsigned char mac[6];
	uint16_t mtu, max_vqp;
};

/* Opens a generic netlink socket and resolves "vdpa": ENODEV ("no vdpa bus") when the family is absent. */
int acn_vdpa_nl_open(struct acn_vdpa_conn *c, const char *object, struct acn_err *err);
void acn_vdpa_nl_close(struct acn_vdpa_conn *c);
/* VDPA_CMD_DEV_GET then VDPA_CMD_DEV_CONFIG_GET for one device. */
int acn_vdpa_nl_get(struct acn_vdpa_conn *c, const char *name, struct acn_vdpa_nl *v, struct acn_err *err);
/* VDPA_CMD_DEV_CONFIG_GET only (adds mac and mtu to v). */
int acn_vdpa_nl_config(struct acn_vdpa_conn *c, const char *name, struct acn_vdpa_nl *v, struct acn_err *err);
/* VDPA_CMD_DEV_GET dump; list->v is malloc'd. */
int acn_vdpa_nl_list(struct acn_vdpa_conn *c, struct acn_vdpa_nl_list *list, struct acn_err *err);
/* VDPA_CMD_DEV_ATTR_SET with VDPA_ATTR_DEV_NET_CFG_MACADDR. */
int acn_vdpa_nl_set_mac(struct acn_vdpa_conn *c, const char *name, const unsigned char mac[6], struct acn_err *err);

/* VDPA_CMD_MGMTDEV_GET dump; list->v is malloc'd. */
int acn_vdpa_nl_mgmtdevs(struct acn_vdpa_conn *c, struct acn_vdpa_mgmtdev_list *list, struct acn_err *err);
/* VDPA_CMD_DEV_NEW: creates a vdpa device on a management device. */
int acn_vdpa_nl_dev_new(struct acn_vdpa_conn *c, const struct acn_vdpa_dev_new *d, struct acn_err *err);
/* VDPA_CMD_DEV_DEL: the kernel's ENODEV ("vdpa: device not found") when there is no such device. */
int acn_vdpa_nl_dev_del(struct acn_vdpa_conn *c, const char *name, struct acn_err *err);

/* Writes "vdpa": VDPA for one device, read back from netlink and sysfs (vdpa-show's reply). */
int acn_vdpa_reply(struct acn_ctx *ctx, struct acn_vdpa_conn *c, const char *name);

#endif
