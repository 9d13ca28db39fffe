// SPDX-License-Identifier: Apache-2.0
/*
 * The CNI error JSON the front end prints itself (stdin too large, stdin not
 * readable, a dropped answer, no standalone to fall back to), in the shape
 * the standalone's dispatcher prints: {"cniVersion":..,"code":..,"msg":..}
 * and a newline.
 */
#include <stdio.h>
#include <string.h>

#include "fe.h"

struct out {
	char *p;
	size_t len;
	size_t cap; /* one byte always kept for the NUL */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		n = o->len + 1 < o->cap ? o->cap - o->len - 1 : 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* A JSON string's body: quote, backslash and control characters escaped; other bytes as they are. */
static void put_escaped(struct out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
}

/* Formats the error into @out (truncated to @cap - 1 bytes, NUL-terminated); returns its length. */
size_t acn_fe_error_format(char *out, size_t cap, const char *version, int code, const char *msg)
{
	struct out o = { .p = out, .len = 0, .cap = cap };
	char num[16];

	if (cap == 0)
		return 0;
	out[0] = '\0';
	put(&o, "{\"cniVersion\":\"", 15);
	put_escaped(&o, version);
	snprintf(num, sizeof(num), "\",\"code\":%d", code);
	put(&o, num, strlen(num));
	put(&o, ",\"msg\":\"", 8);
	put_escaped(&o, msg);
	put(&o, "\"}\n", 3);
	return o.len;
}

void acn_fe_error_print(const char *version, int code, const char *msg)
{
	char json[ACN_FE_PROBLEM_MAX * 6 + 64];
	size_t len = acn_fe_error_format(json, sizeof(json), version, code, msg);

	(void)acn_fe_io_write_all(1, json, len);
}
