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

#endif
