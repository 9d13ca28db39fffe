// SPDX-License-Identifier: Apache-2.0
/* link-del: RTM_DELLINK by name (ENODEV when it is already gone; DEL policy is TypeScript's). */
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

int acn_link_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	struct acn_nlmsg m;
	int rc;

	rc = acn_nl_open(&nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		return rc;
	acn_link_msg_init(&m, RTM_DELLINK, 0);
	acn_attr_put_strz(&m, IFLA_IFNAME, o->name);
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, "RTM_DELLINK", o->name);
	acn_nl_close(&nl);
	return rc;
}
