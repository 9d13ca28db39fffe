// SPDX-License-Identifier: Apache-2.0
/*
 * spawner: the resident child of the CNI server that starts processes for it (PROTOCOL.md
 * "Resident mode: spawner"). A fork of the ~140 MB Node server blocks its event loop for ~10 ms per
 * spawn (page tables copied); a fork of this small process costs far less, and the server only
 * writes a frame. One poll() loop over stdin (length-prefixed requests), and per child its pidfd
 * and the parent ends of its stdio pipes. A child is reported `exited` once it was reaped and both
 * its stdout and stderr reached EOF (as Node's 'close'). stdin EOF (the server is gone or done):
 * every child is killed (its group when it has one) and the spawner exits 0; children also die
 * with the spawner by PR_SET_PDEATHSIG. Single-threaded: no descriptor leaks into a child between
 * its open and its close-on-exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acn.h"
#include "spawner.h"

#define CHILDREN_MAX 256
#define READ_CHUNK 65536

struct child {
	bool used;
	uint32_t id;
	bool group;
	struct acn_sp_proc p;
	bool reaped;
	int code, sig;
	uint8_t *in; /* stdin bytes not yet written */
	size_t in_len, in_off;
	uint8_t *out, *err; /* collected output, out_len + err_len <= cap */
	size_t out_len, err_len, out_cap, err_cap, cap;
	bool capped;
};

static struct child children[CHILDREN_MAX];
/* Requests: a frame is at most ACN_SP_FRAME_MAX after its 4-byte length. */
static uint8_t inbuf[ACN_SP_FRAME_MAX + 4 + READ_CHUNK];
static size_t inlen;
static size_t discard; /* bytes of a refused (oversized) frame still to skip */
static pid_t self_pid;
static pid_t parent_pid;
static int parent_pidfd = -1;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void child_free(struct child *c)
{
	close_fd(&c->p.pidfd);
	close_fd(&c->p.in_fd);
	close_fd(&c->p.out_fd);
	close_fd(&c->p.err_fd);
	free(c->in);
	free(c->out);
	free(c->err);
	*c = (struct child){ .p = { .pidfd = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1 } };
}

static struct child *child_find(uint32_t id)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++)
		if (children[i].used && children[i].id == id)
			return &children[i];
	return NULL;
}

static int child_signal(struct child *c, int sig, bool group)
{
	if (group && c->group)
		return kill(-c->p.pid, sig) < 0 ? -errno : 0;
	if (c->reaped)
		return -ESRCH;
	return pidfd_send_signal(c->p.pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* Splits the strings block into path, argv and envp: exactly 1 + argc + envc NUL-terminated strings. */
static int split_strings(char *block, size_t len, uint32_t argc, uint32_t envc, struct acn_sp_spawn *s)
{
	size_t want = 1 + (size_t)argc + envc, n = 0, at = 0;
	char **v;

	if (len == 0 || block[len - 1] != '\0')
		return -EINVAL;
	v = calloc(want + 2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (at < len) {
		if (n == want) {
			free(v);
			return -EINVAL;
		}
		/* one slot after argv for its NULL: argv is v[1..argc], envp v[argc+2..] */
		v[n < 1 + argc ? n : n + 1] = block + at;
		at += strlen(block + at) + 1;
		n++;
	}
	if (n != want || block[0] == '\0') {
		free(v);
		return -EINVAL;
	}
	s->path = v[0];
	s->argv = v + 1;
	s->envp = v + argc + 2;
	return 0;
}

static int on_spawn(uint32_t id, struct acn_sp_reader *r)
{
	struct acn_sp_spawn s = { 0 };
	struct acn_sp_reply m;
	struct child *c = NULL;
	uint32_t cap, argc, envc, slen, inl;
	const uint8_t *strings, *in;
	int i, rc;

	s.flags = acn_sp_get_u8(r);
	cap = acn_sp_get_u32(r);
	argc = acn_sp_get_u32(r);
	envc = acn_sp_get_u32(r);
	slen = acn_sp_get_u32(r);
	strings = acn_sp_get_bytes(r, slen);
	inl = acn_sp_get_u32(r);
	in = acn_sp_get_bytes(r, inl);
	if (r->bad || r->left != 0 || argc == 0 || argc > ACN_SP_ARGS_MAX || envc > ACN_SP_ARGS_MAX ||
	    (s.flags & ~(ACN_SP_F_SETSID | ACN_SP_F_BATCH)))
		return acn_sp_send_error(id, EINVAL, "malformed spawn request");
	if (cap == 0 || cap > ACN_SP_OUTPUT_MAX)
		return acn_sp_send_error(id, EINVAL, "output cap %u not in 1-%u", cap, ACN_SP_OUTPUT_MAX);
	if (child_find(id))
		return acn_sp_send_error(id, EEXIST, "request id %u is running", id);
	for (i = 0; i < CHILDREN_MAX && !c; i++)
		if (!children[i].used)
			c = &children[i];
	if (!c)
		return acn_sp_send_error(id, EAGAIN, "%d children running", CHILDREN_MAX);
	/* the strings are NUL-terminated in the frame, which stays put until the exec happened */
	rc = split_strings((char *)(uintptr_t)strings, slen, argc, envc, &s);
	if (rc < 0)
		return acn_sp_send_error(id, -rc, "malformed spawn strings (want path, %u argv, %u env)", argc, envc);
	c->in = inl ? malloc(inl) : NULL;
	if (inl && !c->in) {
		free(s.argv - 1);
		return acn_sp_send_error(id, ENOMEM, "stdin of %u bytes", inl);
	}
	if (inl)
		memcpy(c->in, in, inl);
	rc = acn_sp_child_start(&s, self_pid, &c->p);
	if (rc < 0) {
		rc = acn_sp_send_error(id, -rc, "execve \"%.256s\": %s", s.path, strerror(-rc));
		free(s.argv - 1);
		child_free(c);
		return rc;
	}
	free(s.argv - 1);
	c->used = true;
	c->id = id;
	c->group = s.flags & ACN_SP_F_SETSID;
	c->in_len = inl;
	c->cap = cap;
	if (inl == 0)
		close_fd(&c->p.in_fd);
	acn_sp_reply_start(&m, id, ACN_SP_STARTED);
	acn_sp_put_u32(&m, (uint32_t)c->p.pid);
	return acn_sp_reply_send(&m);
}

static int on_kill(uint32_t id, struct acn_sp_reader *r)
{
	uint32_t target = acn_sp_get_u32(r), sig = acn_sp_get_u32(r);
	uint8_t group = acn_sp_get_u8(r);
	struct child *c;
	int rc;

	if (r->bad || r->left != 0 || sig == 0 || sig >= NSIG)
		return acn_sp_send_error(id, EINVAL, "malformed kill request");
	c = child_find(target);
	if (!c)
		return acn_sp_send_error(id, ESRCH, "no child for request id %u", target);
	rc = child_signal(c, (int)sig, group != 0);
	return rc < 0 ? acn_sp_send_error(id, -rc, "kill request %u: %s", target, strerror(-rc)) : 0;
}

static int on_peer_cred(uint32_t id, struct acn_sp_reader *r)
{
	uint32_t fd = acn_sp_get_u32(r);
	struct acn_sp_reply m;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int rc;

	if (r->bad || r->left != 0 || fd > INT32_MAX)
		return acn_sp_send_error(id, EINVAL, "malformed peer-cred request");
	/* reparented: the descriptor number would name another process's file */
	if (getppid() != parent_pid)
		return acn_sp_send_error(id, ESRCH, "parent %d is gone", (int)parent_pid);
	rc = acn_sp_peer_cred(parent_pidfd, (int)fd, &pid, &uid, &gid);
	if (rc < 0)
		return acn_sp_send_error(id, -rc, "peer-cred fd %u: %s", fd, strerror(-rc));
	acn_sp_reply_start(&m, id, ACN_SP_CRED);
	acn_sp_put_u32(&m, (uint32_t)pid);
	acn_sp_put_u32(&m, uid);
	acn_sp_put_u32(&m, gid);
	return acn_sp_reply_send(&m);
}

static int on_frame(const uint8_t *f, size_t len)
{
	struct acn_sp_reader r = { .p = f, .left = len };
	uint32_t id = acn_sp_get_u32(&r);
	uint8_t type = acn_sp_get_u8(&r);

	if (r.bad)
		return acn_sp_send_error(0, EINVAL, "frame of %zu bytes has no id and type", len);
	switch (type) {
	case ACN_SP_SPAWN:
		return on_spawn(id, &r);
	case ACN_SP_KILL:
		return on_kill(id, &r);
	case ACN_SP_PEER_CRED:
		return on_peer_cred(id, &r);
	default:
		return acn_sp_send_error(id, EINVAL, "unknown request type %u", type);
	}
}

/* Handles every whole frame in inbuf; a refused length is skipped (discard). 0, or -errno of stdout. */
static int drain_frames(void)
{
	size_t at = 0;
	int rc = 0;

	while (rc == 0) {
		if (discard) {
			size_t n = inlen - at < discard ? inlen - at : discard;

			at += n;
			discard -= n;
			if (discard)
				break;
		}
		if (inlen - at < 4)
			break;
		uint32_t len = acn_sp_le32(inbuf + at);

		if (len > ACN_SP_FRAME_MAX) {
			rc = acn_sp_send_error(0, EMSGSIZE, "frame of %u bytes refused (max %u): skipped", len,
					       ACN_SP_FRAME_MAX);
			at += 4;
			discard = len;
			continue;
		}
		if (inlen - at - 4 < len)
			break;
		rc = on_frame(inbuf + at + 4, len);
		at += 4 + (size_t)len;
	}
	memmove(inbuf, inbuf + at, inlen - at);
	inlen -= at;
	return rc;
}

/* Reads what a child wrote on one of its pipes; past the cap the child (group) is killed and the rest dropped. */
static void collect(struct child *c, int *fd, uint8_t **buf, size_t *len, size_t *bcap)
{
	uint8_t chunk[READ_CHUNK];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	if (c->capped)
		return;
	if (c->out_len + c->err_len + (size_t)n > c->cap) {
		c->capped = true;
		child_signal(c, SIGKILL, true);
		return;
	}
	if (*len + (size_t)n > *bcap) {
		size_t want = *bcap ? *bcap * 2 : 4096;
		uint8_t *b;

		while (want < *len + (size_t)n)
			want *= 2;
		b = realloc(*buf, want);
		if (!b) {
			c->capped = true;
			child_signal(c, SIGKILL, true);
			return;
		}
		*buf = b;
		*bcap = want;
	}
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
}

static void feed_stdin(struct child *c)
{
	ssize_t n = write(c->p.in_fd, c->in + c->in_off, c->in_len - c->in_off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EPIPE: a child that exits without reading its stdin; that is its business */
	if (n > 0)
		c->in_off += (size_t)n;
	if (n <= 0 || c->in_off == c->in_len)
		close_fd(&c->p.in_fd);
}

static void reap(struct child *c)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)c->p.pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	c->reaped = true;
	c->code = si.si_code == CLD_EXITED ? si.si_status : -1;
	c->sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
	close_fd(&c->p.pidfd);
}

static int report_if_done(struct child *c)
{
	struct acn_sp_reply m;

	if (!c->reaped || c->p.out_fd >= 0 || c->p.err_fd >= 0)
		return 0;
	acn_sp_reply_start(&m, c->id, ACN_SP_EXITED);
	acn_sp_put_u32(&m, (uint32_t)c->code);
	acn_sp_put_u32(&m, (uint32_t)c->sig);
	acn_sp_put_u8(&m, c->capped ? ACN_SP_X_OUTPUT_CAP : 0);
	acn_sp_put_blob(&m, c->out, c->out_len);
	acn_sp_put_blob(&m, c->err, c->err_len);
	child_free(c);
	return acn_sp_reply_send(&m);
}

/* One poll() round: stdin, then each child's pipes and pidfd. 1 at stdin EOF, 0, or -errno. */
static int poll_once(void)
{
	static struct pollfd fds[1 + CHILDREN_MAX * 4];
	static struct child *owner[1 + CHILDREN_MAX * 4];
	nfds_t n = 1, i;
	int k, rc = 0;

	fds[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	for (k = 0; k < CHILDREN_MAX; k++) {
		struct child *c = &children[k];
		int want[4] = { c->p.pidfd, c->p.out_fd, c->p.err_fd, c->p.in_fd };
		int j;

		if (!c->used)
			continue;
		for (j = 0; j < 4; j++) {
			if (want[j] < 0)
				continue;
			owner[n] = c;
			fds[n++] = (struct pollfd){ .fd = want[j], .events = j == 3 ? POLLOUT : POLLIN };
		}
	}
	if (poll(fds, n, -1) < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 1; i < n; i++) {
		struct child *c = owner[i];

		if (!fds[i].revents)
			continue;
		if (fds[i].fd == c->p.out_fd)
			collect(c, &c->p.out_fd, &c->out, &c->out_len, &c->out_cap);
		else if (fds[i].fd == c->p.err_fd)
			collect(c, &c->p.err_fd, &c->err, &c->err_len, &c->err_cap);
		else if (fds[i].fd == c->p.in_fd)
			feed_stdin(c);
		else if (fds[i].fd == c->p.pidfd)
			reap(c);
	}
	for (k = 0; k < CHILDREN_MAX && rc == 0; k++)
		if (children[k].used)
			rc = report_if_done(&children[k]);
	if (rc == 0 && fds[0].revents) {
		ssize_t got = read(STDIN_FILENO, inbuf + inlen, READ_CHUNK);

		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (got <= 0)
			return 1;
		inlen += (size_t)got;
		rc = drain_frames();
	}
	return rc;
}

int acn_spawner_main(int argc, char **argv)
{
	int i, rc = 0;

	(void)argv;
	if (argc != 0) {
		fprintf(stderr, "accelnet-helper: spawner takes no arguments (got %d)\n", argc);
		return 2;
	}
	/* a child that exits without reading its stdin must not end the spawner */
	signal(SIGPIPE, SIG_IGN);
	/* zeroed slots: mark their descriptors unset (0 is our stdin, not theirs) */
	for (i = 0; i < CHILDREN_MAX; i++)
		children[i].p = (struct acn_sp_proc){ .pidfd = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	self_pid = getpid();
	parent_pid = getppid();
	parent_pidfd = pidfd_open(parent_pid, 0);
	if (parent_pidfd < 0 || getppid() != parent_pid) {
		fprintf(stderr, "accelnet-helper: spawner: pidfd_open(parent %d): %s\n", (int)parent_pid,
			strerror(parent_pidfd < 0 ? errno : ESRCH));
		return 3;
	}
	while (rc == 0)
		rc = poll_once();
	if (rc < 0)
		fprintf(stderr, "accelnet-helper: spawner: stopping: %s\n", strerror(-rc));
	for (i = 0; i < CHILDREN_MAX; i++) {
		if (!children[i].used)
			continue;
		child_signal(&children[i], SIGKILL, true);
		if (!children[i].reaped)
			child_signal(&children[i], SIGKILL, false);
		child_free(&children[i]);
	}
	close_fd(&parent_pidfd);
	return rc < 0 ? 3 : 0;
}
