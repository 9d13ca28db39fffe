// SPDX-License-Identifier: Apache-2.0
/*
 * link-move: one RTM_NEWLINK in the source netns carrying IFLA_NET_NS_FD
 * (the target) and, optionally, IFLA_IFNAME (the name in the target), so
 * the move and the rename are one kernel operation; the reply is the link
 * read back inside the target.
 * link-altname-del: RTM_DELLINKPROP with IFLA_PROP_LIST/IFLA_ALT_IFNAME.
 */
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

int acn_link_move(struct acn_ctx *ctx, const struct acn_opts *o)
{
	const char *final = acn_has(o, ACN_K_NEWNAME) ? o->newname : o->name;
	struct acn_nl from, to;
	struct acn_nlmsg m;
	int ifindex, rc;

	rc = acn_link_open(&from, &o->netns, o->name, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	acn_link_msg_init(&m, RTM_NEWLINK, ifindex);
	acn_attr_put_s32(&m, IFLA_NET_NS_FD, o->to.fd);
	if (acn_has(o, ACN_K_NEWNAME))
		acn_attr_put_strz(&m, IFLA_IFNAME, o->newname);
	rc = acn_nl_talk(&from, &m, NULL, NULL, ctx->err, "RTM_NEWLINK", o->name);
	if (rc < 0)
		goto close_from;

	rc = acn_nl_open(&to, &o->to, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		goto close_from;
	rc = acn_link_put(&to, 0, final, false, ctx->out, "link", NULL, ctx->err);
	acn_nl_close(&to);
close_from:
	acn_nl_close(&from);
	return rc;
}

int acn_link_altname_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	struct acn_nlmsg m;
	struct nlattr *list;
	int ifindex, rc;

	rc = acn_link_open(&nl, &o->netns, o->name, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	acn_link_msg_init(&m, RTM_DELLINKPROP, ifindex);
	list = acn_attr_nest_start(&m, IFLA_PROP_LIST);
	acn_attr_put_strz(&m, IFLA_ALT_IFNAME, o->altname);
	acn_attr_nest_end(&m, list);
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, "RTM_DELLINKPROP", o->altname);
	if (rc < 0)
		goto close_nl;
	rc = acn_link_put(&nl, ifindex, o->name, false, ctx->out, "link", NULL, ctx->err);
close_nl:
	acn_nl_close(&nl);
	return rc;
}
