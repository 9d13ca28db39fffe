// SPDX-License-Identifier: Apache-2.0
/*
 * The socket client: connect to the resident server and make sure it is
 * root's, then one exchange (send all, half-close, read the whole answer).
 * Nothing is sent before the peer is known to be root, so every failure of
 * acn_fe_client_connect leaves the standalone fallback open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fe.h"

/* No server is the normal case on a node without the DaemonSet: no note for these. */
static bool no_server(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ECONNREFUSED;
}

/*
 * A connected socket to the server at @path whose peer is uid 0, or -errno.
 * @note gets a line for stderr when the failure is worth an operator's eye
 * (a socket not root's, a path too long, a permission error); else "".
 */
int acn_fe_client_connect(const char *path, char *note, size_t note_cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred peer;
	socklen_t peer_len = sizeof(peer);
	int fd, err;

	note[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(note, note_cap, "accelnet: CNI server socket path \"%s\" is too long; running %s\n", path,
			 ACN_FE_STANDALONE);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		snprintf(note, note_cap, "accelnet: cannot create a Unix socket: %s; running %s\n", strerror(err),
			 ACN_FE_STANDALONE);
		return -err;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (err == EINTR)
			continue;
		if (!no_server(err))
			snprintf(note, note_cap, "accelnet: cannot connect to CNI server \"%s\": %s; running %s\n", path,
				 strerror(err), ACN_FE_STANDALONE);
		close(fd);
		return -err;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0) {
		err = errno;
		snprintf(note, note_cap, "accelnet: cannot ask who serves \"%s\": %s; running %s\n", path, strerror(err),
			 ACN_FE_STANDALONE);
		close(fd);
		return -err;
	}
	if (peer.uid != 0) {
		snprintf(note, note_cap, "accelnet: ignoring CNI server \"%s\": it runs as uid %u, not root; running %s\n",
			 path, (unsigned)peer.uid, ACN_FE_STANDALONE);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/*
 * Sends @req, half-closes and reads the answer to EOF into @resp, checking
 * it as it comes. 0 with @r filled in, or -EPROTO with r->problem saying what
 * went wrong (the caller answers code 11: the request may have been acted on).
 */
int acn_fe_client_exchange(int fd, struct acn_fe_request *req, struct acn_fe_buf *resp, struct acn_fe_response *r)
{
	enum acn_fe_verdict v = ACN_FE_RESP_MORE;
	int err = acn_fe_io_send_all(fd, req->iov, 4);

	if (err == 0 && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	if (err < 0) {
		snprintf(r->problem, sizeof(r->problem),
			 "Cannot send the request to the accelnet CNI server: %s; try again", strerror(-err));
		return -EPROTO;
	}
	resp->len = 0;
	while (v == ACN_FE_RESP_MORE) {
		/* resp->cap is ACN_FE_RESPONSE_MAX + 1: the checker refuses a longer answer before it fills up */
		ssize_t n = read(fd, resp->data + resp->len, resp->cap - resp->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(r->problem, sizeof(r->problem),
				 "Cannot read the accelnet CNI server's answer: %s; try again", strerror(errno));
			return -EPROTO;
		}
		resp->len += (size_t)n;
		v = acn_fe_response_check(resp->data, resp->len, n == 0, r);
	}
	return v == ACN_FE_RESP_DONE ? 0 : -EPROTO;
}
