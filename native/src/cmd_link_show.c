// SPDX-License-Identifier: Apache-2.0
/* Read-only state for CHECK: link-show, link-list, addr-list, route-list. */
#include <linux/rtnetlink.h>

#include "acn.h"
#include "rtnl.h"

int acn_link_show(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	int ifindex = 0, rc;

	rc = acn_nl_open(&nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_link_put(&nl, 0, o->name, o->vfs, ctx->out, "link", &ifindex, ctx->err);
	if (rc < 0)
		goto close_nl;
	if (o->addrs) {
		rc = acn_addr_put_all(&nl, 0, ifindex, ctx->out, "addrs", ctx->err, o->name);
		if (rc < 0)
			goto close_nl;
	}
	if (o->routes)
		rc = acn_route_put_all(&nl, 0, ifindex, RT_TABLE_MAIN, ctx->out, "routes", ctx->err, o->name);
close_nl:
	acn_nl_close(&nl);
	return rc;
}

int acn_link_list(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	int rc;

	rc = acn_nl_open(&nl, &o->netns, NETLINK_ROUTE, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_link_put_all(&nl, ctx->out, "links", ctx->err);
	acn_nl_close(&nl);
	return rc;
}

/* Opens the socket and turns the optional name filter into an ifindex (0: all links). */
static int list_open(struct acn_nl *nl, const struct acn_opts *o, int *ifindex, struct acn_err *err)
{
	*ifindex = 0;
	if (!acn_has(o, ACN_K_NAME))
		return acn_nl_open(nl, &o->netns, NETLINK_ROUTE, err);
	return acn_link_open(nl, &o->netns, o->name, ifindex, err);
}

static int list_family(const struct acn_opts *o)
{
	return acn_has(o, ACN_K_FAMILY) ? (int)o->family : 0;
}

int acn_addr_list(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_nl nl;
	int ifindex, rc;

	rc = list_open(&nl, o, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_addr_put_all(&nl, list_family(o), ifindex, ctx->out, "addrs", ctx->err, o->name);
	acn_nl_close(&nl);
	return rc;
}

int acn_route_list(struct acn_ctx *ctx, const struct acn_opts *o)
{
	uint32_t table = acn_has(o, ACN_K_TABLE) ? o->table : RT_TABLE_MAIN;
	struct acn_nl nl;
	int ifindex, rc;

	rc = list_open(&nl, o, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_route_put_all(&nl, list_family(o), ifindex, table, ctx->out, "routes", ctx->err, o->name);
	acn_nl_close(&nl);
	return rc;
}
