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

#endif
