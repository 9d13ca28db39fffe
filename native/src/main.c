// SPDX-License-Identifier: Apache-2.0
/*
 * accelnet-helper entry point: arms the death with its caller, then runs either one batch (batch.c)
 * or the resident spawner (cmd_spawner.c). Apart from the batch so that the C unit tests, which have
 * a main of their own, link everything else.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "acn.h"

int main(int argc, char **argv)
{
	pid_t parent = getppid();

	/* Nothing runs for a caller that is gone, and nothing outlives it (parent_death.c). */
	if (acn_parent_death_arm(parent) < 0)
		return 3; /* internal (PROTOCOL.md exit codes; batch.c's EXIT_INTERNAL) */
	/* Resident mode: a framed request loop for the CNI server, not a batch with one JSON reply. */
	if (argc >= 2 && strcmp(argv[1], "spawner") == 0)
		return acn_spawner_main(argc - 2, argv + 2);
	return acn_batch_main(argc, argv);
}
