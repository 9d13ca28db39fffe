// SPDX-License-Identifier: Apache-2.0
/*
 * The helper dies with the process that ran it (PR_SET_PDEATHSIG SIGKILL).
 * A runtime that times out a CNI call SIGKILLs the plugin, then calls DEL;
 * the device plugin may be kill -9'd and restarted. A helper that outlived
 * its parent would go on changing the node while DEL (or the new daemon)
 * looks at it: DEL reclaims the dead parent's lock and restores, and the
 * orphan then finishes its batch (a VF moved into the pod, a macvlan made)
 * after the restore, with no record left to undo it. Dying mid-batch
 * instead leaves a half-done batch that no one is still changing, which is
 * what DEL and GC are built to clean up from what ADD stored first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "acn.h"

int acn_parent_death_arm(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	/* The parent died before prctl took effect: we were reparented and no signal will come. */
	if (getppid() != parent)
		return -ESRCH;
	return 0;
}
