// SPDX-License-Identifier: Apache-2.0
/* sysfs reads, writes and device look-ups under --sysfs-root. See sysfs.h. */
#define _GNU_SOURCE
#include "sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int acn_path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int acn_sysfs_read_at(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		rc = -errno;
		n = 0;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	close(fd);
	return rc;
}

int acn_sysfs_link_at(int dirfd, const char *name, char *buf, size_t len)
{
	char target[ACN_PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len || !*base)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

int acn_sysfs_long_at(int dirfd, const char *name, long *out)
{
	char buf[64], *end;
	int rc = acn_sysfs_read_at(dirfd, name, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	errno = 0;
	*out = strtol(buf, &end, 0);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int acn_sysfs_write(const char *path, const char *value, struct acn_err *err, const char *op, const char *object)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, rc = 0;

	acn_trace("write %s %s", path, value[0] == '\n' ? "\\n" : value);
	/* O_TRUNC keeps plain files in fake trees equal to the last value; sysfs ignores it. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return acn_fail(err, -errno, op, object);
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = acn_fail(err, -errno, op, object);
	else if ((size_t)n != len)
		rc = acn_fail(err, -EIO, op, object);
	if (close(fd) < 0 && rc == 0)
		rc = acn_fail(err, -errno, op, object);
	return rc;
}

/* The root's real path, resolved once per process (inventory checks every device). */
static const char *real_root(const char *root)
{
	static char real[ACN_PATH_MAX];
	static const char *for_root;

	if (for_root != root) {
		if (!realpath(root, real))
			return NULL;
		for_root = root;
	}
	return real;
}

bool acn_sysfs_inside(const char *root, const char *path)
{
	const char *r = real_root(root);
	char *p = realpath(path, NULL);
	bool inside = false;
	size_t n;

	if (r && p) {
		n = strlen(r);
		inside = strncmp(r, p, n) == 0 && (p[n] == '/' || (n == 1 && r[0] == '/'));
	}
	free(p);
	return inside;
}

int acn_sysfs_device(const struct acn_globals *g, const char *bus, const char *name, char *path, size_t len,
		     struct acn_err *err)
{
	struct stat st;
	int rc;

	rc = acn_path_fmt(path, len, "%s/bus/%s/devices/%s", g->sysfs_root, bus, name);
	if (rc < 0)
		return acn_fail(err, rc, "lookup device", name);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = acn_fail(err, -ENODEV, "lookup device", name);
		snprintf(err->message, sizeof(err->message), "no %s device \"%s\" (%.300s does not exist)", bus, name,
			 path);
		return rc;
	}
	if (!acn_sysfs_inside(g->sysfs_root, path)) {
		rc = acn_fail(err, -EXDEV, "lookup device", name);
		snprintf(err->message, sizeof(err->message), "%.300s resolves outside the sysfs root %.150s", path,
			 g->sysfs_root);
		return rc;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int acn_names_read(int dirfd, const char *sub, bool (*keep)(const char *name), struct acn_names *names)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	names->v = NULL;
	names->n = 0;
	fd = openat(dirfd, sub ? sub : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (de->d_name[0] == '.' || (keep && !keep(de->d_name)))
			continue;
		grown = realloc(names->v, (names->n + 1) * sizeof(*names->v));
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		names->v = grown;
		names->v[names->n] = strdup(de->d_name);
		if (!names->v[names->n]) {
			rc = -ENOMEM;
			break;
		}
		names->n++;
	}
	closedir(d);
	if (rc < 0) {
		acn_names_free(names);
		return rc;
	}
	if (names->n > 1)
		qsort(names->v, names->n, sizeof(*names->v), name_cmp);
	return 0;
}

void acn_names_free(struct acn_names *names)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}
