// SPDX-License-Identifier: Apache-2.0
/* Value validators: everything the helper accepts from argv passes through here. */
#include "validate.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

bool acn_path_safe(const char *path)
{
	const char *p = path;

	if (p[0] != '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

/* printable ASCII without space, '/' or ':', 1..max bytes, not "." or "..". */
static bool name_valid(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* 0x21..0x7e: printable ASCII without space. */
		if (c < 0x21 || c > 0x7e || c == '/' || c == ':')
			return false;
	}
	return true;
}

bool acn_ifname_valid(const char *s)
{
	return name_valid(s, IFNAMSIZ - 1);
}

bool acn_altname_valid(const char *s)
{
	return name_valid(s, ACN_ALTNAMSIZ - 1);
}

bool acn_vdpa_name_valid(const char *s)
{
	return name_valid(s, ACN_VDPA_NAME_MAX);
}

static bool lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool acn_pci_addr_valid(const char *s)
{
	static const char shape[] = "xxxx:xx:xx.x";
	size_t i;

	if (strlen(s) != ACN_PCI_ADDR_LEN)
		return false;
	for (i = 0; i < ACN_PCI_ADDR_LEN; i++) {
		if (shape[i] == 'x' ? !lower_hex(s[i]) : s[i] != shape[i])
			return false;
	}
	/* device is 5 bits, function 3 bits */
	return s[8] <= '1' && s[11] <= '7';
}

bool acn_driver_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > ACN_DRIVER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool bus_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool dev_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == ':' || c == '-';
}

const char *acn_mgmtdev_parse(const char *s, struct acn_mgmtdev *m)
{
	const char *slash = strchr(s, '/');
	const char *dev = slash ? slash + 1 : s;
	size_t buslen = slash ? (size_t)(slash - s) : 0, devlen = strlen(dev), i;

	memset(m, 0, sizeof(*m));
	if (slash && (buslen == 0 || buslen > ACN_MGMTDEV_BUS_MAX))
		return "the bus before '/' must be 1-31 bytes of [a-z0-9_-]";
	for (i = 0; i < buslen; i++)
		if (!bus_char(s[i]))
			return "the bus before '/' must be 1-31 bytes of [a-z0-9_-]";
	if (devlen == 0 || devlen > ACN_MGMTDEV_DEV_MAX || strcmp(dev, ".") == 0 || strcmp(dev, "..") == 0)
		return "expected BUS/DEV or DEV, DEV 1-63 bytes of [A-Za-z0-9_.:-] (like pci/0000:00:02.1 or vduse)";
	for (i = 0; i < devlen; i++)
		if (!dev_char(dev[i]))
			return "expected BUS/DEV or DEV, DEV 1-63 bytes of [A-Za-z0-9_.:-] (like pci/0000:00:02.1 or vduse)";
	if (buslen == 3 && memcmp(s, "pci", 3) == 0 && !acn_pci_addr_valid(dev))
		return "a pci management device is named by its PCI address dddd:bb:dd.f in lowercase hex";
	memcpy(m->bus, s, buslen);
	memcpy(m->dev, dev, devlen);
	return NULL;
}

bool acn_netns_file_valid(const char *path)
{
	static const char dir[] = ACN_RUN_NETNS_DIR "/";
	const char *name = path + sizeof(dir) - 1;
	size_t n, i;

	if (strncmp(path, dir, sizeof(dir) - 1) != 0)
		return false;
	n = strlen(name);
	if (n == 0 || n > ACN_NETNS_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xx:xx:xx:xx:xx:xx in hex, unicast; all-zero is the caller's decision. */
static const char *mac_parse_unicast(const char *s, unsigned char mac[6])
{
	int i;

	if (strlen(s) != 17)
		return "expected xx:xx:xx:xx:xx:xx in hex";
	for (i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return "expected xx:xx:xx:xx:xx:xx in hex";
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return "is a multicast address, not unicast";
	return NULL;
}

const char *acn_mac_parse(const char *s, unsigned char mac[6])
{
	const char *reason = mac_parse_unicast(s, mac);

	if (!reason && !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return "is all zero";
	return reason;
}

const char *acn_vf_mac_parse(const char *s, unsigned char mac[6])
{
	return mac_parse_unicast(s, mac);
}

bool acn_u32_parse(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool acn_prefix_parse(const char *s, bool with_len, struct acn_prefix *p)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hostlen = slash ? (size_t)(slash - s) : strlen(s);
	uint32_t len;

	memset(p, 0, sizeof(*p));
	if ((slash != NULL) != with_len || hostlen == 0 || hostlen >= sizeof(host))
		return false;
	memcpy(host, s, hostlen);
	host[hostlen] = '\0';
	if (inet_pton(AF_INET, host, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, host, p->addr) == 1)
		p->family = AF_INET6;
	else
		return false;
	if (!with_len) {
		p->prefixlen = p->family == AF_INET ? 32 : 128;
		return true;
	}
	if (!acn_u32_parse(slash + 1, 0, p->family == AF_INET ? 32 : 128, &len))
		return false;
	p->prefixlen = len;
	return true;
}

bool acn_prefix_is_network(const struct acn_prefix *p)
{
	unsigned int bytes = p->family == AF_INET ? 4 : 16, bit;

	for (bit = p->prefixlen; bit < bytes * 8; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

void acn_prefix_network_str(const struct acn_prefix *p, char *buf, size_t len)
{
	struct acn_prefix net = *p;
	char host[INET6_ADDRSTRLEN];
	unsigned int bytes = p->family == AF_INET ? 4 : 16, bit;

	for (bit = p->prefixlen; bit < bytes * 8; bit++)
		net.addr[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
	inet_ntop(p->family, net.addr, host, sizeof(host));
	snprintf(buf, len, "%s/%u", host, p->prefixlen);
}

void acn_mac_str(const unsigned char *mac, size_t n, char *buf, size_t len)
{
	size_t i, at = 0;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < n && at + 3 < len; i++)
		at += (size_t)snprintf(buf + at, len - at, i ? ":%02x" : "%02x", mac[i]);
}
