// SPDX-License-Identifier: Apache-2.0
/*
 * macvlan-add: one RTM_NEWLINK, sent from the master's netns, that creates the
 * macvlan directly in the target netns (IFLA_NET_NS_FD) under a temporary
 * name, as the reference plugin does. The reply is the link read back in the
 * target netns.
 */
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

static void macvlan_fill(struct acn_nlmsg *m, const struct acn_opts *o, int master_index)
{
	struct nlattr *linkinfo, *data;

	acn_attr_put_u32(m, IFLA_LINK, (uint32_t)master_index);
	acn_attr_put_s32(m, IFLA_NET_NS_FD, o->netns.fd);
	acn_attr_put_strz(m, IFLA_IFNAME, o->name);
	if (acn_has(o, ACN_K_MAC))
		acn_attr_put(m, IFLA_ADDRESS, sizeof(o->mac), o->mac);
	if (acn_has(o, ACN_K_MTU))
		acn_attr_put_u32(m, IFLA_MTU, o->mtu);
	linkinfo = acn_attr_nest_start(m, IFLA_LINKINFO);
	acn_attr_put_strz(m, IFLA_INFO_KIND, "macvlan");
	data = acn_attr_nest_start(m, IFLA_INFO_DATA);
	acn_attr_put_u32(m, IFLA_MACVLAN_MODE, o->mode);
	if (acn_has(o, ACN_K_BCQUEUELEN))
		acn_attr_put_u32(m, IFLA_MACVLAN_BC_QUEUE_LEN, o->bcqueuelen);
	acn_attr_nest_end(m, data);
	acn_attr_nest_end(m, linkinfo);
}

int acn_macvlan_add(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl master_nl, target_nl;
	struct acn_nlmsg m;
	struct ifinfomsg *ifi;
	int master_index, rc;

	rc = acn_link_open(&master_nl, &o->master_netns, o->master, &master_index, ctx->err);
	if (rc < 0)
		return rc;
	ifi = acn_nlmsg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi), &acn_ifla_policy);
	ifi->ifi_family = AF_UNSPEC;
	macvlan_fill(&m, o, master_index);
	rc = acn_nl_talk(&master_nl, &m, NULL, NULL, ctx->err, "RTM_NEWLINK", o->name);
	if (rc < 0)
		goto close_master;

	rc = acn_nl_open(&target_nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		goto close_master;
	rc = acn_link_put(&target_nl, 0, o->name, false, ctx->out, "link", NULL, ctx->err);
	acn_nl_close(&target_nl);
close_master:
	acn_nl_close(&master_nl);
	return rc;
}
