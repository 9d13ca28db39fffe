// SPDX-License-Identifier: Apache-2.0
/*
 * Parser tests without a kernel (iproute2 testsuite style): messages are
 * built as the kernel would send them, including a PF with VF info, an
 * attribute from a newer kernel and malformed attributes, then fed to the
 * single-message parsers. Run with `make -C native check` (ASan/UBSan).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acn.h"
#include "args.h"
#include "link_event.h"
#include "nl.h"
#include "reply.h"
#include "rtnl.h"
#include "uevent.h"
#include "validate.h"

static int failures, checks;

int test_parent_death(void); /* parent_death_test.c: real processes, counts its own failures */
static char buf[65536];

#define CHECK(cond)                                                                   \
	do {                                                                          \
		checks++;                                                             \
		if (!(cond)) {                                                        \
			failures++;                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CONTAINS(json, text) CHECK(strstr((json), (text)) != NULL)

static struct ifinfomsg *newlink(struct acn_nlmsg *m, int index)
{
	struct ifinfomsg *ifi = acn_nlmsg_init(m, RTM_NEWLINK, 0, sizeof(*ifi), &acn_ifla_policy);

	ifi->ifi_index = index;
	return ifi;
}

static const char *to_json_link(struct acn_nlmsg *m, int *rc, const char **bad)
{
	struct acn_json j;

	acn_json_init(&j, buf, sizeof(buf) - 1);
	*rc = acn_link_to_json(&m->nlh, &j, NULL, bad);
	buf[j.len] = '\0';
	return buf;
}

static void test_pf_with_vfs(void)
{
	static struct acn_nlmsg m;
	struct nlattr *list, *vf, *vlans, *props;
	struct ifla_vf_mac mac = { .vf = 1, .mac = { 0x02, 0, 0, 0, 0, 0x11 } };
	struct ifla_vf_vlan vlan = { .vf = 1, .vlan = 100, .qos = 3 };
	struct ifla_vf_vlan_info vinfo = { .vf = 1, .vlan = 100, .qos = 3, .vlan_proto = htons(0x88a8) };
	struct ifla_vf_spoofchk spoof = { .vf = 1, .setting = 1 };
	struct ifla_vf_trust trust = { .vf = 1, .setting = (uint32_t)-1 };
	struct ifla_vf_link_state state = { .vf = 1, .link_state = IFLA_VF_LINK_STATE_DISABLE };
	struct ifla_vf_rate rate = { .vf = 1, .min_tx_rate = 10, .max_tx_rate = 1000 };
	unsigned char hw[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	const char *bad = NULL, *json;
	int rc;

	newlink(&m, 4)->ifi_flags = 1; /* IFF_UP */
	acn_attr_put_strz(&m, IFLA_IFNAME, "ens1f0");
	acn_attr_put_u32(&m, IFLA_MTU, 9000);
	acn_attr_put(&m, IFLA_ADDRESS, 6, hw);
	acn_attr_put(&m, IFLA_PERM_ADDRESS, 6, hw);
	acn_attr_put_u32(&m, IFLA_NUM_VF, 1);
	acn_attr_put_strz(&m, IFLA_PARENT_DEV_NAME, "0000:00:02.0");
	acn_attr_put_strz(&m, IFLA_PARENT_DEV_BUS_NAME, "pci");
	acn_attr_put_u32(&m, IFLA_MAX + 7, 42); /* from a newer kernel: must be skipped */
	props = acn_attr_nest_start(&m, IFLA_PROP_LIST);
	acn_attr_put_strz(&m, IFLA_ALT_IFNAME, "enp0s2");
	acn_attr_put_strz(&m, IFLA_ALT_IFNAME, "enp0s2f0");
	acn_attr_nest_end(&m, props);
	list = acn_attr_nest_start(&m, IFLA_VFINFO_LIST);
	vf = acn_attr_nest_start(&m, IFLA_VF_INFO);
	acn_attr_put(&m, IFLA_VF_MAC, sizeof(mac), &mac);
	acn_attr_put(&m, IFLA_VF_VLAN, sizeof(vlan), &vlan);
	vlans = acn_attr_nest_start(&m, IFLA_VF_VLAN_LIST);
	acn_attr_put(&m, IFLA_VF_VLAN_INFO, sizeof(vinfo), &vinfo);
	acn_attr_nest_end(&m, vlans);
	acn_attr_put(&m, IFLA_VF_SPOOFCHK, sizeof(spoof), &spoof);
	acn_attr_put(&m, IFLA_VF_TRUST, sizeof(trust), &trust);
	acn_attr_put(&m, IFLA_VF_LINK_STATE, sizeof(state), &state);
	acn_attr_put(&m, IFLA_VF_RATE, sizeof(rate), &rate);
	acn_attr_nest_end(&m, vf);
	acn_attr_nest_end(&m, list);
	CHECK(!m.overflow);

	json = to_json_link(&m, &rc, &bad);
	CHECK(rc == 0);
	CONTAINS(json, "\"index\":4,\"name\":\"ens1f0\",\"kind\":null,\"mac\":\"52:54:00:12:34:56\"");
	CONTAINS(json, "\"permMac\":\"52:54:00:12:34:56\",\"mtu\":9000,\"minMtu\":null,\"maxMtu\":null,\"up\":true");
	CONTAINS(json, "\"altnames\":[\"enp0s2\",\"enp0s2f0\"]");
	CONTAINS(json, "\"parentBus\":\"pci\",\"parentDev\":\"0000:00:02.0\"");
	CONTAINS(json, "\"numVfs\":1,\"vfs\":[{\"vf\":1,\"mac\":\"02:00:00:00:00:11\",\"vlan\":100,\"qos\":3,"
		       "\"vlanProto\":\"802.1ad\",\"spoofchk\":true,\"trust\":null,\"linkState\":\"disable\","
		       "\"minTxRate\":10,\"maxTxRate\":1000}]");
}

static void test_macvlan_and_bad_attr_name(void)
{
	static struct acn_nlmsg m;
	struct nlattr *info, *data, *mode_attr;
	const char *bad = NULL, *json;
	uint32_t off;
	int rc;

	newlink(&m, 7);
	acn_attr_put_strz(&m, IFLA_IFNAME, "net1");
	acn_attr_put_u32(&m, IFLA_MTU, 1500);
	info = acn_attr_nest_start(&m, IFLA_LINKINFO);
	acn_attr_put_strz(&m, IFLA_INFO_KIND, "macvlan");
	data = acn_attr_nest_start(&m, IFLA_INFO_DATA);
	mode_attr = (struct nlattr *)(m.buf + m.nlh.nlmsg_len);
	acn_attr_put_u32(&m, IFLA_MACVLAN_MODE, MACVLAN_MODE_PASSTHRU);
	acn_attr_nest_end(&m, data);
	acn_attr_nest_end(&m, info);

	json = to_json_link(&m, &rc, &bad);
	CHECK(rc == 0);
	CONTAINS(json, "\"kind\":\"macvlan\"");
	CONTAINS(json, "\"macvlanMode\":\"passthru\"");

	/* What the kernel's NLMSGERR_ATTR_OFFS points at, named through the nested policies. */
	off = (uint32_t)((unsigned char *)mode_attr - m.buf);
	CHECK(acn_nl_attr_name_at(&m, off) && strcmp(acn_nl_attr_name_at(&m, off), "IFLA_MACVLAN_MODE") == 0);
	CHECK(acn_nl_attr_name_at(&m, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg))) &&
	      strcmp(acn_nl_attr_name_at(&m, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg))), "IFLA_IFNAME") == 0);
	CHECK(acn_nl_attr_name_at(&m, 2) == NULL);
	CHECK(acn_nl_attr_name_at(&m, m.nlh.nlmsg_len + 4) == NULL);
}

static void test_malformed(void)
{
	static struct acn_nlmsg m;
	uint16_t short_mtu = 1500;
	const char *bad = NULL;
	int rc;

	newlink(&m, 3);
	acn_attr_put_strz(&m, IFLA_IFNAME, "eth0");
	acn_attr_put(&m, IFLA_MTU, sizeof(short_mtu), &short_mtu);
	to_json_link(&m, &rc, &bad);
	CHECK(rc == -EPROTO);
	CHECK(bad && strcmp(bad, "IFLA_MTU") == 0);

	/* A name without its terminating NUL. */
	newlink(&m, 3);
	acn_attr_put(&m, IFLA_IFNAME, 4, "eth0");
	acn_attr_put_u32(&m, IFLA_MTU, 1500);
	bad = NULL;
	to_json_link(&m, &rc, &bad);
	CHECK(rc == -EPROTO);
	CHECK(bad && strcmp(bad, "IFLA_IFNAME") == 0);

	/* No IFLA_MTU at all: not a link the kernel would send. */
	newlink(&m, 3);
	acn_attr_put_strz(&m, IFLA_IFNAME, "eth0");
	bad = NULL;
	to_json_link(&m, &rc, &bad);
	CHECK(rc == -EPROTO && bad && strcmp(bad, "IFLA_MTU") == 0);
}

static void test_json_escaping(void)
{
	static struct acn_nlmsg m;
	const char *bad = NULL, *json;
	int rc;

	newlink(&m, 9);
	acn_attr_put_strz(&m, IFLA_IFNAME, "q\"b\\\x01\xff\xc3\xa9");
	acn_attr_put_u32(&m, IFLA_MTU, 1500);
	json = to_json_link(&m, &rc, &bad);
	CHECK(rc == 0);
	CONTAINS(json, "\"name\":\"q\\\"b\\\\\\u0001\\ufffd\xc3\xa9\"");
}

static void test_route_and_addr(void)
{
	static struct acn_nlmsg m;
	struct acn_json j;
	struct rtmsg *r;
	struct ifaddrmsg *ifa;
	unsigned char gw[4] = { 10, 0, 0, 1 }, a6[16] = { 0xfd, 0, [15] = 2 };
	const char *bad = NULL;
	int rc;

	r = acn_nlmsg_init(&m, RTM_NEWROUTE, 0, sizeof(*r), &acn_rta_policy);
	r->rtm_family = AF_INET;
	r->rtm_table = RT_TABLE_MAIN;
	r->rtm_protocol = RTPROT_BOOT;
	acn_attr_put_u32(&m, RTA_TABLE, RT_TABLE_MAIN);
	acn_attr_put(&m, RTA_GATEWAY, 4, gw);
	acn_attr_put_u32(&m, RTA_OIF, 5);
	acn_json_init(&j, buf, sizeof(buf) - 1);
	rc = acn_route_to_json(&m.nlh, 0, 0, RT_TABLE_MAIN, &j, &bad);
	buf[j.len] = '\0';
	CHECK(rc == 0);
	CHECK(strcmp(buf, "{\"family\":4,\"dst\":\"0.0.0.0/0\",\"gateway\":\"10.0.0.1\",\"oif\":5,\"table\":254,"
			  "\"scope\":\"universe\",\"protocol\":\"boot\",\"metric\":0}") == 0);
	/* Filtered out: another table, another oif. */
	acn_json_init(&j, buf, sizeof(buf) - 1);
	CHECK(acn_route_to_json(&m.nlh, 0, 0, 100, &j, &bad) == 1 && j.len == 0);
	CHECK(acn_route_to_json(&m.nlh, 0, 6, RT_TABLE_MAIN, &j, &bad) == 1 && j.len == 0);
	/* An IPv4 route with a 16-byte gateway is malformed. */
	r = acn_nlmsg_init(&m, RTM_NEWROUTE, 0, sizeof(*r), &acn_rta_policy);
	r->rtm_family = AF_INET;
	acn_attr_put(&m, RTA_GATEWAY, 16, a6);
	CHECK(acn_route_to_json(&m.nlh, 0, 0, 0, &j, &bad) == -EPROTO && strcmp(bad, "RTA_GATEWAY") == 0);

	ifa = acn_nlmsg_init(&m, RTM_NEWADDR, 0, sizeof(*ifa), &acn_ifa_policy);
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 64;
	ifa->ifa_index = 3;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	acn_attr_put(&m, IFA_ADDRESS, 16, a6);
	acn_json_init(&j, buf, sizeof(buf) - 1);
	rc = acn_addr_to_json(&m.nlh, 0, 0, &j, &bad);
	buf[j.len] = '\0';
	CHECK(rc == 0);
	CHECK(strcmp(buf, "{\"family\":6,\"address\":\"fd00::2\",\"prefixlen\":64,\"ifindex\":3,\"scope\":\"global\"}") == 0);
}

static void test_builder_overflow_is_sticky(void)
{
	static struct acn_nlmsg m;
	static char big[ACN_NLMSG_MAX];
	uint32_t len;

	newlink(&m, 1);
	acn_attr_put(&m, IFLA_IFNAME, sizeof(big) / 2, big);
	len = m.nlh.nlmsg_len;
	acn_attr_put(&m, IFLA_IFNAME, sizeof(big) / 2, big);
	CHECK(m.overflow);
	acn_attr_put_u32(&m, IFLA_MTU, 1);
	CHECK(acn_attr_nest_start(&m, IFLA_LINKINFO) == NULL);
	CHECK(m.nlh.nlmsg_len == len);
}

static void test_validators(void)
{
	struct acn_prefix p;
	unsigned char mac[6];
	uint32_t v;
	char net[64];

	CHECK(acn_ifname_valid("abcdefghijklmno"));
	CHECK(!acn_ifname_valid("abcdefghijklmnop"));
	CHECK(!acn_ifname_valid("a\x7f"));
	CHECK(!acn_ifname_valid("net%d"));
	CHECK(!acn_ifname_valid("%"));
	CHECK(acn_mac_parse("02:AB:cd:00:00:01", mac) == NULL && mac[1] == 0xab);
	CHECK(acn_mac_parse("00:00:00:00:00:00", mac) != NULL);
	CHECK(acn_mac_parse("01:00:5e:00:00:01", mac) != NULL);
	memset(mac, 0xff, sizeof(mac));
	CHECK(acn_vf_mac_parse("00:00:00:00:00:00", mac) == NULL && !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]));
	CHECK(acn_vf_mac_parse("02:00:00:00:00:01", mac) == NULL && mac[5] == 1);
	CHECK(acn_vf_mac_parse("01:00:5e:00:00:01", mac) != NULL && acn_vf_mac_parse("ff:ff:ff:ff:ff:ff", mac) != NULL);
	CHECK(acn_vf_mac_parse("00:00:00:00:00", mac) != NULL && acn_vf_mac_parse("00-00-00-00-00-00", mac) != NULL);
	CHECK(acn_u32_parse("4294967295", 0, UINT32_MAX, &v) && v == UINT32_MAX);
	CHECK(!acn_u32_parse("4294967296", 0, UINT32_MAX, &v));
	CHECK(!acn_u32_parse("+1", 0, 10, &v));
	CHECK(acn_prefix_parse("fd00::1/64", true, &p) && p.family == AF_INET6 && p.prefixlen == 64);
	CHECK(!acn_prefix_parse("010.0.0.1/8", true, &p));
	CHECK(acn_prefix_parse("10.1.2.3/16", true, &p) && !acn_prefix_is_network(&p));
	acn_prefix_network_str(&p, net, sizeof(net));
	CHECK(strcmp(net, "10.1.0.0/16") == 0);
	CHECK(acn_path_safe("/run/netns/a..b") && !acn_path_safe("/run/../x") && !acn_path_safe("/run/netns/.."));
}

static void test_phase2_validators(void)
{
	CHECK(acn_pci_addr_valid("0000:00:12.0") && acn_pci_addr_valid("ffff:ff:1f.7"));
	CHECK(!acn_pci_addr_valid("0000:00:20.0") && !acn_pci_addr_valid("0000:00:12.8"));
	CHECK(!acn_pci_addr_valid("0000:00:1F.0") && !acn_pci_addr_valid("00:12.0") && !acn_pci_addr_valid("0000:00:12.0/"));
	CHECK(!acn_pci_addr_valid("../00:12.0.x"));
	CHECK(acn_driver_name_valid("vfio-pci") && acn_driver_name_valid("igb_uio"));
	CHECK(!acn_driver_name_valid("../x") && !acn_driver_name_valid("Igb") && !acn_driver_name_valid(""));
	CHECK(!acn_driver_name_valid("abcdefghijabcdefghijabcdefghijab")); /* 32 bytes */
	CHECK(acn_vdpa_name_valid("abcdefghijabcdefghijabcdefghija")); /* 31 bytes */
	CHECK(!acn_vdpa_name_valid("abcdefghijabcdefghijabcdefghijab") && !acn_vdpa_name_valid("a/b"));
	CHECK(!acn_vdpa_name_valid("..") && !acn_altname_valid("a b"));
}

static void test_netns_file_validator(void)
{
	char longest[128];

	snprintf(longest, sizeof(longest), "/run/netns/%064d", 0);
	CHECK(acn_netns_file_valid("/run/netns/cni-1.tmp_A-z") && acn_netns_file_valid(longest));
	snprintf(longest, sizeof(longest), "/run/netns/%065d", 0);
	CHECK(!acn_netns_file_valid(longest));
	CHECK(!acn_netns_file_valid("/run/netns/") && !acn_netns_file_valid("/run/netns"));
	CHECK(!acn_netns_file_valid("/run/netns/.") && !acn_netns_file_valid("/run/netns/.."));
	CHECK(acn_netns_file_valid("/run/netns/..a") && acn_netns_file_valid("/run/netns/..."));
	CHECK(!acn_netns_file_valid("/run/netns/../x") && !acn_netns_file_valid("/run/netns/a/b"));
	CHECK(!acn_netns_file_valid("/run/netns//a") && !acn_netns_file_valid("/run/netnsa"));
	CHECK(!acn_netns_file_valid("/var/run/netns/a") && !acn_netns_file_valid("run/netns/a"));
	CHECK(!acn_netns_file_valid("/run/netns/a b") && !acn_netns_file_valid("/run/netns/a:b"));
	CHECK(!acn_netns_file_valid("/run/netns/\xc3\xa9"));
}

/* Runs acn_args_parse on a NULL-terminated argv; returns its rc, the message in err. */
static int parse_args(const struct acn_cmd_def *def, struct acn_opts *o, struct acn_err *err, char **argv)
{
	int argc = 0, rc;

	while (argv[argc])
		argc++;
	memset(err, 0, sizeof(*err));
	rc = acn_args_parse(def, argv, argc, o, err);
	acn_args_release(o);
	return rc;
}

/*
 * The all-zero MAC clears a VF's administrative MAC (igb starts VFs with it and
 * DEL must restore it), so vf-set's "mac" takes it; every other "mac" refuses
 * it. The masks are the command table's (main.c): vf-set's "mac" is
 * ACN_K_VF_MAC, the others' ACN_K_MAC.
 */
static void test_vf_set_zero_mac(void)
{
	static const struct acn_cmd_def vf_set = { "vf-set", ACN_OPT(ACN_K_PF) | ACN_OPT(ACN_K_VF),
						   ACN_OPT(ACN_K_VF_MAC) | ACN_OPT(ACN_K_TRUST), NULL,
						   acn_vf_set_check };
	static const struct acn_cmd_def set_mac = { "link-set-mac", ACN_OPT(ACN_K_NAME) | ACN_OPT(ACN_K_MAC), 0, NULL,
						    NULL };
	static const struct acn_cmd_def vdpa_mac = { "vdpa-config-set", ACN_OPT(ACN_K_DEV) | ACN_OPT(ACN_K_MAC), 0,
						     NULL, NULL };
	char *zero_vf[] = { "pf=eth0", "vf=1", "mac=00:00:00:00:00:00", NULL };
	char *mcast_vf[] = { "pf=eth0", "vf=1", "mac=01:00:5e:00:00:01", NULL };
	char *zero_link[] = { "name=eth0", "mac=00:00:00:00:00:00", NULL };
	char *zero_vdpa[] = { "dev=vdpa0", "mac=00:00:00:00:00:00", NULL };
	static struct acn_opts o;
	struct acn_err err;

	memset(o.mac, 0xff, sizeof(o.mac));
	CHECK(parse_args(&vf_set, &o, &err, zero_vf) == 0);
	CHECK(acn_has(&o, ACN_K_VF_MAC) && !acn_has(&o, ACN_K_MAC) && o.vf == 1);
	CHECK(!(o.mac[0] | o.mac[1] | o.mac[2] | o.mac[3] | o.mac[4] | o.mac[5]));

	CHECK(parse_args(&vf_set, &o, &err, mcast_vf) == -EINVAL);
	CHECK(strcmp(err.op, "parse") == 0 && strcmp(err.object, "mac") == 0);
	CHECK(strcmp(err.message, "vf-set: invalid mac \"01:00:5e:00:00:01\": is a multicast address, not unicast") == 0);

	CHECK(parse_args(&set_mac, &o, &err, zero_link) == -EINVAL);
	CHECK(strcmp(err.object, "mac") == 0);
	CHECK(strcmp(err.message, "link-set-mac: invalid mac \"00:00:00:00:00:00\": is all zero") == 0);
	CHECK(parse_args(&vdpa_mac, &o, &err, zero_vdpa) == -EINVAL);
	CHECK(strcmp(err.message, "vdpa-config-set: invalid mac \"00:00:00:00:00:00\": is all zero") == 0);
}

static void test_mgmtdev_validator(void)
{
	char dev64[80], bus32[80];
	struct acn_mgmtdev m;

	CHECK(acn_mgmtdev_parse("vduse", &m) == NULL && strcmp(m.bus, "") == 0 && strcmp(m.dev, "vduse") == 0);
	CHECK(acn_mgmtdev_parse("pci/0000:00:02.1", &m) == NULL && strcmp(m.bus, "pci") == 0 &&
	      strcmp(m.dev, "0000:00:02.1") == 0);
	CHECK(acn_mgmtdev_parse("auxiliary/mlx5_core.sf.2", &m) == NULL && strcmp(m.bus, "auxiliary") == 0);
	CHECK(acn_mgmtdev_parse("vdpasim_net", &m) == NULL);
	CHECK(acn_mgmtdev_parse("", &m) != NULL && acn_mgmtdev_parse("/vduse", &m) != NULL);
	CHECK(acn_mgmtdev_parse("pci/", &m) != NULL && acn_mgmtdev_parse("a/b/c", &m) != NULL);
	CHECK(acn_mgmtdev_parse("..", &m) != NULL && acn_mgmtdev_parse("pci/..", &m) != NULL);
	CHECK(acn_mgmtdev_parse("bus/.", &m) != NULL && acn_mgmtdev_parse("bus/..x", &m) == NULL);
	CHECK(strcmp(acn_mgmtdev_parse("pci/0000:00:02", &m),
		     "a pci management device is named by its PCI address dddd:bb:dd.f in lowercase hex") == 0);
	CHECK(acn_mgmtdev_parse("pci/0000:00:02.A", &m) != NULL && acn_mgmtdev_parse("PCI/0000:00:02.1", &m) != NULL);
	CHECK(acn_mgmtdev_parse("vd use", &m) != NULL && acn_mgmtdev_parse("vduse\n", &m) != NULL);
	CHECK(acn_mgmtdev_parse("vd\xc3\xa9", &m) != NULL && acn_mgmtdev_parse("b\\us/x", &m) != NULL);
	snprintf(dev64, sizeof(dev64), "%063d", 0);
	CHECK(acn_mgmtdev_parse(dev64, &m) == NULL && strlen(m.dev) == 63);
	snprintf(dev64, sizeof(dev64), "%064d", 0);
	CHECK(acn_mgmtdev_parse(dev64, &m) != NULL);
	snprintf(bus32, sizeof(bus32), "%031d/x", 0);
	CHECK(acn_mgmtdev_parse(bus32, &m) == NULL && strlen(m.bus) == 31);
	snprintf(bus32, sizeof(bus32), "%032d/x", 0);
	CHECK(acn_mgmtdev_parse(bus32, &m) != NULL);
}

/*
 * vdpa-dev-add's keys (the command table's masks, main.c): "name" is a vdpa
 * device name (31 bytes, kept in dev), not an interface name; max_vqp 1-0x8000.
 */
static void test_vdpa_dev_add_args(void)
{
	static const struct acn_cmd_def add = { "vdpa-dev-add", ACN_OPT(ACN_K_VDPA_NAME) | ACN_OPT(ACN_K_MGMTDEV),
						ACN_OPT(ACN_K_MAC) | ACN_OPT(ACN_K_MTU) | ACN_OPT(ACN_K_MAX_VQP), NULL,
						NULL };
	char *full[] = { "name=abcdefghijabcdefghijabcdefghija", "mgmtdev=pci/0000:00:02.1", "mac=02:00:00:00:00:07",
			 "mtu=9000", "max_vqp=32768", NULL };
	char *vqp0[] = { "name=v0", "mgmtdev=vduse", "max_vqp=0", NULL };
	char *vqp_big[] = { "name=v0", "mgmtdev=vduse", "max_vqp=32769", NULL };
	char *long_name[] = { "name=abcdefghijabcdefghijabcdefghijab", "mgmtdev=vduse", NULL };
	char *no_mgmtdev[] = { "name=v0", NULL };
	char *bad_mgmtdev[] = { "name=v0", "mgmtdev=../vduse", NULL };
	static struct acn_opts o;
	struct acn_err err;

	CHECK(parse_args(&add, &o, &err, full) == 0);
	CHECK(strcmp(o.dev, "abcdefghijabcdefghijabcdefghija") == 0 && !acn_has(&o, ACN_K_NAME));
	CHECK(strcmp(o.mgmtdev.bus, "pci") == 0 && strcmp(o.mgmtdev.dev, "0000:00:02.1") == 0);
	CHECK(o.mtu == 9000 && o.max_vqp == 0x8000 && o.mac[5] == 7 && acn_has(&o, ACN_K_MAX_VQP));
	CHECK(parse_args(&add, &o, &err, vqp0) == -EINVAL && strcmp(err.object, "max_vqp") == 0);
	CHECK(strcmp(err.message, "vdpa-dev-add: invalid max_vqp \"0\": expected an integer in 1-32768") == 0);
	CHECK(parse_args(&add, &o, &err, vqp_big) == -EINVAL && strcmp(err.object, "max_vqp") == 0);
	CHECK(parse_args(&add, &o, &err, long_name) == -EINVAL && strcmp(err.object, "name") == 0);
	CHECK(strstr(err.message, "vdpa device names are 1-31 printable ASCII bytes") != NULL);
	CHECK(parse_args(&add, &o, &err, no_mgmtdev) == -EINVAL && strcmp(err.object, "mgmtdev") == 0);
	CHECK(parse_args(&add, &o, &err, bad_mgmtdev) == -EINVAL && strcmp(err.object, "mgmtdev") == 0);
	CHECK(strstr(err.message, "vdpa-dev-add: invalid mgmtdev \"../vduse\": the bus before '/'") == err.message);
}

/* vf-set's read-back: one VF picked out of IFLA_VFINFO_LIST, with its rates. */
static void test_single_vf(void)
{
	static struct acn_nlmsg m;
	struct nlattr *list, *vf;
	struct ifla_vf_rate rate_out = { 0 };
	struct acn_json j;
	const char *bad = NULL;
	uint32_t i;
	int rc;

	acn_nlmsg_init(&m, RTM_NEWLINK, 0, 0, NULL);
	list = acn_attr_nest_start(&m, IFLA_VFINFO_LIST);
	for (i = 0; i < 3; i++) {
		struct ifla_vf_mac mac = { .vf = i, .mac = { 0x02, 0, 0, 0, 0, (unsigned char)i } };
		struct ifla_vf_rate rate = { .vf = i, .min_tx_rate = i, .max_tx_rate = 100 * i };

		vf = acn_attr_nest_start(&m, IFLA_VF_INFO);
		acn_attr_put(&m, IFLA_VF_MAC, sizeof(mac), &mac);
		acn_attr_put(&m, IFLA_VF_RATE, sizeof(rate), &rate);
		acn_attr_nest_end(&m, vf);
	}
	acn_attr_nest_end(&m, list);
	acn_json_init(&j, buf, sizeof(buf) - 1);
	acn_json_obj_open(&j, NULL);
	rc = acn_vf_to_json(list, 2, &j, "vf", &rate_out, &bad);
	acn_json_obj_close(&j);
	buf[j.len] = '\0';
	CHECK(rc == 0);
	CONTAINS(buf, "{\"vf\":{\"vf\":2,\"mac\":\"02:00:00:00:00:02\"");
	CONTAINS(buf, "\"minTxRate\":2,\"maxTxRate\":200}}");
	CHECK(rate_out.min_tx_rate == 2 && rate_out.max_tx_rate == 200);
	acn_json_init(&j, buf, sizeof(buf) - 1);
	CHECK(acn_vf_to_json(list, 7, &j, "vf", NULL, &bad) == 1 && j.len == 0);
}

/* A uevent datagram as the kernel sends it: NUL-separated strings, the last one NUL-terminated too. */
#define UEV(lit) (lit), sizeof(lit)

static const char *uevent_line(const char *msg, size_t len, bool with_virtual, int *rc)
{
	struct acn_uevent ev;
	struct acn_json j;

	memset(&ev, 0x5a, sizeof(ev)); /* stale bytes must never leak into the line */
	buf[0] = '\0';
	*rc = acn_uevent_parse(msg, len, with_virtual, &ev);
	if (*rc == 1) {
		acn_json_init(&j, buf, sizeof(buf) - 1);
		acn_uevent_json(&j, &ev);
		buf[j.len] = '\0';
	}
	return buf;
}

static void test_uevent(void)
{
	int rc;

	/* A VF bound to vfio-pci (bind carries DRIVER), with keys we skip. */
	CHECK(strcmp(uevent_line(UEV("bind@/devices/pci0000:00/0000:00:12.0\0ACTION=bind\0"
					 "DEVPATH=/devices/pci0000:00/0000:00:12.0\0SUBSYSTEM=pci\0DRIVER=vfio-pci\0"
					 "PCI_CLASS=20000\0PCI_SLOT_NAME=0000:00:12.0\0SEQNUM=42"),
				 false, &rc),
		     "{\"action\":\"bind\",\"subsystem\":\"pci\",\"devpath\":\"/devices/pci0000:00/0000:00:12.0\","
		     "\"driver\":\"vfio-pci\",\"interface\":null,\"pciSlot\":\"0000:00:12.0\"}") == 0);
	CHECK(rc == 1);
	/* A VF netdev appears. */
	uevent_line(UEV("add@/devices/pci0000:00/0000:00:12.0/net/eth1\0ACTION=add\0"
			"DEVPATH=/devices/pci0000:00/0000:00:12.0/net/eth1\0SUBSYSTEM=net\0INTERFACE=eth1\0IFINDEX=5"),
		    false, &rc);
	CHECK(rc == 1);
	CONTAINS(buf, "\"subsystem\":\"net\"");
	CONTAINS(buf, "\"interface\":\"eth1\",\"pciSlot\":null}");
	/* vdpa bus, vhost-vdpa class, vfio class are relevant. */
	uevent_line(UEV("add@/devices/virtual/vduse/x/vdpa0\0ACTION=add\0DEVPATH=/devices/virtual/vduse/x/vdpa0\0"
			"SUBSYSTEM=vdpa"),
		    false, &rc);
	CHECK(rc == 1);
	uevent_line(UEV("remove@/devices/virtual/vduse/x/vdpa0/vhost-vdpa-0\0ACTION=remove\0"
			"DEVPATH=/devices/virtual/vduse/x/vdpa0/vhost-vdpa-0\0SUBSYSTEM=vhost-vdpa"),
		    false, &rc);
	CHECK(rc == 1);
	uevent_line(UEV("add@/devices/virtual/vfio/5\0ACTION=add\0DEVPATH=/devices/virtual/vfio/5\0SUBSYSTEM=vfio"),
		    false, &rc);
	CHECK(rc == 1);

	/* Filtered out: other subsystems, other actions, virtual netdevs unless asked for. */
	uevent_line(UEV("add@/devices/virtual/net/veth0/queues/rx-0\0ACTION=add\0"
			"DEVPATH=/devices/virtual/net/veth0/queues/rx-0\0SUBSYSTEM=queues"),
		    true, &rc);
	CHECK(rc == 0);
	uevent_line(UEV("online@/devices/system/cpu/cpu1\0ACTION=online\0DEVPATH=/devices/system/cpu/cpu1\0"
			"SUBSYSTEM=pci"),
		    false, &rc);
	CHECK(rc == 0);
	uevent_line(UEV("add@/devices/virtual/net/veth0\0ACTION=add\0DEVPATH=/devices/virtual/net/veth0\0"
			"SUBSYSTEM=net\0INTERFACE=veth0"),
		    false, &rc);
	CHECK(rc == 0);
	uevent_line(UEV("add@/devices/virtual/net/veth0\0ACTION=add\0DEVPATH=/devices/virtual/net/veth0\0"
			"SUBSYSTEM=net\0INTERFACE=veth0"),
		    true, &rc);
	CHECK(rc == 1);
	CONTAINS(buf, "\"interface\":\"veth0\"");

	/* Optional values that fail validation are reported as null, never passed through. */
	uevent_line(UEV("bind@/devices/pci0000:00/0000:00:12.0\0ACTION=bind\0DEVPATH=/devices/pci0000:00/0000:00:12.0\0"
			"SUBSYSTEM=pci\0DRIVER=bad\"drv\0PCI_SLOT_NAME=0000:00:12.0x\0INTERFACE=a/b"),
		    false, &rc);
	CHECK(rc == 1);
	CONTAINS(buf, "\"driver\":null,\"interface\":null,\"pciSlot\":null}");
	uevent_line(UEV("add@/devices/x/net/e\0ACTION=add\0DEVPATH=/devices/x/net/e\0SUBSYSTEM=net\0"
			"INTERFACE=waytoolonginterfacename"),
		    false, &rc);
	CHECK(rc == 1);
	CONTAINS(buf, "\"interface\":null");

	/* Malformed: no trailing NUL, no header, header/key mismatch, duplicates, bad or escaping DEVPATH. */
	{
		static const char no_nul[] = { 'a', 'd', 'd', '@', '/', 'd' };

		CHECK(acn_uevent_parse(no_nul, sizeof(no_nul), true, &(struct acn_uevent){ 0 }) == -EBADMSG);
	}
	CHECK(acn_uevent_parse("", 0, true, &(struct acn_uevent){ 0 }) == -EBADMSG);
	uevent_line(UEV("libudev\0ACTION=add\0DEVPATH=/devices/a\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\0ACTION=remove\0DEVPATH=/devices/a\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\0ACTION=add\0DEVPATH=/devices/b\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\0ACTION=add\0DEVPATH=/devices/a\0SUBSYSTEM=pci\0SUBSYSTEM=net"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\0ACTION=add\0DEVPATH=/devices/a\0SUBSYSTEM=pci\0DRIVER=a\0DRIVER=b"), true,
		    &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\0ACTION=add\0DEVPATH=/devices/a"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/../etc\0ACTION=add\0DEVPATH=/devices/../etc\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices//a\0ACTION=add\0DEVPATH=/devices//a\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/sys/a\0ACTION=add\0DEVPATH=/sys/a\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a b\0ACTION=add\0DEVPATH=/devices/a b\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	uevent_line(UEV("add@/devices/a\x01\0ACTION=add\0DEVPATH=/devices/a\x01\0SUBSYSTEM=pci"), true, &rc);
	CHECK(rc == -EBADMSG);
	{
		static char big[4096], path[ACN_UEVENT_DEVPATH_MAX + 16];
		int n, m, o, q;

		snprintf(path, sizeof(path), "/devices/%0*d", ACN_UEVENT_DEVPATH_MAX, 0); /* one too long */
		n = snprintf(big, sizeof(big), "add@%s", path);
		m = snprintf(big + n + 1, sizeof(big) - (size_t)n - 1, "ACTION=add");
		o = snprintf(big + n + m + 2, sizeof(big) - (size_t)(n + m + 2), "DEVPATH=%s", path);
		q = snprintf(big + n + m + o + 3, sizeof(big) - (size_t)(n + m + o + 3), "SUBSYSTEM=pci");

		CHECK(acn_uevent_parse(big, (size_t)(n + m + o + q + 4), true, &(struct acn_uevent){ 0 }) == -EBADMSG);
	}
}

/* A link notification as the kernel multicasts it on RTNLGRP_LINK. */
static void link_msg(struct acn_nlmsg *m, uint16_t type, int index, const char *name, int carrier, int oper,
		     const char *kind)
{
	struct ifinfomsg *ifi = acn_nlmsg_init(m, type, 0, sizeof(*ifi), &acn_ifla_policy);

	ifi->ifi_index = index;
	ifi->ifi_type = 1; /* ARPHRD_ETHER */
	acn_attr_put_strz(m, IFLA_IFNAME, name);
	if (carrier >= 0)
		acn_attr_put_u8(m, IFLA_CARRIER, (uint8_t)carrier);
	if (oper >= 0)
		acn_attr_put_u8(m, IFLA_OPERSTATE, (uint8_t)oper);
	if (kind) {
		struct nlattr *info = acn_attr_nest_start(m, IFLA_LINKINFO);

		acn_attr_put_strz(m, IFLA_INFO_KIND, kind);
		acn_attr_nest_end(m, info);
	}
}

static const char *link_line(const struct acn_link_event *ev)
{
	struct acn_json j;

	acn_json_init(&j, buf, sizeof(buf) - 1);
	acn_link_event_json(&j, ev);
	buf[j.len] = '\0';
	return buf;
}

static void test_link_event(void)
{
	static struct acn_nlmsg m;
	static struct acn_link_table t;
	struct acn_link_event ev;

	/* First sighting of a PF: reported; the same state again: not. */
	link_msg(&m, RTM_NEWLINK, 7, "ens1f0", 1, IF_OPER_UP, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1);
	CHECK(strcmp(link_line(&ev), "{\"link\":{\"action\":\"change\",\"ifindex\":7,\"interface\":\"ens1f0\","
				     "\"carrier\":true,\"operstate\":\"up\"}}") == 0);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 0);
	/* Carrier lost: reported. */
	link_msg(&m, RTM_NEWLINK, 7, "ens1f0", 0, IF_OPER_DOWN, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1);
	CHECK(ev.carrier == 0 && strcmp(ev.operstate, "down") == 0);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 0);
	/* Only the operstate changes: reported. */
	link_msg(&m, RTM_NEWLINK, 7, "ens1f0", 0, IF_OPER_LOWERLAYERDOWN, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1);
	/* A virtual link (has a kind) is dropped unless asked for; loopback too. */
	link_msg(&m, RTM_NEWLINK, 8, "veth0", 1, IF_OPER_UP, "veth");
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 0);
	CHECK(acn_link_event_parse(&m.nlh, true, &t, &ev) == 1 && ev.ifindex == 8);
	link_msg(&m, RTM_NEWLINK, 1, "lo", -1, IF_OPER_UNKNOWN, NULL);
	((struct ifinfomsg *)NLMSG_DATA(&m.nlh))->ifi_type = 772; /* ARPHRD_LOOPBACK */
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 0);
	/* Removal: reported and forgotten, so the next state of that index is new. */
	link_msg(&m, RTM_DELLINK, 7, "ens1f0", 0, IF_OPER_LOWERLAYERDOWN, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1 && strcmp(ev.action, "remove") == 0);
	link_msg(&m, RTM_NEWLINK, 7, "ens1f0", 0, IF_OPER_LOWERLAYERDOWN, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1);
	/* No carrier attribute: null. An invalid name: null. */
	link_msg(&m, RTM_NEWLINK, 9, "bad name", -1, IF_OPER_UP, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 1);
	CONTAINS(link_line(&ev), "\"interface\":null,\"carrier\":null");
	/* Other messages are not ours; malformed ones are refused. */
	link_msg(&m, RTM_NEWADDR, 9, "x", 1, IF_OPER_UP, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == 0);
	link_msg(&m, RTM_NEWLINK, 0, "x", 1, IF_OPER_UP, NULL);
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == -EBADMSG);
	{
		struct ifinfomsg *ifi = acn_nlmsg_init(&m, RTM_NEWLINK, 0, sizeof(*ifi), &acn_ifla_policy);

		ifi->ifi_index = 10;
		acn_attr_put(&m, IFLA_IFNAME, 3, "abc"); /* not NUL-terminated: the policy refuses */
	}
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == -EBADMSG);
	m.nlh.nlmsg_len = NLMSG_LENGTH(2); /* shorter than struct ifinfomsg */
	CHECK(acn_link_event_parse(&m.nlh, false, &t, &ev) == -EBADMSG);
}

/*
 * peer-cred: "fd" is 3 or above (0-2 are the helper's own stdio); on a
 * socketpair it reports this process (the kernel's SO_PEERCRED); a pipe is
 * refused (ENOTSOCK), as is a socket of another family.
 */
static void test_peer_cred(void)
{
	static const struct acn_cmd_def def = { "peer-cred", ACN_OPT(ACN_K_FD), 0, acn_peer_cred, NULL };
	char *ok[] = { "fd=3", NULL };
	char *stdio[] = { "fd=2", NULL };
	char *word[] = { "fd=three", NULL };
	char *none[] = { NULL };
	static struct acn_opts o;
	struct acn_err err;
	struct acn_json j;
	struct acn_ctx ctx = { .out = &j, .err = &err };
	char want[128];
	int sv[2], p[2], inet;

	CHECK(parse_args(&def, &o, &err, ok) == 0 && o.fd == 3);
	CHECK(parse_args(&def, &o, &err, stdio) == -EINVAL && strcmp(err.object, "fd") == 0);
	CHECK(strcmp(err.message, "peer-cred: invalid fd \"2\": expected an integer in 3-2147483647") == 0);
	CHECK(parse_args(&def, &o, &err, word) == -EINVAL && strcmp(err.object, "fd") == 0);
	CHECK(parse_args(&def, &o, &err, none) == -EINVAL && strcmp(err.object, "fd") == 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	memset(&o, 0, sizeof(o));
	o.fd = (uint32_t)sv[0];
	o.raw[ACN_K_FD] = "fd";
	memset(&err, 0, sizeof(err));
	acn_json_init(&j, buf, sizeof(buf) - 1);
	CHECK(acn_peer_cred(&ctx, &o) == 0);
	buf[j.len] = '\0';
	snprintf(want, sizeof(want), "\"peer\":{\"pid\":%d,\"uid\":%u,\"gid\":%u}", getpid(), getuid(), getgid());
	CONTAINS(buf, want);
	close(sv[0]);
	close(sv[1]);

	CHECK(pipe(p) == 0);
	o.fd = (uint32_t)p[0];
	CHECK(acn_peer_cred(&ctx, &o) == -ENOTSOCK && err.code == ENOTSOCK);
	close(p[0]);
	close(p[1]);

	inet = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(inet >= 0);
	o.fd = (uint32_t)inet;
	CHECK(acn_peer_cred(&ctx, &o) == -EAFNOSUPPORT);
	close(inet);
}

int main(void)
{
	test_pf_with_vfs();
	test_macvlan_and_bad_attr_name();
	test_malformed();
	test_json_escaping();
	test_route_and_addr();
	test_builder_overflow_is_sticky();
	test_validators();
	test_phase2_validators();
	test_netns_file_validator();
	test_single_vf();
	test_vf_set_zero_mac();
	test_mgmtdev_validator();
	test_vdpa_dev_add_args();
	test_uevent();
	test_link_event();
	test_peer_cred();
	checks += 2;
	failures += test_parent_death();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
