// SPDX-License-Identifier: Apache-2.0
/*
 * The sysfs half of a vdpa device: <root>/bus/vdpa/devices/<name> gives the
 * bound driver, the vhost-vdpa-N child (vhost_vdpa; the char device minor is
 * looked up each time because minors are reused), the virtio-net netdev
 * (virtio_vdpa: virtioN/net/<ifname>) and the parent device, from which the
 * management device is named the way vdpa netlink names it ("pci/<addr>",
 * "vduse").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "sysfs.h"
#include "validate.h"

static bool is_vhost(const char *name)
{
	return strncmp(name, "vhost-vdpa-", 11) == 0 && name[11] >= '0' && name[11] <= '9';
}

static bool is_virtio(const char *name)
{
	return strncmp(name, "virtio", 6) == 0 && name[6] >= '0' && name[6] <= '9';
}

static void first_netdev(int dfd, struct acn_vdpa_sys *s)
{
	struct acn_names virtio, net;
	char sub[64];
	size_t i;

	if (acn_names_read(dfd, NULL, is_virtio, &virtio) < 0)
		return;
	for (i = 0; i < virtio.n && !s->netdev[0]; i++) {
		if (acn_path_fmt(sub, sizeof(sub), "%s/net", virtio.v[i]) < 0 || acn_names_read(dfd, sub, NULL, &net) < 0)
			continue;
		if (net.n > 0 && acn_ifname_valid(net.v[0]))
			snprintf(s->netdev, sizeof(s->netdev), "%s", net.v[0]);
		acn_names_free(&net);
	}
	acn_names_free(&virtio);
}

/* Names the management device from the device's parent directory. */
static void parent_of(const char *dev, struct acn_vdpa_sys *s)
{
	char *real = realpath(dev, NULL), *parent, *pname;

	if (!real)
		return;
	parent = dirname(real);
	pname = basename(parent);
	if (acn_pci_addr_valid(pname)) {
		snprintf(s->parent_pci, sizeof(s->parent_pci), "%s", pname);
		snprintf(s->mgmtdev, sizeof(s->mgmtdev), "pci/%s", pname);
	} else if (strstr(real, "/devices/virtual/vduse/")) {
		snprintf(s->mgmtdev, sizeof(s->mgmtdev), "vduse");
	} else {
		snprintf(s->mgmtdev, sizeof(s->mgmtdev), "%.63s", pname);
	}
	free(real);
}

static int fill(const struct acn_globals *g, const char *dev, const char *name, struct acn_vdpa_sys *s)
{
	struct acn_names vhost;
	int dfd;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	dfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (acn_sysfs_link_at(dfd, "driver", s->driver, sizeof(s->driver)) < 0)
		s->driver[0] = '\0';
	if (acn_names_read(dfd, NULL, is_vhost, &vhost) == 0) {
		if (vhost.n > 0)
			snprintf(s->chardev, sizeof(s->chardev), "%s/%s", g->dev_root, vhost.v[0]);
		acn_names_free(&vhost);
	}
	first_netdev(dfd, s);
	close(dfd);
	parent_of(dev, s);
	return 0;
}

int acn_vdpa_sys_get(const struct acn_globals *g, const char *name, struct acn_vdpa_sys *s, struct acn_err *err)
{
	char dev[ACN_PATH_MAX];
	int rc;

	rc = acn_sysfs_device(g, "vdpa", name, dev, sizeof(dev), err);
	if (rc < 0)
		return rc;
	rc = fill(g, dev, name, s);
	return rc < 0 ? acn_fail(err, rc, "open device", name) : 0;
}

int acn_vdpa_sys_all(const struct acn_globals *g, struct acn_vdpa_sys **list, size_t *n)
{
	char path[ACN_PATH_MAX], dev[ACN_PATH_MAX];
	struct acn_names names;
	size_t i;
	int rc;

	*list = NULL;
	*n = 0;
	rc = acn_path_fmt(path, sizeof(path), "%s/bus/vdpa/devices", g->sysfs_root);
	if (rc < 0)
		return rc;
	rc = acn_names_read(AT_FDCWD, path, acn_vdpa_name_valid, &names);
	if (rc == -ENOENT)
		return 0; /* no vdpa bus: no vdpa devices */
	if (rc < 0)
		return rc;
	*list = calloc(names.n ? names.n : 1, sizeof(**list));
	if (!*list) {
		acn_names_free(&names);
		return -ENOMEM;
	}
	for (i = 0; i < names.n; i++) {
		if (acn_path_fmt(dev, sizeof(dev), "%s/%s", path, names.v[i]) < 0 || !acn_sysfs_inside(g->sysfs_root, dev))
			continue;
		if (fill(g, dev, names.v[i], &(*list)[*n]) == 0)
			(*n)++;
	}
	acn_names_free(&names);
	return 0;
}

void acn_vdpa_put(struct acn_json *out, const char *key, const struct acn_vdpa_sys *s, const struct acn_vdpa_nl *nl)
{
	char mac[18];

	acn_json_obj_open(out, key);
	acn_json_str(out, "name", s->name);
	acn_json_str(out, "mgmtdev", nl && nl->mgmtdev[0] ? nl->mgmtdev : s->mgmtdev);
	if (nl && nl->mgmtdev[0])
		acn_json_str(out, "parentPci", nl->parent_pci[0] ? nl->parent_pci : NULL);
	else
		acn_json_str(out, "parentPci", s->parent_pci[0] ? s->parent_pci : NULL);
	acn_json_str(out, "driver", s->driver[0] ? s->driver : NULL);
	if (nl && nl->has_ids) {
		acn_json_uint(out, "deviceId", nl->device_id);
		acn_json_uint(out, "vendorId", nl->vendor_id);
	} else {
		acn_json_null(out, "deviceId");
		acn_json_null(out, "vendorId");
	}
	acn_json_str(out, "chardev", s->chardev[0] ? s->chardev : NULL);
	acn_json_str(out, "netdev", s->netdev[0] ? s->netdev : NULL);
	if (nl && nl->has_mac) {
		acn_mac_str(nl->mac, 6, mac, sizeof(mac));
		acn_json_str(out, "mac", mac);
	} else {
		acn_json_null(out, "mac");
	}
	if (nl && nl->has_mtu)
		acn_json_uint(out, "mtu", nl->mtu);
	else
		acn_json_null(out, "mtu");
	acn_json_obj_close(out);
}
