// SPDX-License-Identifier: Apache-2.0
/* Links: look-up by name, RTM_GETLINK get/dump, and the JSON link object. */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "rtnl.h"
#include "validate.h"

static const char *operstate_name(uint8_t s)
{
	static const char *const names[] = { "unknown", "notpresent", "down", "lowerlayerdown",
					     "testing", "dormant", "up" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static const char *macvlan_mode_name(uint32_t mode)
{
	switch (mode) {
	case MACVLAN_MODE_PRIVATE:
		return "private";
	case MACVLAN_MODE_VEPA:
		return "vepa";
	case MACVLAN_MODE_BRIDGE:
		return "bridge";
	case MACVLAN_MODE_PASSTHRU:
		return "passthru";
	case MACVLAN_MODE_SOURCE:
		return "source";
	default:
		return NULL;
	}
}

static void put_hwaddr(struct acn_json *out, const char *key, const struct nlattr *a)
{
	char buf[3 * 32 + 1];
	size_t n;

	if (!a || acn_attr_len(a) == 0) {
		acn_json_null(out, key);
		return;
	}
	n = acn_attr_len(a) > 32 ? 32 : acn_attr_len(a);
	acn_mac_str(acn_attr_data(a), n, buf, sizeof(buf));
	acn_json_str(out, key, buf);
}

static void put_u32_or_null(struct acn_json *out, const char *key, const struct nlattr *a)
{
	if (a)
		acn_json_uint(out, key, acn_attr_u32(a));
	else
		acn_json_null(out, key);
}

/* Altnames are repeated IFLA_ALT_IFNAME attributes inside IFLA_PROP_LIST. */
static int put_altnames(struct acn_json *out, const struct nlattr *list, const char **bad)
{
	const struct nlattr *a;

	acn_json_arr_open(out, "altnames");
	if (list) {
		acn_attr_for_each(a, acn_attr_data(list), acn_attr_len(list)) {
			const struct nlattr *tb[IFLA_MAX + 1];

			if ((a->nla_type & NLA_TYPE_MASK) != IFLA_ALT_IFNAME)
				continue;
			/* Validate the one attribute through the same policy as the top level. */
			if (acn_attr_parse(a, NLA_ALIGN(a->nla_len), &acn_ifla_policy, tb, bad) < 0)
				return -EPROTO;
			acn_json_str(out, NULL, acn_attr_str(tb[IFLA_ALT_IFNAME]));
		}
	}
	acn_json_arr_close(out);
	return 0;
}

int acn_link_to_json(const struct nlmsghdr *nlh, struct acn_json *out, const char *key, const char **bad)
{
	const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1] = { 0 }, *mv[IFLA_MACVLAN_MAX + 1] = { 0 };
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	const char *kind = NULL, *mode = NULL;
	int rc;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 1;
	rc = acn_attr_parse_msg(nlh, sizeof(*ifi), &acn_ifla_policy, tb, bad);
	if (rc < 0)
		return rc;
	/* The kernel always sends these; without them the message is not a link. */
	if (!tb[IFLA_IFNAME] || !tb[IFLA_MTU]) {
		*bad = tb[IFLA_IFNAME] ? "IFLA_MTU" : "IFLA_IFNAME";
		return -EPROTO;
	}
	if (tb[IFLA_LINKINFO]) {
		rc = acn_attr_parse(acn_attr_data(tb[IFLA_LINKINFO]), acn_attr_len(tb[IFLA_LINKINFO]),
				    &acn_ifla_info_policy, info, bad);
		if (rc < 0)
			return rc;
		kind = info[IFLA_INFO_KIND] ? acn_attr_str(info[IFLA_INFO_KIND]) : NULL;
	}
	if (kind && (!strcmp(kind, "macvlan") || !strcmp(kind, "macvtap")) && info[IFLA_INFO_DATA]) {
		rc = acn_attr_parse(acn_attr_data(info[IFLA_INFO_DATA]), acn_attr_len(info[IFLA_INFO_DATA]),
				    &acn_ifla_macvlan_policy, mv, bad);
		if (rc < 0)
			return rc;
		mode = mv[IFLA_MACVLAN_MODE] ? macvlan_mode_name(acn_attr_u32(mv[IFLA_MACVLAN_MODE])) : NULL;
	}

	acn_json_obj_open(out, key);
	acn_json_int(out, "index", ifi->ifi_index);
	acn_json_str(out, "name", acn_attr_str(tb[IFLA_IFNAME]));
	acn_json_str(out, "kind", kind);
	put_hwaddr(out, "mac", tb[IFLA_ADDRESS]);
	put_hwaddr(out, "permMac", tb[IFLA_PERM_ADDRESS]);
	acn_json_uint(out, "mtu", acn_attr_u32(tb[IFLA_MTU]));
	put_u32_or_null(out, "minMtu", tb[IFLA_MIN_MTU]);
	put_u32_or_null(out, "maxMtu", tb[IFLA_MAX_MTU]);
	acn_json_bool(out, "up", (ifi->ifi_flags & IFF_UP) != 0);
	if (tb[IFLA_OPERSTATE])
		acn_json_str(out, "operstate", operstate_name(acn_attr_u8(tb[IFLA_OPERSTATE])));
	else
		acn_json_null(out, "operstate");
	if (tb[IFLA_CARRIER])
		acn_json_bool(out, "carrier", acn_attr_u8(tb[IFLA_CARRIER]) != 0);
	else
		acn_json_null(out, "carrier");
	put_u32_or_null(out, "master", tb[IFLA_MASTER]);
	put_u32_or_null(out, "link", tb[IFLA_LINK]);
	if (tb[IFLA_LINK_NETNSID])
		acn_json_int(out, "linkNetnsid", acn_attr_s32(tb[IFLA_LINK_NETNSID]));
	else
		acn_json_null(out, "linkNetnsid");
	acn_json_str(out, "macvlanMode", mode);
	rc = put_altnames(out, tb[IFLA_PROP_LIST], bad);
	if (rc < 0)
		return rc;
	acn_json_str(out, "parentBus", tb[IFLA_PARENT_DEV_BUS_NAME] ? acn_attr_str(tb[IFLA_PARENT_DEV_BUS_NAME]) : NULL);
	acn_json_str(out, "parentDev", tb[IFLA_PARENT_DEV_NAME] ? acn_attr_str(tb[IFLA_PARENT_DEV_NAME]) : NULL);
	put_u32_or_null(out, "txqlen", tb[IFLA_TXQLEN]);
	put_u32_or_null(out, "numVfs", tb[IFLA_NUM_VF]);
	if (tb[IFLA_VFINFO_LIST]) {
		rc = acn_vfs_to_json(tb[IFLA_VFINFO_LIST], out, bad);
		if (rc < 0)
			return rc;
	} else {
		acn_json_arr_open(out, "vfs");
		acn_json_arr_close(out);
	}
	acn_json_obj_close(out);
	return 0;
}

struct ifinfomsg *acn_link_msg_init(struct acn_nlmsg *m, uint16_t type, int ifindex)
{
	struct ifinfomsg *ifi = acn_nlmsg_init(m, type, 0, sizeof(*ifi), &acn_ifla_policy);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return ifi;
}

static void getlink_init(struct acn_nlmsg *m, int ifindex, const char *name, uint32_t ext_mask)
{
	acn_link_msg_init(m, RTM_GETLINK, ifindex);
	if (!ifindex && name)
		acn_attr_put_strz(m, IFLA_IFNAME, name);
	acn_attr_put_u32(m, IFLA_EXT_MASK, ext_mask);
}

struct link_cb {
	struct acn_json *out;
	struct acn_json_mark mark;
	const char *key;
	struct acn_err *err;
	const char *object;
	int ifindex;
};

static int parse_failed(struct acn_err *err, const char *op, const char *object, const char *bad)
{
	int rc = acn_fail(err, -EPROTO, op, object);

	snprintf(err->attr, sizeof(err->attr), "%s", bad ? bad : "");
	return rc;
}

static int index_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_cb *c = data;

	if (nlh->nlmsg_type == RTM_NEWLINK && nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		c->ifindex = ((const struct ifinfomsg *)NLMSG_DATA(nlh))->ifi_index;
	return 0;
}

int acn_link_index(struct acn_nl *nl, const char *name, int *ifindex, struct acn_err *err)
{
	struct acn_nlmsg m;
	struct link_cb c = { .ifindex = 0 };
	int rc;

	getlink_init(&m, 0, name, RTEXT_FILTER_SKIP_STATS);
	rc = acn_nl_talk(nl, &m, index_cb, &c, err, "RTM_GETLINK", name);
	if (rc < 0)
		return rc;
	if (c.ifindex <= 0)
		return acn_fail(err, -ENODEV, "RTM_GETLINK", name);
	*ifindex = c.ifindex;
	return 0;
}

int acn_link_open(struct acn_nl *nl, const struct acn_netns *ns, const char *name, int *ifindex,
		  struct acn_err *err)
{
	int rc = acn_nl_open(nl, ns, NETLINK_ROUTE, err);

	if (rc < 0)
		return rc;
	rc = acn_link_index(nl, name, ifindex, err);
	if (rc < 0)
		goto close_nl;
	return 0;

close_nl:
	acn_nl_close(nl);
	return rc;
}

static int put_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_cb *c = data;
	const char *bad = NULL;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return parse_failed(c->err, "parse RTM_NEWLINK", c->object, "header");
	if (acn_link_to_json(nlh, c->out, c->key, &bad) < 0)
		return parse_failed(c->err, "parse RTM_NEWLINK", c->object, bad);
	if (nlh->nlmsg_type == RTM_NEWLINK)
		c->ifindex = ((const struct ifinfomsg *)NLMSG_DATA(nlh))->ifi_index;
	return 0;
}

int acn_link_put(struct acn_nl *nl, int ifindex, const char *name, bool vfs, struct acn_json *out, const char *key,
		 int *found, struct acn_err *err)
{
	struct acn_nlmsg m;
	struct link_cb c = { .out = out, .key = key, .err = err, .object = name };
	struct acn_json_mark mark = acn_json_mark(out);
	int rc;

	getlink_init(&m, ifindex, name, RTEXT_FILTER_SKIP_STATS | (vfs ? RTEXT_FILTER_VF : 0));
	rc = acn_nl_talk(nl, &m, put_cb, &c, err, "RTM_GETLINK", name);
	if (rc == 0 && c.ifindex <= 0)
		rc = acn_fail(err, -ENODEV, "RTM_GETLINK", name);
	if (rc < 0) {
		acn_json_rewind(out, mark);
		return rc;
	}
	if (found)
		*found = c.ifindex;
	return 0;
}

static void put_all_reset(void *data)
{
	struct link_cb *c = data;

	acn_json_rewind(c->out, c->mark);
}

int acn_link_put_all(struct acn_nl *nl, struct acn_json *out, const char *key, struct acn_err *err)
{
	struct acn_nlmsg m;
	struct link_cb c = { .out = out, .key = NULL, .err = err, .object = "" };
	int rc;

	acn_json_arr_open(out, key);
	c.mark = acn_json_mark(out);
	getlink_init(&m, 0, NULL, RTEXT_FILTER_SKIP_STATS);
	rc = acn_nl_dump(nl, &m, put_cb, put_all_reset, &c, err, "RTM_GETLINK", "");
	acn_json_arr_close(out);
	return rc;
}
