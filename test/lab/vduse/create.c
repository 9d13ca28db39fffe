/* Creates a VDUSE virtio-net device: VDUSE_CREATE_DEV on /dev/vduse/control
 * with a virtio_net_config carrying MAC, MTU and link status, then
 * VDUSE_VQ_SETUP for the receive and transmit queues (no control queue:
 * VDUSE refuses VIRTIO_NET_F_CTRL_VQ). The device appears on the vdpa bus
 * only after `vdpa dev add name NAME mgmtdev vduse`. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tool.h"

#define QUEUE_COUNT 2 /* one receive and one transmit queue */

static const uint64_t device_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
					(1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_MTU) |
					(1ULL << VIRTIO_NET_F_STATUS);

static int set_api_version(int control_fd)
{
	uint64_t version = VDUSE_API_VERSION;

	if (ioctl(control_fd, VDUSE_SET_API_VERSION, &version) < 0) {
		fprintf(stderr, "accelnet-vduse: VDUSE_SET_API_VERSION %llu: %s\n", (unsigned long long)version,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int create_device(int control_fd, const struct vduse_options *options)
{
	struct virtio_net_config net = { 0 };
	size_t size = sizeof(struct vduse_dev_config) + sizeof(net);
	struct vduse_dev_config *config = calloc(1, size);
	int ret;

	if (!config) {
		fprintf(stderr, "accelnet-vduse: out of memory\n");
		return -1;
	}
	memcpy(net.mac, options->mac, sizeof(net.mac));
	net.status = htole16(VIRTIO_NET_S_LINK_UP);
	net.max_virtqueue_pairs = htole16(1);
	net.mtu = htole16(options->mtu);

	strcpy(config->name, options->name);
	config->vendor_id = 0;
	config->device_id = VIRTIO_ID_NET;
	config->features = device_features;
	config->vq_num = QUEUE_COUNT;
	config->vq_align = (uint32_t)sysconf(_SC_PAGESIZE);
	config->config_size = sizeof(net);
	memcpy(config->config, &net, sizeof(net));

	ret = ioctl(control_fd, VDUSE_CREATE_DEV, config);
	if (ret < 0)
		fprintf(stderr, "accelnet-vduse: VDUSE_CREATE_DEV %s: %s\n", options->name, strerror(errno));
	free(config);
	return ret < 0 ? -1 : 0;
}

static int setup_queues(int dev_fd, const struct vduse_options *options)
{
	for (uint32_t index = 0; index < QUEUE_COUNT; index++) {
		struct vduse_vq_config vq = { .index = index, .max_size = options->queue_size };

		if (ioctl(dev_fd, VDUSE_VQ_SETUP, &vq) < 0) {
			fprintf(stderr, "accelnet-vduse: VDUSE_VQ_SETUP %s queue %u: %s\n", options->name, index,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

int vduse_create(const struct vduse_options *options)
{
	char path[64 + VDUSE_TOOL_NAME_MAX];
	int control_fd, dev_fd;

	control_fd = open("/dev/vduse/control", O_RDWR | O_CLOEXEC);
	if (control_fd < 0) {
		fprintf(stderr, "accelnet-vduse: open /dev/vduse/control: %s (is the vduse module loaded?)\n",
			strerror(errno));
		return -1;
	}
	if (set_api_version(control_fd) < 0 || create_device(control_fd, options) < 0) {
		close(control_fd);
		return -1;
	}
	close(control_fd);

	snprintf(path, sizeof(path), "/dev/vduse/%s", options->name);
	dev_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev_fd < 0) {
		fprintf(stderr, "accelnet-vduse: open %s: %s\n", path, strerror(errno));
		vduse_destroy(options->name, 0);
		return -1;
	}
	if (setup_queues(dev_fd, options) < 0) {
		close(dev_fd);
		vduse_destroy(options->name, 0);
		return -1;
	}
	return dev_fd;
}
