/* log.c: one JSON line per event on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <time.h>

static const char *log_service = "spotlight";
static enum sc_log_level log_min = SC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

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
