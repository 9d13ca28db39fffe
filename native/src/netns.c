// SPDX-License-Identifier: Apache-2.0
/* Opening, validating and briefly entering network namespaces. */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "validate.h"

bool acn_netns_lost;
static int self_fd = -1;

const char *acn_ns_type_name(int type)
{
	switch (type) {
	case CLONE_NEWNS:
		return "mount";
	case CLONE_NEWUTS:
		return "uts";
	case CLONE_NEWIPC:
		return "ipc";
	case CLONE_NEWUSER:
		return "user";
	case CLONE_NEWPID:
		return "pid";
	case CLONE_NEWCGROUP:
		return "cgroup";
	case CLONE_NEWTIME:
		return "time";
	default:
		return "non-network";
	}
}

int acn_netns_open(const char *path, struct acn_netns *ns, char *why, size_t whylen)
{
	struct stat st;
	int type, rc;

	ns->fd = -1;
	ns->path = path;
	if (path[0] != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return -EINVAL;
	}
	if (!acn_path_safe(path)) {
		snprintf(why, whylen, "must not contain \"..\" components");
		return -EINVAL;
	}
	/* stat first: opening a device node or FIFO could have side effects or block. */
	if (stat(path, &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s", rc == -ENOENT ? "does not exist" : strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "is not a namespace file");
		return -EINVAL;
	}
	ns->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (ns->fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s", rc == -ENOENT ? "does not exist" : strerror(-rc));
		return rc;
	}
	type = ioctl(ns->fd, NS_GET_NSTYPE);
	if (type < 0) {
		snprintf(why, whylen, "is not a namespace file");
		rc = -EINVAL;
		goto close_fd;
	}
	if (type != CLONE_NEWNET) {
		snprintf(why, whylen, "is a %s namespace, not a network namespace", acn_ns_type_name(type));
		rc = -EINVAL;
		goto close_fd;
	}
	if (fstat(ns->fd, &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s", strerror(-rc));
		goto close_fd;
	}
	ns->inode = st.st_ino;
	return 0;

close_fd:
	close(ns->fd);
	ns->fd = -1;
	return rc;
}

void acn_netns_close(struct acn_netns *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

/* Keeps the helper's own netns open, so every excursion can come back to it. */
static int self_save(struct acn_err *err)
{
	if (self_fd < 0) {
		self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self_fd < 0)
			return acn_fail(err, -errno, "open", "/proc/self/ns/net");
	}
	return 0;
}

static int netns_enter(const struct acn_netns *ns, struct acn_err *err)
{
	int rc = self_save(err);

	if (rc < 0)
		return rc;
	if (setns(ns->fd, CLONE_NEWNET) < 0)
		return acn_fail(err, -errno, "setns", ns->path);
	return 0;
}

static int netns_leave(struct acn_err *err)
{
	if (setns(self_fd, CLONE_NEWNET) < 0) {
		acn_netns_lost = true;
		return acn_fail(err, -errno, "setns", "/proc/self/ns/net");
	}
	return 0;
}

/* Makes one fd in the current netns; @ns is where that is (NULL: the helper's own), to name it in errors. */
typedef int (*netns_fd_fn)(const struct acn_netns *ns, const void *arg, int *fd, struct acn_err *err);

/* Runs @make inside @ns and comes back; the fd is closed when the helper cannot come back. */
static int netns_fd_at(const struct acn_netns *ns, netns_fd_fn make, const void *arg, int *fd,
		       struct acn_err *err)
{
	int rc;

	if (!ns || ns->fd < 0)
		return make(NULL, arg, fd, err);
	rc = netns_enter(ns, err);
	if (rc < 0)
		return rc;
	rc = make(ns, arg, fd, err);
	if (netns_leave(err) < 0) {
		rc = -err->code;
		goto close_fd;
	}
	return rc;

close_fd:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return rc;
}

struct socket_args {
	int domain, type, protocol;
};

static int make_socket(const struct acn_netns *ns, const void *arg, int *fd, struct acn_err *err)
{
	const struct socket_args *a = arg;

	*fd = socket(a->domain, a->type, a->protocol);
	return *fd < 0 ? acn_fail(err, -errno, "socket", ns ? ns->path : "") : 0;
}

int acn_netns_socket(const struct acn_netns *ns, int domain, int type, int protocol, int *fd,
		     struct acn_err *err)
{
	const struct socket_args a = { .domain = domain, .type = type, .protocol = protocol };

	return netns_fd_at(ns, make_socket, &a, fd, err);
}

struct open_args {
	const char *file, *op, *object;
	int flags;
};

static int make_file(const struct acn_netns *ns, const void *arg, int *fd, struct acn_err *err)
{
	const struct open_args *a = arg;

	(void)ns;
	*fd = open(a->file, a->flags | O_CLOEXEC);
	return *fd < 0 ? acn_fail(err, -errno, a->op, a->object) : 0;
}

int acn_netns_open_file(const struct acn_netns *ns, const char *file, int flags, int *fd, struct acn_err *err,
			const char *op, const char *object)
{
	const struct open_args a = { .file = file, .op = op, .object = object, .flags = flags };

	return netns_fd_at(ns, make_file, &a, fd, err);
}

int acn_netns_new_at(const char *file, ino_t *inode, struct acn_err *err)
{
	bool mounted = false;
	struct stat st;
	int rc = self_save(err);

	if (rc < 0)
		return rc;
	/* The helper is single-threaded: unshare moves only this thread, and setns below brings it back. */
	if (unshare(CLONE_NEWNET) < 0)
		return acn_fail(err, -errno, "unshare", file);
	if (mount("/proc/thread-self/ns/net", file, "none", MS_BIND, NULL) < 0) {
		rc = acn_fail(err, -errno, "mount MS_BIND", file);
	} else {
		mounted = true;
		if (stat(file, &st) < 0)
			rc = acn_fail(err, -errno, "stat", file);
		else
			*inode = st.st_ino;
	}
	if (netns_leave(err) < 0)
		rc = -err->code;
	/* Mounts do not depend on the netns: this works even when the helper could not go back. */
	if (rc < 0 && mounted && umount2(file, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		acn_trace("umount2 %s after a failed netns-create: %m", file);
	return rc;
}

void acn_netns_fini(void)
{
	if (self_fd >= 0)
		close(self_fd);
	self_fd = -1;
}
