// SPDX-License-Identifier: Apache-2.0
/*
 * link-del: RTM_DELLINK by name or by ifindex, exactly one of them (ENODEV when it is already gone; DEL
 * policy is TypeScript's). By index undoes a link by identity: the name ADD asked for may not be the
 * name the link has.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

int acn_link_del_check(const char *cmd, const struct acn_opts *o, struct acn_err *err)
{
	if (acn_has(o, ACN_K_NAME) == acn_has(o, ACN_K_IFINDEX)) {
		acn_fail(err, -EINVAL, "parse", "name");
		snprintf(err->message, sizeof(err->message), "%s: exactly one of name= and index= is required", cmd);
		return -EINVAL;
	}
	return 0;
}

int acn_link_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	struct acn_nlmsg m;
	char object[16];
	int rc;

	rc = acn_nl_open(&nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		return rc;
	if (acn_has(o, ACN_K_IFINDEX)) {
		acn_link_msg_init(&m, RTM_DELLINK, (int)o->ifindex);
		snprintf(object, sizeof(object), "%u", o->ifindex);
	} else {
		acn_link_msg_init(&m, RTM_DELLINK, 0);
		acn_attr_put_strz(&m, IFLA_IFNAME, o->name);
		snprintf(object, sizeof(object), "%s", o->name);
	}
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, "RTM_DELLINK", object);
	acn_nl_close(&nl);
	return rc;
}
