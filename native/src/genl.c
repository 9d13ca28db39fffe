// SPDX-License-Identifier: Apache-2.0
/* Generic netlink: family look-up (CTRL_CMD_GETFAMILY) and request headers. See genl.h. */
#include "genl.h"

#include <errno.h>
#include <stdio.h>

static const struct acn_nl_policy ctrl_attrs[CTRL_ATTR_FAMILY_NAME + 1] = {
	[CTRL_ATTR_FAMILY_ID] = { ACN_NLA_U16, 0, "CTRL_ATTR_FAMILY_ID", NULL },
	[CTRL_ATTR_FAMILY_NAME] = { ACN_NLA_STRING, GENL_NAMSIZ, "CTRL_ATTR_FAMILY_NAME", NULL },
};
static const struct acn_nl_policy_set ctrl_policy = { CTRL_ATTR_FAMILY_NAME, ctrl_attrs };

struct family_cb {
	uint16_t id;
	struct acn_err *err;
	const char *name;
};

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_FAMILY_NAME + 1];
	struct family_cb *c = data;
	const char *bad = NULL;
	int rc;

	if (nlh->nlmsg_type != GENL_ID_CTRL)
		return 0;
	if (acn_attr_parse_msg(nlh, GENL_HDRLEN, &ctrl_policy, tb, &bad) < 0) {
		rc = acn_fail(c->err, -EPROTO, "parse CTRL_CMD_GETFAMILY", c->name);
		snprintf(c->err->attr, sizeof(c->err->attr), "%s", bad ? bad : "header");
		return rc;
	}
	if (tb[CTRL_ATTR_FAMILY_ID])
		c->id = acn_attr_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return 0;
}

void acn_genl_init(struct acn_nlmsg *m, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags,
		   const struct acn_nl_policy_set *policy)
{
	struct genlmsghdr *g = acn_nlmsg_init(m, family, flags, GENL_HDRLEN, policy);

	g->cmd = cmd;
	g->version = version;
}

int acn_genl_family_id(struct acn_nl *nl, const char *name, uint16_t *id, struct acn_err *err)
{
	struct family_cb c = { 0, err, name };
	struct acn_nlmsg m;
	int rc;

	acn_genl_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0, &ctrl_policy);
	acn_attr_put_strz(&m, CTRL_ATTR_FAMILY_NAME, name);
	rc = acn_nl_talk(nl, &m, family_cb, &c, err, "CTRL_CMD_GETFAMILY", name);
	if (rc < 0)
		return rc;
	if (c.id == 0)
		return acn_fail(err, -ENOENT, "CTRL_CMD_GETFAMILY", name);
	*id = c.id;
	return 0;
}
