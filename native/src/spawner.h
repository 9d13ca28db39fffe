// SPDX-License-Identifier: Apache-2.0
/*
 * The resident spawner (cmd_spawner.c, PROTOCOL.md "Resident mode: spawner"): framing of its
 * requests and replies (spawner_wire.c), starting one child (spawner_child.c) and reading a
 * connection's peer through the parent's descriptor (spawner_cred.c).
 */
#ifndef ACN_SPAWNER_H
#define ACN_SPAWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A request frame (id, type, payload) is at most this long; a longer one is refused and skipped. */
#define ACN_SP_FRAME_MAX (4u << 20)
/* Output (stdout + stderr) one child may produce; beyond the request's cap it is killed. */
#define ACN_SP_OUTPUT_MAX (16u << 20)
#define ACN_SP_ARGS_MAX 4096u

enum acn_sp_type {
	ACN_SP_SPAWN = 1,
	ACN_SP_KILL = 2,
	ACN_SP_PEER_CRED = 3,
	ACN_SP_STARTED = 0x81,
	ACN_SP_EXITED = 0x82,
	ACN_SP_CRED = 0x83,
	ACN_SP_ERROR = 0x84,
};

/* spawn flags */
#define ACN_SP_F_SETSID 1u
/* Run a helper batch (argv[1..]) in the forked spawner itself, without an exec; `path` is ignored. */
#define ACN_SP_F_BATCH 2u
/* exited flags */
#define ACN_SP_X_OUTPUT_CAP 1u

/* A bounds-checked cursor over a payload: reads past the end set `bad` and return zeros (sticky). */
struct acn_sp_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

uint8_t acn_sp_get_u8(struct acn_sp_reader *r);
uint32_t acn_sp_get_u32(struct acn_sp_reader *r);
/* `n` bytes in place, or NULL (and bad) when fewer are left. */
const uint8_t *acn_sp_get_bytes(struct acn_sp_reader *r, size_t n);

static inline uint32_t acn_sp_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A reply under construction: grows on the heap; a failed allocation is sticky (checked at send). */
struct acn_sp_reply {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};

void acn_sp_reply_start(struct acn_sp_reply *m, uint32_t id, uint8_t type);
void acn_sp_put_u8(struct acn_sp_reply *m, uint8_t v);
void acn_sp_put_u32(struct acn_sp_reply *m, uint32_t v);
/* u32 length, then the bytes */
void acn_sp_put_blob(struct acn_sp_reply *m, const void *p, size_t n);
/* Writes the frame to stdout (blocking) and frees it: 0, or -errno. */
int acn_sp_reply_send(struct acn_sp_reply *m);
/* One `error` reply: id, errno, message. */
int acn_sp_send_error(uint32_t id, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What a spawn request asks for; the strings point into the request frame. */
struct acn_sp_spawn {
	uint32_t flags;
	char *path;
	char **argv; /* NULL-terminated */
	char **envp; /* NULL-terminated */
};

/* A started child: its pid, a pidfd and the parent's ends of its stdio pipes (non-blocking). */
struct acn_sp_proc {
	pid_t pid;
	int pidfd;
	int in_fd, out_fd, err_fd;
};

/*
 * Forks and execs @s; returns 0 with @p filled once the exec succeeded, or -errno: the exec's own
 * errno (ENOENT, EACCES...) read from the child over a close-on-exec pipe, or a pipe/fork failure.
 * @spawner is this process's pid (the child dies with it: PR_SET_PDEATHSIG).
 */
int acn_sp_child_start(const struct acn_sp_spawn *s, pid_t spawner, struct acn_sp_proc *p);

/* The peer of the connected Unix socket that is fd @fd in the process @parent_pidfd names. */
int acn_sp_peer_cred(int parent_pidfd, int fd, pid_t *pid, uid_t *uid, gid_t *gid);

#endif
