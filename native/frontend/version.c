// SPDX-License-Identifier: Apache-2.0
/*
 * The request's cniVersion, for the front end's own error JSON, without a
 * JSON parser: the value of the last "cniVersion" key of the top-level
 * object (JSON.parse keeps the last of duplicate keys), when it is a plain
 * string naming a supported version. Anything else (no such key, a nested
 * one, an escape in it, an unknown version, stdin that is no JSON) leaves
 * ACN_FE_LATEST_VERSION, as the standalone plugin's dispatcher does.
 */
#include <string.h>

#include "fe.h"

/* cni/lib/versions.ts SUPPORTED_VERSIONS */
static const char *const supported[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const unsigned char *s, size_t n, size_t i)
{
	while (i < n && is_space(s[i]))
		i++;
	return i;
}

/* Index just past the string whose opening quote is at @i (n when unterminated); *escaped tells of a backslash. */
static size_t string_end(const unsigned char *s, size_t n, size_t i, bool *escaped)
{
	*escaped = false;
	for (i++; i < n; i++) {
		if (s[i] == '\\') {
			*escaped = true;
			i++;
		} else if (s[i] == '"') {
			return i + 1;
		}
	}
	return n;
}

static bool is_supported(const unsigned char *v, size_t len)
{
	for (size_t k = 0; k < sizeof(supported) / sizeof(supported[0]); k++) {
		if (strlen(supported[k]) == len && memcmp(supported[k], v, len) == 0)
			return true;
	}
	return false;
}

void acn_fe_version_scan(const unsigned char *s, size_t n, char out[ACN_FE_VERSION_MAX])
{
	static const char key[] = "\"cniVersion\"";
	const unsigned char *found = NULL;
	size_t found_len = 0;
	int depth = 0;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];

		if (c == '"') {
			bool escaped;
			size_t end = string_end(s, n, i, &escaped);
			size_t after = skip_space(s, n, end);
			bool is_key = after < n && s[after] == ':';

			if (depth == 1 && is_key) {
				bool named = !escaped && end - i == sizeof(key) - 1 && memcmp(s + i, key, end - i) == 0;
				size_t v = skip_space(s, n, after + 1);

				if (named) {
					/* a later duplicate replaces the value, whatever its type */
					found = NULL;
					if (v < n && s[v] == '"') {
						size_t vend = string_end(s, n, v, &escaped);

						if (!escaped && vend <= n && vend > v + 1 && s[vend - 1] == '"') {
							found = s + v + 1;
							found_len = vend - v - 2;
						}
					}
				}
			}
			i = end;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		i++;
	}
	if (found != NULL && is_supported(found, found_len)) {
		memcpy(out, found, found_len);
		out[found_len] = '\0';
	} else {
		memcpy(out, ACN_FE_LATEST_VERSION, sizeof(ACN_FE_LATEST_VERSION));
	}
}
