/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelnet (the thick-mode CNI front end): shared declarations.
 *
 * The wire format and the fallback rules are native/FRONTEND.md. Conventions
 * as in the helper: functions are acn_fe_<object>_<verb> and return 0 or
 * -errno; only main.c decides what is printed and the exit status.
 */
#ifndef ACN_FE_H
#define ACN_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define ACN_FE_MAGIC "ACNCNI1" /* with its NUL: 8 bytes */
#define ACN_FE_MAGIC_LEN 8
#define ACN_FE_ENV_MAX 65536u
#define ACN_FE_STDIN_MAX 1048576u
#define ACN_FE_STDOUT_MAX (16u << 20)
#define ACN_FE_STDERR_MAX (1u << 20)
/* magic, status, stdout length and bytes, stderr length and bytes */
#define ACN_FE_RESPONSE_MAX (ACN_FE_MAGIC_LEN + 12u + ACN_FE_STDOUT_MAX + ACN_FE_STDERR_MAX)
#define ACN_FE_DEFAULT_SOCKET "/run/accelnet/cni/server.sock"
#define ACN_FE_SOCKET_ENV "ACCELNET_CNI_SOCKET"
#define ACN_FE_STANDALONE "accelnet-standalone"
#define ACN_FE_LATEST_VERSION "1.1.0"
#define ACN_FE_VERSION_MAX 16 /* longest version string kept, with its NUL */
#define ACN_FE_PROBLEM_MAX 512

/* CNI error codes the front end itself prints (cni/lib/errors.ts has the full table). */
#define ACN_FE_CODE_IO 5
#define ACN_FE_CODE_INVALID_CONFIG 7
#define ACN_FE_CODE_TRY_AGAIN 11

/* A byte buffer over caller-owned memory: len bytes used of cap. */
struct acn_fe_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* io.c: loops over EINTR and short transfers. */
int acn_fe_io_write_all(int fd, const void *data, size_t len);
int acn_fe_io_send_all(int fd, struct iovec *iov, int iovcnt);

/* input.c */
void acn_fe_stdio_ensure(void);
int acn_fe_stdin_read(int fd, struct acn_fe_buf *in);

/* version.c */
void acn_fe_version_scan(const unsigned char *json, size_t len, char out[ACN_FE_VERSION_MAX]);

/* errjson.c */
size_t acn_fe_error_format(char *out, size_t cap, const char *version, int code, const char *msg);
void acn_fe_error_print(const char *version, int code, const char *msg);

/* request.c */
bool acn_fe_env_forwarded(const char *entry);
int acn_fe_env_block(char *const *envp, struct acn_fe_buf *out);
void acn_fe_u32le_put(unsigned char *p, uint32_t v);
uint32_t acn_fe_u32le_get(const unsigned char *p);

/* The request as four pieces for one gather write: header, env block, stdin length, stdin. */
struct acn_fe_request {
	unsigned char head[ACN_FE_MAGIC_LEN + 4];
	unsigned char stdin_len[4];
	struct iovec iov[4];
};
void acn_fe_request_frame(struct acn_fe_request *req, const struct acn_fe_buf *env, const struct acn_fe_buf *in);

/* response.c */
enum acn_fe_verdict {
	ACN_FE_RESP_MORE, /* a valid prefix: read on */
	ACN_FE_RESP_DONE, /* complete and followed by EOF */
	ACN_FE_RESP_BAD,  /* never a valid answer: problem says why */
};
struct acn_fe_response {
	uint32_t status;
	const unsigned char *out;
	size_t out_len;
	const unsigned char *err;
	size_t err_len;
	char problem[ACN_FE_PROBLEM_MAX];
};
enum acn_fe_verdict acn_fe_response_check(const unsigned char *buf, size_t len, bool eof, struct acn_fe_response *r);

/* client.c */
int acn_fe_client_connect(const char *path, char *note, size_t note_cap);
int acn_fe_client_exchange(int fd, struct acn_fe_request *req, struct acn_fe_buf *resp, struct acn_fe_response *r);

/* fallback.c: returns only when the exec failed (problem says why). */
int acn_fe_fallback_exec(char **argv, char **envp, const struct acn_fe_buf *in, char *problem, size_t cap);

#endif
