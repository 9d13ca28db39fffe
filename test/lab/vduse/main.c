/* accelnet-vduse serve name=NAME [mac=MAC] [mtu=N] [queue-size=N] [verbose=1]
 * accelnet-vduse destroy name=NAME
 *
 * serve prints one JSON line on stdout once the device exists and is being
 * served, then runs until SIGTERM/SIGINT and destroys the device. Exit codes:
 * 0 ok, 1 a kernel operation failed, 2 invalid arguments. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static int usage(void)
{
	fprintf(stderr, "usage: accelnet-vduse serve name=NAME [mac=MAC] [mtu=N] [queue-size=N] [verbose=1]\n"
			"       accelnet-vduse destroy name=NAME\n");
	return 2;
}

static int serve(const struct vduse_options *options)
{
	int dev_fd = vduse_create(options);
	int ret;

	if (dev_fd < 0)
		return 1;
	printf("{\"ready\":true,\"name\":\"%s\",\"dev\":\"/dev/vduse/%s\",\"pid\":%d}\n", options->name, options->name,
	       (int)getpid());
	fflush(stdout);
	ret = vduse_serve(dev_fd, options);
	close(dev_fd);
	if (vduse_destroy(options->name, 5000) < 0)
		return 1;
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct vduse_options options;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "destroy") != 0)
		return usage();
	if (vduse_parse_args(argv[1], argc - 2, argv + 2, &options) < 0)
		return 2;
	if (strcmp(argv[1], "destroy") == 0)
		return vduse_destroy(options.name, 5000) < 0 ? 1 : 0;
	return serve(&options);
}
