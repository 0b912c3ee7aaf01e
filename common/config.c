/* config.c: typed reads of environment variables, with clear errors. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "log.h"

const char *
sc_config_str(const char *name, const char *def)
{
	const char *v = getenv(name);
	return (v != NULL && *v != '\0') ? v : def;
}

int
sc_config_int(const char *name, long def, long min, long max, long *out)
{
	const char *v = sc_config_str(name, NULL);
	char *end;
	long n;

	if (v == NULL) {
		*out = def;
		return SC_OK;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		sc_log_error(
		    NULL, "invalid %s '%s': must be an integer in [%ld, %ld]",
		    name, v, min, max);
		return SC_EINVAL;
	}
	*out = n;
	return SC_OK;
}

int
sc_config_bool(const char *name, int def, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	const char *v = sc_config_str(name, NULL);

	if (v == NULL) {
		*out = def;
		return SC_OK;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return SC_OK;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return SC_OK;
		}
	}
	sc_log_error(NULL, "invalid %s '%s': must be true or false", name, v);
	return SC_EINVAL;
}

int
sc_config_file(const char *name, const char *def, char **out, size_t *len)
{
	const char *path = sc_config_str(name, def);
	FILE *f;
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (path == NULL) {
		sc_log_error(NULL, "missing %s: set it to a file path", name);
		return SC_EINVAL;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		sc_log_error(NULL, "cannot open %s '%s': %s", name, path,
		             strerror(errno));
		return SC_EINVAL;
	}
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = sc_realloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			break;
		}
	}
	if (ferror(f)) {
		sc_log_error(NULL, "cannot read %s '%s': %s", name, path,
		             strerror(errno));
		fclose(f);
		free(buf);
		return SC_EINVAL;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	if (len != NULL) {
		*len = n;
	}
	return SC_OK;
}
