// SPDX-License-Identifier: Apache-2.0
/*
 * The request the front end sends: the forwarded environment as one block
 * and the framing around it and the stdin bytes (FRONTEND.md "Request").
 */
#include <errno.h>
#include <string.h>

#include "fe.h"

/* Only the runtime's CNI_* and accelnet's own ACCELNET_* variables reach the server. */
bool acn_fe_env_forwarded(const char *entry)
{
	if (strchr(entry, '=') == NULL)
		return false;
	return strncmp(entry, "CNI_", 4) == 0 || strncmp(entry, "ACCELNET_", 9) == 0;
}

/* "NAME=VALUE\0" for each forwarded entry of @envp; -E2BIG past ACN_FE_ENV_MAX bytes (or @out->cap). */
int acn_fe_env_block(char *const *envp, struct acn_fe_buf *out)
{
	out->len = 0;
	for (; *envp != NULL; envp++) {
		size_t n;

		if (!acn_fe_env_forwarded(*envp))
			continue;
		n = strlen(*envp) + 1;
		if (n > ACN_FE_ENV_MAX - out->len || n > out->cap - out->len)
			return -E2BIG;
		memcpy(out->data + out->len, *envp, n);
		out->len += n;
	}
	return 0;
}

void acn_fe_u32le_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

uint32_t acn_fe_u32le_get(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Lays out @req: magic, env length, env block, stdin length, stdin. Both lengths were checked by their readers. */
void acn_fe_request_frame(struct acn_fe_request *req, const struct acn_fe_buf *env, const struct acn_fe_buf *in)
{
	memcpy(req->head, ACN_FE_MAGIC, ACN_FE_MAGIC_LEN);
	acn_fe_u32le_put(req->head + ACN_FE_MAGIC_LEN, (uint32_t)env->len);
	acn_fe_u32le_put(req->stdin_len, (uint32_t)in->len);
	req->iov[0] = (struct iovec){ .iov_base = req->head, .iov_len = sizeof(req->head) };
	req->iov[1] = (struct iovec){ .iov_base = env->data, .iov_len = env->len };
	req->iov[2] = (struct iovec){ .iov_base = req->stdin_len, .iov_len = sizeof(req->stdin_len) };
	req->iov[3] = (struct iovec){ .iov_base = in->data, .iov_len = in->len };
}
