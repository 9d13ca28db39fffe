// SPDX-License-Identifier: Apache-2.0
/* Addresses: RTM_GETADDR dump and the JSON address object. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>

#include "rtnl.h"

int acn_family_number(int af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

const char *acn_scope_name(unsigned char scope, const char *universe, char *buf, size_t len)
{
	switch (scope) {
	case RT_SCOPE_UNIVERSE:
		return universe;
	case RT_SCOPE_SITE:
		return "site";
	case RT_SCOPE_LINK:
		return "link";
	case RT_SCOPE_HOST:
		return "host";
	case RT_SCOPE_NOWHERE:
		return "nowhere";
	default:
		snprintf(buf, len, "%u", scope);
		return buf;
	}
}

int acn_addr_to_json(const struct nlmsghdr *nlh, int family, int ifindex, struct acn_json *out, const char **bad)
{
	const struct nlattr *tb[IFA_MAX + 1], *a;
	const struct ifaddrmsg *ifa = NLMSG_DATA(nlh);
	char text[INET6_ADDRSTRLEN], scope[8];
	size_t alen;
	int rc;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 1;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa))) {
		*bad = "header";
		return -EPROTO;
	}
	if (!acn_family_number(ifa->ifa_family) || (family && ifa->ifa_family != family) ||
	    (ifindex && (int)ifa->ifa_index != ifindex))
		return 1;
	rc = acn_attr_parse_msg(nlh, sizeof(*ifa), &acn_ifa_policy, tb, bad);
	if (rc < 0)
		return rc;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || acn_attr_len(a) != alen) {
		*bad = tb[IFA_LOCAL] ? "IFA_LOCAL" : "IFA_ADDRESS";
		return -EPROTO;
	}
	inet_ntop(ifa->ifa_family, acn_attr_data(a), text, sizeof(text));
	acn_json_obj_open(out, NULL);
	acn_json_int(out, "family", acn_family_number(ifa->ifa_family));
	acn_json_str(out, "address", text);
	acn_json_uint(out, "prefixlen", ifa->ifa_prefixlen);
	acn_json_uint(out, "ifindex", ifa->ifa_index);
	acn_json_str(out, "scope", acn_scope_name(ifa->ifa_scope, "global", scope, sizeof(scope)));
	acn_json_obj_close(out);
	return 0;
}

static int addr_parse(const struct nlmsghdr *nlh, const struct acn_rtnl_filter *f, struct acn_json *out,
		      const char **bad)
{
	return acn_addr_to_json(nlh, f->family, f->ifindex, out, bad);
}

int acn_addr_put_all(struct acn_nl *nl, int family, int ifindex, struct acn_json *out, const char *key,
		     struct acn_err *err, const char *object)
{
	const struct acn_rtnl_filter f = { .family = family, .ifindex = ifindex };
	struct acn_nlmsg m;
	struct ifaddrmsg *ifa = acn_nlmsg_init(&m, RTM_GETADDR, 0, sizeof(*ifa), &acn_ifa_policy);

	ifa->ifa_family = (unsigned char)family;
	return acn_rtnl_dump_put(nl, &m, addr_parse, &f, out, key, err, "RTM_GETADDR", "parse RTM_NEWADDR", object);
}
