// SPDX-License-Identifier: Apache-2.0
/*
 * uevent-monitor: streams kernel uevents as JSON lines until stdin reaches
 * EOF or SIGTERM/SIGINT arrives (PROTOCOL.md "uevent-monitor"). The one
 * command that writes to stdout before the reply: a `{"ready":true}` line
 * once the socket is bound, one line per relevant event (uevent.c decides),
 * and `{"lost":true}` when the kernel dropped events (receive queue full) or
 * sent one too large for the buffer; batch.c then writes the ordinary reply
 * as the last line.
 *
 * Uevents are per namespace: net-class events reach only sockets in the
 * device's netns, and every other event only sockets in network namespaces
 * owned by the initial user namespace. The monitor must run in the host
 * netns and user namespace (the device plugin runs with hostNetwork).
 *
 * Only the kernel is believed: a datagram must come from port id 0 with
 * credentials of uid 0 (systemd-udevd checks the same), anything else is
 * dropped.
 *
 * Carrier and operstate changes raise no uevent: a second socket joins
 * rtnetlink's RTNLGRP_LINK and link_event.c turns its notifications into
 * `{"link":{...}}` lines, changes of non-virtual links only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include "link_event.h"
#include "reply.h"
#include "uevent.h"

#define UEVENT_GROUP_KERNEL 1u
/* A burst (VFs created on a large PF) must fit while Node is busy: ENOBUFS costs a full rescan. */
#define RCVBUF_BYTES (4 << 20)
/* The kernel's messages are at most 2048 bytes (UEVENT_BUFFER_SIZE); larger is not a uevent. */
#define DATAGRAM_MAX 8192

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static int write_line(const struct acn_json *j, struct acn_err *err)
{
	const char *p = j->buf;
	size_t n = j->len;

	if (j->overflow)
		return acn_fail(err, -ENOBUFS, "write stdout", "uevent-monitor");
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return acn_fail(err, w < 0 ? -errno : -EIO, "write stdout", "uevent-monitor");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes `{"<key>":true}` as one line. */
static int write_flag_line(const char *key, struct acn_err *err)
{
	char buf[64];
	struct acn_json j;

	acn_json_init(&j, buf, sizeof(buf));
	acn_json_obj_open(&j, NULL);
	acn_json_bool(&j, key, true);
	acn_json_obj_close(&j);
	acn_json_end(&j);
	return write_line(&j, err);
}

static int open_socket(int protocol, uint32_t groups, const char *socket_op, struct acn_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int one = 1, size = RCVBUF_BYTES, fd, rc = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
	if (fd < 0)
		return acn_fail(err, -errno, socket_op, "uevent-monitor");
	/* FORCE needs CAP_NET_ADMIN; without it the plain option is capped by rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		rc = acn_fail(err, -errno, "setsockopt SO_PASSCRED", "uevent-monitor");
	else if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = acn_fail(err, -errno, "bind", "uevent-monitor");
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* What tells the two sockets apart in receive_datagram(). */
struct datagram_source {
	const char *what;    /* names the socket in traces */
	const char *recv_op; /* op of a failed recvmsg */
	bool need_cred;      /* uevents: the kernel's credentials (uid 0) too, as systemd-udevd checks */
};

static const struct datagram_source uevent_source = { "uevent", "recvmsg", true };
static const struct datagram_source link_source = { "rtnetlink", "recvmsg rtnetlink", false };

/* True when the datagram was sent by the kernel: port id 0 and, when asked, credentials of uid 0. */
static bool from_kernel(const struct msghdr *mh, const struct sockaddr_nl *sa, bool need_cred)
{
	struct cmsghdr *c;

	if (mh->msg_namelen != sizeof(*sa) || sa->nl_pid != 0)
		return false;
	if (!need_cred)
		return true;
	for (c = CMSG_FIRSTHDR((struct msghdr *)mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			return cred.uid == 0;
		}
	}
	return false;
}

/*
 * The next datagram from the kernel on fd, into data: 1 with *len set, 0 once the queue is empty, a
 * negative errno when receiving or writing fails. An overflowed queue or a truncated datagram writes a
 * "lost" line, a datagram not from the kernel is dropped; either way the next one is received.
 */
static int receive_datagram(int fd, const struct datagram_source *src, char *data, size_t size, size_t *len,
			    struct acn_err *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	int rc;

	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = { .iov_base = data, .iov_len = size };
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == ENOBUFS) {
			acn_trace("uevent-monitor: %s receive queue overflowed, events lost", src->what);
			rc = write_flag_line("lost", err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return acn_fail(err, -errno, src->recv_op, "uevent-monitor");
		if (!from_kernel(&mh, &sa, src->need_cred)) {
			acn_trace("uevent-monitor: dropped a %s datagram not sent by the kernel (port id %u)", src->what,
				  sa.nl_pid);
			continue;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			rc = write_flag_line("lost", err);
			if (rc < 0)
				return rc;
			continue;
		}
		*len = (size_t)n;
		return 1;
	}
}

/* Reads every queued datagram and writes the relevant ones. */
static int drain(int fd, bool with_virtual, struct acn_err *err)
{
	static char data[DATAGRAM_MAX], line[ACN_UEVENT_DEVPATH_MAX + 512];
	struct acn_uevent ev;
	struct acn_json j;
	size_t n;
	int rc;

	while ((rc = receive_datagram(fd, &uevent_source, data, sizeof(data), &n, err)) > 0) {
		rc = acn_uevent_parse(data, n, with_virtual, &ev);
		if (rc == -EBADMSG)
			acn_trace("uevent-monitor: dropped a malformed uevent (%zu bytes)", n);
		if (rc <= 0)
			continue;
		acn_json_init(&j, line, sizeof(line));
		acn_uevent_json(&j, &ev);
		acn_json_end(&j);
		rc = write_line(&j, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Reads every queued rtnetlink notification and writes the link changes. */
static int drain_links(int fd, bool with_virtual, struct acn_link_table *t, struct acn_err *err)
{
	static char data[DATAGRAM_MAX], line[512];
	struct acn_link_event ev;
	struct acn_json j;
	size_t n;
	int rc;

	while ((rc = receive_datagram(fd, &link_source, data, sizeof(data), &n, err)) > 0) {
		const struct nlmsghdr *nlh;
		size_t left = n;

		for (nlh = (const struct nlmsghdr *)data; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
			rc = acn_link_event_parse(nlh, with_virtual, t, &ev);
			if (rc == -EBADMSG)
				acn_trace("uevent-monitor: dropped a malformed link notification");
			if (rc <= 0)
				continue;
			acn_json_init(&j, line, sizeof(line));
			acn_link_event_json(&j, &ev);
			acn_json_end(&j);
			rc = write_line(&j, err);
			if (rc < 0)
				return rc;
		}
	}
	return rc;
}

/* Consumes stdin; true once it reached EOF or failed (the parent is gone). */
static bool stdin_closed(void)
{
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	return n <= 0;
}

int acn_uevent_monitor(struct acn_ctx *ctx, const struct acn_opts *o)
{
	static struct acn_link_table links; /* 64 KiB: static, not on the stack */
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t stop_set, during_poll;
	int fd, link_fd, rc = 0;

	/* Stop signals are delivered only inside ppoll, so none is missed between the check and the wait. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_set, &during_poll);
	sigdelset(&during_poll, SIGTERM);
	sigdelset(&during_poll, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, not a silent death */

	fd = open_socket(NETLINK_KOBJECT_UEVENT, UEVENT_GROUP_KERNEL, "socket NETLINK_KOBJECT_UEVENT", ctx->err);
	if (fd < 0)
		return fd;
	link_fd = open_socket(NETLINK_ROUTE, RTMGRP_LINK, "socket NETLINK_ROUTE", ctx->err);
	if (link_fd < 0) {
		close(fd);
		return link_fd;
	}
	rc = write_flag_line("ready", ctx->err);
	while (rc == 0 && !stop_signal) {
		struct pollfd p[3] = { { .fd = fd, .events = POLLIN },
				       { .fd = STDIN_FILENO, .events = POLLIN },
				       { .fd = link_fd, .events = POLLIN } };

		if (ppoll(p, 3, NULL, &during_poll) < 0) {
			if (errno != EINTR)
				rc = acn_fail(ctx->err, -errno, "ppoll", "uevent-monitor");
			continue;
		}
		/* Events already queued are written before an EOF ends the stream. */
		if (p[0].revents & (POLLIN | POLLERR))
			rc = drain(fd, o->with_virtual, ctx->err);
		if (rc == 0 && (p[2].revents & (POLLIN | POLLERR)))
			rc = drain_links(link_fd, o->with_virtual, &links, ctx->err);
		if (rc == 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) && stdin_closed())
			break;
	}
	acn_trace("uevent-monitor: stopping (%s)", stop_signal ? strsignal(stop_signal) : rc ? "error" : "stdin EOF");
	close(link_fd);
	close(fd);
	return rc;
}
