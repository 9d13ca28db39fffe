// SPDX-License-Identifier: Apache-2.0
/* Routes: RTM_GETROUTE dump and the JSON route object. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "rtnl.h"

static const char *protocol_name(unsigned char proto, char *buf, size_t len)
{
	switch (proto) {
	case RTPROT_UNSPEC:
		return "unspec";
	case RTPROT_REDIRECT:
		return "redirect";
	case RTPROT_KERNEL:
		return "kernel";
	case RTPROT_BOOT:
		return "boot";
	case RTPROT_STATIC:
		return "static";
	case RTPROT_RA:
		return "ra";
	case RTPROT_DHCP:
		return "dhcp";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

static int put_addr(struct acn_json *out, const char *key, int family, const struct nlattr *a, int prefixlen,
		    const char *name, const char **bad)
{
	static const unsigned char zero[16];
	char text[INET6_ADDRSTRLEN + 5];
	size_t alen = family == AF_INET ? 4 : 16, n;

	if (a && acn_attr_len(a) != alen) {
		*bad = name;
		return -EPROTO;
	}
	if (!a && prefixlen < 0) {
		acn_json_null(out, key);
		return 0;
	}
	inet_ntop(family, a ? acn_attr_data(a) : zero, text, INET6_ADDRSTRLEN);
	if (prefixlen >= 0) {
		n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "/%d", prefixlen);
	}
	acn_json_str(out, key, text);
	return 0;
}

int acn_route_to_json(const struct nlmsghdr *nlh, int family, int ifindex, uint32_t table, struct acn_json *out,
		      const char **bad)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *r = NLMSG_DATA(nlh);
	struct acn_json_mark mark;
	char buf[8];
	uint32_t rtable;
	int rc;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return 1;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*r))) {
		*bad = "header";
		return -EPROTO;
	}
	if (!acn_family_number(r->rtm_family) || (family && r->rtm_family != family) || (r->rtm_flags & RTM_F_CLONED))
		return 1;
	rc = acn_attr_parse_msg(nlh, sizeof(*r), &acn_rta_policy, tb, bad);
	if (rc < 0)
		return rc;
	rtable = tb[RTA_TABLE] ? acn_attr_u32(tb[RTA_TABLE]) : r->rtm_table;
	if (table && rtable != table)
		return 1;
	if (ifindex && (!tb[RTA_OIF] || (int)acn_attr_u32(tb[RTA_OIF]) != ifindex))
		return 1;

	mark = acn_json_mark(out);
	acn_json_obj_open(out, NULL);
	acn_json_int(out, "family", acn_family_number(r->rtm_family));
	rc = put_addr(out, "dst", r->rtm_family, tb[RTA_DST], r->rtm_dst_len, "RTA_DST", bad);
	if (rc == 0)
		rc = put_addr(out, "gateway", r->rtm_family, tb[RTA_GATEWAY], -1, "RTA_GATEWAY", bad);
	if (rc < 0) {
		acn_json_rewind(out, mark);
		return rc;
	}
	if (tb[RTA_OIF])
		acn_json_uint(out, "oif", acn_attr_u32(tb[RTA_OIF]));
	else
		acn_json_null(out, "oif");
	acn_json_uint(out, "table", rtable);
	acn_json_str(out, "scope", acn_scope_name(r->rtm_scope, "universe", buf, sizeof(buf)));
	acn_json_str(out, "protocol", protocol_name(r->rtm_protocol, buf, sizeof(buf)));
	/* IPv4 omits RTA_PRIORITY when it is 0: absent means metric 0, not unknown. */
	acn_json_uint(out, "metric", tb[RTA_PRIORITY] ? acn_attr_u32(tb[RTA_PRIORITY]) : 0);
	acn_json_obj_close(out);
	return 0;
}

static int route_parse(const struct nlmsghdr *nlh, const struct acn_rtnl_filter *f, struct acn_json *out,
		       const char **bad)
{
	return acn_route_to_json(nlh, f->family, f->ifindex, f->table, out, bad);
}

int acn_route_put_all(struct acn_nl *nl, int family, int ifindex, uint32_t table, struct acn_json *out,
		      const char *key, struct acn_err *err, const char *object)
{
	const struct acn_rtnl_filter f = { .family = family, .ifindex = ifindex, .table = table };
	struct acn_nlmsg m;
	struct rtmsg *r = acn_nlmsg_init(&m, RTM_GETROUTE, 0, sizeof(*r), &acn_rta_policy);

	r->rtm_family = (unsigned char)family;
	return acn_rtnl_dump_put(nl, &m, route_parse, &f, out, key, err, "RTM_GETROUTE", "parse RTM_NEWROUTE",
				 object);
}
