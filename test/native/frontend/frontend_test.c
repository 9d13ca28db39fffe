// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the front end's pure parts (native/frontend): the cniVersion
 * scan, the environment filter and block, the request framing, the answer
 * checker on every kind of broken answer, and the error JSON. Run with
 * `make -C native check-frontend` (ASan/UBSan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"

static int failures, checks;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		checks++;                                                                        \
		if (!(cond)) {                                                                   \
			failures++;                                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

static const char *scan(const char *json)
{
	static char v[ACN_FE_VERSION_MAX];

	acn_fe_version_scan((const unsigned char *)json, strlen(json), v);
	return v;
}

static void test_version_scan(void)
{
	CHECK(strcmp(scan("{\"cniVersion\":\"0.4.0\",\"name\":\"n\"}"), "0.4.0") == 0);
	CHECK(strcmp(scan(" { \"name\" : \"x\" , \"cniVersion\" :\n \"1.0.0\" }"), "1.0.0") == 0);
	/* the last duplicate wins, as in JSON.parse */
	CHECK(strcmp(scan("{\"cniVersion\":\"0.3.1\",\"cniVersion\":\"0.4.0\"}"), "0.4.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":\"0.3.1\",\"cniVersion\":4}"), "1.1.0") == 0);
	/* nested keys, values that look like the key, strings holding braces */
	CHECK(strcmp(scan("{\"prevResult\":{\"cniVersion\":\"0.3.0\"},\"name\":\"n\"}"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"a\":\"cniVersion\",\"b\":\"0.3.0\"}"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"a\":\"}{\\\"\",\"cniVersion\":\"0.2.0\"}"), "0.2.0") == 0);
	CHECK(strcmp(scan("{\"x\":[{\"cniVersion\":\"0.2.0\"}],\"cniVersion\":\"0.1.0\"}"), "0.1.0") == 0);
	/* unsupported, escaped, not a string, injected quotes: never copied */
	CHECK(strcmp(scan("{\"cniVersion\":\"9.9.9\"}"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":\"1.0\\u002e0\"}"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cni\\u0056ersion\":\"0.4.0\"}"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":\"0.4.0\\\",\\\"code\\\":0\"}"), "1.1.0") == 0);
	/* not JSON, truncated, empty */
	CHECK(strcmp(scan(""), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":\"0.4.0"), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":"), "1.1.0") == 0);
	CHECK(strcmp(scan("\"cniVersion\":\"0.4.0\""), "1.1.0") == 0);
	CHECK(strcmp(scan("{\"cniVersion\":\"1.0.0\",\"name\":"), "1.0.0") == 0);
	CHECK(strcmp(scan("{\"name\":\"\\"), "1.1.0") == 0);
}

static void test_env(void)
{
	char *envp[] = { "PATH=/bin", "CNI_COMMAND=ADD", "ACCELNET_STATE_DIR=/s", "CNIX=1", "cni_path=x", "ACCELNET",
			 "CNI_ARGS=", "HOME=/root", "XCNI_A=1", NULL };
	static unsigned char data[ACN_FE_ENV_MAX];
	struct acn_fe_buf out = { .data = data, .cap = sizeof(data) };
	static const char want[] = "CNI_COMMAND=ADD\0ACCELNET_STATE_DIR=/s\0CNI_ARGS=";

	CHECK(acn_fe_env_block(envp, &out) == 0);
	CHECK(out.len == sizeof(want));
	CHECK(memcmp(out.data, want, sizeof(want)) == 0);

	/* exactly the limit passes, one byte more is refused */
	char *big = malloc(ACN_FE_ENV_MAX + 1);
	char *one[] = { big, NULL };

	memcpy(big, "CNI_X=", 6);
	memset(big + 6, 'a', ACN_FE_ENV_MAX - 7);
	big[ACN_FE_ENV_MAX - 1] = '\0';
	CHECK(acn_fe_env_block(one, &out) == 0);
	CHECK(out.len == ACN_FE_ENV_MAX);
	big[ACN_FE_ENV_MAX - 1] = 'a';
	big[ACN_FE_ENV_MAX] = '\0';
	CHECK(acn_fe_env_block(one, &out) == -E2BIG);
	free(big);
}

static void test_frame(void)
{
	unsigned char env_data[] = "CNI_COMMAND=DEL";
	unsigned char in_data[] = "{}";
	struct acn_fe_buf env = { .data = env_data, .len = sizeof(env_data), .cap = sizeof(env_data) };
	struct acn_fe_buf in = { .data = in_data, .len = 2, .cap = sizeof(in_data) };
	struct acn_fe_request req;

	acn_fe_request_frame(&req, &env, &in);
	CHECK(memcmp(req.head, "ACNCNI1\0\x10\0\0\0", 12) == 0);
	CHECK(memcmp(req.stdin_len, "\x02\0\0\0", 4) == 0);
	CHECK(req.iov[1].iov_base == env_data && req.iov[1].iov_len == 16);
	CHECK(req.iov[3].iov_base == in_data && req.iov[3].iov_len == 2);
	CHECK(acn_fe_u32le_get((const unsigned char *)"\x78\x56\x34\x12") == 0x12345678u);
}

/* An answer built as the server would send it; lengths can lie. */
static size_t answer(unsigned char *buf, uint32_t status, uint32_t out_len, const char *out, uint32_t err_len,
		     const char *err)
{
	size_t at = 0;

	memcpy(buf, ACN_FE_MAGIC, ACN_FE_MAGIC_LEN);
	at += ACN_FE_MAGIC_LEN;
	acn_fe_u32le_put(buf + at, status);
	acn_fe_u32le_put(buf + at + 4, out_len);
	at += 8;
	memcpy(buf + at, out, strlen(out));
	at += strlen(out);
	acn_fe_u32le_put(buf + at, err_len);
	at += 4;
	memcpy(buf + at, err, strlen(err));
	return at + strlen(err);
}

static void test_response(void)
{
	static unsigned char buf[4096];
	struct acn_fe_response r;
	size_t n = answer(buf, 3, 5, "hello", 4, "warn");

	/* every prefix is "more" before EOF and "closed" at EOF; the whole is done only at EOF */
	for (size_t len = 0; len < n; len++) {
		CHECK(acn_fe_response_check(buf, len, false, &r) == ACN_FE_RESP_MORE);
		CHECK(acn_fe_response_check(buf, len, true, &r) == ACN_FE_RESP_BAD);
		CHECK(strstr(r.problem, len == 0 ? "before answering; try again" : "mid-answer") != NULL);
	}
	CHECK(acn_fe_response_check(buf, n, false, &r) == ACN_FE_RESP_MORE);
	CHECK(acn_fe_response_check(buf, n, true, &r) == ACN_FE_RESP_DONE);
	CHECK(r.status == 3 && r.out_len == 5 && memcmp(r.out, "hello", 5) == 0);
	CHECK(r.err_len == 4 && memcmp(r.err, "warn", 4) == 0);

	/* a byte past the end */
	buf[n] = 'x';
	CHECK(acn_fe_response_check(buf, n + 1, false, &r) == ACN_FE_RESP_BAD);
	CHECK(strstr(r.problem, "1 bytes after its answer") != NULL);

	/* bad magic: seen from its first wrong byte */
	buf[0] = 'B';
	CHECK(acn_fe_response_check(buf, 1, false, &r) == ACN_FE_RESP_BAD);
	CHECK(strstr(r.problem, "bad magic") != NULL);
	buf[0] = 'A';
	buf[7] = '1';
	CHECK(acn_fe_response_check(buf, n, true, &r) == ACN_FE_RESP_BAD);

	/* lengths and status out of range: refused from the header alone, before the bytes arrive */
	answer(buf, 256, 0, "", 0, "");
	CHECK(acn_fe_response_check(buf, 12, false, &r) == ACN_FE_RESP_BAD);
	CHECK(strstr(r.problem, "exit status 256 (at most 255)") != NULL);
	answer(buf, 0, ACN_FE_STDOUT_MAX + 1, "", 0, "");
	CHECK(acn_fe_response_check(buf, 16, false, &r) == ACN_FE_RESP_BAD);
	CHECK(strstr(r.problem, "stdout of 16777217 bytes") != NULL);
	answer(buf, 0, 0xffffffffu, "", 0, "");
	CHECK(acn_fe_response_check(buf, 16, false, &r) == ACN_FE_RESP_BAD);
	n = answer(buf, 0, 2, "{}", ACN_FE_STDERR_MAX + 1, "");
	CHECK(acn_fe_response_check(buf, n, false, &r) == ACN_FE_RESP_BAD);
	CHECK(strstr(r.problem, "stderr of 1048577 bytes") != NULL);

	/* the largest lengths allowed are accepted as a prefix */
	answer(buf, 255, ACN_FE_STDOUT_MAX, "", 0, "");
	CHECK(acn_fe_response_check(buf, 16, false, &r) == ACN_FE_RESP_MORE);
	n = answer(buf, 0, 0, "", 0, "");
	CHECK(n == 20 && acn_fe_response_check(buf, n, true, &r) == ACN_FE_RESP_DONE && r.out_len == 0);
}

static void test_error_json(void)
{
	char out[256];
	size_t n = acn_fe_error_format(out, sizeof(out), "0.4.0", 11, "path \"/x\\y\"\n\x01");

	CHECK(n == strlen(out));
	CHECK(strcmp(out, "{\"cniVersion\":\"0.4.0\",\"code\":11,\"msg\":\"path \\\"/x\\\\y\\\"\\u000a\\u0001\"}\n") == 0);
	/* truncated to the buffer, still NUL-terminated */
	n = acn_fe_error_format(out, 20, "1.1.0", 7, "long message");
	CHECK(n == 19 && out[19] == '\0');
}

int main(void)
{
	test_version_scan();
	test_env();
	test_frame();
	test_response();
	test_error_json();
	printf("%d checks, %d failed\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
