// SPDX-License-Identifier: Apache-2.0
/*
 * Table-driven argument parsing (iproute2 vdpa.c style): every key has one
 * kind, one destination in struct acn_opts and, for enumerations, its valid
 * set. Each command declares required and optional masks; anything else is
 * refused with a message naming the command, the key, the valid set and the
 * value.
 */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netns.h"
#include "validate.h"

enum kind { K_IFNAME, K_NETNS, K_BOOL, K_U32, K_MAC, K_VF_MAC, K_CIDR, K_IP, K_CHOICE, K_ALTNAME, K_PCI, K_DRIVER,
	    K_VDPA, K_NETNS_FILE, K_MGMTDEV };

struct choice {
	const char *name;
	uint32_t value;
};

struct key_def {
	const char *name;
	enum kind kind;
	size_t off;
	uint32_t min, max;
	const struct choice *choices;
};

static const struct choice families[] = { { "4", AF_INET }, { "6", AF_INET6 }, { NULL, 0 } };
static const struct choice modes[] = { { "bridge", MACVLAN_MODE_BRIDGE },
				       { "private", MACVLAN_MODE_PRIVATE },
				       { "vepa", MACVLAN_MODE_VEPA },
				       { "passthru", MACVLAN_MODE_PASSTHRU },
				       { "source", MACVLAN_MODE_SOURCE },
				       { NULL, 0 } };
static const struct choice scopes[] = { { "link", RT_SCOPE_LINK },
					{ "universe", RT_SCOPE_UNIVERSE },
					{ "host", RT_SCOPE_HOST },
					{ NULL, 0 } };
static const struct choice sysctl_keys[] = { { "arp_notify", ACN_SYSCTL_ARP_NOTIFY },
					     { "ndisc_notify", ACN_SYSCTL_NDISC_NOTIFY },
					     { NULL, 0 } };
static const struct choice bits[] = { { "0", 0 }, { "1", 1 }, { NULL, 0 } };
static const struct choice on_off[] = { { "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const struct choice vlan_protos[] = { { "802.1q", ETH_P_8021Q }, { "802.1ad", ETH_P_8021AD }, { NULL, 0 } };
static const struct choice vf_states[] = { { "auto", IFLA_VF_LINK_STATE_AUTO },
					   { "enable", IFLA_VF_LINK_STATE_ENABLE },
					   { "disable", IFLA_VF_LINK_STATE_DISABLE },
					   { NULL, 0 } };
static const struct choice vdpa_drivers[] = { { "vhost_vdpa", ACN_VDPA_VHOST },
					      { "virtio_vdpa", ACN_VDPA_VIRTIO },
					      { NULL, 0 } };

#define OFF(field) offsetof(struct acn_opts, field)

static const struct key_def keys[ACN_K_COUNT] = {
	[ACN_K_NETNS] = { "netns", K_NETNS, OFF(netns), 0, 0, NULL },
	[ACN_K_NAME] = { "name", K_IFNAME, OFF(name), 0, 0, NULL },
	[ACN_K_PATH] = { "path", K_NETNS, OFF(path), 0, 0, NULL },
	[ACN_K_ADDRS] = { "addrs", K_BOOL, OFF(addrs), 0, 0, NULL },
	[ACN_K_ROUTES] = { "routes", K_BOOL, OFF(routes), 0, 0, NULL },
	[ACN_K_VFS] = { "vfs", K_BOOL, OFF(vfs), 0, 0, NULL },
	[ACN_K_FAMILY] = { "family", K_CHOICE, OFF(family), 0, 0, families },
	[ACN_K_TABLE] = { "table", K_U32, OFF(table), 1, UINT32_MAX, NULL },
	[ACN_K_MASTER] = { "master", K_IFNAME, OFF(master), 0, 0, NULL },
	[ACN_K_MASTER_NETNS] = { "master-netns", K_NETNS, OFF(master_netns), 0, 0, NULL },
	[ACN_K_MODE] = { "mode", K_CHOICE, OFF(mode), 0, 0, modes },
	[ACN_K_MAC] = { "mac", K_MAC, OFF(mac), 0, 0, NULL },
	[ACN_K_MTU] = { "mtu", K_U32, OFF(mtu), 68, 65535, NULL },
	[ACN_K_BCQUEUELEN] = { "bcqueuelen", K_U32, OFF(bcqueuelen), 0, UINT32_MAX, NULL },
	[ACN_K_NEWNAME] = { "newname", K_IFNAME, OFF(newname), 0, 0, NULL },
	[ACN_K_ADDR] = { "addr", K_CIDR, OFF(addr), 0, 0, NULL },
	[ACN_K_DST] = { "dst", K_CIDR, OFF(dst), 0, 0, NULL },
	[ACN_K_GW] = { "gw", K_IP, OFF(gw), 0, 0, NULL },
	[ACN_K_METRIC] = { "metric", K_U32, OFF(metric), 0, UINT32_MAX, NULL },
	[ACN_K_SCOPE] = { "scope", K_CHOICE, OFF(scope), 0, 0, scopes },
	[ACN_K_KEY] = { "key", K_CHOICE, OFF(key), 0, 0, sysctl_keys },
	[ACN_K_VALUE] = { "value", K_CHOICE, OFF(value), 0, 0, bits },
	[ACN_K_TO] = { "to", K_NETNS, OFF(to), 0, 0, NULL },
	[ACN_K_ALTNAME] = { "altname", K_ALTNAME, OFF(altname), 0, 0, NULL },
	[ACN_K_PF] = { "pf", K_IFNAME, OFF(pf), 0, 0, NULL },
	[ACN_K_VF] = { "vf", K_U32, OFF(vf), 0, 65535, NULL },
	/* Same key name as ACN_K_MAC: only vf-set takes 00:00:00:00:00:00 (clear the admin MAC). */
	[ACN_K_VF_MAC] = { "mac", K_VF_MAC, OFF(mac), 0, 0, NULL },
	[ACN_K_VLAN] = { "vlan", K_U32, OFF(vlan), 0, 4094, NULL },
	[ACN_K_QOS] = { "qos", K_U32, OFF(qos), 0, 7, NULL },
	[ACN_K_PROTO] = { "proto", K_CHOICE, OFF(proto), 0, 0, vlan_protos },
	[ACN_K_SPOOFCHK] = { "spoofchk", K_CHOICE, OFF(spoofchk), 0, 0, on_off },
	[ACN_K_TRUST] = { "trust", K_CHOICE, OFF(trust), 0, 0, on_off },
	[ACN_K_STATE] = { "state", K_CHOICE, OFF(state), 0, 0, vf_states },
	[ACN_K_MIN_TX_RATE] = { "min_tx_rate", K_U32, OFF(min_tx_rate), 0, UINT32_MAX, NULL },
	[ACN_K_MAX_TX_RATE] = { "max_tx_rate", K_U32, OFF(max_tx_rate), 0, UINT32_MAX, NULL },
	/* Same key name as ACN_K_ADDR: a command allows one or the other, never both. */
	[ACN_K_PCI] = { "addr", K_PCI, OFF(pci), 0, 0, NULL },
	[ACN_K_DRIVER] = { "driver", K_DRIVER, OFF(driver), 0, 0, NULL },
	[ACN_K_VDPA_DRIVER] = { "driver", K_CHOICE, OFF(vdpa_driver), 0, 0, vdpa_drivers },
	[ACN_K_DEV] = { "dev", K_VDPA, OFF(dev), 0, 0, NULL },
	[ACN_K_NUMVFS] = { "count", K_U32, OFF(numvfs), 0, 65535, NULL },
	[ACN_K_WITH_VDPA] = { "vdpa", K_BOOL, OFF(with_vdpa), 0, 0, NULL },
	/* Same key name as ACN_K_PATH (netns-check): this one is a file to create or delete, not opened here. */
	[ACN_K_NETNS_FILE] = { "path", K_NETNS_FILE, OFF(netns_file), 0, 0, NULL },
	[ACN_K_WITH_VIRTUAL] = { "virtual", K_BOOL, OFF(with_virtual), 0, 0, NULL },
	/* Same key name as ACN_K_NAME (an interface): vdpa-dev-add names a vdpa device, kept in dev. */
	[ACN_K_VDPA_NAME] = { "name", K_VDPA, OFF(dev), 0, 0, NULL },
	[ACN_K_MGMTDEV] = { "mgmtdev", K_MGMTDEV, OFF(mgmtdev), 0, 0, NULL },
	[ACN_K_MAX_VQP] = { "max_vqp", K_U32, OFF(max_vqp), 1, ACN_VDPA_MAX_VQP, NULL },
	[ACN_K_IFINDEX] = { "index", K_U32, OFF(ifindex), 1, INT32_MAX, NULL },
	/* 0-2 are the helper's own stdin, stdout and stderr, never the socket asked about. */
	[ACN_K_FD] = { "fd", K_U32, OFF(fd), 3, INT32_MAX, NULL },
};

const char *acn_key_name(enum acn_key k)
{
	return keys[k].name;
}

/* Appends "a, b, c" (keys of a mask, or names of a choice list) to buf. */
static void list_keys(char *buf, size_t len, uint64_t mask)
{
	size_t at = 0;
	int k;

	buf[0] = '\0';
	for (k = 0; k < ACN_K_COUNT && at < len; k++)
		if (mask & ACN_OPT(k))
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "", keys[k].name);
}

static void list_choices(char *buf, size_t len, const struct choice *c)
{
	size_t at = 0;

	buf[0] = '\0';
	for (; c->name && at < len; c++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "", c->name);
}

static int bad(struct acn_err *err, int neg_errno, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(struct acn_err *err, int neg_errno, const char *object, const char *fmt, ...)
{
	va_list ap;

	acn_fail(err, neg_errno, "parse", object);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return neg_errno;
}

static int parse_value(const char *cmd, enum acn_key k, const char *v, struct acn_opts *o, struct acn_err *err)
{
	const struct key_def *d = &keys[k];
	void *dst = (char *)o + d->off;
	char set[256], why[256];
	const struct choice *c;
	const char *reason;
	int rc;

	switch (d->kind) {
	case K_IFNAME:
		if (!acn_ifname_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": interface names are 1-15 printable ASCII bytes without '/', "
				   "':' or whitespace, and not \".\" or \"..\"",
				   cmd, d->name, v);
		snprintf(dst, IFNAMSIZ, "%s", v);
		return 0;
	case K_ALTNAME:
		if (!acn_altname_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": altnames are 1-127 printable ASCII bytes without '/', ':' "
				   "or whitespace, and not \".\" or \"..\"",
				   cmd, d->name, v);
		snprintf(dst, ACN_ALTNAMSIZ, "%s", v);
		return 0;
	case K_PCI:
		if (!acn_pci_addr_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": expected a PCI address dddd:bb:dd.f in lowercase hex, "
				   "like 0000:00:12.0",
				   cmd, d->name, v);
		snprintf(dst, ACN_PCI_ADDR_LEN + 1, "%s", v);
		return 0;
	case K_DRIVER:
		if (!acn_driver_name_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": driver names are 1-31 bytes of [a-z0-9_-]", cmd,
				   d->name, v);
		snprintf(dst, ACN_DRIVER_NAME_MAX + 1, "%s", v);
		return 0;
	case K_VDPA:
		if (!acn_vdpa_name_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": vdpa device names are 1-31 printable ASCII bytes without "
				   "'/', ':' or whitespace, and not \".\" or \"..\"",
				   cmd, d->name, v);
		snprintf(dst, ACN_VDPA_NAME_MAX + 1, "%s", v);
		return 0;
	case K_MGMTDEV:
		reason = acn_mgmtdev_parse(v, dst);
		if (reason)
			return bad(err, -EINVAL, d->name, "%s: invalid %s \"%.80s\": %s", cmd, d->name, v, reason);
		return 0;
	case K_NETNS_FILE:
		if (!acn_netns_file_valid(v))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.200s\": expected " ACN_RUN_NETNS_DIR "/NAME, NAME 1-%d bytes of "
				   "[A-Za-z0-9_.-], not \".\" or \"..\"",
				   cmd, d->name, v, ACN_NETNS_NAME_MAX);
		snprintf(dst, ACN_NETNS_FILE_MAX + 1, "%s", v);
		return 0;
	case K_NETNS:
		rc = acn_netns_open(v, dst, why, sizeof(why));
		if (rc < 0)
			return bad(err, rc, d->name, "%s: invalid %s \"%.200s\": %s", cmd, d->name, v, why);
		return 0;
	case K_BOOL:
		if (strcmp(v, "0") && strcmp(v, "1"))
			return bad(err, -EINVAL, d->name, "%s: invalid %s \"%.64s\"; valid: 0, 1", cmd, d->name, v);
		*(bool *)dst = v[0] == '1';
		return 0;
	case K_U32:
		if (!acn_u32_parse(v, d->min, d->max, dst))
			return bad(err, -EINVAL, d->name, "%s: invalid %s \"%.64s\": expected an integer in %u-%u",
				   cmd, d->name, v, d->min, d->max);
		return 0;
	case K_MAC:
	case K_VF_MAC:
		reason = d->kind == K_MAC ? acn_mac_parse(v, dst) : acn_vf_mac_parse(v, dst);
		if (reason)
			return bad(err, -EINVAL, d->name, "%s: invalid %s \"%.64s\": %s", cmd, d->name, v, reason);
		return 0;
	case K_CIDR:
		if (!acn_prefix_parse(v, true, dst))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": expected an IPv4 or IPv6 address with a prefix length, "
				   "like 10.0.0.2/24 or fd00::2/64",
				   cmd, d->name, v);
		return 0;
	case K_IP:
		if (!acn_prefix_parse(v, false, dst))
			return bad(err, -EINVAL, d->name,
				   "%s: invalid %s \"%.64s\": expected an IPv4 or IPv6 address, like 10.0.0.1 or fd00::1",
				   cmd, d->name, v);
		return 0;
	case K_CHOICE:
		for (c = d->choices; c->name; c++) {
			if (strcmp(c->name, v) == 0) {
				*(uint32_t *)dst = c->value;
				return 0;
			}
		}
		list_choices(set, sizeof(set), d->choices);
		return bad(err, -EINVAL, d->name, "%s: invalid %s \"%.64s\"; valid: %s", cmd, d->name, v, set);
	}
	return bad(err, -EINVAL, d->name, "%s: key %s has no parser", cmd, d->name);
}

/*
 * Two keys may share a name ("addr", "driver", "path", "mac", "name") with different kinds: the command's
 * mask picks one.
 */
static int find_key(const char *key, size_t len, uint64_t allowed)
{
	int k, any = -1;

	for (k = 0; k < ACN_K_COUNT; k++) {
		if (strlen(keys[k].name) != len || memcmp(keys[k].name, key, len) != 0)
			continue;
		if (allowed & ACN_OPT(k))
			return k;
		any = k;
	}
	return any;
}

int acn_args_parse(const struct acn_cmd_def *def, char *const *argv, int argc, struct acn_opts *o,
		   struct acn_err *err)
{
	uint64_t allowed = def->required | def->optional, missing;
	char set[512], key[64];
	int i, k, rc;

	memset(o, 0, sizeof(*o));
	o->netns.fd = o->master_netns.fd = o->path.fd = o->to.fd = -1;
	for (i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t keylen = eq ? (size_t)(eq - argv[i]) : 0;

		if (!eq || keylen == 0) {
			list_keys(set, sizeof(set), allowed);
			return bad(err, -EINVAL, argv[i], "%s: expected KEY=VALUE, got \"%.64s\"; valid keys: %s",
				   def->name, argv[i], set);
		}
		snprintf(key, sizeof(key), "%.*s", (int)(keylen < 63 ? keylen : 63), argv[i]);
		k = find_key(argv[i], keylen, allowed);
		if (k < 0 || !(allowed & ACN_OPT(k))) {
			list_keys(set, sizeof(set), allowed);
			return bad(err, -EINVAL, key, "%s: unknown key \"%s\" (value \"%.64s\"); valid keys: %s",
				   def->name, key, eq + 1, set);
		}
		if (o->present & ACN_OPT(k))
			return bad(err, -EINVAL, key, "%s: duplicate key \"%s\" (values \"%.64s\" and \"%.64s\")",
				   def->name, key, o->raw[k], eq + 1);
		rc = parse_value(def->name, (enum acn_key)k, eq + 1, o, err);
		if (rc < 0)
			return rc;
		o->present |= ACN_OPT(k);
		o->raw[k] = eq + 1;
	}
	missing = def->required & ~o->present;
	if (missing) {
		for (k = 0; !(missing & ACN_OPT(k)); k++)
			;
		list_keys(set, sizeof(set), def->required);
		return bad(err, -EINVAL, keys[k].name, "%s: missing required key \"%s\"; required keys: %s", def->name,
			   keys[k].name, set);
	}
	if (def->check)
		return def->check(def->name, o, err);
	return 0;
}

void acn_args_release(struct acn_opts *o)
{
	acn_netns_close(&o->netns);
	acn_netns_close(&o->master_netns);
	acn_netns_close(&o->path);
	acn_netns_close(&o->to);
}
