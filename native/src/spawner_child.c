// SPDX-License-Identifier: Apache-2.0
/*
 * One child of the spawner: pipes for its stdio, fork, and in the child: default signal handling,
 * a session of its own when asked (so a kill reaches whatever it starts), death with the spawner
 * (PR_SET_PDEATHSIG), stdio on the pipes, every other descriptor closed, exec. An exec that fails
 * writes its errno to a close-on-exec pipe that the parent reads until EOF (posix_spawn's way), so
 * the caller gets ENOENT instead of a child that exits 127. A helper batch (ACN_SP_F_BATCH) runs in
 * the forked child itself instead of an exec of the helper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acn.h"
#include "spawner.h"

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* In the child, after fork: never returns. Only async-signal-safe calls, up to the exec or the batch. */
static void __attribute__((noreturn))
exec_child(const struct acn_sp_spawn *s, pid_t spawner, int in[2], int out[2], int err[2], int ep[2])
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e, sig, efd = ep[1];

	/* The spawner ignores SIGPIPE; an ignored signal would stay ignored across exec. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((s->flags & ACN_SP_F_SETSID) && setsid() < 0)
		goto fail;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != spawner) {
		errno = ESRCH;
		goto fail;
	}
	if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		goto fail;
	/* The error pipe becomes fd 3 (close-on-exec); everything above it goes. */
	if (ep[1] != 3 && dup3(ep[1], 3, O_CLOEXEC) < 0)
		goto fail;
	efd = 3;
	if (close_range(4, ~0u, 0) < 0) {
		for (e = 4; e < 1024; e++)
			close(e);
	}
	if (s->flags & ACN_SP_F_BATCH) {
		/*
		 * The spawner is single-threaded, so its forked copy may run ordinary code: the batch, as
		 * the helper's exec would, minus the exec (which costs ~10 ms on a busy VM, per batch).
		 * _exit, not exit: no atexit handler of the spawner (LeakSanitizer's among them) runs here.
		 */
		for (e = 0; s->argv[e]; e++)
			;
		close(efd); /* the parent's read sees EOF: started, as after an exec */
		environ = s->envp;
		_exit(acn_batch_main(e, s->argv));
	}
	execve(s->path, s->argv, s->envp);
fail:
	e = errno;
	if (write(efd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int acn_sp_child_start(const struct acn_sp_spawn *s, pid_t spawner, struct acn_sp_proc *p)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int rc = 0, exec_errno = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		rc = -errno;
		goto close_pipes;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto close_pipes;
	}
	if (pid == 0)
		exec_child(s, spawner, in, out, err, ep);
	close(ep[1]);
	ep[1] = -1;
	do
		n = read(ep[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		/* exec failed (or the pipe did): the child exits 127 at once; reap it */
		rc = n == (ssize_t)sizeof(exec_errno) && exec_errno > 0 ? -exec_errno : -EIO;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto close_pipes;
	}
	p->pidfd = pidfd_open(pid, 0);
	if (p->pidfd < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto close_pipes;
	}
	p->pid = pid;
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(ep[0]);
	nonblock(p->in_fd);
	nonblock(p->out_fd);
	nonblock(p->err_fd);
	return 0;
close_pipes:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	close_pair(ep);
	return rc;
}
