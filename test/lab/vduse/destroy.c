/* Destroys a VDUSE device. The kernel refuses (EBUSY) while the vdpa device
 * is still attached or /dev/vduse/NAME is open, so retry for a while: the
 * caller may have just run `vdpa dev del`. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

int vduse_destroy(const char *name, int wait_ms)
{
	char buf[VDUSE_NAME_MAX] = { 0 };
	int control_fd, ret;

	control_fd = open("/dev/vduse/control", O_RDWR | O_CLOEXEC);
	if (control_fd < 0) {
		fprintf(stderr, "accelnet-vduse: open /dev/vduse/control: %s\n", strerror(errno));
		return -1;
	}
	strncpy(buf, name, sizeof(buf) - 1);
	for (int waited = 0;; waited += 100) {
		ret = ioctl(control_fd, VDUSE_DESTROY_DEV, buf);
		if (ret == 0 || errno != EBUSY || waited >= wait_ms)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	if (ret < 0)
		fprintf(stderr, "accelnet-vduse: VDUSE_DESTROY_DEV %s: %s%s\n", name, strerror(errno),
			errno == EBUSY ? " (delete the vdpa device first: vdpa dev del NAME)" : "");
	close(control_fd);
	return ret < 0 ? -1 : 0;
}
