// SPDX-License-Identifier: Apache-2.0
/*
 * The fallback: become <directory of /proc/self/exe>/accelnet-standalone
 * (execve, no shell), same arguments after argv[0], same environment, and
 * stdin = the bytes already read, from a memfd (a pipe where memfd_create is
 * not available). The process stays the one the runtime started: its
 * timeout kill and exit status apply to the standalone directly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fe.h"

/* <dir of /proc/self/exe>/accelnet-standalone. A replaced front end reads as "<path> (deleted)": same dir. */
static int standalone_path(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/%s", self, ACN_FE_STANDALONE) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int stdin_from_memfd(const struct acn_fe_buf *in)
{
	int fd = memfd_create("accelnet-stdin", MFD_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = acn_fe_io_write_all(fd, in->data, in->len);
	if (err == 0 && lseek(fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (err == 0 && dup2(fd, 0) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The bytes must fit in the pipe's buffer: nobody reads it before the exec. */
static int stdin_from_pipe(const struct acn_fe_buf *in)
{
	int p[2];
	int err = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (in->len > 0 && fcntl(p[1], F_SETPIPE_SZ, (int)in->len) < 0 && in->len > 65536)
		err = -errno;
	if (err == 0 && fcntl(p[1], F_SETFL, O_NONBLOCK) < 0)
		err = -errno;
	if (err == 0)
		err = acn_fe_io_write_all(p[1], in->data, in->len);
	if (err == 0 && dup2(p[0], 0) < 0)
		err = -errno;
	close(p[0]);
	close(p[1]);
	return err;
}

int acn_fe_fallback_exec(char **argv, char **envp, const struct acn_fe_buf *in, char *problem, size_t cap)
{
	char path[PATH_MAX];
	char *no_args[2] = { NULL, NULL };
	int err = standalone_path(path, sizeof(path));

	if (err < 0) {
		snprintf(problem, cap, "Cannot find the standalone plugin: /proc/self/exe: %s", strerror(-err));
		return err;
	}
	err = stdin_from_memfd(in);
	if (err == -ENOSYS || err == -EPERM || err == -EMFILE)
		err = stdin_from_pipe(in);
	if (err < 0) {
		snprintf(problem, cap, "Cannot pass stdin to the standalone plugin \"%s\": %s", path, strerror(-err));
		return err;
	}
	/* The ignored SIGPIPE would survive the exec: the standalone gets the default, as from the runtime. */
	signal(SIGPIPE, SIG_DFL);
	if (argv[0] == NULL) /* started with argc 0: argv[0] is the list's end */
		argv = no_args;
	argv[0] = path;
	execve(path, argv, envp);
	err = -errno;
	signal(SIGPIPE, SIG_IGN);
	snprintf(problem, cap, "Cannot run the standalone plugin \"%s\": %s (install it next to the accelnet front end)",
		 path, strerror(-err));
	return err;
}
