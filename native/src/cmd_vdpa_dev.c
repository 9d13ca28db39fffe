// SPDX-License-Identifier: Apache-2.0
/*
 * vdpa-dev-add and vdpa-dev-del: create a vdpa device on a management device
 * (VDPA_CMD_DEV_NEW, with the virtio-net MAC, MTU and queue pairs only when
 * given) and delete one (VDPA_CMD_DEV_DEL). The kernel's errno and ext-ack
 * text are the reply's (a management device that does not take an attribute
 * answers EOPNOTSUPP; an unknown device ENODEV). vdpa-dev-add replies with the
 * device read back as vdpa-show does. vdpa-dev-del refuses with EBUSY, before
 * sending anything, a device on vhost_vdpa whose char device a workload holds
 * (the kernel would block until it is closed).
 */
#include <string.h>

#include "dev.h"
#include "vdpa_nl.h"

int acn_vdpa_dev_add(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_dev_new d = {
		.name = o->dev,
		.mgmtdev = &o->mgmtdev,
		.has_mac = acn_has(o, ACN_K_MAC),
		.has_mtu = acn_has(o, ACN_K_MTU),
		.has_max_vqp = acn_has(o, ACN_K_MAX_VQP),
		.mtu = (uint16_t)o->mtu,         /* 68-65535 (args.c) */
		.max_vqp = (uint16_t)o->max_vqp, /* 1-0x8000 (args.c) */
	};
	struct acn_vdpa_conn c;
	int rc;

	memcpy(d.mac, o->mac, sizeof(d.mac));
	rc = acn_vdpa_nl_open(&c, o->dev, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_vdpa_nl_dev_new(&c, &d, ctx->err);
	if (rc == 0)
		rc = acn_vdpa_reply(ctx, &c, o->dev);
	acn_vdpa_nl_close(&c);
	return rc;
}

int acn_vdpa_dev_del(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_conn c;
	int rc;

	rc = acn_vdpa_nl_open(&c, o->dev, ctx->err);
	if (rc < 0)
		return rc;
	rc = acn_vhost_vdpa_check_released(ctx->g, o->dev, ctx->err);
	if (rc == 0)
		rc = acn_vdpa_nl_dev_del(&c, o->dev, ctx->err);
	acn_vdpa_nl_close(&c);
	return rc;
}
