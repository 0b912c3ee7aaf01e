/* error.c: the suite's error enum mapped to HTTP statuses and machine codes. */
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int status;
	const char *code;
	const char *str;
} table[SC_ERR_COUNT] = {
    [SC_OK] = {200, "ok", "ok"},
    [SC_ENOMEM] = {500, "out_of_memory", "out of memory"},
    [SC_EINVAL] = {400, "bad_request", "bad request"},
    [SC_EVALIDATION] = {422, "validation_failed", "validation failed"},
    [SC_EAUTH] = {401, "unauthorized", "authentication required"},
    [SC_EFORBIDDEN] = {403, "forbidden", "forbidden"},
    [SC_ENOTFOUND] = {404, "not_found", "not found"},
    [SC_ECONFLICT] = {409, "conflict", "conflict"},
    [SC_ETOOBIG] = {413, "payload_too_large", "payload too large"},
    [SC_EMEDIATYPE] = {415, "unsupported_media_type", "unsupported media type"},
    [SC_ERATELIMIT] = {429, "rate_limited", "too many requests"},
    [SC_EAGAIN] = {503, "overloaded", "server overloaded, try again"},
    [SC_EDB] = {500, "database_error", "database error"},
    [SC_EUNAVAIL] = {503, "service_unavailable",
                     "a service is unavailable, try again"},
    [SC_ETIMEDOUT] = {503, "timeout", "a service did not answer in time"},
    [SC_EBUS] = {502, "bad_gateway", "bad reply from a service"},
    [SC_EINTERNAL] = {500, "internal", "internal error"},
    [SC_EMETHOD] = {405, "method_not_allowed", "method not allowed"},
};

static int
valid(int err)
{
	return err >= 0 && err < SC_ERR_COUNT && table[err].code != NULL;
}

int
sc_err_http_status(int err)
{
	return valid(err) ? table[err].status : 500;
}

const char *
sc_err_code(int err)
{
	return valid(err) ? table[err].code : "internal";
}

int
sc_err_from_code(const char *code)
{
	if (code == NULL) {
		return SC_EINTERNAL;
	}
	for (int i = 0; i < SC_ERR_COUNT; i++) {
		if (table[i].code != NULL && strcmp(table[i].code, code) == 0) {
			return i;
		}
	}
	return SC_EINTERNAL;
}

const char *
sc_err_str(int err)
{
	return valid(err) ? table[err].str : "internal error";
}

void
sc_oom(void)
{
	fputs("{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n", stderr);
	abort();
}
