/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One rtnetlink link notification (RTM_NEWLINK / RTM_DELLINK on RTNLGRP_LINK)
 * checked, filtered and turned into the uevent-monitor `link` line
 * (PROTOCOL.md "uevent-monitor"). Carrier and operstate changes raise no
 * uevent, so the device plugin needs these to see a PF losing carrier. The
 * kernel sends RTM_NEWLINK for many changes (a VF's MAC set on its PF, flags,
 * MTU): a table of the last carrier/operstate per ifindex keeps only the
 * changes. Pure functions: no I/O, so the parser is tested on built messages.
 */
#ifndef ACN_LINK_EVENT_H
#define ACN_LINK_EVENT_H

#include <linux/if.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>

struct acn_json;

/* Links whose state is remembered; past that, every notification of an untracked link is reported. */
#define ACN_LINK_TABLE_SIZE 8192

struct acn_link_seen {
	uint32_t ifindex; /* 0: free slot */
	int8_t carrier;   /* 0, 1, or -1 when the kernel did not say */
	uint8_t operstate;
};

struct acn_link_table {
	struct acn_link_seen slot[ACN_LINK_TABLE_SIZE];
};

struct acn_link_event {
	const char *action; /* "change" or "remove", string literals */
	uint32_t ifindex;
	char interface[IFNAMSIZ]; /* "" when absent or invalid */
	int8_t carrier;           /* -1: unknown */
	const char *operstate;    /* RFC 2863 name, string literal */
};

/*
 * Parses one netlink message. Returns 1 when it reports a carrier or operstate
 * change (or the removal) of a non-virtual link (any link with @with_virtual),
 * filled into @ev and remembered in @t; 0 when it is valid but not relevant
 * (another message type, a virtual link: loopback or one with a link kind such
 * as veth, macvlan, bridge; no change since the last one); -EBADMSG when it is
 * malformed (short header, attributes of the wrong size, ifindex 0).
 */
int acn_link_event_parse(const struct nlmsghdr *nlh, bool with_virtual, struct acn_link_table *t,
			 struct acn_link_event *ev);

/* Writes the event as one JSON object {"link":{...}} (without the newline). */
void acn_link_event_json(struct acn_json *j, const struct acn_link_event *ev);

#endif
