// SPDX-License-Identifier: Apache-2.0
/*
 * The spawner's framing (PROTOCOL.md "Resident mode: spawner"): little-endian u32 fields, a
 * bounds-checked reader whose failure is sticky (one check after the whole payload, like YNL's
 * overflow), and replies built on the heap and written whole to stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawner.h"

const uint8_t *acn_sp_get_bytes(struct acn_sp_reader *r, size_t n)
{
	const uint8_t *at = r->p;

	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return at;
}

uint8_t acn_sp_get_u8(struct acn_sp_reader *r)
{
	const uint8_t *p = acn_sp_get_bytes(r, 1);

	return p ? p[0] : 0;
}

uint32_t acn_sp_get_u32(struct acn_sp_reader *r)
{
	const uint8_t *p = acn_sp_get_bytes(r, 4);

	return p ? acn_sp_le32(p) : 0;
}

static void put(struct acn_sp_reply *m, const void *p, size_t n)
{
	if (m->oom)
		return;
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 256;
		uint8_t *b;

		while (cap < m->len + n)
			cap *= 2;
		b = realloc(m->buf, cap);
		if (!b) {
			m->oom = true;
			return;
		}
		m->buf = b;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

void acn_sp_put_u8(struct acn_sp_reply *m, uint8_t v)
{
	put(m, &v, 1);
}

void acn_sp_put_u32(struct acn_sp_reply *m, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	put(m, b, 4);
}

void acn_sp_put_blob(struct acn_sp_reply *m, const void *p, size_t n)
{
	acn_sp_put_u32(m, (uint32_t)n);
	if (n)
		put(m, p, n);
}

void acn_sp_reply_start(struct acn_sp_reply *m, uint32_t id, uint8_t type)
{
	*m = (struct acn_sp_reply){ 0 };
	acn_sp_put_u32(m, 0); /* length, filled at send */
	acn_sp_put_u32(m, id);
	acn_sp_put_u8(m, type);
}

int acn_sp_reply_send(struct acn_sp_reply *m)
{
	size_t off = 0;
	int rc = 0;

	if (m->oom) {
		rc = -ENOMEM;
		goto free_buf;
	}
	m->buf[0] = (uint8_t)(m->len - 4);
	m->buf[1] = (uint8_t)((m->len - 4) >> 8);
	m->buf[2] = (uint8_t)((m->len - 4) >> 16);
	m->buf[3] = (uint8_t)((m->len - 4) >> 24);
	while (off < m->len) {
		ssize_t w = write(STDOUT_FILENO, m->buf + off, m->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
free_buf:
	free(m->buf);
	m->buf = NULL;
	return rc;
}

int acn_sp_send_error(uint32_t id, int err, const char *fmt, ...)
{
	struct acn_sp_reply m;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	acn_sp_reply_start(&m, id, ACN_SP_ERROR);
	acn_sp_put_u32(&m, (uint32_t)err);
	acn_sp_put_blob(&m, text, strlen(text));
	return acn_sp_reply_send(&m);
}
