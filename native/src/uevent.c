// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel uevent parsing for uevent-monitor. A uevent datagram is
 * "ACTION@DEVPATH\0KEY=VALUE\0...KEY=VALUE\0" (lib/kobject_uevent.c). Nothing in
 * it is trusted: the datagram must be NUL-terminated, the header must agree
 * with the ACTION and DEVPATH keys, the keys we use must appear once, and
 * every value we report is validated (bounded, printable) or reported as
 * null. Other keys are skipped, as libmnl skips unknown attributes.
 *
 * Filter (what can change the device plugin's inventory):
 *  - actions add, remove, bind, unbind, change, move (not online/offline);
 *  - subsystems pci (VFs created/removed, driver bound/unbound), net (VF and
 *    virtio_vdpa netdevs appear, vanish, are renamed or leave the netns),
 *    vdpa (vdpa devices and their driver), vhost-vdpa (the /dev/vhost-vdpa-N
 *    class device) and vfio (the /dev/vfio/N group node);
 *  - net events of virtual devices (DEVPATH under /devices/virtual/: veth,
 *    macvlan, bridges of every pod) are dropped unless asked for (virtual=1):
 *    they are never inventory, and a busy node creates them for every pod.
 */
#include "uevent.h"

#include <errno.h>
#include <string.h>

#include "reply.h"
#include "validate.h"

static const char *const actions[] = { "add", "remove", "bind", "unbind", "change", "move" };
static const char *const subsystems[] = { "pci", "net", "vdpa", "vhost-vdpa", "vfio" };

#define VIRTUAL_PREFIX "/devices/virtual/"

static const char *lookup(const char *const *table, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i], s) == 0)
			return table[i];
	return NULL;
}

/* 1..max bytes of printable ASCII without space, starting "/devices/", no empty, "." or ".." component. */
static bool devpath_valid(const char *p, size_t max)
{
	size_t n = strlen(p), i;
	const char *c;

	if (n > max || strncmp(p, "/devices/", 9) != 0)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return false;
	for (c = p + 1;; c += strcspn(c, "/") + 1) {
		size_t len = strcspn(c, "/");

		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (c[len] == '\0')
			return true;
	}
}

/* Copies @v into @dst when @valid, else leaves @dst empty (reported as null). */
static void take(char *dst, size_t size, const char *v, bool valid)
{
	dst[0] = '\0';
	if (valid && strlen(v) < size)
		memcpy(dst, v, strlen(v) + 1);
}

enum { K_ACTION, K_DEVPATH, K_SUBSYSTEM, K_DRIVER, K_INTERFACE, K_PCI_SLOT_NAME, K_NUM };
static const char *const key_names[K_NUM] = { "ACTION", "DEVPATH", "SUBSYSTEM", "DRIVER", "INTERFACE",
					      "PCI_SLOT_NAME" };

int acn_uevent_parse(const char *buf, size_t len, bool with_virtual, struct acn_uevent *ev)
{
	const char *val[K_NUM] = { NULL };
	const char *at, *p, *end = buf + len;
	size_t hlen;
	int k;

	if (len == 0 || buf[len - 1] != '\0')
		return -EBADMSG;
	hlen = strlen(buf);
	at = memchr(buf, '@', hlen);
	if (!at)
		return -EBADMSG; /* also udev's "libudev" messages, which never come on group 1 */
	for (p = buf + hlen + 1; p < end; p += strlen(p) + 1) {
		const char *eq = strchr(p, '=');

		if (!eq)
			continue;
		for (k = 0; k < K_NUM; k++) {
			if ((size_t)(eq - p) != strlen(key_names[k]) || memcmp(p, key_names[k], (size_t)(eq - p)) != 0)
				continue;
			if (val[k])
				return -EBADMSG;
			val[k] = eq + 1;
		}
	}
	if (!val[K_ACTION] || !val[K_DEVPATH] || !val[K_SUBSYSTEM])
		return -EBADMSG;
	/* The header repeats ACTION and DEVPATH. */
	if (strlen(val[K_ACTION]) != (size_t)(at - buf) || memcmp(buf, val[K_ACTION], (size_t)(at - buf)) != 0 ||
	    strcmp(at + 1, val[K_DEVPATH]) != 0)
		return -EBADMSG;
	if (!devpath_valid(val[K_DEVPATH], ACN_UEVENT_DEVPATH_MAX))
		return -EBADMSG;
	ev->action = lookup(actions, sizeof(actions) / sizeof(actions[0]), val[K_ACTION]);
	ev->subsystem = lookup(subsystems, sizeof(subsystems) / sizeof(subsystems[0]), val[K_SUBSYSTEM]);
	if (!ev->action || !ev->subsystem)
		return 0;
	if (!with_virtual && strcmp(ev->subsystem, "net") == 0 &&
	    strncmp(val[K_DEVPATH], VIRTUAL_PREFIX, sizeof(VIRTUAL_PREFIX) - 1) == 0)
		return 0;
	take(ev->devpath, sizeof(ev->devpath), val[K_DEVPATH], true);
	take(ev->driver, sizeof(ev->driver), val[K_DRIVER], val[K_DRIVER] && acn_driver_name_valid(val[K_DRIVER]));
	take(ev->interface, sizeof(ev->interface), val[K_INTERFACE],
	     val[K_INTERFACE] && acn_ifname_valid(val[K_INTERFACE]));
	take(ev->pci_slot, sizeof(ev->pci_slot), val[K_PCI_SLOT_NAME],
	     val[K_PCI_SLOT_NAME] && acn_pci_addr_valid(val[K_PCI_SLOT_NAME]));
	return 1;
}

static void str_or_null(struct acn_json *j, const char *key, const char *s)
{
	if (s[0])
		acn_json_str(j, key, s);
	else
		acn_json_null(j, key);
}

void acn_uevent_json(struct acn_json *j, const struct acn_uevent *ev)
{
	acn_json_obj_open(j, NULL);
	acn_json_str(j, "action", ev->action);
	acn_json_str(j, "subsystem", ev->subsystem);
	acn_json_str(j, "devpath", ev->devpath);
	str_or_null(j, "driver", ev->driver);
	str_or_null(j, "interface", ev->interface);
	str_or_null(j, "pciSlot", ev->pci_slot);
	acn_json_obj_close(j);
}
