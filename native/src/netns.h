/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces by path. A namespace is opened and validated while the
 * arguments are parsed; it is entered only for the moment it takes to create
 * a socket or open a file there, then the helper returns to its own netns.
 */
#ifndef ACN_NETNS_H
#define ACN_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "acn.h"

/* Set when the helper could not return to its own netns: main stops with exit 3. */
extern bool acn_netns_lost;

/* "mount", "pid"... for an NS_GET_NSTYPE value that is not CLONE_NEWNET ("non-network" otherwise). */
const char *acn_ns_type_name(int type);
/* Validates @path (absolute, no "..", exists, a network namespace) and keeps it open. */
int acn_netns_open(const char *path, struct acn_netns *ns, char *why, size_t whylen);
void acn_netns_close(struct acn_netns *ns);
/* Creates a socket inside @ns (NULL or fd -1: the helper's own netns). */
int acn_netns_socket(const struct acn_netns *ns, int domain, int type, int protocol, int *fd,
		     struct acn_err *err);
/* Opens @file inside @ns, so /proc/sys/net resolves to that netns. */
int acn_netns_open_file(const struct acn_netns *ns, const char *file, int flags, int *fd, struct acn_err *err,
			const char *op, const char *object);
/*
 * Creates a new network namespace and bind-mounts it onto @file (an existing
 * empty file), then returns to the helper's own netns; @inode is the new
 * namespace's. On failure @file is not mounted (the caller removes it), and
 * acn_netns_lost tells whether the helper is back in its own netns.
 */
int acn_netns_new_at(const char *file, ino_t *inode, struct acn_err *err);
void acn_netns_fini(void);

#endif
