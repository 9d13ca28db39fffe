// SPDX-License-Identifier: Apache-2.0
/*
 * rtnetlink policy tables: the attributes accelnet reads or sends, with the
 * size the kernel must give and the name used in errors. Attributes missing
 * here are skipped by the parser, never rejected.
 */
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "rtnl.h"

#define U8(n) { ACN_NLA_U8, 0, #n, NULL }
#define U32(n) { ACN_NLA_U32, 0, #n, NULL }
#define S32(n) { ACN_NLA_S32, 0, #n, NULL }
#define STR(n, max) { ACN_NLA_STRING, max, #n, NULL }
#define BIN(n, min) { ACN_NLA_BINARY, min, #n, NULL }
#define NEST(n, pol) { ACN_NLA_NEST, 0, #n, pol }

static const struct acn_nl_policy macvlan_attrs[IFLA_MACVLAN_MAX + 1] = {
	[IFLA_MACVLAN_MODE] = U32(IFLA_MACVLAN_MODE),
	[IFLA_MACVLAN_FLAGS] = { ACN_NLA_U16, 0, "IFLA_MACVLAN_FLAGS", NULL },
	[IFLA_MACVLAN_BC_QUEUE_LEN] = U32(IFLA_MACVLAN_BC_QUEUE_LEN),
	[IFLA_MACVLAN_BC_QUEUE_LEN_USED] = U32(IFLA_MACVLAN_BC_QUEUE_LEN_USED),
};
const struct acn_nl_policy_set acn_ifla_macvlan_policy = { IFLA_MACVLAN_MAX, macvlan_attrs };

static const struct acn_nl_policy info_attrs[IFLA_INFO_MAX + 1] = {
	[IFLA_INFO_KIND] = STR(IFLA_INFO_KIND, 64),
	/* The data nest depends on the kind; macvlan is the one we send. */
	[IFLA_INFO_DATA] = NEST(IFLA_INFO_DATA, &acn_ifla_macvlan_policy),
	[IFLA_INFO_SLAVE_KIND] = STR(IFLA_INFO_SLAVE_KIND, 64),
};
const struct acn_nl_policy_set acn_ifla_info_policy = { IFLA_INFO_MAX, info_attrs };

static const struct acn_nl_policy vf_attrs[IFLA_VF_MAX + 1] = {
	[IFLA_VF_MAC] = BIN(IFLA_VF_MAC, sizeof(struct ifla_vf_mac)),
	[IFLA_VF_VLAN] = BIN(IFLA_VF_VLAN, sizeof(struct ifla_vf_vlan)),
	[IFLA_VF_VLAN_LIST] = { ACN_NLA_NEST, 0, "IFLA_VF_VLAN_LIST", NULL },
	[IFLA_VF_SPOOFCHK] = BIN(IFLA_VF_SPOOFCHK, sizeof(struct ifla_vf_spoofchk)),
	[IFLA_VF_LINK_STATE] = BIN(IFLA_VF_LINK_STATE, sizeof(struct ifla_vf_link_state)),
	[IFLA_VF_RATE] = BIN(IFLA_VF_RATE, sizeof(struct ifla_vf_rate)),
	[IFLA_VF_TRUST] = BIN(IFLA_VF_TRUST, sizeof(struct ifla_vf_trust)),
};
const struct acn_nl_policy_set acn_ifla_vf_policy = { IFLA_VF_MAX, vf_attrs };

static const struct acn_nl_policy ifla_attrs[IFLA_MAX + 1] = {
	[IFLA_ADDRESS] = BIN(IFLA_ADDRESS, 0),
	[IFLA_BROADCAST] = BIN(IFLA_BROADCAST, 0),
	[IFLA_IFNAME] = STR(IFLA_IFNAME, IFNAMSIZ),
	[IFLA_MTU] = U32(IFLA_MTU),
	[IFLA_LINK] = U32(IFLA_LINK),
	[IFLA_MASTER] = U32(IFLA_MASTER),
	[IFLA_TXQLEN] = U32(IFLA_TXQLEN),
	[IFLA_OPERSTATE] = U8(IFLA_OPERSTATE),
	[IFLA_LINKINFO] = NEST(IFLA_LINKINFO, &acn_ifla_info_policy),
	[IFLA_NET_NS_PID] = U32(IFLA_NET_NS_PID),
	[IFLA_NUM_VF] = U32(IFLA_NUM_VF),
	[IFLA_VFINFO_LIST] = { ACN_NLA_NEST, 0, "IFLA_VFINFO_LIST", NULL },
	[IFLA_NET_NS_FD] = U32(IFLA_NET_NS_FD),
	[IFLA_EXT_MASK] = U32(IFLA_EXT_MASK),
	[IFLA_CARRIER] = U8(IFLA_CARRIER),
	[IFLA_LINK_NETNSID] = S32(IFLA_LINK_NETNSID),
	[IFLA_MIN_MTU] = U32(IFLA_MIN_MTU),
	[IFLA_MAX_MTU] = U32(IFLA_MAX_MTU),
	[IFLA_PROP_LIST] = { ACN_NLA_NEST, 0, "IFLA_PROP_LIST", NULL },
	[IFLA_ALT_IFNAME] = STR(IFLA_ALT_IFNAME, ALTIFNAMSIZ),
	[IFLA_PERM_ADDRESS] = BIN(IFLA_PERM_ADDRESS, 0),
	[IFLA_PARENT_DEV_NAME] = STR(IFLA_PARENT_DEV_NAME, 0),
	[IFLA_PARENT_DEV_BUS_NAME] = STR(IFLA_PARENT_DEV_BUS_NAME, 0),
};
const struct acn_nl_policy_set acn_ifla_policy = { IFLA_MAX, ifla_attrs };

static const struct acn_nl_policy ifa_attrs[IFA_MAX + 1] = {
	[IFA_ADDRESS] = BIN(IFA_ADDRESS, 4),
	[IFA_LOCAL] = BIN(IFA_LOCAL, 4),
	[IFA_LABEL] = STR(IFA_LABEL, IFNAMSIZ),
	[IFA_BROADCAST] = BIN(IFA_BROADCAST, 4),
	[IFA_FLAGS] = U32(IFA_FLAGS),
};
const struct acn_nl_policy_set acn_ifa_policy = { IFA_MAX, ifa_attrs };

static const struct acn_nl_policy rta_attrs[RTA_MAX + 1] = {
	[RTA_DST] = BIN(RTA_DST, 4),
	[RTA_SRC] = BIN(RTA_SRC, 4),
	[RTA_OIF] = U32(RTA_OIF),
	[RTA_GATEWAY] = BIN(RTA_GATEWAY, 4),
	[RTA_PRIORITY] = U32(RTA_PRIORITY),
	[RTA_PREFSRC] = BIN(RTA_PREFSRC, 4),
	[RTA_TABLE] = U32(RTA_TABLE),
	[RTA_MULTIPATH] = BIN(RTA_MULTIPATH, 0),
};
const struct acn_nl_policy_set acn_rta_policy = { RTA_MAX, rta_attrs };
