// SPDX-License-Identifier: Apache-2.0
/*
 * Link settings: link-rename, link-set-mac, link-set-mtu, link-up, link-down.
 * Each is one RTM_NEWLINK on the link's index; the reply is the link read
 * back by index (so a rename reports the new name).
 */
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

typedef void (*link_fill_fn)(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o);

static int link_modify(struct acn_ctx *ctx, const struct acn_opts *o, link_fill_fn fill)
{
	struct acn_nl nl;
	struct acn_nlmsg m;
	int ifindex, rc;

	rc = acn_link_open(&nl, &o->netns, o->name, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	fill(&m, acn_link_msg_init(&m, RTM_NEWLINK, ifindex), o);
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, "RTM_NEWLINK", o->name);
	if (rc < 0)
		goto close_nl;
	rc = acn_link_put(&nl, ifindex, o->name, false, ctx->out, "link", NULL, ctx->err);
close_nl:
	acn_nl_close(&nl);
	return rc;
}

static void fill_rename(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o)
{
	(void)ifi;
	acn_attr_put_strz(m, IFLA_IFNAME, o->newname);
}

static void fill_mac(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o)
{
	(void)ifi;
	acn_attr_put(m, IFLA_ADDRESS, sizeof(o->mac), o->mac);
}

static void fill_mtu(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o)
{
	(void)ifi;
	acn_attr_put_u32(m, IFLA_MTU, o->mtu);
}

static void fill_up(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o)
{
	(void)m;
	(void)o;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
}

static void fill_down(struct acn_nlmsg *m, struct ifinfomsg *ifi, const struct acn_opts *o)
{
	(void)m;
	(void)o;
	ifi->ifi_flags = 0;
	ifi->ifi_change = IFF_UP;
}

int acn_link_rename(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return link_modify(ctx, o, fill_rename);
}

int acn_link_set_mac(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return link_modify(ctx, o, fill_mac);
}

int acn_link_set_mtu(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return link_modify(ctx, o, fill_mtu);
}

int acn_link_up(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return link_modify(ctx, o, fill_up);
}

int acn_link_down(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return link_modify(ctx, o, fill_down);
}
