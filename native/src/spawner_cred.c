// SPDX-License-Identifier: Apache-2.0
/*
 * peer-cred without an exec: the spawner's parent (the CNI server) names the accepted socket by its
 * descriptor number; pidfd_getfd() copies that descriptor out of the parent (the parent's pidfd was
 * opened at start, so a recycled pid can never be asked instead), SO_PEERCRED is read from the copy
 * and the copy is closed. The kernel recorded the peer at connect(), as for the `peer-cred` command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spawner.h"

int acn_sp_peer_cred(int parent_pidfd, int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof(int);
	int domain = 0, dup, rc = 0;

	dup = pidfd_getfd(parent_pidfd, fd, 0);
	if (dup < 0)
		return -errno;
	if (getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
		rc = -errno;
		goto close_dup;
	}
	if (domain != AF_UNIX) {
		rc = -EAFNOSUPPORT;
		goto close_dup;
	}
	len = sizeof(cred);
	if (getsockopt(dup, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		rc = -errno;
		goto close_dup;
	}
	*pid = cred.pid;
	*uid = cred.uid;
	*gid = cred.gid;
close_dup:
	close(dup);
	return rc;
}
