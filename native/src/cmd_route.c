// SPDX-License-Identifier: Apache-2.0
/*
 * route-add / route-del: RTM_NEWROUTE (create, exclusive) and RTM_DELROUTE.
 * Defaults follow iproute2: protocol boot, main table, scope link for an
 * IPv4 route without gateway, universe otherwise; a delete without scope
 * matches any scope.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"
#include "validate.h"

int acn_route_check(const char *cmd, const struct acn_opts *o, struct acn_err *err)
{
	char net[64];

	if (acn_has(o, ACN_K_GW) && o->gw.family != o->dst.family) {
		acn_fail(err, -EINVAL, "parse", "gw");
		snprintf(err->message, sizeof(err->message), "%s: gw \"%s\" is IPv%d but dst \"%s\" is IPv%d", cmd,
			 o->raw[ACN_K_GW], acn_family_number(o->gw.family), o->raw[ACN_K_DST],
			 acn_family_number(o->dst.family));
		return -EINVAL;
	}
	if (!acn_prefix_is_network(&o->dst)) {
		acn_prefix_network_str(&o->dst, net, sizeof(net));
		acn_fail(err, -EINVAL, "parse", "dst");
		snprintf(err->message, sizeof(err->message),
			 "%s: invalid dst \"%s\": host bits are set (the network is \"%s\")", cmd, o->raw[ACN_K_DST],
			 net);
		return -EINVAL;
	}
	return 0;
}

static unsigned char default_scope(const struct acn_opts *o, uint16_t type)
{
	if (type == RTM_DELROUTE)
		return RT_SCOPE_NOWHERE;
	if (o->dst.family == AF_INET && !acn_has(o, ACN_K_GW))
		return RT_SCOPE_LINK;
	return RT_SCOPE_UNIVERSE;
}

static int route_modify(struct acn_ctx *ctx, const struct acn_opts *o, uint16_t type, uint16_t flags,
			const char *op)
{
	size_t alen = o->dst.family == AF_INET ? 4 : 16;
	uint32_t table = acn_has(o, ACN_K_TABLE) ? o->table : RT_TABLE_MAIN;
	struct acn_nl nl;
	struct acn_nlmsg m;
	struct rtmsg *r;
	int ifindex = 0, rc;

	rc = acn_nl_open(&nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		return rc;
	if (acn_has(o, ACN_K_NAME)) {
		rc = acn_link_index(&nl, o->name, &ifindex, ctx->err);
		if (rc < 0)
			goto close_nl;
	}
	r = acn_nlmsg_init(&m, type, flags, sizeof(*r), &acn_rta_policy);
	r->rtm_family = (unsigned char)o->dst.family;
	r->rtm_dst_len = (unsigned char)o->dst.prefixlen;
	r->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	r->rtm_scope = acn_has(o, ACN_K_SCOPE) ? (unsigned char)o->scope : default_scope(o, type);
	if (type == RTM_NEWROUTE) {
		r->rtm_protocol = RTPROT_BOOT;
		r->rtm_type = RTN_UNICAST;
	}
	acn_attr_put_u32(&m, RTA_TABLE, table);
	if (o->dst.prefixlen > 0)
		acn_attr_put(&m, RTA_DST, alen, o->dst.addr);
	if (acn_has(o, ACN_K_GW))
		acn_attr_put(&m, RTA_GATEWAY, alen, o->gw.addr);
	if (ifindex)
		acn_attr_put_u32(&m, RTA_OIF, (uint32_t)ifindex);
	if (acn_has(o, ACN_K_METRIC))
		acn_attr_put_u32(&m, RTA_PRIORITY, o->metric);
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, op, o->raw[ACN_K_DST]);
close_nl:
	acn_nl_close(&nl);
	return rc;
}

int acn_route_add(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return route_modify(ctx, o, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, "RTM_NEWROUTE");
}

int acn_route_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return route_modify(ctx, o, RTM_DELROUTE, 0, "RTM_DELROUTE");
}
