/* accelnet-vduse: creates and serves VDUSE virtio-net devices for the lab.
 *
 * A VDUSE device lives as long as this program serves it: the kernel sends it
 * a message for every status change, queue-state query and IOTLB update, and
 * a message left unanswered blocks the caller for msg_timeout and then marks
 * the device broken for good. So "serve" creates the device, answers every
 * message until SIGTERM/SIGINT, and destroys the device on the way out. */
#ifndef ACCELNET_VDUSE_TOOL_H
#define ACCELNET_VDUSE_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#define VDUSE_TOOL_NAME_MAX 31

struct vduse_options {
	char name[VDUSE_TOOL_NAME_MAX + 1];
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t queue_size;
	bool verbose;
};

/* args.c: parse KEY=VALUE arguments; prints the problem and returns -1. */
int vduse_parse_args(const char *command, int argc, char **argv, struct vduse_options *options);

/* create.c: VDUSE_CREATE_DEV + VDUSE_VQ_SETUP; returns the open /dev/vduse/NAME fd or -1. */
int vduse_create(const struct vduse_options *options);

/* destroy.c: VDUSE_DESTROY_DEV, retrying while the vdpa device still holds it. */
int vduse_destroy(const char *name, int wait_ms);

/* serve.c: answer messages on dev_fd until a termination signal; returns 0 or -1. */
int vduse_serve(int dev_fd, const struct vduse_options *options);

#endif
