/* config.h: configuration from environment variables with documented
 * defaults. Every variable a daemon reads goes through these, so a bad value
 * is reported the same way ("invalid SC_HTTP_PORT 'x': ...") and start-up
 * fails with a non-zero exit. The variables are listed in README.md. */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stddef.h>

/* The variable's value, or `def` when unset or empty. Borrowed: valid while
 * the environment is unchanged. */
const char *sc_config_str(const char *name, const char *def);

/* An integer in [min, max]; `def` when unset. SC_OK, or SC_EINVAL after
 * logging what is wrong. */
int sc_config_int(const char *name, long def, long min, long max, long *out);

/* A boolean (1/0, true/false, yes/no, on/off); `def` when unset. SC_OK, or
 * SC_EINVAL after logging. */
int sc_config_bool(const char *name, int def, int *out);

/* Read the whole file named by the variable `name` (or `def` when unset).
 * On SC_OK, *out is NUL-terminated and the caller owns it (free with free());
 * SC_EINVAL after logging when unset without default or unreadable. */
int sc_config_file(const char *name, const char *def, char **out, size_t *len);

#endif
