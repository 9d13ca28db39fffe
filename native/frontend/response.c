// SPDX-License-Identifier: Apache-2.0
/*
 * The server's answer, checked as it arrives (FRONTEND.md "Response"):
 * magic, exit status 0..255, stdout and stderr lengths within their limits,
 * and EOF right after the last byte. A bad header is refused as soon as it
 * is seen, so a server that announces 4 GiB is not waited for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fe.h"

#define TRY_AGAIN "; try again"

__attribute__((format(printf, 2, 3))) static enum acn_fe_verdict bad(struct acn_fe_response *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->problem, sizeof(r->problem), fmt, ap);
	va_end(ap);
	return ACN_FE_RESP_BAD;
}

/* A valid prefix ended: at EOF it is a dropped answer, else wait for more. */
static enum acn_fe_verdict short_answer(struct acn_fe_response *r, size_t len, bool eof)
{
	if (!eof)
		return ACN_FE_RESP_MORE;
	if (len == 0)
		return bad(r, "accelnet CNI server closed the connection before answering" TRY_AGAIN);
	return bad(r, "accelnet CNI server closed the connection mid-answer, after %zu bytes" TRY_AGAIN, len);
}

enum acn_fe_verdict acn_fe_response_check(const unsigned char *buf, size_t len, bool eof, struct acn_fe_response *r)
{
	size_t at = ACN_FE_MAGIC_LEN;
	uint32_t n;

	r->problem[0] = '\0';
	if (memcmp(buf, ACN_FE_MAGIC, len < ACN_FE_MAGIC_LEN ? len : ACN_FE_MAGIC_LEN) != 0)
		return bad(r, "accelnet CNI server answered with a bad magic" TRY_AGAIN);
	if (len < at + 4)
		return short_answer(r, len, eof);
	r->status = acn_fe_u32le_get(buf + at);
	if (r->status > 255)
		return bad(r, "accelnet CNI server answered exit status %u (at most 255)" TRY_AGAIN, r->status);
	at += 4;
	if (len < at + 4)
		return short_answer(r, len, eof);
	n = acn_fe_u32le_get(buf + at);
	if (n > ACN_FE_STDOUT_MAX)
		return bad(r, "accelnet CNI server answered a stdout of %u bytes (at most 16777216)" TRY_AGAIN, n);
	at += 4;
	r->out = buf + at;
	r->out_len = n;
	at += n;
	if (len < at + 4)
		return short_answer(r, len, eof);
	n = acn_fe_u32le_get(buf + at);
	if (n > ACN_FE_STDERR_MAX)
		return bad(r, "accelnet CNI server answered a stderr of %u bytes (at most 1048576)" TRY_AGAIN, n);
	at += 4;
	r->err = buf + at;
	r->err_len = n;
	at += n;
	if (len > at)
		return bad(r, "accelnet CNI server sent %zu bytes after its answer" TRY_AGAIN, len - at);
	if (len < at || !eof)
		return short_answer(r, len, eof);
	return ACN_FE_RESP_DONE;
}
