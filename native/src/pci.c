// SPDX-License-Identifier: Apache-2.0
/*
 * The PCI object (PROTOCOL.md) from sysfs alone: identity, driver, netdevs
 * and their link state, NUMA node, IOMMU group, SR-IOV role (PF: numVfs and
 * totalVfs; VF: its PF and index through physfn/virtfnN), vdpa children.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "sysfs.h"
#include "validate.h"

static void put_hex_id(struct acn_json *out, int dfd, const char *attr)
{
	char buf[32];

	if (acn_sysfs_read_at(dfd, attr, buf, sizeof(buf)) < 0) {
		acn_json_null(out, attr);
		return;
	}
	acn_json_str(out, attr, strncmp(buf, "0x", 2) == 0 ? buf + 2 : buf);
}

static void put_long_or_null(struct acn_json *out, const char *key, int dfd, const char *attr)
{
	long v;

	if (acn_sysfs_long_at(dfd, attr, &v) == 0)
		acn_json_int(out, key, v);
	else
		acn_json_null(out, key);
}

bool acn_is_virtfn(const char *name)
{
	return strncmp(name, "virtfn", 6) == 0 && name[6] >= '0' && name[6] <= '9';
}

/* The index N of the PF's virtfnN link that points at addr, or -1. */
static int vf_index(const struct acn_globals *g, const char *pf, const char *addr)
{
	char path[ACN_PATH_MAX], target[64];
	struct acn_names links;
	int dfd, index = -1;
	size_t i;

	if (acn_path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s", g->sysfs_root, pf) < 0)
		return -1;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (acn_names_read(dfd, NULL, acn_is_virtfn, &links) == 0) {
		for (i = 0; i < links.n && index < 0; i++)
			if (acn_sysfs_link_at(dfd, links.v[i], target, sizeof(target)) == 0 && strcmp(target, addr) == 0)
				index = atoi(links.v[i] + 6);
		acn_names_free(&links);
	}
	close(dfd);
	return index;
}

/* linkState (operstate) and carrier of the first netdev; null without one. */
static void put_link_state(struct acn_json *out, int dfd, const struct acn_names *netdevs)
{
	char path[ACN_PATH_MAX], buf[32];
	long carrier;

	if (netdevs->n == 0 || acn_path_fmt(path, sizeof(path), "net/%s/operstate", netdevs->v[0]) < 0 ||
	    acn_sysfs_read_at(dfd, path, buf, sizeof(buf)) < 0)
		acn_json_null(out, "linkState");
	else
		acn_json_str(out, "linkState", buf);
	/* carrier reads fail with EINVAL while the link is administratively down. */
	if (netdevs->n == 0 || acn_path_fmt(path, sizeof(path), "net/%s/carrier", netdevs->v[0]) < 0 ||
	    acn_sysfs_long_at(dfd, path, &carrier) < 0)
		acn_json_null(out, "carrier");
	else
		acn_json_bool(out, "carrier", carrier != 0);
}

static void put_role(const struct acn_globals *g, struct acn_json *out, int dfd, const char *addr,
		     const struct acn_vf_hint *hint)
{
	bool is_pf = faccessat(dfd, "sriov_totalvfs", F_OK, 0) == 0;
	char pf[64] = "";
	int index = -1;

	if (acn_sysfs_link_at(dfd, "physfn", pf, sizeof(pf)) < 0 || !acn_pci_addr_valid(pf))
		pf[0] = '\0';
	if (pf[0])
		index = hint ? hint->index : vf_index(g, pf, addr);
	acn_json_bool(out, "isPf", is_pf);
	acn_json_bool(out, "isVf", pf[0] != '\0');
	acn_json_str(out, "pf", pf[0] ? pf : NULL);
	if (index >= 0)
		acn_json_int(out, "vfIndex", index);
	else
		acn_json_null(out, "vfIndex");
	if (is_pf) {
		put_long_or_null(out, "numVfs", dfd, "sriov_numvfs");
		put_long_or_null(out, "totalVfs", dfd, "sriov_totalvfs");
	} else {
		acn_json_null(out, "numVfs");
		acn_json_null(out, "totalVfs");
	}
}

int acn_pci_put(const struct acn_globals *g, const char *addr, const struct acn_vf_hint *hint,
		const struct acn_vdpa_sys *vdpa, size_t nvdpa, struct acn_json *out, const char *key,
		struct acn_err *err)
{
	char dev[ACN_PATH_MAX], buf[64];
	struct acn_names netdevs;
	long numa;
	size_t i;
	int dfd, rc;

	rc = acn_sysfs_device(g, "pci", addr, dev, sizeof(dev), err);
	if (rc < 0)
		return rc;
	dfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return acn_fail(err, -errno, "open device", addr);
	if (acn_names_read(dfd, "net", NULL, &netdevs) < 0) {
		netdevs.v = NULL;
		netdevs.n = 0;
	}

	acn_json_obj_open(out, key);
	acn_json_str(out, "addr", addr);
	put_hex_id(out, dfd, "vendor");
	put_hex_id(out, dfd, "device");
	put_hex_id(out, dfd, "class");
	acn_json_str(out, "driver", acn_sysfs_link_at(dfd, "driver", buf, sizeof(buf)) == 0 ? buf : NULL);
	acn_json_arr_open(out, "netdevs");
	for (i = 0; i < netdevs.n; i++)
		acn_json_str(out, NULL, netdevs.v[i]);
	acn_json_arr_close(out);
	/* The kernel reports -1 without NUMA information; so do we when the file is missing. */
	acn_json_int(out, "numaNode", acn_sysfs_long_at(dfd, "numa_node", &numa) == 0 ? numa : -1);
	if (acn_sysfs_link_at(dfd, "iommu_group", buf, sizeof(buf)) == 0 && buf[0] >= '0' && buf[0] <= '9')
		acn_json_int(out, "iommuGroup", atol(buf));
	else
		acn_json_null(out, "iommuGroup");
	put_role(g, out, dfd, addr, hint);
	put_link_state(out, dfd, &netdevs);
	acn_json_arr_open(out, "vdpa");
	for (i = 0; i < nvdpa; i++)
		if (strcmp(vdpa[i].parent_pci, addr) == 0)
			acn_json_str(out, NULL, vdpa[i].name);
	acn_json_arr_close(out);
	acn_json_obj_close(out);

	acn_names_free(&netdevs);
	close(dfd);
	return 0;
}
