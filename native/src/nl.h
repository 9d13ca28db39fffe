/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small netlink layer in the style of libmnl:
 *  - message builder over a fixed buffer with sticky overflow, checked once
 *    before send (YNL);
 *  - attribute parsing driven by per-family policy tables {kind, len, name,
 *    nest}: every known attribute is size-checked before use, unknown types
 *    are skipped so an old binary keeps working on a newer kernel;
 *  - a socket opened in a given netns with EXT_ACK and CAP_ACK, requests
 *    always carrying NLM_F_ACK, replies checked for portid and seq, the
 *    kernel's ext-ack text and bad attribute (by name) kept in struct acn_err;
 *  - dumps restarted when the kernel flags NLM_F_DUMP_INTR, a few times, then
 *    reported as EAGAIN (retryable).
 * Generic netlink (phase 2) builds on the same socket: acn_genl_family_id()
 * resolves a family through CTRL_CMD_GETFAMILY, then requests use
 * acn_nlmsg_init() with type = family id and a struct genlmsghdr header.
 */
#ifndef ACN_NL_H
#define ACN_NL_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acn.h"

enum acn_nla_kind {
	ACN_NLA_UNSPEC = 0, /* not in the table: skipped */
	ACN_NLA_U8,
	ACN_NLA_U16,
	ACN_NLA_U32,
	ACN_NLA_S32,
	ACN_NLA_U64,
	ACN_NLA_STRING, /* NUL-terminated, at most len bytes including NUL (0: any) */
	ACN_NLA_BINARY, /* at least len bytes */
	ACN_NLA_NEST,
	ACN_NLA_FLAG,
};

struct acn_nl_policy_set;

struct acn_nl_policy {
	enum acn_nla_kind kind;
	uint16_t len;
	const char *name;
	const struct acn_nl_policy_set *nest;
};

struct acn_nl_policy_set {
	uint16_t max;
	const struct acn_nl_policy *attr; /* indexed by type, max + 1 entries */
};

#define ACN_NLMSG_MAX 8192

struct acn_nlmsg {
	union {
		struct nlmsghdr nlh;
		unsigned char buf[ACN_NLMSG_MAX];
	};
	bool overflow;
	size_t hdrlen;                            /* family header (ifinfomsg, ...) */
	const struct acn_nl_policy_set *policy;   /* to name a bad attribute */
};

/* Starts a request; returns the zeroed family header of @hdrlen bytes. */
void *acn_nlmsg_init(struct acn_nlmsg *m, uint16_t type, uint16_t flags, size_t hdrlen,
		     const struct acn_nl_policy_set *policy);
void acn_attr_put(struct acn_nlmsg *m, uint16_t type, size_t len, const void *data);
void acn_attr_put_u8(struct acn_nlmsg *m, uint16_t type, uint8_t v);
void acn_attr_put_u16(struct acn_nlmsg *m, uint16_t type, uint16_t v);
void acn_attr_put_u32(struct acn_nlmsg *m, uint16_t type, uint32_t v);
void acn_attr_put_s32(struct acn_nlmsg *m, uint16_t type, int32_t v);
void acn_attr_put_strz(struct acn_nlmsg *m, uint16_t type, const char *s);
/* Returns NULL after an overflow; acn_attr_nest_end(m, NULL) is a no-op. */
struct nlattr *acn_attr_nest_start(struct acn_nlmsg *m, uint16_t type);
void acn_attr_nest_end(struct acn_nlmsg *m, struct nlattr *nest);

/* Attribute access. tb must have policy->max + 1 slots. */
int acn_attr_parse(const void *data, size_t len, const struct acn_nl_policy_set *policy,
		   const struct nlattr **tb, const char **bad);
/* Parses the attributes after a family header of hdrlen bytes. */
int acn_attr_parse_msg(const struct nlmsghdr *nlh, size_t hdrlen, const struct acn_nl_policy_set *policy,
		       const struct nlattr **tb, const char **bad);
const void *acn_attr_data(const struct nlattr *a);
size_t acn_attr_len(const struct nlattr *a);
uint8_t acn_attr_u8(const struct nlattr *a);
uint16_t acn_attr_u16(const struct nlattr *a);
uint32_t acn_attr_u32(const struct nlattr *a);
uint64_t acn_attr_u64(const struct nlattr *a);
int32_t acn_attr_s32(const struct nlattr *a);
const char *acn_attr_str(const struct nlattr *a);

#define acn_attr_for_each(a, data, len)                                                                 \
	for ((a) = (const struct nlattr *)(data);                                                       \
	     (size_t)((const char *)(a) - (const char *)(data)) + sizeof(struct nlattr) <= (len) &&   \
	     (a)->nla_len >= sizeof(struct nlattr) &&                                                   \
	     (size_t)((const char *)(a) - (const char *)(data)) + (a)->nla_len <= (len);               \
	     (a) = (const struct nlattr *)((const char *)(a) + NLA_ALIGN((a)->nla_len)))

struct acn_nl {
	int fd;
	uint32_t portid;
	uint32_t seq;
};

/* Called for every data message of a reply; returns 0 or -errno. */
typedef int (*acn_nl_cb)(const struct nlmsghdr *nlh, void *data);
/* Called before a dump is restarted, to drop what the callback collected. */
typedef void (*acn_nl_reset)(void *data);

/* Opens a netlink socket inside @ns (NULL or fd -1: the helper's own netns). */
int acn_nl_open(struct acn_nl *nl, const struct acn_netns *ns, int protocol, struct acn_err *err);
void acn_nl_close(struct acn_nl *nl);
/* Sends one request (NLM_F_ACK added) and runs @cb on each reply until the ack. */
int acn_nl_talk(struct acn_nl *nl, struct acn_nlmsg *m, acn_nl_cb cb, void *data, struct acn_err *err,
		const char *op, const char *object);
/* Dumps (NLM_F_DUMP added), restarting interrupted dumps a few times. */
int acn_nl_dump(struct acn_nl *nl, struct acn_nlmsg *m, acn_nl_cb cb, acn_nl_reset reset, void *data,
		struct acn_err *err, const char *op, const char *object);

/* Exposed for the C parser tests: resolves a request offset to an attribute name. */
const char *acn_nl_attr_name_at(const struct acn_nlmsg *m, uint32_t offset);

#endif
