// SPDX-License-Identifier: Apache-2.0
/* Failure records and trace output. */
#include <stdarg.h>
#include <stdio.h>

#include "acn.h"

bool acn_trace_on;

int acn_fail(struct acn_err *e, int neg_errno, const char *op, const char *object)
{
	e->op = op;
	e->code = -neg_errno;
	snprintf(e->object, sizeof(e->object), "%s", object ? object : "");
	e->message[0] = '\0';
	e->extack[0] = '\0';
	e->attr[0] = '\0';
	return neg_errno;
}

void acn_trace(const char *fmt, ...)
{
	va_list ap;

	if (!acn_trace_on)
		return;
	fputs("accelnet-helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
