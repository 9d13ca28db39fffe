/* SPDX-License-Identifier: Apache-2.0 */
/* argv (KEY=VALUE...) to a validated struct acn_opts, per command. */
#ifndef ACN_ARGS_H
#define ACN_ARGS_H

#include "acn.h"

/* Parses and validates one command's arguments. On failure err names the key (op "parse"). */
int acn_args_parse(const struct acn_cmd_def *def, char *const *argv, int argc, struct acn_opts *o,
		   struct acn_err *err);
/* Releases what parsing opened (netns fds). Safe on a zeroed or failed struct. */
void acn_args_release(struct acn_opts *o);
/* The key's name as it appears in argv. */
const char *acn_key_name(enum acn_key k);

#endif
