// SPDX-License-Identifier: Apache-2.0
/*
 * vhost-vdpa-info: the vhost-vdpa char device of a vdpa device bound to
 * vhost_vdpa (looked up in sysfs each time: minors are reused), opened
 * briefly for VHOST_VDPA_GET_DEVICE_ID, VHOST_GET_FEATURES,
 * VHOST_VDPA_GET_STATUS and VHOST_VDPA_GET_CONFIG (the virtio_net_config
 * head: mac, status, max_virtqueue_pairs, mtu; little endian under
 * VIRTIO_F_VERSION_1). The device allows one opener: EBUSY means a workload
 * holds it. Opening resets the device, so this runs before the workload.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev.h"
#include "reply.h"
#include "validate.h"

/* The config fields we read: offsetof(mtu) + 2 bytes. */
#define NET_CONFIG_HEAD (offsetof(struct virtio_net_config, mtu) + sizeof(uint16_t))

struct vhost_info {
	uint32_t device_id, config_size;
	uint64_t features;
	uint8_t status;
	struct virtio_net_config cfg;
	size_t cfg_len;
};

static int query(int fd, struct vhost_info *v, const char **op)
{
	struct {
		struct vhost_vdpa_config hdr;
		unsigned char buf[NET_CONFIG_HEAD];
	} cfg;

	*op = "VHOST_VDPA_GET_DEVICE_ID";
	if (ioctl(fd, VHOST_VDPA_GET_DEVICE_ID, &v->device_id) < 0)
		return -errno;
	*op = "VHOST_GET_FEATURES";
	if (ioctl(fd, VHOST_GET_FEATURES, &v->features) < 0)
		return -errno;
	*op = "VHOST_VDPA_GET_STATUS";
	if (ioctl(fd, VHOST_VDPA_GET_STATUS, &v->status) < 0)
		return -errno;
	*op = "VHOST_VDPA_GET_CONFIG_SIZE";
	if (ioctl(fd, VHOST_VDPA_GET_CONFIG_SIZE, &v->config_size) < 0)
		return -errno;
	v->cfg_len = v->config_size < NET_CONFIG_HEAD ? v->config_size : NET_CONFIG_HEAD;
	memset(&cfg, 0, sizeof(cfg));
	cfg.hdr.off = 0;
	cfg.hdr.len = (uint32_t)v->cfg_len;
	*op = "VHOST_VDPA_GET_CONFIG";
	if (v->cfg_len && ioctl(fd, VHOST_VDPA_GET_CONFIG, &cfg) < 0)
		return -errno;
	memset(&v->cfg, 0, sizeof(v->cfg));
	memcpy(&v->cfg, cfg.buf, v->cfg_len);
	return 0;
}

/* A config field, when the feature that defines it is offered and the config is long enough. */
static bool field(const struct vhost_info *v, unsigned int feature, size_t end)
{
	return (v->features & (UINT64_C(1) << feature)) && v->cfg_len >= end;
}

static void put_u16_field(struct acn_json *out, const char *key, const struct vhost_info *v, unsigned int feature,
			  size_t off, uint16_t raw)
{
	if (field(v, feature, off + 2))
		acn_json_uint(out, key, le16toh(raw));
	else
		acn_json_null(out, key);
}

static void put_info(struct acn_json *out, const struct vhost_info *v, const char *path)
{
	char buf[24];

	acn_json_str(out, "path", path);
	acn_json_uint(out, "deviceId", v->device_id);
	/* u64: as a decimal string, because JSON numbers lose bits above 2^53 in JavaScript. */
	snprintf(buf, sizeof(buf), "%" PRIu64, v->features);
	acn_json_str(out, "features", buf);
	acn_json_uint(out, "status", v->status);
	if (field(v, VIRTIO_NET_F_MAC, 6)) {
		acn_mac_str(v->cfg.mac, 6, buf, sizeof(buf));
		acn_json_str(out, "mac", buf);
	} else {
		acn_json_null(out, "mac");
	}
	put_u16_field(out, "mtu", v, VIRTIO_NET_F_MTU, offsetof(struct virtio_net_config, mtu), v->cfg.mtu);
	put_u16_field(out, "netStatus", v, VIRTIO_NET_F_STATUS, offsetof(struct virtio_net_config, status),
		      v->cfg.status);
	put_u16_field(out, "maxVirtqueuePairs", v, VIRTIO_NET_F_MQ,
		      offsetof(struct virtio_net_config, max_virtqueue_pairs), v->cfg.max_virtqueue_pairs);
}

int acn_vhost_vdpa_info(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct vhost_info v;
	struct acn_vdpa_sys sys;
	const char *op = "open";
	int fd, rc;

	rc = acn_vdpa_sys_get(ctx->g, o->dev, &sys, ctx->err);
	if (rc < 0)
		return rc;
	if (!sys.chardev[0]) {
		rc = acn_fail(ctx->err, -ENODEV, "lookup vhost-vdpa", o->dev);
		snprintf(ctx->err->message, sizeof(ctx->err->message),
			 "%s has no vhost-vdpa char device (driver %s, not vhost_vdpa)", o->dev,
			 sys.driver[0] ? sys.driver : "none");
		return rc;
	}
	fd = open(sys.chardev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return acn_fail(ctx->err, -errno, "open vhost-vdpa", o->dev);
	rc = query(fd, &v, &op);
	close(fd);
	if (rc < 0)
		return acn_fail(ctx->err, rc, op, o->dev);
	put_info(ctx->out, &v, sys.chardev);
	return 0;
}
