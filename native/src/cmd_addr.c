// SPDX-License-Identifier: Apache-2.0
/* addr-add / addr-del: RTM_NEWADDR (create, exclusive) and RTM_DELADDR on a named link. */
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "acn.h"
#include "rtnl.h"

static int addr_modify(struct acn_ctx *ctx, const struct acn_opts *o, uint16_t type, uint16_t flags,
		       const char *op)
{
	const struct acn_prefix *p = &o->addr;
	size_t alen = p->family == AF_INET ? 4 : 16;
	struct acn_nl nl;
	struct acn_nlmsg m;
	struct ifaddrmsg *ifa;
	int ifindex, rc;

	rc = acn_link_open(&nl, &o->netns, o->name, &ifindex, ctx->err);
	if (rc < 0)
		return rc;
	ifa = acn_nlmsg_init(&m, type, flags, sizeof(*ifa), &acn_ifa_policy);
	ifa->ifa_family = (unsigned char)p->family;
	ifa->ifa_prefixlen = (unsigned char)p->prefixlen;
	ifa->ifa_index = (unsigned int)ifindex;
	acn_attr_put(&m, IFA_LOCAL, alen, p->addr);
	acn_attr_put(&m, IFA_ADDRESS, alen, p->addr);
	/* Like the reference plugins (vishvananda/netlink), IPv4 gets its broadcast address. */
	if (type == RTM_NEWADDR && p->family == AF_INET && p->prefixlen < 31) {
		unsigned char brd[4];
		unsigned int bit;

		memcpy(brd, p->addr, 4);
		for (bit = p->prefixlen; bit < 32; bit++)
			brd[bit / 8] |= (unsigned char)(0x80 >> (bit % 8));
		acn_attr_put(&m, IFA_BROADCAST, 4, brd);
	}
	rc = acn_nl_talk(&nl, &m, NULL, NULL, ctx->err, op, o->raw[ACN_K_ADDR]);
	acn_nl_close(&nl);
	return rc;
}

int acn_addr_add(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return addr_modify(ctx, o, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, "RTM_NEWADDR");
}

int acn_addr_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	return addr_modify(ctx, o, RTM_DELADDR, 0, "RTM_DELADDR");
}
