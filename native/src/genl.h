/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Generic netlink on top of nl.h: a family is resolved by name through
 * CTRL_CMD_GETFAMILY; requests are then ordinary acn_nlmsg messages whose
 * type is the family id and whose family header is struct genlmsghdr.
 */
#ifndef ACN_GENL_H
#define ACN_GENL_H

#include <linux/genetlink.h>

#include "nl.h"

/* The id of family @name: ENOENT (from the kernel) when no such family is registered. */
int acn_genl_family_id(struct acn_nl *nl, const char *name, uint16_t *id, struct acn_err *err);
/* Starts a request for @family with command @cmd and version @version. */
void acn_genl_init(struct acn_nlmsg *m, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags,
		   const struct acn_nl_policy_set *policy);

#endif
