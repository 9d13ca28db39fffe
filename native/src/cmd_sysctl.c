// SPDX-License-Identifier: Apache-2.0
/*
 * sysctl-set: per-interface arp_notify (net/ipv4/conf/IF) and ndisc_notify
 * (net/ipv6/conf/IF). The file is opened while inside the netns, because
 * /proc/sys/net resolves to the netns of the opener; read and write happen
 * back in the helper's own netns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acn.h"
#include "netns.h"
#include "reply.h"

struct sysctl_def {
	const char *dir;
	const char *file;
	const char *op_open, *op_read, *op_write;
};

static const struct sysctl_def sysctls[] = {
	[ACN_SYSCTL_ARP_NOTIFY] = { "ipv4", "arp_notify", "open arp_notify", "read arp_notify", "write arp_notify" },
	[ACN_SYSCTL_NDISC_NOTIFY] = { "ipv6", "ndisc_notify", "open ndisc_notify", "read ndisc_notify",
				      "write ndisc_notify" },
};

int acn_sysctl_check(const char *cmd, const struct acn_opts *o, struct acn_err *err)
{
	/* "all" and "default" are valid interface names but would change every interface. */
	if (strcmp(o->name, "all") == 0 || strcmp(o->name, "default") == 0) {
		acn_fail(err, -EINVAL, "parse", "name");
		snprintf(err->message, sizeof(err->message),
			 "%s: invalid name \"%s\": only per-interface settings can be changed", cmd, o->name);
		return -EINVAL;
	}
	return 0;
}

int acn_sysctl_set(struct acn_ctx *ctx, const struct acn_opts *o)
{
	const struct sysctl_def *d = &sysctls[o->key];
	char path[128], buf[32];
	ssize_t n;
	int fd, rc, previous;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", d->dir, o->name, d->file);
	rc = acn_netns_open_file(&o->netns, path, O_RDWR, &fd, ctx->err, d->op_open, o->name);
	if (rc < 0)
		return rc;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		rc = acn_fail(ctx->err, -errno, d->op_read, o->name);
		goto close_fd;
	}
	buf[n] = '\0';
	if (sscanf(buf, "%d", &previous) != 1) {
		rc = acn_fail(ctx->err, -EPROTO, d->op_read, o->name);
		goto close_fd;
	}
	n = pwrite(fd, o->value ? "1\n" : "0\n", 2, 0);
	if (n != 2) {
		rc = acn_fail(ctx->err, n < 0 ? -errno : -EIO, d->op_write, o->name);
		goto close_fd;
	}
	acn_json_int(ctx->out, "previous", previous);
close_fd:
	close(fd);
	return rc;
}
