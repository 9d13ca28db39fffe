// SPDX-License-Identifier: Apache-2.0
/*
 * VF settings through the PF: vf-show (RTM_GETLINK with RTEXT_FILTER_VF) and
 * vf-set (RTM_NEWLINK with IFLA_VFINFO_LIST/IFLA_VF_INFO carrying exactly
 * one setting). vf-set reads the VF first (it must exist; a rate change keeps
 * the other rate) and reads it back after. A driver refusal is the kernel's
 * errno with object "<pf> vf <n>"; the kernel sends no ext-ack for VF
 * settings, so attr names the IFLA_VF_* attribute that was refused and the
 * message names the PF's driver.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"
#include "sysfs.h"
#include "validate.h"

#define O(k) ACN_OPT(ACN_K_##k)
#define SETTINGS (O(VF_MAC) | O(VLAN) | O(SPOOFCHK) | O(TRUST) | O(STATE) | O(MIN_TX_RATE) | O(MAX_TX_RATE))

struct vf_cb {
	struct acn_json *out;
	struct acn_err *err;
	const char *object;
	uint32_t vf;       /* UINT32_MAX: the link and all VFs (vf-show) */
	bool found;
	struct ifla_vf_rate rate;
	char parent[ACN_PCI_ADDR_LEN + 1]; /* the PF's PCI address, when the kernel names it */
};

static int vf_failed(struct acn_err *err, const char *object, const char *bad)
{
	int rc = acn_fail(err, -EPROTO, "parse RTM_NEWLINK", object);

	snprintf(err->attr, sizeof(err->attr), "%s", bad ? bad : "");
	return rc;
}

static int vf_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	struct vf_cb *c = data;
	const char *bad = NULL;
	int rc;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) ||
	    acn_attr_parse_msg(nlh, sizeof(struct ifinfomsg), &acn_ifla_policy, tb, &bad) < 0)
		return vf_failed(c->err, c->object, bad ? bad : "header");
	if (c->vf == UINT32_MAX) {
		if (acn_link_to_json(nlh, c->out, "link", &bad) < 0)
			return vf_failed(c->err, c->object, bad);
		c->found = true;
		if (!tb[IFLA_VFINFO_LIST]) {
			acn_json_arr_open(c->out, "vfs");
			acn_json_arr_close(c->out);
			return 0;
		}
		return acn_vfs_to_json(tb[IFLA_VFINFO_LIST], c->out, &bad) < 0 ? vf_failed(c->err, c->object, bad) : 0;
	}
	if (tb[IFLA_PARENT_DEV_NAME] && tb[IFLA_PARENT_DEV_BUS_NAME] &&
	    strcmp(acn_attr_str(tb[IFLA_PARENT_DEV_BUS_NAME]), "pci") == 0 &&
	    acn_pci_addr_valid(acn_attr_str(tb[IFLA_PARENT_DEV_NAME])))
		snprintf(c->parent, sizeof(c->parent), "%s", acn_attr_str(tb[IFLA_PARENT_DEV_NAME]));
	if (!tb[IFLA_VFINFO_LIST])
		return 0;
	rc = acn_vf_to_json(tb[IFLA_VFINFO_LIST], c->vf, c->out, "vf", &c->rate, &bad);
	if (rc < 0)
		return vf_failed(c->err, c->object, bad);
	c->found = rc == 0;
	return 0;
}

/* RTM_GETLINK on the PF with VF information; writes what vf_cb writes. */
static int vf_read(struct acn_nl *nl, int ifindex, struct vf_cb *c)
{
	struct acn_json_mark mark = acn_json_mark(c->out);
	struct acn_nlmsg m;
	int rc;

	acn_link_msg_init(&m, RTM_GETLINK, ifindex);
	acn_attr_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
	c->found = false;
	rc = acn_nl_talk(nl, &m, vf_cb, c, c->err, "RTM_GETLINK", c->object);
	if (rc == 0 && !c->found) {
		rc = acn_fail(c->err, -ENODEV, "RTM_GETLINK", c->object);
		if (c->vf != UINT32_MAX)
			snprintf(c->err->message, sizeof(c->err->message), "%s: the PF reports no such VF", c->object);
	}
	if (rc < 0)
		acn_json_rewind(c->out, mark);
	return rc;
}

int acn_vf_show(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct vf_cb c = { .out = ctx->out, .err = ctx->err, .object = o->pf, .vf = UINT32_MAX };
	struct acn_nl nl;
	int ifindex, rc;

	rc = acn_link_open(&nl, &o->netns, o->pf, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	rc = vf_read(&nl, ifindex, &c);
	acn_nl_close(&nl);
	return rc;
}

int acn_vf_set_check(const char *cmd, const struct acn_opts *o, struct acn_err *err)
{
	uint64_t s = o->present & SETTINGS;
	const char *why = NULL, *key = "vf-set";
	int rc;

	if (s & (O(MIN_TX_RATE) | O(MAX_TX_RATE)))
		s = (s & ~(O(MIN_TX_RATE) | O(MAX_TX_RATE))) | O(MAX_TX_RATE);
	if ((o->present & (O(QOS) | O(PROTO))) && !(o->present & O(VLAN)))
		why = "qos and proto apply only together with vlan", key = acn_has(o, ACN_K_QOS) ? "qos" : "proto";
	else if (s == 0 || (s & (s - 1)) != 0)
		why = "exactly one setting is required: mac, vlan (with optional qos, proto), spoofchk, trust, state, "
		      "or min_tx_rate and/or max_tx_rate";
	else if ((o->present & O(MIN_TX_RATE)) && (o->present & O(MAX_TX_RATE)) && o->max_tx_rate != 0 &&
		 o->min_tx_rate > o->max_tx_rate)
		why = "min_tx_rate must not exceed max_tx_rate (0 means no limit)", key = "min_tx_rate";
	if (!why)
		return 0;
	rc = acn_fail(err, -EINVAL, "parse", key);
	snprintf(err->message, sizeof(err->message), "%s: %s", cmd, why);
	return rc;
}

/* Adds the one setting inside IFLA_VF_INFO; returns the attribute's name for errors. */
static const char *put_setting(struct acn_nlmsg *m, const struct acn_opts *o, const struct ifla_vf_rate *now)
{
	if (acn_has(o, ACN_K_VF_MAC)) { /* 00:00:00:00:00:00 clears the administratively set MAC */
		struct ifla_vf_mac v = { .vf = o->vf };

		memcpy(v.mac, o->mac, sizeof(o->mac));
		acn_attr_put(m, IFLA_VF_MAC, sizeof(v), &v);
		return "IFLA_VF_MAC";
	}
	if (acn_has(o, ACN_K_VLAN) && (!acn_has(o, ACN_K_PROTO) || o->proto == ETH_P_8021Q)) {
		/* The classic attribute: every driver with ndo_set_vf_vlan takes it (802.1Q). */
		struct ifla_vf_vlan v = { .vf = o->vf, .vlan = o->vlan, .qos = o->qos };

		acn_attr_put(m, IFLA_VF_VLAN, sizeof(v), &v);
		return "IFLA_VF_VLAN";
	}
	if (acn_has(o, ACN_K_VLAN)) {
		struct ifla_vf_vlan_info v = { .vf = o->vf, .vlan = o->vlan, .qos = o->qos,
					       .vlan_proto = htons((uint16_t)o->proto) };
		struct nlattr *list = acn_attr_nest_start(m, IFLA_VF_VLAN_LIST);

		acn_attr_put(m, IFLA_VF_VLAN_INFO, sizeof(v), &v);
		acn_attr_nest_end(m, list);
		return "IFLA_VF_VLAN_LIST";
	}
	if (acn_has(o, ACN_K_SPOOFCHK)) {
		struct ifla_vf_spoofchk v = { .vf = o->vf, .setting = o->spoofchk };

		acn_attr_put(m, IFLA_VF_SPOOFCHK, sizeof(v), &v);
		return "IFLA_VF_SPOOFCHK";
	}
	if (acn_has(o, ACN_K_TRUST)) {
		struct ifla_vf_trust v = { .vf = o->vf, .setting = o->trust };

		acn_attr_put(m, IFLA_VF_TRUST, sizeof(v), &v);
		return "IFLA_VF_TRUST";
	}
	if (acn_has(o, ACN_K_STATE)) {
		struct ifla_vf_link_state v = { .vf = o->vf, .link_state = o->state };

		acn_attr_put(m, IFLA_VF_LINK_STATE, sizeof(v), &v);
		return "IFLA_VF_LINK_STATE";
	}
	{
		struct ifla_vf_rate v = { .vf = o->vf,
					  .min_tx_rate = acn_has(o, ACN_K_MIN_TX_RATE) ? o->min_tx_rate : now->min_tx_rate,
					  .max_tx_rate = acn_has(o, ACN_K_MAX_TX_RATE) ? o->max_tx_rate : now->max_tx_rate };

		acn_attr_put(m, IFLA_VF_RATE, sizeof(v), &v);
		return "IFLA_VF_RATE";
	}
}

/*
 * Names the refusing driver in the message ("Operation not supported: driver
 * igb (0000:00:02.0) refused IFLA_VF_LINK_STATE"), so the caller can report
 * the setting and the driver without another look-up.
 */
static void explain_refusal(struct acn_ctx *ctx, const struct vf_cb *c, const char *attr)
{
	char path[ACN_PATH_MAX], driver[64] = "";
	struct acn_err *e = ctx->err;

	if (!e->attr[0] || strncmp(e->attr, "offset", 6) == 0)
		snprintf(e->attr, sizeof(e->attr), "%s", attr);
	if (c->parent[0] &&
	    acn_path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/driver", ctx->g->sysfs_root, c->parent) == 0 &&
	    acn_sysfs_link_at(AT_FDCWD, path, driver, sizeof(driver)) == 0)
		snprintf(e->message, sizeof(e->message), "%s: driver %s (%s) refused %s", strerror(e->code), driver,
			 c->parent, attr);
	else
		snprintf(e->message, sizeof(e->message), "%s: the driver refused %s", strerror(e->code), attr);
}

int acn_vf_set(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct vf_cb c = { .out = ctx->out, .err = ctx->err, .vf = o->vf };
	struct acn_json_mark mark = acn_json_mark(ctx->out);
	struct nlattr *list, *info;
	struct acn_nlmsg m;
	struct acn_nl nl;
	char object[IFNAMSIZ + 16];
	const char *attr;
	int ifindex, rc;

	snprintf(object, sizeof(object), "%s vf %u", o->pf, o->vf);
	c.object = object;
	rc = acn_link_open(&nl, &o->netns, o->pf, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	rc = vf_read(&nl, ifindex, &c); /* the VF must exist; its rates are kept */
	acn_json_rewind(ctx->out, mark);
	if (rc < 0)
		goto close_nl;

	acn_link_msg_init(&m, RTM_NEWLINK, ifindex);
	list = acn_attr_nest_start(&m, IFLA_VFINFO_LIST);
	info = acn_attr_nest_start(&m, IFLA_VF_INFO);
	attr = put_setting(&m, o, &c.rate);
	acn_attr_nest_end(&m, info);
	acn_attr_nest_end(&m, list);
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, "RTM_NEWLINK", object);
	if (rc < 0) {
		explain_refusal(ctx, &c, attr);
		goto close_nl;
	}
	rc = vf_read(&nl, ifindex, &c);
close_nl:
	acn_nl_close(&nl);
	return rc;
}
