// SPDX-License-Identifier: Apache-2.0
/* JSON writer: the only place that knows JSON syntax and string escaping. */
#include "reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void acn_json_init(struct acn_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = false;
	j->need_comma = false;
}

static void put(struct acn_json *j, const char *s, size_t n)
{
	if (j->overflow)
		return;
	if (n > j->cap - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void putc_(struct acn_json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and out-of-range code points. */
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

/* Writes a JSON string. Kernel names are bytes, not text: invalid UTF-8 becomes U+FFFD. */
static void put_string(struct acn_json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, run;

	putc_(j, '"');
	while (i < n) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(j, esc, 6);
			i++;
		} else if ((run = utf8_len(p + i, n - i)) == 0) {
			put(j, "\\ufffd", 6);
			i++;
		} else {
			put(j, s + i, run);
			i += run;
		}
	}
	putc_(j, '"');
}

static void put_key(struct acn_json *j, const char *key)
{
	if (j->need_comma)
		putc_(j, ',');
	if (key) {
		put_string(j, key, strlen(key));
		putc_(j, ':');
	}
	j->need_comma = true;
}

void acn_json_obj_open(struct acn_json *j, const char *key)
{
	put_key(j, key);
	putc_(j, '{');
	j->need_comma = false;
}

void acn_json_obj_close(struct acn_json *j)
{
	putc_(j, '}');
	j->need_comma = true;
}

void acn_json_arr_open(struct acn_json *j, const char *key)
{
	put_key(j, key);
	putc_(j, '[');
	j->need_comma = false;
}

void acn_json_arr_close(struct acn_json *j)
{
	putc_(j, ']');
	j->need_comma = true;
}

void acn_json_strn(struct acn_json *j, const char *key, const char *s, size_t n)
{
	put_key(j, key);
	put_string(j, s, n);
}

void acn_json_str(struct acn_json *j, const char *key, const char *s)
{
	if (!s) {
		acn_json_null(j, key);
		return;
	}
	acn_json_strn(j, key, s, strlen(s));
}

void acn_json_uint(struct acn_json *j, const char *key, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	put_key(j, key);
	put(j, num, (size_t)n);
}

void acn_json_int(struct acn_json *j, const char *key, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	put_key(j, key);
	put(j, num, (size_t)n);
}

void acn_json_bool(struct acn_json *j, const char *key, bool v)
{
	put_key(j, key);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void acn_json_null(struct acn_json *j, const char *key)
{
	put_key(j, key);
	put(j, "null", 4);
}

void acn_json_raw(struct acn_json *j, const char *key, const char *s, size_t n)
{
	put_key(j, key);
	put(j, s, n);
}

void acn_json_end(struct acn_json *j)
{
	putc_(j, '\n');
	j->need_comma = false;
}

struct acn_json_mark acn_json_mark(const struct acn_json *j)
{
	struct acn_json_mark m = { .len = j->len, .need_comma = j->need_comma };

	return m;
}

void acn_json_rewind(struct acn_json *j, struct acn_json_mark m)
{
	if (m.len <= j->len)
		j->len = m.len;
	j->need_comma = m.need_comma;
	j->overflow = false;
}
