// SPDX-License-Identifier: Apache-2.0
/*
 * The vdpa generic netlink family (iproute2 vdpa/vdpa.c is the model):
 * VDPA_CMD_DEV_GET (doit and dump) for the management device and ids,
 * VDPA_CMD_DEV_CONFIG_GET for the virtio-net MAC and MTU, and
 * VDPA_CMD_DEV_ATTR_SET for the MAC (6.12 has it; management devices
 * without dev_set_attr, VDUSE among them, answer EOPNOTSUPP with ext-ack
 * "Operation not supported by the device."), and for node setup
 * VDPA_CMD_MGMTDEV_GET (dump), VDPA_CMD_DEV_NEW and VDPA_CMD_DEV_DEL.
 */
#include <errno.h>
#include <linux/vdpa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genl.h"
#include "vdpa_nl.h"
#include "validate.h"

/* Added in Linux 6.12 (after VDPA_CMD_DEV_VSTATS_GET); older uapi headers lack the enumerator. */
#define ACN_VDPA_CMD_DEV_ATTR_SET (VDPA_CMD_DEV_VSTATS_GET + 1)
#define ATTR_MAX VDPA_ATTR_DEV_SUPPORTED_FEATURES

#define STR(n) { ACN_NLA_STRING, 0, #n, NULL }
#define U8(n) { ACN_NLA_U8, 0, #n, NULL }
#define U16(n) { ACN_NLA_U16, 0, #n, NULL }
#define U32(n) { ACN_NLA_U32, 0, #n, NULL }
#define U64(n) { ACN_NLA_U64, 0, #n, NULL }

static const struct acn_nl_policy vdpa_attrs[ATTR_MAX + 1] = {
	[VDPA_ATTR_MGMTDEV_BUS_NAME] = STR(VDPA_ATTR_MGMTDEV_BUS_NAME),
	[VDPA_ATTR_MGMTDEV_DEV_NAME] = STR(VDPA_ATTR_MGMTDEV_DEV_NAME),
	[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES] = U64(VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES),
	[VDPA_ATTR_DEV_NAME] = STR(VDPA_ATTR_DEV_NAME),
	[VDPA_ATTR_DEV_ID] = U32(VDPA_ATTR_DEV_ID),
	[VDPA_ATTR_DEV_VENDOR_ID] = U32(VDPA_ATTR_DEV_VENDOR_ID),
	[VDPA_ATTR_DEV_MAX_VQS] = U32(VDPA_ATTR_DEV_MAX_VQS),
	[VDPA_ATTR_DEV_MAX_VQ_SIZE] = U16(VDPA_ATTR_DEV_MAX_VQ_SIZE),
	[VDPA_ATTR_DEV_MIN_VQ_SIZE] = U16(VDPA_ATTR_DEV_MIN_VQ_SIZE),
	[VDPA_ATTR_DEV_NET_CFG_MACADDR] = { ACN_NLA_BINARY, 6, "VDPA_ATTR_DEV_NET_CFG_MACADDR", NULL },
	/* The uapi comment says u8; 6.12 sends a u16. Only one byte is needed to be valid. */
	[VDPA_ATTR_DEV_NET_STATUS] = U8(VDPA_ATTR_DEV_NET_STATUS),
	[VDPA_ATTR_DEV_NET_CFG_MAX_VQP] = U16(VDPA_ATTR_DEV_NET_CFG_MAX_VQP),
	[VDPA_ATTR_DEV_NET_CFG_MTU] = U16(VDPA_ATTR_DEV_NET_CFG_MTU),
	[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS] = U32(VDPA_ATTR_DEV_MGMTDEV_MAX_VQS),
	[VDPA_ATTR_DEV_SUPPORTED_FEATURES] = U64(VDPA_ATTR_DEV_SUPPORTED_FEATURES),
};
static const struct acn_nl_policy_set vdpa_policy = { ATTR_MAX, vdpa_attrs };

int acn_vdpa_nl_open(struct acn_vdpa_conn *c, const char *object, struct acn_err *err)
{
	int rc = acn_nl_open(&c->nl, NULL, NETLINK_GENERIC, err);

	if (rc < 0)
		return rc;
	rc = acn_genl_family_id(&c->nl, VDPA_GENL_NAME, &c->family, err);
	if (rc == -ENOENT) {
		rc = acn_fail(err, -ENODEV, "CTRL_CMD_GETFAMILY", object);
		snprintf(err->message, sizeof(err->message),
			 "no vdpa bus: the kernel has no \"vdpa\" generic netlink family (module vdpa not loaded)");
	}
	if (rc < 0)
		acn_nl_close(&c->nl);
	return rc;
}

void acn_vdpa_nl_close(struct acn_vdpa_conn *c)
{
	acn_nl_close(&c->nl);
}

struct get_cb {
	struct acn_vdpa_nl *one;   /* doit: fill this */
	struct acn_vdpa_nl_list *all; /* dump: append */
	struct acn_err *err;
	const char *object;
};

static void fill(struct acn_vdpa_nl *v, const struct nlattr **tb)
{
	const char *bus = tb[VDPA_ATTR_MGMTDEV_BUS_NAME] ? acn_attr_str(tb[VDPA_ATTR_MGMTDEV_BUS_NAME]) : NULL;
	const char *dev = tb[VDPA_ATTR_MGMTDEV_DEV_NAME] ? acn_attr_str(tb[VDPA_ATTR_MGMTDEV_DEV_NAME]) : NULL;

	if (tb[VDPA_ATTR_DEV_NAME])
		snprintf(v->name, sizeof(v->name), "%s", acn_attr_str(tb[VDPA_ATTR_DEV_NAME]));
	if (dev) {
		snprintf(v->mgmtdev, sizeof(v->mgmtdev), "%s%s%s", bus ? bus : "", bus ? "/" : "", dev);
		if (bus && strcmp(bus, "pci") == 0 && acn_pci_addr_valid(dev))
			snprintf(v->parent_pci, sizeof(v->parent_pci), "%s", dev);
	}
	if (tb[VDPA_ATTR_DEV_ID] && tb[VDPA_ATTR_DEV_VENDOR_ID]) {
		v->has_ids = true;
		v->device_id = acn_attr_u32(tb[VDPA_ATTR_DEV_ID]);
		v->vendor_id = acn_attr_u32(tb[VDPA_ATTR_DEV_VENDOR_ID]);
	}
	if (tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]) {
		v->has_mac = true;
		memcpy(v->mac, acn_attr_data(tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]), 6);
	}
	if (tb[VDPA_ATTR_DEV_NET_CFG_MTU]) {
		v->has_mtu = true;
		v->mtu = acn_attr_u16(tb[VDPA_ATTR_DEV_NET_CFG_MTU]);
	}
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[ATTR_MAX + 1];
	struct get_cb *c = data;
	const char *bad = NULL;
	struct acn_vdpa_nl *grown;
	int rc;

	if (acn_attr_parse_msg(nlh, GENL_HDRLEN, &vdpa_policy, tb, &bad) < 0) {
		rc = acn_fail(c->err, -EPROTO, "parse vdpa reply", c->object);
		snprintf(c->err->attr, sizeof(c->err->attr), "%s", bad ? bad : "header");
		return rc;
	}
	if (c->one) {
		fill(c->one, tb);
		return 0;
	}
	grown = realloc(c->all->v, (c->all->n + 1) * sizeof(*grown));
	if (!grown)
		return acn_fail(c->err, -ENOMEM, "VDPA_CMD_DEV_GET", c->object);
	c->all->v = grown;
	memset(&grown[c->all->n], 0, sizeof(*grown));
	fill(&grown[c->all->n], tb);
	if (grown[c->all->n].name[0])
		c->all->n++;
	return 0;
}

static int request(struct acn_vdpa_conn *c, uint8_t cmd, const char *op, const char *name, struct acn_vdpa_nl *v,
		   struct acn_err *err)
{
	struct get_cb cb = { .one = v, .err = err, .object = name };
	struct acn_nlmsg m;

	acn_genl_init(&m, c->family, cmd, VDPA_GENL_VERSION, 0, &vdpa_policy);
	acn_attr_put_strz(&m, VDPA_ATTR_DEV_NAME, name);
	return acn_nl_talk(&c->nl, &m, get_cb, &cb, err, op, name);
}

int acn_vdpa_nl_get(struct acn_vdpa_conn *c, const char *name, struct acn_vdpa_nl *v, struct acn_err *err)
{
	int rc;

	memset(v, 0, sizeof(*v));
	rc = request(c, VDPA_CMD_DEV_GET, "VDPA_CMD_DEV_GET", name, v, err);
	if (rc == 0)
		rc = acn_vdpa_nl_config(c, name, v, err);
	return rc;
}

int acn_vdpa_nl_config(struct acn_vdpa_conn *c, const char *name, struct acn_vdpa_nl *v, struct acn_err *err)
{
	return request(c, VDPA_CMD_DEV_CONFIG_GET, "VDPA_CMD_DEV_CONFIG_GET", name, v, err);
}

static void list_reset(void *data)
{
	struct get_cb *c = data;

	c->all->n = 0;
}

int acn_vdpa_nl_list(struct acn_vdpa_conn *c, struct acn_vdpa_nl_list *list, struct acn_err *err)
{
	struct get_cb cb = { .all = list, .err = err, .object = "" };
	struct acn_nlmsg m;

	list->v = NULL;
	list->n = 0;
	acn_genl_init(&m, c->family, VDPA_CMD_DEV_GET, VDPA_GENL_VERSION, 0, &vdpa_policy);
	return acn_nl_dump(&c->nl, &m, get_cb, list_reset, &cb, err, "VDPA_CMD_DEV_GET", "");
}

int acn_vdpa_nl_set_mac(struct acn_vdpa_conn *c, const char *name, const unsigned char mac[6], struct acn_err *err)
{
	struct acn_nlmsg m;

	acn_genl_init(&m, c->family, ACN_VDPA_CMD_DEV_ATTR_SET, VDPA_GENL_VERSION, 0, &vdpa_policy);
	acn_attr_put_strz(&m, VDPA_ATTR_DEV_NAME, name);
	acn_attr_put(&m, VDPA_ATTR_DEV_NET_CFG_MACADDR, 6, mac);
	return acn_nl_talk(&c->nl, &m, NULL, NULL, err, "VDPA_CMD_DEV_ATTR_SET", name);
}

struct mgmtdev_cb {
	struct acn_vdpa_mgmtdev_list *all;
	struct acn_err *err;
};

/* Copies a kernel name into buf; false when it does not fit (never truncated into another name). */
static bool copy_name(char *buf, size_t len, const struct nlattr *a)
{
	const char *s = acn_attr_str(a);

	if (strlen(s) >= len)
		return false;
	memcpy(buf, s, strlen(s) + 1);
	return true;
}

static int mgmtdev_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[ATTR_MAX + 1];
	struct mgmtdev_cb *c = data;
	struct acn_vdpa_mgmtdev m = { 0 }, *grown;
	const char *bad = NULL;
	int rc;

	if (acn_attr_parse_msg(nlh, GENL_HDRLEN, &vdpa_policy, tb, &bad) < 0) {
		rc = acn_fail(c->err, -EPROTO, "parse vdpa reply", "");
		snprintf(c->err->attr, sizeof(c->err->attr), "%s", bad ? bad : "header");
		return rc;
	}
	if (!tb[VDPA_ATTR_MGMTDEV_DEV_NAME] ||
	    !copy_name(m.handle.dev, sizeof(m.handle.dev), tb[VDPA_ATTR_MGMTDEV_DEV_NAME]) ||
	    (tb[VDPA_ATTR_MGMTDEV_BUS_NAME] &&
	     !copy_name(m.handle.bus, sizeof(m.handle.bus), tb[VDPA_ATTR_MGMTDEV_BUS_NAME])))
		return 0; /* a handle we could not name back to the kernel: not listed */
	if (tb[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES]) {
		m.has_classes = true;
		m.classes = acn_attr_u64(tb[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES]);
	}
	if (tb[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS]) {
		m.has_max_vqs = true;
		m.max_vqs = acn_attr_u32(tb[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS]);
	}
	if (tb[VDPA_ATTR_DEV_SUPPORTED_FEATURES]) {
		m.has_features = true;
		m.features = acn_attr_u64(tb[VDPA_ATTR_DEV_SUPPORTED_FEATURES]);
	}
	grown = realloc(c->all->v, (c->all->n + 1) * sizeof(*grown));
	if (!grown)
		return acn_fail(c->err, -ENOMEM, "VDPA_CMD_MGMTDEV_GET", "");
	c->all->v = grown;
	grown[c->all->n++] = m;
	return 0;
}

static void mgmtdev_reset(void *data)
{
	struct mgmtdev_cb *c = data;

	c->all->n = 0;
}

int acn_vdpa_nl_mgmtdevs(struct acn_vdpa_conn *c, struct acn_vdpa_mgmtdev_list *list, struct acn_err *err)
{
	struct mgmtdev_cb cb = { .all = list, .err = err };
	struct acn_nlmsg m;

	list->v = NULL;
	list->n = 0;
	acn_genl_init(&m, c->family, VDPA_CMD_MGMTDEV_GET, VDPA_GENL_VERSION, 0, &vdpa_policy);
	return acn_nl_dump(&c->nl, &m, mgmtdev_cb, mgmtdev_reset, &cb, err, "VDPA_CMD_MGMTDEV_GET", "");
}

int acn_vdpa_nl_dev_new(struct acn_vdpa_conn *c, const struct acn_vdpa_dev_new *d, struct acn_err *err)
{
	struct acn_nlmsg m;

	acn_genl_init(&m, c->family, VDPA_CMD_DEV_NEW, VDPA_GENL_VERSION, 0, &vdpa_policy);
	acn_attr_put_strz(&m, VDPA_ATTR_DEV_NAME, d->name);
	/* The kernel matches the bus only when it is sent: a bus-less handle (VDUSE) omits it, like iproute2. */
	if (d->mgmtdev->bus[0])
		acn_attr_put_strz(&m, VDPA_ATTR_MGMTDEV_BUS_NAME, d->mgmtdev->bus);
	acn_attr_put_strz(&m, VDPA_ATTR_MGMTDEV_DEV_NAME, d->mgmtdev->dev);
	if (d->has_mac)
		acn_attr_put(&m, VDPA_ATTR_DEV_NET_CFG_MACADDR, 6, d->mac);
	if (d->has_mtu)
		acn_attr_put_u16(&m, VDPA_ATTR_DEV_NET_CFG_MTU, d->mtu);
	if (d->has_max_vqp)
		acn_attr_put_u16(&m, VDPA_ATTR_DEV_NET_CFG_MAX_VQP, d->max_vqp);
	return acn_nl_talk(&c->nl, &m, NULL, NULL, err, "VDPA_CMD_DEV_NEW", d->name);
}

int acn_vdpa_nl_dev_del(struct acn_vdpa_conn *c, const char *name, struct acn_err *err)
{
	struct acn_nlmsg m;

	acn_genl_init(&m, c->family, VDPA_CMD_DEV_DEL, VDPA_GENL_VERSION, 0, &vdpa_policy);
	acn_attr_put_strz(&m, VDPA_ATTR_DEV_NAME, name);
	return acn_nl_talk(&c->nl, &m, NULL, NULL, err, "VDPA_CMD_DEV_DEL", name);
}
