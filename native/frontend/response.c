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

/*
 * One length-prefixed field at *at: its length (at most `limit`) and where its
 * bytes start. False with *verdict set when the header is bad or not all here.
 */
static bool take_field(const unsigned char *buf, size_t len, bool eof, size_t *at, uint32_t limit,
		       const char *what, const unsigned char **field, size_t *field_len, struct acn_fe_response *r,
		       enum acn_fe_verdict *verdict)
{
	uint32_t n;

	if (len < *at + 4) {
		*verdict = short_answer(r, len, eof);
		return false;
	}
	n = acn_fe_u32le_get(buf + *at);
	if (n > limit) {
		*verdict = bad(r, "accelnet CNI server answered a %s of %u bytes (at most %u)" TRY_AGAIN, what, n, limit);
		return false;
	}
	*at += 4;
	*field = buf + *at;
	*field_len = n;
	*at += n;
	return true;
}

enum acn_fe_verdict acn_fe_response_check(const unsigned char *buf, size_t len, bool eof, struct acn_fe_response *r)
{
	size_t at = ACN_FE_MAGIC_LEN;
	enum acn_fe_verdict verdict;

	r->problem[0] = '\0';
	if (memcmp(buf, ACN_FE_MAGIC, len < ACN_FE_MAGIC_LEN ? len : ACN_FE_MAGIC_LEN) != 0)
		return bad(r, "accelnet CNI server answered with a bad magic" TRY_AGAIN);
	if (len < at + 4)
		return short_answer(r, len, eof);
	r->status = acn_fe_u32le_get(buf + at);
	if (r->status > 255)
		return bad(r, "accelnet CNI server answered exit status %u (at most 255)" TRY_AGAIN, r->status);
	at += 4;
	if (!take_field(buf, len, eof, &at, ACN_FE_STDOUT_MAX, "stdout", &r->out, &r->out_len, r, &verdict))
		return verdict;
	if (!take_field(buf, len, eof, &at, ACN_FE_STDERR_MAX, "stderr", &r->err, &r->err_len, r, &verdict))
		return verdict;
	if (len > at)
		return bad(r, "accelnet CNI server sent %zu bytes after its answer" TRY_AGAIN, len - at);
	if (len < at || !eof)
		return short_answer(r, len, eof);
	return ACN_FE_RESP_DONE;
}
