// SPDX-License-Identifier: Apache-2.0
/* Address and route dumps: every kept message becomes one element of a JSON array. */
#include <stdio.h>

#include "rtnl.h"

struct dump_cb {
	acn_rtnl_parse_fn parse;
	const struct acn_rtnl_filter *filter;
	struct acn_json *out;
	struct acn_json_mark mark;
	struct acn_err *err;
	const char *parse_op, *object;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_cb *c = data;
	const char *bad = NULL;
	int rc = c->parse(nlh, c->filter, c->out, &bad);

	if (rc < 0) {
		rc = acn_fail(c->err, rc, c->parse_op, c->object);
		snprintf(c->err->attr, sizeof(c->err->attr), "%s", bad ? bad : "");
		return rc;
	}
	return 0;
}

/* An interrupted dump restarts: drop the elements written so far. */
static void dump_reset(void *data)
{
	struct dump_cb *c = data;

	acn_json_rewind(c->out, c->mark);
}

int acn_rtnl_dump_put(struct acn_nl *nl, struct acn_nlmsg *m, acn_rtnl_parse_fn parse, const struct acn_rtnl_filter *f,
		      struct acn_json *out, const char *key, struct acn_err *err, const char *dump_op,
		      const char *parse_op, const char *object)
{
	struct dump_cb c = { .parse = parse, .filter = f, .out = out, .err = err, .parse_op = parse_op,
			     .object = object };
	int rc;

	acn_json_arr_open(out, key);
	c.mark = acn_json_mark(out);
	rc = acn_nl_dump(nl, m, dump_cb, dump_reset, &c, err, dump_op, object);
	acn_json_arr_close(out);
	return rc;
}
