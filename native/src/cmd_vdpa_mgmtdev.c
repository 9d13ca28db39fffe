// SPDX-License-Identifier: Apache-2.0
/*
 * vdpa-mgmtdev-list: the vdpa management devices (VDPA_CMD_MGMTDEV_GET dump),
 * named as iproute2 names them ("pci/0000:00:02.1", or the device name alone
 * when the management device has no bus, like "vduse"), with the virtio
 * classes they create, their queue limit and their virtio features. A
 * kernel without the vdpa family has none.
 *
 * configAttrs would be the device attributes a management device accepts at
 * VDPA_CMD_DEV_NEW (its config_attr_mask), but no Linux release reports that
 * mask over netlink (6.12 has no attribute for it): the list is empty, and
 * the kernel's refusal of VDPA_CMD_DEV_NEW is the authority.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "reply.h"
#include "vdpa_nl.h"

/* Virtio device ids by name, as iproute2's vdpa tool prints the classes it knows. */
static const char *class_name(unsigned int id, char *buf, size_t len)
{
	switch (id) {
	case 1: /* VIRTIO_ID_NET */
		return "net";
	case 2: /* VIRTIO_ID_BLOCK */
		return "block";
	default:
		snprintf(buf, len, "virtio-id-%u", id);
		return buf;
	}
}

static void put_mgmtdev(struct acn_json *out, const struct acn_vdpa_mgmtdev *m)
{
	char name[sizeof(m->handle.bus) + sizeof(m->handle.dev) + 1], cls[24], hex[24];
	unsigned int id;

	snprintf(name, sizeof(name), "%s%s%s", m->handle.bus, m->handle.bus[0] ? "/" : "", m->handle.dev);
	acn_json_obj_open(out, NULL);
	acn_json_str(out, "name", name);
	acn_json_str(out, "bus", m->handle.bus[0] ? m->handle.bus : NULL);
	acn_json_str(out, "dev", m->handle.dev);
	acn_json_arr_open(out, "classes");
	for (id = 0; m->has_classes && id < 64; id++)
		if (m->classes & (UINT64_C(1) << id))
			acn_json_str(out, NULL, class_name(id, cls, sizeof(cls)));
	acn_json_arr_close(out);
	if (m->has_max_vqs)
		acn_json_uint(out, "maxVqs", m->max_vqs);
	else
		acn_json_null(out, "maxVqs");
	if (m->has_features) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, m->features);
		acn_json_str(out, "supportedFeatures", hex);
	} else {
		acn_json_null(out, "supportedFeatures");
	}
	acn_json_arr_open(out, "configAttrs");
	acn_json_arr_close(out);
	acn_json_obj_close(out);
}

int acn_vdpa_mgmtdev_list(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct acn_vdpa_mgmtdev_list list;
	struct acn_vdpa_conn c;
	size_t i;
	int rc;

	(void)o;
	rc = acn_vdpa_nl_open(&c, "", ctx->err);
	if (rc == -ENODEV) {
		acn_json_arr_open(ctx->out, "mgmtdevs");
		acn_json_arr_close(ctx->out);
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = acn_vdpa_nl_mgmtdevs(&c, &list, ctx->err);
	if (rc == 0) {
		acn_json_arr_open(ctx->out, "mgmtdevs");
		for (i = 0; i < list.n; i++)
			put_mgmtdev(ctx->out, &list.v[i]);
		acn_json_arr_close(ctx->out);
	}
	free(list.v);
	acn_vdpa_nl_close(&c);
	return rc;
}
