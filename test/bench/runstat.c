/*
 * runstat: runs one program with stdin from a file and reports, as one JSON line on stderr, its wall time
 * and peak resident set size (ru_maxrss from wait4, which covers the child and the descendants it
 * waited for). Its stdout passes through. Used by the benchmark so both plugins are measured the same way.
 *
 * usage: runstat STDIN_FILE PROGRAM [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec start, end;
	struct rusage ru;
	int status, in;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: runstat STDIN_FILE PROGRAM [ARG...]\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "runstat: cannot open \"%s\": %s\n", argv[1], strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 2;
	}
	if (pid == 0) {
		if (dup2(in, STDIN_FILENO) < 0)
			_exit(127);
		execv(argv[2], &argv[2]);
		_exit(127);
	}
	close(in);
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("runstat: wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	fprintf(stderr, "{\"wallNs\":%lld,\"maxRssKb\":%ld,\"exit\":%d}\n",
		(long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec),
		ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
