// SPDX-License-Identifier: Apache-2.0
/*
 * One helper batch (acn_batch_main, run by main.c or in a fork of the spawner):
 * the command table, batch parsing (every
 * command validated before the first runs), execution in order until the
 * first failure, and the one JSON reply. Only this file writes the reply and
 * picks the exit code (PROTOCOL.md): 0 ok, 1 a command failed, 2 invalid
 * arguments (nothing executed), 3 internal. The one exception is a streaming
 * command (uevent-monitor): it writes its own JSON lines before the reply,
 * so it must be the only command of its invocation.
 *
 * Adding a command: write cmd_<name>.c with `int acn_<object>_<verb>(struct
 * acn_ctx *, const struct acn_opts *)`, declare it in acn.h, add its keys to
 * enum acn_key/args.c if new, and add one line to `commands` below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acn.h"
#include "args.h"
#include "netns.h"
#include "reply.h"
#include "validate.h"

#define O(k) ACN_OPT(ACN_K_##k)
#define ROUTE_KEYS (O(NETNS) | O(GW) | O(NAME) | O(METRIC) | O(TABLE) | O(SCOPE))
#define VF_SETTINGS                                                                                          \
	(O(NETNS) | O(VF_MAC) | O(VLAN) | O(QOS) | O(PROTO) | O(SPOOFCHK) | O(TRUST) | O(STATE) | O(MIN_TX_RATE) | \
	 O(MAX_TX_RATE))

static const struct acn_cmd_def commands[] = {
	{ "netns-check", O(PATH), 0, acn_netns_check, NULL },
	{ "link-show", O(NAME), O(NETNS) | O(ADDRS) | O(ROUTES) | O(VFS), acn_link_show, NULL },
	{ "link-list", 0, O(NETNS), acn_link_list, NULL },
	{ "addr-list", 0, O(NETNS) | O(NAME) | O(FAMILY), acn_addr_list, NULL },
	{ "route-list", 0, O(NETNS) | O(NAME) | O(FAMILY) | O(TABLE), acn_route_list, NULL },
	{ "macvlan-add", O(NETNS) | O(MASTER) | O(NAME) | O(MODE), O(MASTER_NETNS) | O(MAC) | O(MTU) | O(BCQUEUELEN),
	  acn_macvlan_add, NULL },
	{ "link-rename", O(NAME) | O(NEWNAME), O(NETNS), acn_link_rename, NULL },
	{ "link-set-mac", O(NAME) | O(MAC), O(NETNS), acn_link_set_mac, NULL },
	{ "link-set-mtu", O(NAME) | O(MTU), O(NETNS), acn_link_set_mtu, NULL },
	{ "link-up", O(NAME), O(NETNS), acn_link_up, NULL },
	{ "link-down", O(NAME), O(NETNS), acn_link_down, NULL },
	{ "link-del", 0, O(NAME) | O(IFINDEX) | O(NETNS), acn_link_del, acn_link_del_check },
	{ "addr-add", O(NAME) | O(ADDR), O(NETNS), acn_addr_add, NULL },
	{ "addr-del", O(NAME) | O(ADDR), O(NETNS), acn_addr_del, NULL },
	{ "route-add", O(DST), ROUTE_KEYS, acn_route_add, acn_route_check },
	{ "route-del", O(DST), ROUTE_KEYS, acn_route_del, acn_route_check },
	{ "sysctl-set", O(NAME) | O(KEY) | O(VALUE), O(NETNS), acn_sysctl_set, acn_sysctl_check },
	/* phase 2: SR-IOV, PCI, vDPA, discovery */
	{ "link-move", O(NAME) | O(TO), O(NETNS) | O(NEWNAME), acn_link_move, NULL },
	{ "link-altname-del", O(NAME) | O(ALTNAME), O(NETNS), acn_link_altname_del, NULL },
	{ "vf-show", O(PF), O(NETNS), acn_vf_show, NULL },
	{ "vf-set", O(PF) | O(VF), VF_SETTINGS, acn_vf_set, acn_vf_set_check },
	{ "pci-show", O(PCI), 0, acn_pci_show, NULL },
	{ "pci-bind", O(PCI) | O(DRIVER), 0, acn_pci_bind, NULL },
	{ "sriov-numvfs", O(PCI) | O(NUMVFS), 0, acn_sriov_numvfs, NULL },
	{ "pci-reprobe", O(PCI), 0, acn_pci_reprobe, NULL },
	{ "vfio-info", O(PCI), 0, acn_vfio_info, NULL },
	{ "vdpa-list", 0, 0, acn_vdpa_list, NULL },
	{ "vdpa-show", O(DEV), 0, acn_vdpa_show, NULL },
	{ "vdpa-bind", O(DEV) | O(VDPA_DRIVER), 0, acn_vdpa_bind, NULL },
	{ "vdpa-config-set", O(DEV) | O(MAC), 0, acn_vdpa_config_set, NULL },
	{ "vhost-vdpa-info", O(DEV), 0, acn_vhost_vdpa_info, NULL },
	{ "inventory", 0, O(WITH_VDPA), acn_inventory, NULL },
	/* node setup: vdpa devices on management devices */
	{ "vdpa-mgmtdev-list", 0, 0, acn_vdpa_mgmtdev_list, NULL },
	{ "vdpa-dev-add", O(VDPA_NAME) | O(MGMTDEV), O(MAC) | O(MTU) | O(MAX_VQP), acn_vdpa_dev_add, NULL },
	{ "vdpa-dev-del", O(DEV), 0, acn_vdpa_dev_del, NULL },
	/* temporary netns for SR-IOV/vDPA moves */
	{ "netns-create", O(NETNS_FILE), 0, acn_netns_create, NULL },
	{ "netns-delete", O(NETNS_FILE), 0, acn_netns_delete, NULL },
	/* CNI server: who is at the other end of a connection (an inherited socket fd) */
	{ "peer-cred", O(FD), 0, acn_peer_cred, NULL },
	/* device plugin rescan hints: streams JSON lines, alone in its invocation */
	{ "uevent-monitor", 0, O(WITH_VIRTUAL), acn_uevent_monitor, NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define RESULTS_MAX (4u << 20)

enum exit_code { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_INVALID = 2, EXIT_INTERNAL = 3 };

/* Static: the batch state is large and lives for the whole (short) process. */
static struct acn_opts opts[ACN_MAX_CMDS];
static const struct acn_cmd_def *defs[ACN_MAX_CMDS];
static char results_buf[RESULTS_MAX];
static char reply_buf[RESULTS_MAX + 4096];

struct batch {
	int count;     /* commands parsed (and holding resources) */
	int failed;    /* index of the failing command, -1 for a global error */
	const char *failed_cmd;
	struct acn_err err;
	struct acn_globals g;
};

static const struct acn_cmd_def *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void list_commands(char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < NCOMMANDS && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", commands[i].name);
}

static int usage_error(struct batch *b, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(struct batch *b, const char *object, const char *fmt, ...)
{
	va_list ap;

	acn_fail(&b->err, -EINVAL, "parse", object);
	va_start(ap, fmt);
	vsnprintf(b->err.message, sizeof(b->err.message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Global flags before the first command. Returns the index of the first command word. */
static int parse_globals(int argc, char **argv, struct batch *b, bool *version)
{
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--version") == 0) {
			*version = true;
		} else if (strncmp(a, "--sysfs-root=", 13) == 0 && acn_path_safe(a + 13)) {
			b->g.sysfs_root = a + 13;
		} else if (strncmp(a, "--dev-root=", 11) == 0 && acn_path_safe(a + 11)) {
			b->g.dev_root = a + 11;
		} else {
			return usage_error(b, a,
					   "invalid global \"%.64s\"; valid: --version, --sysfs-root=DIR, --dev-root=DIR "
					   "(DIR absolute, without \"..\")",
					   a);
		}
	}
	return i;
}

/* A streaming command owns stdout until it ends: it cannot share an invocation. */
static bool is_stream(const struct acn_cmd_def *def)
{
	return def->run == acn_uevent_monitor;
}

static int refuse_stream_in_batch(struct batch *b)
{
	int i;

	for (i = 0; b->count > 1 && i < b->count; i++) {
		if (!is_stream(defs[i]))
			continue;
		b->failed = i;
		b->failed_cmd = defs[i]->name;
		return usage_error(b, defs[i]->name,
				   "%s streams events until stdin closes and must be the only command of its "
				   "invocation (batch of %d commands)",
				   defs[i]->name, b->count);
	}
	b->failed = -1;
	b->failed_cmd = NULL;
	return 0;
}

static int parse_batch(int argc, char **argv, int first, struct batch *b)
{
	char names[512];
	int start = first, end, rc;

	if (first >= argc)
		return usage_error(b, "", "no command given");
	while (start <= argc) {
		for (end = start; end < argc && strcmp(argv[end], "--") != 0; end++)
			;
		b->failed = b->count;
		b->failed_cmd = NULL;
		if (end == start)
			return usage_error(b, "--", "empty command in batch (two \"--\" in a row or at an end)");
		if (b->count == ACN_MAX_CMDS)
			return usage_error(b, argv[start], "too many commands in one batch (max %d)", ACN_MAX_CMDS);
		b->failed = b->count;
		b->failed_cmd = argv[start];
		defs[b->count] = find_command(argv[start]);
		if (!defs[b->count]) {
			list_commands(names, sizeof(names));
			acn_fail(&b->err, -EINVAL, "parse", argv[start]);
			snprintf(b->err.message, sizeof(b->err.message), "unknown command \"%.64s\"; valid: %.400s",
				 argv[start], names);
			return -EINVAL;
		}
		rc = acn_args_parse(defs[b->count], argv + start + 1, end - start - 1, &opts[b->count], &b->err);
		b->count++; /* parsed or not, its netns fds must be released */
		if (rc < 0)
			return rc;
		start = end + 1;
	}
	return refuse_stream_in_batch(b);
}

static void put_error(struct acn_json *j, const struct batch *b)
{
	const struct acn_err *e = &b->err;
	const char *name = strerrorname_np(e->code);

	acn_json_obj_open(j, "error");
	if (b->failed >= 0)
		acn_json_int(j, "index", b->failed);
	else
		acn_json_null(j, "index");
	acn_json_str(j, "cmd", b->failed_cmd);
	acn_json_str(j, "op", e->op ? e->op : "unknown");
	acn_json_str(j, "object", e->object);
	acn_json_int(j, "errno", e->code);
	acn_json_str(j, "errname", name ? name : "EUNKNOWN");
	acn_json_str(j, "message", e->message[0] ? e->message : strerror(e->code));
	if (e->extack[0])
		acn_json_str(j, "extack", e->extack);
	if (e->attr[0])
		acn_json_str(j, "attr", e->attr);
	acn_json_obj_close(j);
}

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int reply(const struct acn_json *results, const struct batch *b, bool ok, int code)
{
	struct acn_json j;

	acn_json_init(&j, reply_buf, sizeof(reply_buf));
	acn_json_obj_open(&j, NULL);
	acn_json_bool(&j, "ok", ok);
	acn_json_raw(&j, "results", results->buf, results->len);
	if (!ok)
		put_error(&j, b);
	acn_json_obj_close(&j);
	acn_json_end(&j);
	if (j.overflow || write_all(j.buf, j.len) < 0)
		return EXIT_INTERNAL;
	return code;
}

static int reply_version(void)
{
	struct acn_json j;
	size_t i;

	acn_json_init(&j, reply_buf, sizeof(reply_buf));
	acn_json_obj_open(&j, NULL);
	acn_json_bool(&j, "ok", true);
	acn_json_str(&j, "version", ACN_VERSION);
	acn_json_arr_open(&j, "commands");
	for (i = 0; i < NCOMMANDS; i++)
		acn_json_str(&j, NULL, commands[i].name);
	acn_json_arr_close(&j);
	acn_json_obj_close(&j);
	acn_json_end(&j);
	return j.overflow || write_all(j.buf, j.len) < 0 ? EXIT_INTERNAL : EXIT_OK;
}

/* Runs the parsed batch in order; stops at the first failure. */
static int run_batch(struct batch *b, struct acn_json *results)
{
	int i, rc;

	for (i = 0; i < b->count; i++) {
		struct acn_json_mark mark = acn_json_mark(results);
		struct acn_ctx ctx = { .g = &b->g, .out = results, .err = &b->err };

		acn_trace("run %d: %s", i, defs[i]->name);
		acn_json_obj_open(results, NULL);
		rc = defs[i]->run(&ctx, &opts[i]);
		acn_json_obj_close(results);
		if (rc == 0 && results->overflow) {
			rc = acn_fail(&b->err, -ENOBUFS, "reply", defs[i]->name);
			snprintf(b->err.message, sizeof(b->err.message), "reply larger than %u bytes", RESULTS_MAX);
		}
		if (rc < 0) {
			acn_json_rewind(results, mark);
			b->failed = i;
			b->failed_cmd = defs[i]->name;
			return rc;
		}
	}
	return 0;
}

/* One batch and its JSON reply: the helper's exec, or a child the spawner forked without an exec. */
int acn_batch_main(int argc, char **argv)
{
	static struct batch b = { .failed = -1, .g = { .sysfs_root = "/sys", .dev_root = "/dev" } };
	struct acn_json results;
	bool version = false;
	int first, code, i;

	acn_trace_on = getenv("ACCELNET_HELPER_TRACE") && strcmp(getenv("ACCELNET_HELPER_TRACE"), "1") == 0;
	acn_json_init(&results, results_buf, sizeof(results_buf));
	acn_json_arr_open(&results, NULL);

	first = parse_globals(argc, argv, &b, &version);
	if (first >= 0 && version && first < argc)
		first = usage_error(&b, argv[first], "--version takes no command (got \"%.64s\")", argv[first]);
	if (first >= 0 && version) {
		code = reply_version();
		goto out;
	}
	if (first < 0 || parse_batch(argc, argv, first, &b) < 0) {
		acn_json_arr_close(&results);
		code = reply(&results, &b, false, EXIT_INVALID);
		goto release;
	}
	if (run_batch(&b, &results) < 0) {
		acn_json_arr_close(&results);
		code = reply(&results, &b, false, acn_netns_lost ? EXIT_INTERNAL : EXIT_FAILED);
		goto release;
	}
	acn_json_arr_close(&results);
	code = reply(&results, &b, true, EXIT_OK);
release:
	for (i = 0; i < b.count; i++)
		acn_args_release(&opts[i]);
out:
	acn_netns_fini();
	return code;
}
