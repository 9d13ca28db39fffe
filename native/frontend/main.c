// SPDX-License-Identifier: Apache-2.0
/*
 * accelnet, the thick-mode CNI front end (native/FRONTEND.md): read the
 * request (stdin whole, under 1 MiB), hand it to the resident CNI server over
 * its Unix socket, and give back exactly its stderr, stdout and exit status.
 * With no server to talk to (before a byte is sent) it becomes the standalone
 * plugin; once the request is sent, a broken answer is CNI error 11.
 *
 * No timeout of its own: the runtime kills a plugin that takes too long, and
 * any shorter limit here would cut off a slow but healthy ADD (a VF bind).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"

extern char **environ;

/* Zero pages until used: only what a request really holds is ever resident. */
static unsigned char stdin_bytes[ACN_FE_STDIN_MAX + 1];
static unsigned char env_bytes[ACN_FE_ENV_MAX];
static unsigned char response_bytes[ACN_FE_RESPONSE_MAX + 1];

static const char *socket_path(void)
{
	const char *p = getenv(ACN_FE_SOCKET_ENV);

	return p != NULL && p[0] != '\0' ? p : ACN_FE_DEFAULT_SOCKET;
}

static int fall_back(char **argv, const struct acn_fe_buf *in, const char *version)
{
	char problem[ACN_FE_PROBLEM_MAX];

	acn_fe_fallback_exec(argv, environ, in, problem, sizeof(problem));
	acn_fe_error_print(version, ACN_FE_CODE_IO, problem);
	return 1;
}

int main(int argc, char **argv)
{
	struct acn_fe_buf in = { .data = stdin_bytes, .cap = sizeof(stdin_bytes) };
	struct acn_fe_buf env = { .data = env_bytes, .cap = sizeof(env_bytes) };
	struct acn_fe_buf resp = { .data = response_bytes, .cap = sizeof(response_bytes) };
	static struct acn_fe_response r;
	struct acn_fe_request req;
	char version[ACN_FE_VERSION_MAX];
	char note[ACN_FE_PROBLEM_MAX];
	int err, fd;

	(void)argc;
	acn_fe_stdio_ensure();
	/* A server or runtime that closed its end is an error to report, not a signal that kills us. */
	signal(SIGPIPE, SIG_IGN);

	err = acn_fe_stdin_read(0, &in);
	acn_fe_version_scan(in.data, in.len, version);
	if (err == -EFBIG) {
		acn_fe_error_print(version, ACN_FE_CODE_INVALID_CONFIG, "Cannot read stdin: larger than 1048576 bytes");
		return 1;
	}
	if (err < 0) {
		snprintf(note, sizeof(note), "Cannot read stdin: %s", strerror(-err));
		acn_fe_error_print(version, ACN_FE_CODE_IO, note);
		return 1;
	}
	/* An environment too large for the request is the standalone's to handle. */
	if (acn_fe_env_block(environ, &env) < 0)
		return fall_back(argv, &in, version);
	fd = acn_fe_client_connect(socket_path(), note, sizeof(note));
	if (fd < 0) {
		if (note[0] != '\0')
			(void)acn_fe_io_write_all(2, note, strlen(note));
		return fall_back(argv, &in, version);
	}
	acn_fe_request_frame(&req, &env, &in);
	if (acn_fe_client_exchange(fd, &req, &resp, &r) < 0) {
		acn_fe_error_print(version, ACN_FE_CODE_TRY_AGAIN, r.problem);
		return 1;
	}
	close(fd);
	(void)acn_fe_io_write_all(2, r.err, r.err_len);
	(void)acn_fe_io_write_all(1, r.out, r.out_len);
	return (int)r.status;
}
