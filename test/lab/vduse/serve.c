/* The message loop. The kernel queues a request for every status write
 * (SET_STATUS), every query of a queue's position (GET_VQ_STATE) and every
 * IOTLB change (UPDATE_IOTLB); it waits for our answer. This device moves no
 * packets, so every request succeeds and queues report index 0. */
#include <errno.h>
#include <linux/vduse.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "tool.h"

static const char *request_name(uint32_t type)
{
	switch (type) {
	case VDUSE_GET_VQ_STATE:
		return "GET_VQ_STATE";
	case VDUSE_SET_STATUS:
		return "SET_STATUS";
	case VDUSE_UPDATE_IOTLB:
		return "UPDATE_IOTLB";
	default:
		return "UNKNOWN";
	}
}

static int answer(int dev_fd, const struct vduse_dev_request *request, const struct vduse_options *options)
{
	struct vduse_dev_response response = { 0 };

	response.request_id = request->request_id;
	response.result = VDUSE_REQ_RESULT_OK;
	switch (request->type) {
	case VDUSE_GET_VQ_STATE:
		response.vq_state.index = request->vq_state.index;
		/* Split and packed states share the union; zero is "nothing consumed" for both. */
		break;
	case VDUSE_SET_STATUS:
	case VDUSE_UPDATE_IOTLB:
		break;
	default:
		/* A request type newer than this tool: fail it rather than leave it hanging. */
		response.result = VDUSE_REQ_RESULT_FAILED;
		break;
	}
	if (options->verbose)
		fprintf(stderr, "accelnet-vduse %s: %s id=%u%s\n", options->name, request_name(request->type),
			request->request_id, response.result == VDUSE_REQ_RESULT_OK ? "" : " (failed)");
	if (write(dev_fd, &response, sizeof(response)) != (ssize_t)sizeof(response)) {
		fprintf(stderr, "accelnet-vduse: write response %u: %s\n", request->request_id, strerror(errno));
		return -1;
	}
	return 0;
}

int vduse_serve(int dev_fd, const struct vduse_options *options)
{
	sigset_t signals;
	int signal_fd, result = 0;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0 || (signal_fd = signalfd(-1, &signals, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "accelnet-vduse: signalfd: %s\n", strerror(errno));
		return -1;
	}

	for (;;) {
		struct pollfd fds[2] = { { .fd = dev_fd, .events = POLLIN }, { .fd = signal_fd, .events = POLLIN } };
		struct vduse_dev_request request;
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "accelnet-vduse: poll: %s\n", strerror(errno));
			result = -1;
			break;
		}
		if (fds[1].revents & POLLIN)
			break;
		if (!(fds[0].revents & POLLIN))
			continue;
		n = read(dev_fd, &request, sizeof(request));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != (ssize_t)sizeof(request)) {
			fprintf(stderr, "accelnet-vduse: read request: %s\n", n < 0 ? strerror(errno) : "short read");
			result = -1;
			break;
		}
		if (answer(dev_fd, &request, options) < 0) {
			result = -1;
			break;
		}
	}
	close(signal_fd);
	return result;
}
