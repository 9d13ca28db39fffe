/* Argument parsing for accelnet-vduse. Every value is validated before the
 * program touches /dev/vduse: a bad argument names the key, the rule and the
 * value, and exits 2 with nothing created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static bool valid_name(const char *value)
{
	size_t len = strlen(value);

	if (len == 0 || len > VDUSE_TOOL_NAME_MAX || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = value[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool parse_mac(const char *value, uint8_t mac[6])
{
	unsigned int bytes[6];
	char end;

	if (strlen(value) != 17 ||
	    sscanf(value, "%2x:%2x:%2x:%2x:%2x:%2x%c", &bytes[0], &bytes[1], &bytes[2], &bytes[3], &bytes[4],
		   &bytes[5], &end) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)bytes[i];
	if (mac[0] & 1)
		return false; /* multicast */
	return mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5];
}

static bool parse_u16(const char *value, unsigned long min, unsigned long max, uint16_t *out)
{
	char *end;
	unsigned long number;

	if (value[0] < '0' || value[0] > '9')
		return false;
	number = strtoul(value, &end, 10);
	if (*end != '\0' || number < min || number > max)
		return false;
	*out = (uint16_t)number;
	return true;
}

static int bad(const char *command, const char *key, const char *rule, const char *value)
{
	fprintf(stderr, "accelnet-vduse %s: invalid %s=%s (%s)\n", command, key, value, rule);
	return -1;
}

int vduse_parse_args(const char *command, int argc, char **argv, struct vduse_options *options)
{
	bool have_name = false;

	memset(options, 0, sizeof(*options));
	/* A locally administered default MAC; tests pass their own. */
	memcpy(options->mac, (uint8_t[]){ 0x02, 0xac, 0xce, 0x00, 0x00, 0x01 }, 6);
	options->mtu = 1500;
	options->queue_size = 256;

	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *key, *value;

		if (!eq)
			return bad(command, argv[i], "arguments are KEY=VALUE", "");
		*eq = '\0';
		key = argv[i];
		value = eq + 1;
		if (strcmp(key, "name") == 0) {
			if (!valid_name(value))
				return bad(command, key, "1-31 characters of [A-Za-z0-9._-]", value);
			strcpy(options->name, value);
			have_name = true;
		} else if (strcmp(command, "destroy") == 0) {
			return bad(command, key, "destroy takes only name", value);
		} else if (strcmp(key, "mac") == 0) {
			if (!parse_mac(value, options->mac))
				return bad(command, key, "unicast xx:xx:xx:xx:xx:xx, not all-zero", value);
		} else if (strcmp(key, "mtu") == 0) {
			if (!parse_u16(value, 68, 65535, &options->mtu))
				return bad(command, key, "68-65535", value);
		} else if (strcmp(key, "queue-size") == 0) {
			if (!parse_u16(value, 2, 32768, &options->queue_size) ||
			    (options->queue_size & (options->queue_size - 1)))
				return bad(command, key, "a power of two, 2-32768", value);
		} else if (strcmp(key, "verbose") == 0) {
			if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
				return bad(command, key, "0 or 1", value);
			options->verbose = value[0] == '1';
		} else {
			return bad(command, key, "valid keys: name, mac, mtu, queue-size, verbose", value);
		}
	}
	if (!have_name)
		return bad(command, "name", "required", "");
	return 0;
}
