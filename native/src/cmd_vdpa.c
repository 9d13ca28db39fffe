// SPDX-License-Identifier: Apache-2.0
/*
 * vdpa devices: vdpa-list, vdpa-show, vdpa-bind, vdpa-config-set. The
 * management device, ids, MAC and MTU come from vdpa generic netlink; the
 * driver, char device and netdev from sysfs (/sys/bus/vdpa/devices/<name>).
 * A kernel without the vdpa family has no vdpa devices: vdpa-list answers
 * an empty list, the commands that name a device fail with ENODEV.
 * vdpa-bind away from vhost_vdpa refuses (EBUSY) a device whose char device
 * a workload holds: the unbind would block until it is closed (held.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "sysfs.h"
#include "vdpa_nl.h"

/* Writes "vdpa": VDPA for one device from both sources. */
int acn_vdpa_reply(struct acn_ctx *ctx, struct acn_vdpa_conn *c, const char *name)
{
	struct acn_vdpa_sys sys;
	struct acn_vdpa_nl nl;
	int rc;

	rc = acn_vdpa_nl_get(c, name, &nl, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_vdpa_sys_get(ctx->g, name, &sys, ctx->err);
	if (rc < 0)
		return rc;
	acn_vdpa_put(ctx->out, "vdpa", &sys, &nl);
	return 0;
}

int acn_vdpa_list(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_nl_list list;
	struct acn_vdpa_conn c;
	struct acn_vdpa_sys sys;
	size_t i;
	int rc;

	(void)o;
	rc = acn_vdpa_nl_open(&c, "", ctx->err);
	if (rc == -ENODEV) {
		acn_json_arr_open(ctx->out, "vdpa");
		acn_json_arr_close(ctx->out);
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = acn_vdpa_nl_list(&c, &list, ctx->err);
	if (rc < 0)
		goto close;
	acn_json_arr_open(ctx->out, "vdpa");
	for (i = 0; i < list.n; i++) {
		struct acn_err ignored;

		/* A device deleted between the dump and these look-ups keeps what the dump said. */
		(void)acn_vdpa_nl_config(&c, list.v[i].name, &list.v[i], &ignored);
		if (acn_vdpa_sys_get(ctx->g, list.v[i].name, &sys, &ignored) < 0) {
			memset(&sys, 0, sizeof(sys));
			memcpy(sys.name, list.v[i].name, sizeof(sys.name));
		}
		acn_vdpa_put(ctx->out, NULL, &sys, &list.v[i]);
	}
	acn_json_arr_close(ctx->out);
	free(list.v);
close:
	acn_vdpa_nl_close(&c);
	return rc;
}

int acn_vdpa_show(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_conn c;
	int rc;

	rc = acn_vdpa_nl_open(&c, o->dev, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_vdpa_reply(ctx, &c, o->dev);
	acn_vdpa_nl_close(&c);
	return rc;
}

int acn_vdpa_bind(struct acn_ctx *ctx, const struct acn_opts *o)
{
	const char *driver = o->vdpa_driver == ACN_VDPA_VIRTIO ? "virtio_vdpa" : "vhost_vdpa";
	struct acn_vdpa_conn c;
	int rc;

	rc = acn_vdpa_nl_open(&c, o->dev, ctx->err);
	if (rc < 0)
		return rc;
	/* Only a move away from vhost_vdpa unbinds it; a workload holding its char device would block that. */
	if (o->vdpa_driver != ACN_VDPA_VHOST)
		rc = acn_vhost_vdpa_check_released(ctx->g, o->dev, ctx->err);
	if (rc == 0)
		rc = acn_sysfs_bind(ctx->g, "vdpa", o->dev, driver, ctx->err);
	if (rc == 0)
		rc = acn_vdpa_reply(ctx, &c, o->dev);
	acn_vdpa_nl_close(&c);
	return rc;
}

int acn_vdpa_config_set(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_conn c;
	int rc;

	rc = acn_vdpa_nl_open(&c, o->dev, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_vdpa_nl_set_mac(&c, o->dev, o->mac, ctx->err);
	if (rc == 0)
		rc = acn_vdpa_reply(ctx, &c, o->dev);
	acn_vdpa_nl_close(&c);
	return rc;
}
