// SPDX-License-Identifier: Apache-2.0
/* VF settings as the PF reports them (IFLA_VFINFO_LIST, with RTEXT_FILTER_VF). */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <arpa/inet.h>
#include <string.h>

#include "rtnl.h"
#include "validate.h"

static const char *link_state_name(uint32_t s)
{
	switch (s) {
	case IFLA_VF_LINK_STATE_AUTO:
		return "auto";
	case IFLA_VF_LINK_STATE_ENABLE:
		return "enable";
	case IFLA_VF_LINK_STATE_DISABLE:
		return "disable";
	default:
		return NULL;
	}
}

/* spoofchk and trust are u32 settings; drivers without support report (u32)-1. */
static void put_setting(struct acn_json *out, const char *key, uint32_t setting)
{
	if (setting == 0 || setting == 1)
		acn_json_bool(out, key, setting == 1);
	else
		acn_json_null(out, key);
}

/* The 802.1ad protocol is only visible in IFLA_VF_VLAN_LIST's first entry. */
static const char *vlan_proto(const struct nlattr *list)
{
	const struct nlattr *a;

	if (!list)
		return "802.1q";
	acn_attr_for_each(a, acn_attr_data(list), acn_attr_len(list)) {
		struct ifla_vf_vlan_info info;

		if ((a->nla_type & NLA_TYPE_MASK) != IFLA_VF_VLAN_INFO || acn_attr_len(a) < sizeof(info))
			continue;
		memcpy(&info, acn_attr_data(a), sizeof(info));
		return ntohs(info.vlan_proto) == ETH_P_8021AD ? "802.1ad" : "802.1q";
	}
	return "802.1q";
}

static int vf_to_json(const struct nlattr *vfinfo, struct acn_json *out, const char *key, uint32_t want,
		      struct ifla_vf_rate *rate_out, const char **bad)
{
	const struct nlattr *tb[IFLA_VF_MAX + 1];
	struct ifla_vf_mac mac;
	struct ifla_vf_vlan vlan = { 0 };
	struct ifla_vf_spoofchk spoof = { .setting = (uint32_t)-1 };
	struct ifla_vf_trust trust = { .setting = (uint32_t)-1 };
	struct ifla_vf_link_state state = { .link_state = (uint32_t)-1 };
	struct ifla_vf_rate rate = { 0 };
	char buf[18];
	int rc;

	rc = acn_attr_parse(acn_attr_data(vfinfo), acn_attr_len(vfinfo), &acn_ifla_vf_policy, tb, bad);
	if (rc < 0)
		return rc;
	if (!tb[IFLA_VF_MAC]) {
		*bad = "IFLA_VF_MAC";
		return -EPROTO;
	}
	memcpy(&mac, acn_attr_data(tb[IFLA_VF_MAC]), sizeof(mac));
	if (want != UINT32_MAX && mac.vf != want)
		return 1;
	if (tb[IFLA_VF_VLAN])
		memcpy(&vlan, acn_attr_data(tb[IFLA_VF_VLAN]), sizeof(vlan));
	if (tb[IFLA_VF_SPOOFCHK])
		memcpy(&spoof, acn_attr_data(tb[IFLA_VF_SPOOFCHK]), sizeof(spoof));
	if (tb[IFLA_VF_TRUST])
		memcpy(&trust, acn_attr_data(tb[IFLA_VF_TRUST]), sizeof(trust));
	if (tb[IFLA_VF_LINK_STATE])
		memcpy(&state, acn_attr_data(tb[IFLA_VF_LINK_STATE]), sizeof(state));
	if (tb[IFLA_VF_RATE])
		memcpy(&rate, acn_attr_data(tb[IFLA_VF_RATE]), sizeof(rate));

	if (rate_out)
		*rate_out = rate;
	acn_json_obj_open(out, key);
	acn_json_uint(out, "vf", mac.vf);
	acn_mac_str(mac.mac, 6, buf, sizeof(buf));
	acn_json_str(out, "mac", buf);
	acn_json_uint(out, "vlan", vlan.vlan);
	acn_json_uint(out, "qos", vlan.qos);
	acn_json_str(out, "vlanProto", vlan_proto(tb[IFLA_VF_VLAN_LIST]));
	put_setting(out, "spoofchk", spoof.setting);
	put_setting(out, "trust", trust.setting);
	acn_json_str(out, "linkState", link_state_name(state.link_state));
	acn_json_uint(out, "minTxRate", rate.min_tx_rate);
	acn_json_uint(out, "maxTxRate", rate.max_tx_rate);
	acn_json_obj_close(out);
	return 0;
}

int acn_vfs_to_json(const struct nlattr *vfinfo_list, struct acn_json *out, const char **bad)
{
	const struct nlattr *a;
	int rc;

	acn_json_arr_open(out, "vfs");
	acn_attr_for_each(a, acn_attr_data(vfinfo_list), acn_attr_len(vfinfo_list)) {
		if ((a->nla_type & NLA_TYPE_MASK) != IFLA_VF_INFO)
			continue;
		rc = vf_to_json(a, out, NULL, UINT32_MAX, NULL, bad);
		if (rc < 0)
			return rc;
	}
	acn_json_arr_close(out);
	return 0;
}

int acn_vf_to_json(const struct nlattr *vfinfo_list, uint32_t vf, struct acn_json *out, const char *key,
		   struct ifla_vf_rate *rate, const char **bad)
{
	const struct nlattr *a;
	int rc;

	acn_attr_for_each(a, acn_attr_data(vfinfo_list), acn_attr_len(vfinfo_list)) {
		if ((a->nla_type & NLA_TYPE_MASK) != IFLA_VF_INFO)
			continue;
		rc = vf_to_json(a, out, key, vf, rate, bad);
		if (rc <= 0)
			return rc;
	}
	return 1;
}
