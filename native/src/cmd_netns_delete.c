// SPDX-License-Identifier: Apache-2.0
/*
 * netns-delete: unmounts and removes /run/netns/<name> (`ip netns del`).
 * Only an nsfs mount of a network namespace is touched: anything else at the
 * path (a regular file, another namespace type) is refused with EINVAL
 * before umount2, so the command can never unmount something else. A path
 * that does not exist fails with ENOENT, which DEL treats as done.
 *
 * One regular file is removed without an unmount: the file netns-create (and
 * `ip netns add`) makes before it binds the netns onto it, empty, mode 0000,
 * root's. A helper killed between the two leaves it behind, and only DEL or GC
 * can clear it (a later netns-create of the same name fails with EEXIST).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "acn.h"
#include "netns.h"

static int refuse(struct acn_err *err, const char *path, const char *what)
{
	acn_fail(err, -EINVAL, "verify netns", path);
	snprintf(err->message, sizeof(err->message), "%s is %s, not a network namespace mount; not unmounting it",
		 path, what);
	return -EINVAL;
}

/* Exactly what netns-create leaves when it dies between its open(O_CREAT, 0) and its bind mount. */
static bool unmounted_netns_file(const struct stat *st, const struct statfs *fs)
{
	return fs->f_type != NSFS_MAGIC && S_ISREG(st->st_mode) && (st->st_mode & 07777) == 0 && st->st_size == 0 &&
	       st->st_uid == 0 && st->st_nlink == 1;
}

/*
 * The path is a network namespace bound here (nsfs can only appear in the tree as a bind mount): 0.
 * The empty file of an interrupted netns-create: 1. Anything else: an error.
 */
static int verify_netns_mount(const char *path, struct acn_err *err)
{
	char what[64];
	struct statfs fs;
	struct stat st;
	int fd, type, rc = 0;

	if (lstat(path, &st) < 0)
		return acn_fail(err, -errno, "stat", path);
	/* Checked before open: opening a FIFO or a device node could block or have side effects. */
	if (!S_ISREG(st.st_mode))
		return refuse(err, path, S_ISDIR(st.st_mode) ? "a directory" : S_ISLNK(st.st_mode) ? "a symlink"
												  : "a special file");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return acn_fail(err, -errno, "open", path);
	if (fstatfs(fd, &fs) < 0) {
		rc = acn_fail(err, -errno, "statfs", path);
	} else if (fstat(fd, &st) < 0) {
		rc = acn_fail(err, -errno, "stat", path);
	} else if (unmounted_netns_file(&st, &fs)) {
		rc = 1;
	} else if (fs.f_type != NSFS_MAGIC) {
		rc = refuse(err, path, "a regular file");
	} else {
		type = ioctl(fd, NS_GET_NSTYPE);
		if (type < 0)
			rc = acn_fail(err, -errno, "NS_GET_NSTYPE", path);
		else if (type != CLONE_NEWNET) {
			snprintf(what, sizeof(what), "a %s namespace", acn_ns_type_name(type));
			rc = refuse(err, path, what);
		}
	}
	close(fd);
	return rc;
}

int acn_netns_delete(struct acn_ctx *ctx, const struct acn_opts *o)
{
	const char *path = o->netns_file;
	int rc;

	rc = verify_netns_mount(path, ctx->err);
	if (rc < 0)
		return rc;
	if (rc == 0 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return acn_fail(ctx->err, -errno, "umount2", path);
	if (unlink(path) < 0)
		return acn_fail(ctx->err, -errno, "unlink", path);
	return 0;
}
