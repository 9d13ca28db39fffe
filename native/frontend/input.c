// SPDX-License-Identifier: Apache-2.0
/* The request's input: standard descriptors made safe, and stdin read whole under its limit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fe.h"

/*
 * A runtime that starts us with fd 0, 1 or 2 closed would have the socket
 * land there, and the server's stdout would go back into the socket. Each
 * missing one becomes /dev/null (a closed stdin reads as empty).
 */
void acn_fe_stdio_ensure(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR);

		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
}

/*
 * Reads @fd to EOF into @in. -EFBIG when there are more than
 * ACN_FE_STDIN_MAX bytes (@in then holds the first ones; the rest is left
 * unread), else 0 or -errno. @in->cap must be at least ACN_FE_STDIN_MAX + 1.
 */
int acn_fe_stdin_read(int fd, struct acn_fe_buf *in)
{
	in->len = 0;
	for (;;) {
		ssize_t n;

		if (in->len > ACN_FE_STDIN_MAX)
			return -EFBIG;
		n = read(fd, in->data + in->len, in->cap - in->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		in->len += (size_t)n;
	}
}
