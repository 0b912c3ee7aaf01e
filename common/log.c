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
#include "json_out.h"

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
	/* The seconds part changes once a second: format it then only
	 * (per thread, so threads never share the cache). */
	static _Thread_local time_t last_s = -1;
	static _Thread_local char last[24];
	static _Thread_local size_t last_n;
	struct timespec ts;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last_s) {
		gmtime_r(&ts.tv_sec, &tm);
		last_n = strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%S", &tm);
		last_s = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000;
	if (len < last_n + 6) {
		if (len > 0) {
			buf[0] = '\0';
		}
		return buf;
	}
	memcpy(buf, last, last_n);
	buf[last_n] = '.';
	buf[last_n + 1] = (char)('0' + ms / 100);
	buf[last_n + 2] = (char)('0' + ms / 10 % 10);
	buf[last_n + 3] = (char)('0' + ms % 10);
	buf[last_n + 4] = 'Z';
	buf[last_n + 5] = '\0';
	return buf;
}

/* The line's head up to and including "msg", written into o. */
static void
line_begin(struct sc_json_out *o, enum sc_log_level level,
           const char *request_id, const char *msg)
{
	char ts[40];

	sc_json_out_begin_object(o);
	sc_json_out_key(o, "ts");
	sc_json_out_string(o, sc_log_timestamp(ts, sizeof ts));
	sc_json_out_key(o, "level");
	sc_json_out_string(o, level_names[level]);
	sc_json_out_key(o, "service");
	sc_json_out_string(o, log_service);
	if (request_id != NULL) {
		sc_json_out_key(o, "requestId");
		sc_json_out_string(o, request_id);
	}
	sc_json_out_key(o, "msg");
	sc_json_out_string(o, msg);
}

/* Close the line and write it with its newline in one call: lines from
 * threads never interleave (stderr is unbuffered: one write each). */
static void
line_end(struct sc_json_out *o)
{
	char small[4096], *out = small;
	size_t n;

	sc_json_out_end_object(o);
	n = sc_json_out_len(o);
	if (n + 1 > sizeof small) {
		out = sc_malloc(n + 1);
	}
	memcpy(out, sc_json_out_text(o), n);
	out[n] = '\n';
	fwrite(out, 1, n + 1, stderr);
	if (out != small) {
		free(out);
	}
}

static void
log_emit(enum sc_log_level level, const char *request_id, json_object *fields,
         const char *fmt, va_list ap)
{
	char msg[2048];
	struct sc_json_out o;

	vsnprintf(msg, sizeof msg, fmt, ap);
	sc_json_out_init(&o);
	line_begin(&o, level, request_id, msg);
	if (fields != NULL) {
		json_object_object_foreach(fields, key, val)
		{
			sc_json_out_key(&o, key);
			sc_json_out_json(&o, val);
		}
	}
	line_end(&o);
	sc_json_out_release(&o);
}

void
sc_log_members(enum sc_log_level level, const char *request_id, const char *msg,
               const char *members, size_t len)
{
	struct sc_json_out o;

	if (level < log_min) {
		return;
	}
	sc_json_out_init(&o);
	line_begin(&o, level, request_id, msg);
	if (len > 0) {
		sc_json_out_raw(&o, members, len);
	}
	line_end(&o);
	sc_json_out_release(&o);
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
