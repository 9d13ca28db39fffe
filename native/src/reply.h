/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON writer over a fixed buffer. Overflow is sticky (YNL style): writes
 * after an overflow do nothing, and the owner checks once at the end.
 * A key of NULL means "array element".
 */
#ifndef ACN_REPLY_H
#define ACN_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acn_json {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
	bool need_comma;
};

struct acn_json_mark {
	size_t len;
	bool need_comma;
};

void acn_json_init(struct acn_json *j, char *buf, size_t cap);
void acn_json_obj_open(struct acn_json *j, const char *key);
void acn_json_obj_close(struct acn_json *j);
void acn_json_arr_open(struct acn_json *j, const char *key);
void acn_json_arr_close(struct acn_json *j);
void acn_json_str(struct acn_json *j, const char *key, const char *s);
void acn_json_strn(struct acn_json *j, const char *key, const char *s, size_t n);
void acn_json_uint(struct acn_json *j, const char *key, uint64_t v);
void acn_json_int(struct acn_json *j, const char *key, int64_t v);
void acn_json_bool(struct acn_json *j, const char *key, bool v);
void acn_json_null(struct acn_json *j, const char *key);
/* Splices already-serialized JSON (another writer's content) as a value. */
void acn_json_raw(struct acn_json *j, const char *key, const char *s, size_t n);

/* Ends the document with a newline. */
void acn_json_end(struct acn_json *j);

struct acn_json_mark acn_json_mark(const struct acn_json *j);
void acn_json_rewind(struct acn_json *j, struct acn_json_mark m);

#endif
