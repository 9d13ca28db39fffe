// SPDX-License-Identifier: Apache-2.0
/*
 * netns-create: a new, empty network namespace bind-mounted at
 * /run/netns/<name>, as `ip netns add` makes it (iproute2 ipnetns.c): the
 * directory is a shared mount point so the mount propagates to other mount
 * namespaces, and the file is created with O_EXCL so a name that is taken
 * (someone else's netns) fails with EEXIST instead of being reused. The
 * helper's own netns is left as it was: it unshares, mounts and returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acn.h"
#include "netns.h"
#include "reply.h"

/* mkdir -m 0755 /run/netns, then make it a shared mount point (a bind onto itself when it is not one). */
static int run_dir_make_shared(struct acn_err *err)
{
	bool bound = false;

	if (mkdir(ACN_RUN_NETNS_DIR, 0755) == 0) {
		/* 0755 whatever the umask, as the directory `ip netns` makes. */
		if (chmod(ACN_RUN_NETNS_DIR, 0755) < 0)
			return acn_fail(err, -errno, "chmod", ACN_RUN_NETNS_DIR);
	} else if (errno != EEXIST) {
		return acn_fail(err, -errno, "mkdir", ACN_RUN_NETNS_DIR);
	}
	while (mount("", ACN_RUN_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		/* EINVAL: not a mount point yet. */
		if (errno != EINVAL || bound)
			return acn_fail(err, -errno, "mount MS_SHARED|MS_REC", ACN_RUN_NETNS_DIR);
		if (mount(ACN_RUN_NETNS_DIR, ACN_RUN_NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return acn_fail(err, -errno, "mount MS_BIND|MS_REC", ACN_RUN_NETNS_DIR);
		bound = true;
	}
	return 0;
}

int acn_netns_create(struct acn_ctx *ctx, const struct acn_opts *o)
{
	const char *path = o->netns_file;
	ino_t inode = 0;
	int fd, rc;

	rc = run_dir_make_shared(ctx->err);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return acn_fail(ctx->err, -errno, "open O_CREAT|O_EXCL", path);
	close(fd);

	rc = acn_netns_new_at(path, &inode, ctx->err);
	if (rc < 0) {
		if (unlink(path) < 0)
			acn_trace("unlink %s after a failed netns-create: %m", path);
		return rc;
	}
	acn_json_obj_open(ctx->out, "netns");
	acn_json_str(ctx->out, "path", path);
	acn_json_uint(ctx->out, "inode", (uint64_t)inode);
	acn_json_obj_close(ctx->out);
	return 0;
}
