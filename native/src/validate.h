/* SPDX-License-Identifier: Apache-2.0 */
/* Value validators for argv (pure functions: no I/O, no messages). */
#ifndef ACN_VALIDATE_H
#define ACN_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acn.h"

/* Absolute, without ".." components. */
bool acn_path_safe(const char *path);
/* 1-15 printable ASCII bytes, no '/', ':' or whitespace, not "." or "..". */
bool acn_ifname_valid(const char *s);
/* An interface altname: like an interface name but up to 127 bytes. */
bool acn_altname_valid(const char *s);
/* dddd:bb:dd.f in lowercase hex (device <= 1f, function <= 7). */
bool acn_pci_addr_valid(const char *s);
/* A kernel driver name: [a-z0-9_-]{1,31}. */
bool acn_driver_name_valid(const char *s);
/* A vdpa device name: like an interface name but up to 31 bytes. */
bool acn_vdpa_name_valid(const char *s);
/*
 * A vdpa management device as iproute2 names it: "BUS/DEV" or "DEV" (no bus,
 * like "vduse"). BUS is 1-31 bytes of [a-z0-9_-]; DEV 1-63 bytes of
 * [A-Za-z0-9_.:-], not "." or ".."; on the pci bus DEV is a PCI address.
 * Returns NULL or the reason it is refused.
 */
const char *acn_mgmtdev_parse(const char *s, struct acn_mgmtdev *m);
/* ACN_RUN_NETNS_DIR "/" NAME, NAME 1-64 bytes of [A-Za-z0-9_.-], not "." or "..". */
bool acn_netns_file_valid(const char *path);
/* xx:xx:xx:xx:xx:xx; returns NULL or the reason it is refused. */
const char *acn_mac_parse(const char *s, unsigned char mac[6]);
/*
 * A VF's administrative MAC (vf-set): unicast, or all-zero, which drivers take
 * as "no administratively set MAC" (igb starts every VF with it).
 */
const char *acn_vf_mac_parse(const char *s, unsigned char mac[6]);
/* Plain decimal, no sign, within [min, max]. */
bool acn_u32_parse(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "ADDR/LEN" when with_len, else "ADDR" (prefixlen set to the full length). */
bool acn_prefix_parse(const char *s, bool with_len, struct acn_prefix *p);
/* True when all bits after prefixlen are zero. */
bool acn_prefix_is_network(const struct acn_prefix *p);
/* Formats the network of @p ("10.0.0.0/24") into buf. */
void acn_prefix_network_str(const struct acn_prefix *p, char *buf, size_t len);
void acn_mac_str(const unsigned char *mac, size_t n, char *buf, size_t len);

#endif
