// SPDX-License-Identifier: Apache-2.0
/*
 * peer-cred: the credentials (SO_PEERCRED) of the process at the other end of
 * a connected Unix socket the caller passed as an inherited descriptor (fd=N).
 * The CNI server asks this for every connection: Node cannot read
 * SO_PEERCRED, and only the helper makes such syscalls. The kernel records
 * the peer's pid/uid/gid at connect(), so a caller cannot forge them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>

#include "acn.h"
#include "reply.h"

int acn_peer_cred(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct ucred cred;
	socklen_t len = sizeof(int);
	int domain = 0;

	if (getsockopt((int)o->fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return acn_fail(ctx->err, -errno, "getsockopt(SO_DOMAIN)", o->raw[ACN_K_FD]);
	if (domain != AF_UNIX)
		return acn_fail(ctx->err, -EAFNOSUPPORT, "getsockopt(SO_DOMAIN)", o->raw[ACN_K_FD]);
	len = sizeof(cred);
	if (getsockopt((int)o->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return acn_fail(ctx->err, -errno, "getsockopt(SO_PEERCRED)", o->raw[ACN_K_FD]);
	acn_json_obj_open(ctx->out, "peer");
	acn_json_int(ctx->out, "pid", cred.pid);
	acn_json_uint(ctx->out, "uid", cred.uid);
	acn_json_uint(ctx->out, "gid", cred.gid);
	acn_json_obj_close(ctx->out);
	return 0;
}
