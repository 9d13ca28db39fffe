// SPDX-License-Identifier: Apache-2.0
/*
 * acn_parent_death_arm with real processes: a grandchild that armed it dies
 * when its parent exits (its end of a pipe closes), and one whose parent
 * changed before it armed is told so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acn.h"

int test_parent_death(void);

/* Waits up to @ms for EOF on @fd (every writer gone); returns 1 on EOF. */
static int eof_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	while (poll(&p, 1, ms) == 1) {
		ssize_t n = read(fd, &c, 1);

		if (n == 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 0;
	}
	return 0;
}

/*
 * The test forks a middle process; the middle forks the armed grandchild, waits until it armed
 * (`ready`), and exits. The grandchild holds the only write end of `alive`, so EOF there means it died;
 * it sends its pid on `info`, so one that outlived the middle is killed here rather than left behind.
 */
static int grandchild_dies_with_middle(void)
{
	int alive[2], info[2], ready[2], status, ok = 0;
	pid_t middle, grandchild = 0;
	char c = 'r';

	if (pipe(alive) < 0 || pipe(info) < 0 || pipe(ready) < 0)
		return 0;
	middle = fork();
	if (middle == 0) {
		pid_t me = getpid();

		if (fork() == 0) {
			pid_t self = getpid();

			close(alive[0]);
			if (acn_parent_death_arm(me) != 0)
				_exit(2);
			if (write(info[1], &self, sizeof(self)) != (ssize_t)sizeof(self) || write(ready[1], &c, 1) != 1)
				_exit(2);
			pause();
			_exit(0);
		}
		close(alive[1]);
		_exit(read(ready[0], &c, 1) == 1 ? 0 : 1);
	}
	close(alive[1]);
	close(info[1]);
	close(ready[1]);
	close(ready[0]);
	if (read(info[0], &grandchild, sizeof(grandchild)) == (ssize_t)sizeof(grandchild) &&
	    waitpid(middle, &status, 0) == middle && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ok = eof_within(alive[0], 5000);
	if (!ok && grandchild > 0)
		kill(grandchild, SIGKILL);
	close(alive[0]);
	close(info[0]);
	return ok;
}

/* A child told a parent pid that is not its parent's: -ESRCH, as if the parent had died before it armed. */
static int reparented_is_refused(void)
{
	int status;
	pid_t child = fork();

	if (child == 0)
		_exit(acn_parent_death_arm(getppid() + 1) == -ESRCH && acn_parent_death_arm(getppid()) == 0 ? 0 : 1);
	return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int test_parent_death(void)
{
	int failed = 0;

	if (!grandchild_dies_with_middle()) {
		fprintf(stderr, "%s: an armed grandchild outlived its parent\n", __FILE__);
		failed++;
	}
	if (!reparented_is_refused()) {
		fprintf(stderr, "%s: a changed parent was not refused\n", __FILE__);
		failed++;
	}
	return failed;
}
