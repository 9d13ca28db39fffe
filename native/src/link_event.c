// SPDX-License-Identifier: Apache-2.0
/*
 * rtnetlink link notifications for uevent-monitor (link_event.h): validated
 * with the rtnetlink policy tables, virtual links dropped, unchanged states
 * dropped.
 */
#include <errno.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "link_event.h"
#include "nl.h"
#include "reply.h"
#include "rtnl.h"
#include "validate.h"

static const char *operstate_name(uint8_t s)
{
	static const char *const names[] = {
		[IF_OPER_UNKNOWN] = "unknown",	       [IF_OPER_NOTPRESENT] = "notpresent", [IF_OPER_DOWN] = "down",
		[IF_OPER_LOWERLAYERDOWN] = "lowerlayerdown", [IF_OPER_TESTING] = "testing",	    [IF_OPER_DORMANT] = "dormant",
		[IF_OPER_UP] = "up",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "unknown";
}

/* The slot of @ifindex, or a free one for it (NULL when the table is full). */
static struct acn_link_seen *slot_of(struct acn_link_table *t, uint32_t ifindex, bool *found)
{
	size_t start = ifindex % ACN_LINK_TABLE_SIZE, i;
	struct acn_link_seen *free_slot = NULL;

	for (i = 0; i < ACN_LINK_TABLE_SIZE; i++) {
		struct acn_link_seen *s = &t->slot[(start + i) % ACN_LINK_TABLE_SIZE];

		if (s->ifindex == ifindex) {
			*found = true;
			return s;
		}
		/* Removal frees a slot (no tombstones), so a free slot does not end the search. */
		if (s->ifindex == 0 && free_slot == NULL)
			free_slot = s;
	}
	*found = false;
	return free_slot;
}

/* Virtual: loopback, or any link with a kind (veth, macvlan, bridge, vlan, tun...); VFs and PFs have none. */
static bool is_virtual(const struct ifinfomsg *ifi, const struct nlattr *const *tb)
{
	const struct nlattr *info[IFLA_INFO_MAX + 1];

	if (ifi->ifi_type == ARPHRD_LOOPBACK)
		return true;
	if (!tb[IFLA_LINKINFO])
		return false;
	if (acn_attr_parse(acn_attr_data(tb[IFLA_LINKINFO]), acn_attr_len(tb[IFLA_LINKINFO]), &acn_ifla_info_policy,
			   info, NULL) < 0)
		return true; /* a link info we cannot read is not a plain device */
	return info[IFLA_INFO_KIND] != NULL;
}

int acn_link_event_parse(const struct nlmsghdr *nlh, bool with_virtual, struct acn_link_table *t,
			 struct acn_link_event *ev)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	struct acn_link_seen *seen;
	bool found;
	int8_t carrier;
	uint8_t oper;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return 0;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return -EBADMSG;
	ifi = NLMSG_DATA(nlh);
	if (ifi->ifi_index <= 0)
		return -EBADMSG;
	if (acn_attr_parse_msg(nlh, sizeof(*ifi), &acn_ifla_policy, tb, NULL) < 0)
		return -EBADMSG;
	if (!with_virtual && is_virtual(ifi, tb))
		return 0;

	memset(ev, 0, sizeof(*ev));
	ev->ifindex = (uint32_t)ifi->ifi_index;
	if (tb[IFLA_IFNAME] && acn_ifname_valid(acn_attr_str(tb[IFLA_IFNAME])))
		snprintf(ev->interface, sizeof(ev->interface), "%s", acn_attr_str(tb[IFLA_IFNAME]));
	carrier = tb[IFLA_CARRIER] ? (int8_t)(acn_attr_u8(tb[IFLA_CARRIER]) != 0) : -1;
	oper = tb[IFLA_OPERSTATE] ? acn_attr_u8(tb[IFLA_OPERSTATE]) : IF_OPER_UNKNOWN;
	ev->carrier = carrier;
	ev->operstate = operstate_name(oper);
	seen = slot_of(t, ev->ifindex, &found);

	if (nlh->nlmsg_type == RTM_DELLINK) {
		ev->action = "remove";
		if (found)
			seen->ifindex = 0;
		return 1;
	}
	ev->action = "change";
	if (found && seen->carrier == carrier && seen->operstate == oper)
		return 0;
	if (seen) {
		seen->ifindex = ev->ifindex;
		seen->carrier = carrier;
		seen->operstate = oper;
	}
	return 1;
}

void acn_link_event_json(struct acn_json *j, const struct acn_link_event *ev)
{
	acn_json_obj_open(j, NULL);
	acn_json_obj_open(j, "link");
	acn_json_str(j, "action", ev->action);
	acn_json_uint(j, "ifindex", ev->ifindex);
	if (ev->interface[0])
		acn_json_str(j, "interface", ev->interface);
	else
		acn_json_null(j, "interface");
	if (ev->carrier < 0)
		acn_json_null(j, "carrier");
	else
		acn_json_bool(j, "carrier", ev->carrier == 1);
	acn_json_str(j, "operstate", ev->operstate);
	acn_json_obj_close(j);
	acn_json_obj_close(j);
}
