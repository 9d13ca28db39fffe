/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rtnetlink objects: policy tables, look-ups, and the JSON form of links,
 * addresses and routes (PROTOCOL.md "Link object"). The *_to_json parsers
 * take a single message so the C tests can feed them recorded blobs.
 */
#ifndef ACN_RTNL_H
#define ACN_RTNL_H

#include "nl.h"
#include "reply.h"

extern const struct acn_nl_policy_set acn_ifla_policy;
extern const struct acn_nl_policy_set acn_ifla_info_policy;
extern const struct acn_nl_policy_set acn_ifla_macvlan_policy;
extern const struct acn_nl_policy_set acn_ifla_vf_policy;
extern const struct acn_nl_policy_set acn_ifa_policy;
extern const struct acn_nl_policy_set acn_rta_policy;

/* Resolves an interface name to its index (RTM_GETLINK by IFLA_IFNAME): ENODEV when missing. */
int acn_link_index(struct acn_nl *nl, const char *name, int *ifindex, struct acn_err *err);
/* Opens an rtnetlink socket inside @ns and resolves @name there; on failure nothing is left open. */
int acn_link_open(struct acn_nl *nl, const struct acn_netns *ns, const char *name, int *ifindex,
		  struct acn_err *err);
/* Starts a @type request (AF_UNSPEC) on the link with @ifindex (0: the link is named by an attribute). */
struct ifinfomsg *acn_link_msg_init(struct acn_nlmsg *m, uint16_t type, int ifindex);
/* Writes @key: LINK for the link with @ifindex (or @name when ifindex is 0); *found gets its index. */
int acn_link_put(struct acn_nl *nl, int ifindex, const char *name, bool vfs, struct acn_json *out, const char *key,
		 int *found, struct acn_err *err);
/* Writes @key: [LINK...] for every link. */
int acn_link_put_all(struct acn_nl *nl, struct acn_json *out, const char *key, struct acn_err *err);
/* Writes @key: [ADDR...]; family 0 and ifindex 0 mean "any". */
int acn_addr_put_all(struct acn_nl *nl, int family, int ifindex, struct acn_json *out, const char *key,
		     struct acn_err *err, const char *object);
/* Writes @key: [ROUTE...] of @table; family 0 and ifindex 0 mean "any". */
int acn_route_put_all(struct acn_nl *nl, int family, int ifindex, uint32_t table, struct acn_json *out,
		      const char *key, struct acn_err *err, const char *object);

/* Single-message parsers. Return 0, 1 (message filtered out) or -EPROTO with *bad set. */
int acn_link_to_json(const struct nlmsghdr *nlh, struct acn_json *out, const char *key, const char **bad);
int acn_vfs_to_json(const struct nlattr *vfinfo_list, struct acn_json *out, const char **bad);
/* Writes @key: VF for VF number @vf; 1 when the list has no such VF. *rate gets its rates. */
struct ifla_vf_rate;
int acn_vf_to_json(const struct nlattr *vfinfo_list, uint32_t vf, struct acn_json *out, const char *key,
		   struct ifla_vf_rate *rate, const char **bad);
int acn_addr_to_json(const struct nlmsghdr *nlh, int family, int ifindex, struct acn_json *out, const char **bad);
int acn_route_to_json(const struct nlmsghdr *nlh, int family, int ifindex, uint32_t table, struct acn_json *out,
		      const char **bad);

/* 4 or 6 for AF_INET / AF_INET6, 0 otherwise. */
int acn_family_number(int af);
/* "site", "link", "host", "nowhere" or the number; RT_SCOPE_UNIVERSE is @universe (iproute2 says "global" for
 * addresses, "universe" for routes). */
const char *acn_scope_name(unsigned char scope, const char *universe, char *buf, size_t len);

/* What an address or route dump keeps; 0 means "any". */
struct acn_rtnl_filter {
	int family, ifindex;
	uint32_t table;
};
/* A single-message parser as above: 0, 1 (filtered out) or -EPROTO with *bad set. */
typedef int (*acn_rtnl_parse_fn)(const struct nlmsghdr *nlh, const struct acn_rtnl_filter *f, struct acn_json *out,
				 const char **bad);
/* Dumps @m (op @dump_op) into @key: [...], one element per message @parse keeps; a parse error fails as @parse_op. */
int acn_rtnl_dump_put(struct acn_nl *nl, struct acn_nlmsg *m, acn_rtnl_parse_fn parse, const struct acn_rtnl_filter *f,
		      struct acn_json *out, const char *key, struct acn_err *err, const char *dump_op,
		      const char *parse_op, const char *object);

#endif
