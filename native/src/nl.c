// SPDX-License-Identifier: Apache-2.0
/* The netlink layer, part 1: message building and attribute parsing (no I/O). See nl.h. */
#include "nl.h"

#include <errno.h>
#include <string.h>

void *acn_nlmsg_init(struct acn_nlmsg *m, uint16_t type, uint16_t flags, size_t hdrlen,
		     const struct acn_nl_policy_set *policy)
{
	size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);

	memset(m->buf, 0, len);
	m->nlh.nlmsg_len = (uint32_t)len;
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	m->overflow = false;
	m->hdrlen = hdrlen;
	m->policy = policy;
	return m->buf + NLMSG_HDRLEN;
}

void acn_attr_put(struct acn_nlmsg *m, uint16_t type, size_t len, const void *data)
{
	struct nlattr *a;
	size_t total = NLA_HDRLEN + len;

	if (m->overflow)
		return;
	if (total > UINT16_MAX || NLA_ALIGN(total) > sizeof(m->buf) - m->nlh.nlmsg_len) {
		m->overflow = true;
		return;
	}
	a = (struct nlattr *)(m->buf + m->nlh.nlmsg_len);
	a->nla_type = type;
	a->nla_len = (uint16_t)total;
	if (len)
		memcpy((unsigned char *)a + NLA_HDRLEN, data, len);
	memset((unsigned char *)a + total, 0, NLA_ALIGN(total) - total);
	m->nlh.nlmsg_len += (uint32_t)NLA_ALIGN(total);
}

void acn_attr_put_u8(struct acn_nlmsg *m, uint16_t type, uint8_t v)
{
	acn_attr_put(m, type, sizeof(v), &v);
}

void acn_attr_put_u16(struct acn_nlmsg *m, uint16_t type, uint16_t v)
{
	acn_attr_put(m, type, sizeof(v), &v);
}

void acn_attr_put_u32(struct acn_nlmsg *m, uint16_t type, uint32_t v)
{
	acn_attr_put(m, type, sizeof(v), &v);
}

void acn_attr_put_s32(struct acn_nlmsg *m, uint16_t type, int32_t v)
{
	acn_attr_put(m, type, sizeof(v), &v);
}

void acn_attr_put_strz(struct acn_nlmsg *m, uint16_t type, const char *s)
{
	acn_attr_put(m, type, strlen(s) + 1, s);
}

struct nlattr *acn_attr_nest_start(struct acn_nlmsg *m, uint16_t type)
{
	struct nlattr *nest = (struct nlattr *)(m->buf + m->nlh.nlmsg_len);

	acn_attr_put(m, type | NLA_F_NESTED, 0, NULL);
	return m->overflow ? NULL : nest;
}

void acn_attr_nest_end(struct acn_nlmsg *m, struct nlattr *nest)
{
	size_t len;

	if (!nest || m->overflow)
		return;
	len = (size_t)(m->buf + m->nlh.nlmsg_len - (unsigned char *)nest);
	if (len > UINT16_MAX) {
		m->overflow = true;
		return;
	}
	nest->nla_len = (uint16_t)len;
}

static bool attr_valid(const struct nlattr *a, const struct acn_nl_policy *p)
{
	size_t n = acn_attr_len(a);
	const char *s = acn_attr_data(a);

	switch (p->kind) {
	case ACN_NLA_U8:
		return n >= 1;
	case ACN_NLA_U16:
		return n >= 2;
	case ACN_NLA_U32:
	case ACN_NLA_S32:
		return n >= 4;
	case ACN_NLA_U64:
		return n >= 8;
	case ACN_NLA_STRING:
		if (n == 0 || !memchr(s, 0, n))
			return false;
		return p->len == 0 || strnlen(s, n) < p->len;
	case ACN_NLA_BINARY:
		return n >= p->len;
	case ACN_NLA_FLAG:
		return n == 0;
	case ACN_NLA_NEST:
	case ACN_NLA_UNSPEC:
		return true;
	}
	return false;
}

int acn_attr_parse(const void *data, size_t len, const struct acn_nl_policy_set *policy,
		   const struct nlattr **tb, const char **bad)
{
	const struct nlattr *a;

	memset(tb, 0, (policy->max + 1u) * sizeof(*tb));
	acn_attr_for_each(a, data, len) {
		uint16_t type = a->nla_type & NLA_TYPE_MASK;
		const struct acn_nl_policy *p;

		if (type > policy->max)
			continue; /* newer kernel: skip, do not reject */
		p = &policy->attr[type];
		if (p->kind == ACN_NLA_UNSPEC)
			continue;
		if (!attr_valid(a, p)) {
			if (bad)
				*bad = p->name;
			return -EPROTO;
		}
		tb[type] = a;
	}
	return 0;
}

int acn_attr_parse_msg(const struct nlmsghdr *nlh, size_t hdrlen, const struct acn_nl_policy_set *policy,
		       const struct nlattr **tb, const char **bad)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);

	if (nlh->nlmsg_len < off) {
		if (bad)
			*bad = "header";
		return -EPROTO;
	}
	return acn_attr_parse((const char *)nlh + off, nlh->nlmsg_len - off, policy, tb, bad);
}

const void *acn_attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

size_t acn_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

uint8_t acn_attr_u8(const struct nlattr *a)
{
	return *(const uint8_t *)acn_attr_data(a);
}

uint16_t acn_attr_u16(const struct nlattr *a)
{
	uint16_t v;

	memcpy(&v, acn_attr_data(a), sizeof(v));
	return v;
}

uint32_t acn_attr_u32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, acn_attr_data(a), sizeof(v));
	return v;
}

uint64_t acn_attr_u64(const struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, acn_attr_data(a), sizeof(v));
	return v;
}

int32_t acn_attr_s32(const struct nlattr *a)
{
	int32_t v;

	memcpy(&v, acn_attr_data(a), sizeof(v));
	return v;
}

const char *acn_attr_str(const struct nlattr *a)
{
	return acn_attr_data(a);
}

static const char *name_in(const unsigned char *base, size_t len, size_t base_off, uint32_t target,
			   const struct acn_nl_policy_set *pol)
{
	const struct nlattr *a;

	acn_attr_for_each(a, base, len) {
		size_t off = base_off + (size_t)((const unsigned char *)a - base);
		uint16_t type = a->nla_type & NLA_TYPE_MASK;
		const struct acn_nl_policy *p = pol && type <= pol->max ? &pol->attr[type] : NULL;

		if (off == target)
			return p ? p->name : NULL;
		if (target > off && target < off + a->nla_len) {
			if (p && p->nest)
				return name_in((const unsigned char *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN,
					       off + NLA_HDRLEN, target, p->nest);
			return p ? p->name : NULL;
		}
	}
	return NULL;
}

const char *acn_nl_attr_name_at(const struct acn_nlmsg *m, uint32_t offset)
{
	size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(m->hdrlen);

	if (offset < start || offset >= m->nlh.nlmsg_len)
		return NULL;
	return name_in(m->buf + start, m->nlh.nlmsg_len - start, start, offset, m->policy);
}
