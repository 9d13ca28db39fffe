// SPDX-License-Identifier: Apache-2.0
/*
 * inventory: every SR-IOV physical function (a PCI function with
 * sriov_totalvfs), its VFs in index order (virtfnN), and the vdpa devices,
 * all from sysfs under --sysfs-root (no netlink: the device plugin runs it
 * against fake trees, and a rescan must stay cheap). vdpa=0 skips vDPA.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "sysfs.h"
#include "validate.h"

struct vdpa_set {
	struct acn_vdpa_sys *v;
	size_t n;
};

static bool is_virtfn(const char *name)
{
	return strncmp(name, "virtfn", 6) == 0 && name[6] >= '0' && name[6] <= '9';
}

static int index_cmp(const void *a, const void *b)
{
	int x = atoi(*(char *const *)a + 6), y = atoi(*(char *const *)b + 6);

	return (x > y) - (x < y);
}

static int put_vfs_of(struct acn_ctx *ctx, const char *pf, const struct vdpa_set *vs)
{
	char path[ACN_PATH_MAX], addr[64];
	struct acn_names links;
	struct acn_vf_hint hint = { .pf = pf };
	size_t i;
	int dfd, rc = 0;

	if (acn_path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s", ctx->g->sysfs_root, pf) < 0)
		return 0;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0; /* removed while we looked: not ours to report */
	if (acn_names_read(dfd, NULL, is_virtfn, &links) < 0)
		goto close_dfd;
	qsort(links.v, links.n, sizeof(*links.v), index_cmp);
	for (i = 0; i < links.n && rc == 0; i++) {
		if (acn_sysfs_link_at(dfd, links.v[i], addr, sizeof(addr)) < 0 || !acn_pci_addr_valid(addr))
			continue;
		hint.index = atoi(links.v[i] + 6);
		rc = acn_pci_put(ctx->g, addr, &hint, vs->v, vs->n, ctx->out, NULL, ctx->err);
		if (rc == -ENODEV)
			rc = 0; /* the VF went away between readdir and read */
	}
	acn_names_free(&links);
close_dfd:
	close(dfd);
	return rc;
}

static bool is_pf(const char *root, const char *addr)
{
	char path[ACN_PATH_MAX];

	return acn_path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/sriov_totalvfs", root, addr) == 0 &&
	       access(path, F_OK) == 0;
}

int acn_inventory(struct acn_ctx *ctx, const struct acn_opts *o)
{
	struct vdpa_set vs = { NULL, 0 };
	char path[ACN_PATH_MAX];
	struct acn_names devs;
	size_t i;
	int rc;

	rc = acn_path_fmt(path, sizeof(path), "%s/bus/pci/devices", ctx->g->sysfs_root);
	if (rc < 0)
		return acn_fail(ctx->err, rc, "readdir", path);
	rc = acn_names_read(AT_FDCWD, path, acn_pci_addr_valid, &devs);
	if (rc == -ENOENT) {
		devs.v = NULL;
		devs.n = 0; /* no PCI bus (some VMs): an empty inventory, not an error */
	} else if (rc < 0) {
		return acn_fail(ctx->err, rc, "readdir", path);
	}
	if (!acn_has(o, ACN_K_WITH_VDPA) || o->with_vdpa) {
		rc = acn_vdpa_sys_all(ctx->g, &vs.v, &vs.n);
		if (rc < 0) {
			acn_fail(ctx->err, rc, "readdir", "bus/vdpa/devices");
			goto free_devs;
		}
	}

	acn_json_arr_open(ctx->out, "pfs");
	for (i = 0; i < devs.n && rc == 0; i++) {
		if (!is_pf(ctx->g->sysfs_root, devs.v[i]))
			continue;
		rc = acn_pci_put(ctx->g, devs.v[i], NULL, vs.v, vs.n, ctx->out, NULL, ctx->err);
		if (rc == -ENODEV)
			rc = 0;
	}
	acn_json_arr_close(ctx->out);
	acn_json_arr_open(ctx->out, "vfs");
	for (i = 0; i < devs.n && rc == 0; i++)
		if (is_pf(ctx->g->sysfs_root, devs.v[i]))
			rc = put_vfs_of(ctx, devs.v[i], &vs);
	acn_json_arr_close(ctx->out);
	acn_json_arr_open(ctx->out, "vdpa");
	for (i = 0; i < vs.n; i++)
		acn_vdpa_put(ctx->out, NULL, &vs.v[i], NULL);
	acn_json_arr_close(ctx->out);
	free(vs.v);
free_devs:
	acn_names_free(&devs);
	return rc;
}
