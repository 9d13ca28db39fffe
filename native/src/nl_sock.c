// SPDX-License-Identifier: Apache-2.0
/* The netlink layer, part 2: the socket, request/ack, dumps and ext-ack. See nl.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "nl.h"

#define ACN_NL_DUMP_TRIES 3

/* Large enough for one RTM_NEWLINK of a PF with many VFs; untouched pages cost nothing. */
static unsigned char rxbuf[1 << 18];

static const struct acn_nl_policy extack_attrs[NLMSGERR_ATTR_MAX + 1] = {
	[NLMSGERR_ATTR_MSG] = { ACN_NLA_STRING, 0, "NLMSGERR_ATTR_MSG", NULL },
	[NLMSGERR_ATTR_OFFS] = { ACN_NLA_U32, 0, "NLMSGERR_ATTR_OFFS", NULL },
	[NLMSGERR_ATTR_MISS_TYPE] = { ACN_NLA_U32, 0, "NLMSGERR_ATTR_MISS_TYPE", NULL },
};
static const struct acn_nl_policy_set extack_policy = { NLMSGERR_ATTR_MAX, extack_attrs };

/* Copies the kernel's ext-ack text and the bad attribute's name into err. */
static void nl_extack(const struct nlmsghdr *nlh, const struct acn_nlmsg *m, struct acn_err *err)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	const char *name;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	if (off >= nlh->nlmsg_len)
		return;
	if (acn_attr_parse((const char *)nlh + off, nlh->nlmsg_len - off, &extack_policy, tb, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(err->extack, sizeof(err->extack), "%s", acn_attr_str(tb[NLMSGERR_ATTR_MSG]));
	if (tb[NLMSGERR_ATTR_OFFS]) {
		uint32_t at = acn_attr_u32(tb[NLMSGERR_ATTR_OFFS]);

		name = acn_nl_attr_name_at(m, at);
		if (name)
			snprintf(err->attr, sizeof(err->attr), "%s", name);
		else
			snprintf(err->attr, sizeof(err->attr), "offset %u", at);
	}
}

int acn_nl_open(struct acn_nl *nl, const struct acn_netns *ns, int protocol, struct acn_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int one = 1;
	int rc;

	nl->fd = -1;
	rc = acn_netns_socket(ns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol, &nl->fd, err);
	if (rc < 0)
		return rc;
	/* Old kernels lack these (ENOPROTOOPT); the reply parser copes with both forms. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = acn_fail(err, -errno, "bind netlink", "");
		goto close_fd;
	}
	if (getsockname(nl->fd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = acn_fail(err, -errno, "getsockname netlink", "");
		goto close_fd;
	}
	nl->portid = sa.nl_pid;
	nl->seq = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	return 0;

close_fd:
	close(nl->fd);
	nl->fd = -1;
	return rc;
}

void acn_nl_close(struct acn_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static int nl_send(struct acn_nl *nl, struct acn_nlmsg *m, struct acn_err *err, const char *op,
		   const char *object)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (m->overflow)
		return acn_fail(err, -EMSGSIZE, op, object);
	m->nlh.nlmsg_flags |= NLM_F_ACK;
	m->nlh.nlmsg_seq = ++nl->seq;
	m->nlh.nlmsg_pid = 0;
	if (acn_trace_on)
		acn_trace("nl send %s type=%u flags=%#x len=%u seq=%u", op, m->nlh.nlmsg_type,
			  m->nlh.nlmsg_flags, m->nlh.nlmsg_len, m->nlh.nlmsg_seq);
	do
		n = sendto(nl->fd, m->buf, m->nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return acn_fail(err, -errno, op, object);
	return 0;
}

/* Reads replies to the last request until its ack or NLMSG_DONE. */
static int nl_recv(struct acn_nl *nl, const struct acn_nlmsg *m, acn_nl_cb cb, void *data, bool *intr,
		   struct acn_err *err, const char *op, const char *object)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { rxbuf, sizeof(rxbuf) };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		const struct nlmsghdr *nlh;
		ssize_t n;
		size_t left;
		int rc;

		n = recvmsg(nl->fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return acn_fail(err, -errno, op, object);
		}
		if (msg.msg_flags & MSG_TRUNC)
			return acn_fail(err, -EMSGSIZE, op, object);
		if (from.nl_pid != 0)
			continue; /* not from the kernel */
		left = (size_t)n;
		for (nlh = (const struct nlmsghdr *)rxbuf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
			if (nlh->nlmsg_pid != nl->portid)
				return acn_fail(err, -ESRCH, op, object);
			if (nlh->nlmsg_seq != m->nlh.nlmsg_seq)
				return acn_fail(err, -EPROTO, op, object);
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				*intr = true;
			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_OVERRUN:
				return acn_fail(err, -ENOBUFS, op, object);
			case NLMSG_ERROR: {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
					return acn_fail(err, -EPROTO, op, object);
				if (e->error == 0)
					return 0;
				rc = acn_fail(err, e->error < 0 ? e->error : -e->error, op, object);
				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)))
					nl_extack(nlh, m, err);
				return rc;
			}
			case NLMSG_DONE: {
				int done_err = 0;

				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&done_err, NLMSG_DATA(nlh), sizeof(done_err));
				if (done_err < 0)
					return acn_fail(err, done_err, op, object);
				return 0;
			}
			default:
				rc = cb ? cb(nlh, data) : 0;
				if (rc < 0)
					return rc;
			}
		}
	}
}

int acn_nl_talk(struct acn_nl *nl, struct acn_nlmsg *m, acn_nl_cb cb, void *data, struct acn_err *err,
		const char *op, const char *object)
{
	bool intr = false;
	int rc = nl_send(nl, m, err, op, object);

	if (rc < 0)
		return rc;
	return nl_recv(nl, m, cb, data, &intr, err, op, object);
}

int acn_nl_dump(struct acn_nl *nl, struct acn_nlmsg *m, acn_nl_cb cb, acn_nl_reset reset, void *data,
		struct acn_err *err, const char *op, const char *object)
{
	int tries, rc;

	m->nlh.nlmsg_flags |= NLM_F_DUMP;
	for (tries = 0; tries < ACN_NL_DUMP_TRIES; tries++) {
		bool intr = false;

		rc = nl_send(nl, m, err, op, object);
		if (rc < 0)
			return rc;
		rc = nl_recv(nl, m, cb, data, &intr, err, op, object);
		if (rc < 0 || !intr)
			return rc;
		acn_trace("nl dump %s interrupted, restarting", op);
		if (reset)
			reset(data);
	}
	rc = acn_fail(err, -EAGAIN, op, object);
	snprintf(err->message, sizeof(err->message), "%s dump kept changing (interrupted %d times); retry", op,
		 ACN_NL_DUMP_TRIES);
	return rc;
}
