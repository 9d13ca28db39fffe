/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelnet-helper: shared types.
 *
 * Conventions (STYLE.md Part 2): functions are acn_<object>_<verb>, return 0
 * or -errno, and describe a failure in the struct acn_err they are handed.
 * Only batch.c writes the reply and picks the exit code.
 */
#ifndef ACN_H
#define ACN_H

#include <linux/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ACN_VERSION "0.1.0"
#define ACN_MAX_CMDS 64

struct acn_json;

#define ACN_ALTNAMSIZ 128        /* ALTIFNAMSIZ */
#define ACN_PCI_ADDR_LEN 12      /* dddd:bb:dd.f */
#define ACN_DRIVER_NAME_MAX 31
#define ACN_VDPA_NAME_MAX 31
/* A vdpa management device handle: an optional bus name and a device name ("pci" + "0000:00:02.1", "vduse"). */
#define ACN_MGMTDEV_BUS_MAX 31
#define ACN_MGMTDEV_DEV_MAX 63
#define ACN_VDPA_MAX_VQP 0x8000 /* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX */
/* netns-create/netns-delete manage files directly in this directory, as `ip netns` does. */
#define ACN_RUN_NETNS_DIR "/run/netns"
#define ACN_NETNS_NAME_MAX 64
#define ACN_NETNS_FILE_MAX (sizeof(ACN_RUN_NETNS_DIR "/") - 1 + ACN_NETNS_NAME_MAX)

/* What went wrong, in the words the reply uses (PROTOCOL.md "Reply"). */
struct acn_err {
	const char *op;       /* kernel operation or syscall, a string literal */
	char object[256];     /* the name from the input */
	int code;             /* positive errno */
	char message[512];    /* argument errors only; otherwise strerror(code) */
	char extack[512];     /* kernel extended-ack text */
	char attr[64];        /* kernel's bad attribute, by name */
};

/* Records a failure and returns @neg_errno, so callers can `return acn_fail(...)`. */
int acn_fail(struct acn_err *e, int neg_errno, const char *op, const char *object);

/*
 * Makes the helper receive SIGKILL when its parent thread exits; -ESRCH when the parent, whose pid was
 * @parent at start, is gone already (parent_death.c).
 */
int acn_parent_death_arm(pid_t parent);

/* Argument keys. The order is the order of the key table in args.c. */
enum acn_key {
	ACN_K_NETNS,
	ACN_K_NAME,
	ACN_K_PATH,
	ACN_K_ADDRS,
	ACN_K_ROUTES,
	ACN_K_VFS,
	ACN_K_FAMILY,
	ACN_K_TABLE,
	ACN_K_MASTER,
	ACN_K_MASTER_NETNS,
	ACN_K_MODE,
	ACN_K_MAC,
	ACN_K_MTU,
	ACN_K_BCQUEUELEN,
	ACN_K_NEWNAME,
	ACN_K_ADDR,
	ACN_K_DST,
	ACN_K_GW,
	ACN_K_METRIC,
	ACN_K_SCOPE,
	ACN_K_KEY,
	ACN_K_VALUE,
	/* phase 2: SR-IOV, PCI, vDPA */
	ACN_K_TO,
	ACN_K_ALTNAME,
	ACN_K_PF,
	ACN_K_VF,
	ACN_K_VF_MAC,     /* "mac" of vf-set: also the all-zero MAC, which clears the VF's admin MAC */
	ACN_K_VLAN,
	ACN_K_QOS,
	ACN_K_PROTO,
	ACN_K_SPOOFCHK,
	ACN_K_TRUST,
	ACN_K_STATE,
	ACN_K_MIN_TX_RATE,
	ACN_K_MAX_TX_RATE,
	ACN_K_PCI,        /* "addr" of the PCI commands (a PCI address, not a CIDR) */
	ACN_K_DRIVER,     /* a PCI driver name */
	ACN_K_VDPA_DRIVER, /* "driver" of vdpa-bind */
	ACN_K_DEV,
	ACN_K_NUMVFS,     /* "count" */
	ACN_K_WITH_VDPA,  /* "vdpa" of inventory */
	ACN_K_NETNS_FILE, /* "path" of netns-create/-delete: a file in /run/netns, need not exist */
	ACN_K_WITH_VIRTUAL, /* "virtual" of uevent-monitor: also net events of virtual devices */
	/* node setup: vdpa devices on management devices */
	ACN_K_VDPA_NAME,  /* "name" of vdpa-dev-add: a vdpa device name (stored in dev) */
	ACN_K_MGMTDEV,    /* "mgmtdev": BUS/DEV or DEV */
	ACN_K_MAX_VQP,    /* "max_vqp": virtio-net queue pairs */
	ACN_K_IFINDEX,      /* "index" of link-del: the link by identity, not by name */
	ACN_K_FD,           /* "fd" of peer-cred: an inherited descriptor, 3 or above */
	ACN_K_COUNT
};

_Static_assert(ACN_K_COUNT <= 64, "struct acn_opts.present is a 64-bit mask of keys");

#define ACN_OPT(k) (UINT64_C(1) << (k))

/* A validated network namespace: fd is -1 for "the helper's own". */
struct acn_netns {
	int fd;
	const char *path;
	ino_t inode;
};

struct acn_prefix {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int prefixlen;
};

enum acn_sysctl_key { ACN_SYSCTL_ARP_NOTIFY, ACN_SYSCTL_NDISC_NOTIFY };
enum acn_vdpa_driver { ACN_VDPA_VHOST, ACN_VDPA_VIRTIO };

struct acn_mgmtdev {
	char bus[ACN_MGMTDEV_BUS_MAX + 1]; /* "" when the management device has no bus (VDUSE) */
	char dev[ACN_MGMTDEV_DEV_MAX + 1];
};

/* One command's validated arguments. Fields are valid only when present. */
struct acn_opts {
	uint64_t present;
	const char *raw[ACN_K_COUNT]; /* the text as given, for messages */
	struct acn_netns netns, master_netns, path;
	char name[IFNAMSIZ], master[IFNAMSIZ], newname[IFNAMSIZ];
	bool addrs, routes, vfs;
	uint32_t family; /* AF_INET or AF_INET6 */
	uint32_t table, metric, bcqueuelen, mtu, mode, scope, key, value;
	unsigned char mac[6];
	struct acn_prefix addr, dst, gw;
	/* phase 2 */
	struct acn_netns to;
	char altname[ACN_ALTNAMSIZ];
	char pf[IFNAMSIZ];
	char pci[ACN_PCI_ADDR_LEN + 1];
	char driver[ACN_DRIVER_NAME_MAX + 1];
	char dev[ACN_VDPA_NAME_MAX + 1];
	uint32_t vf, vlan, qos, proto, spoofchk, trust, state, min_tx_rate, max_tx_rate, vdpa_driver, numvfs;
	bool with_vdpa;
	char netns_file[ACN_NETNS_FILE_MAX + 1];
	bool with_virtual;
	struct acn_mgmtdev mgmtdev;
	uint32_t max_vqp;
	uint32_t ifindex;
	uint32_t fd;
};

static inline bool acn_has(const struct acn_opts *o, enum acn_key k)
{
	return (o->present & ACN_OPT(k)) != 0;
}

/* Process-wide settings from the global flags. */
struct acn_globals {
	const char *sysfs_root;
	const char *dev_root;
};

/* What a command handler gets: it writes its result members into out. */
struct acn_ctx {
	const struct acn_globals *g;
	struct acn_json *out;
	struct acn_err *err;
};

typedef int (*acn_run_fn)(struct acn_ctx *ctx, const struct acn_opts *o);
/* Cross-key validation after parsing; fills err->message, returns -errno. */
typedef int (*acn_check_fn)(const char *cmd, const struct acn_opts *o, struct acn_err *err);

struct acn_cmd_def {
	const char *name;
	uint64_t required;
	uint64_t optional;
	acn_run_fn run;
	acn_check_fn check;
};

/* Command handlers (one group per cmd_*.c file). */
int acn_netns_check(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_show(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_list(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_addr_list(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_route_list(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_macvlan_add(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_rename(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_set_mac(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_set_mtu(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_up(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_down(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_del(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_addr_add(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_addr_del(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_route_add(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_route_del(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_route_check(const char *cmd, const struct acn_opts *o, struct acn_err *err);
int acn_link_del_check(const char *cmd, const struct acn_opts *o, struct acn_err *err);
int acn_sysctl_set(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_sysctl_check(const char *cmd, const struct acn_opts *o, struct acn_err *err);
/* phase 2 */
int acn_link_move(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_link_altname_del(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vf_show(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vf_set(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vf_set_check(const char *cmd, const struct acn_opts *o, struct acn_err *err);
int acn_pci_show(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_pci_bind(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_sriov_numvfs(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_pci_reprobe(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_inventory(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vfio_info(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_list(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_show(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_bind(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_config_set(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vhost_vdpa_info(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_mgmtdev_list(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_dev_add(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_vdpa_dev_del(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_netns_create(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_netns_delete(struct acn_ctx *ctx, const struct acn_opts *o);
int acn_peer_cred(struct acn_ctx *ctx, const struct acn_opts *o);
/* Streams until stdin EOF or SIGTERM; must be the only command of its invocation (batch.c). */
int acn_uevent_monitor(struct acn_ctx *ctx, const struct acn_opts *o);

/* Resident mode `accelnet-helper spawner` (cmd_spawner.c): serves framed requests on stdin until EOF. */
int acn_spawner_main(int argc, char **argv);
/* One batch (argv as the helper's) and its reply on stdout: the exit code (batch.c). */
int acn_batch_main(int argc, char **argv);

/* Tracing to stderr, enabled by ACCELNET_HELPER_TRACE=1. */
extern bool acn_trace_on;
void acn_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
