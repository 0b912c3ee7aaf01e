/* log.c: one JSON line per event on stderr (which SC_LOG_FILE may point
 * at a file, reopened on SIGHUP). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "error.h"

static const char *log_service = "spotlight";
static enum sc_log_level log_min = SC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* SC_LOG_FILE once sc_log_open applied it (a copy), else NULL. */
static char *log_file;

void
sc_log_init(const char *service)
{
	const char *lvl = getenv("SC_LOG_LEVEL");
	log_service = service;
	if (lvl != NULL) {
		for (int i = 0; i < 4; i++) {
			if (strcasecmp(lvl, level_names[i]) == 0) {
				log_min = (enum sc_log_level)i;
			}
		}
	}
}

/* Point stderr at `path` (appending). 0, or -1 with errno. dup2 swaps
 * the file under descriptor 2 in one step: a thread writing a line at
 * that moment writes it whole to the old file or to the new one. */
static int
log_redirect(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	int saved;

	if (fd < 0) {
		return -1;
	}
	if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (fd != STDERR_FILENO) {
		close(fd);
	}
	return 0;
}

int
sc_log_open(void)
{
	const char *lvl = sc_config_str("SC_LOG_LEVEL", NULL);
	const char *path = sc_config_str("SC_LOG_FILE", NULL);
	bool known = lvl == NULL;

	for (int i = 0; i < 4 && !known; i++) {
		known = strcasecmp(lvl, level_names[i]) == 0;
	}
	if (!known) {
		sc_log_error(NULL,
		             "invalid SC_LOG_LEVEL '%s': must be debug, info, "
		             "warn or error",
		             lvl);
		return SC_EINVAL;
	}
	if (path == NULL) {
		return SC_OK;
	}
	if (log_redirect(path) != 0) {
		sc_log_error(NULL, "cannot open SC_LOG_FILE '%s': %s", path,
		             strerror(errno));
		return SC_EINVAL;
	}
	free(log_file);
	log_file = sc_strdup(path);
	return SC_OK;
}

int
sc_log_reopen(void)
{
	if (log_file == NULL) {
		sc_log_info(NULL, "sighup: nothing to reopen");
		return SC_OK;
	}
	if (log_redirect(log_file) != 0) {
		sc_log_error(NULL, "cannot reopen SC_LOG_FILE '%s': %s",
		             log_file, strerror(errno));
		return SC_EINVAL;
	}
	sc_log_info(NULL, "sighup: reopened '%s'", log_file);
	return SC_OK;
}

int
sc_log_enabled(enum sc_log_level level)
{
	return level >= log_min;
}

char *
sc_log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return buf;
}

static void
log_emit(enum sc_log_level level, const char *request_id, json_object *fields,
         const char *fmt, va_list ap)
{
	char ts[40], msg[2048];
	json_object *line = json_object_new_object();

	vsnprintf(msg, sizeof msg, fmt, ap);
	json_object_object_add(
	    line, "ts",
	    json_object_new_string(sc_log_timestamp(ts, sizeof ts)));
	json_object_object_add(line, "level",
	                       json_object_new_string(level_names[level]));
	json_object_object_add(line, "service",
	                       json_object_new_string(log_service));
	if (request_id != NULL) {
		json_object_object_add(line, "requestId",
		                       json_object_new_string(request_id));
	}
	json_object_object_add(line, "msg", json_object_new_string(msg));
	if (fields != NULL) {
		json_object_object_foreach(fields, key, val)
		{
			json_object_object_add(line, key, json_object_get(val));
		}
	}
	/* One fputs per line: lines from threads never interleave. */
	const char *s = json_object_to_json_string_ext(
	    line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *out = malloc(n + 2);
	if (out != NULL) {
		memcpy(out, s, n);
		out[n] = '\n';
		out[n + 1] = '\0';
		fputs(out, stderr);
		free(out);
	}
	json_object_put(line);
}

void
sc_log(enum sc_log_level level, const char *request_id, const char *fmt, ...)
{
	va_list ap;
	if (level < log_min) {
		return;
	}
	va_start(ap, fmt);
	log_emit(level, request_id, NULL, fmt, ap);
	va_end(ap);
}

void
sc_log_fields(enum sc_log_level level, const char *request_id,
              json_object *fields, const char *fmt, ...)
{
	va_list ap;
	if (level >= log_min) {
		va_start(ap, fmt);
		log_emit(level, request_id, fields, fmt, ap);
		va_end(ap);
	}
	json_object_put(fields);
}
