// SPDX-License-Identifier: Apache-2.0
/* netns-check: the path was opened and checked (a network namespace) during parsing. */
#include "acn.h"
#include "reply.h"

int acn_netns_check(struct acn_ctx *ctx, const struct acn_opts *o)
{
	acn_json_obj_open(ctx->out, "netns");
	acn_json_str(ctx->out, "path", o->path.path);
	acn_json_uint(ctx->out, "inode", (uint64_t)o->path.inode);
	acn_json_obj_close(ctx->out);
	return 0;
}
