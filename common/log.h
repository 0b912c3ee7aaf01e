/* log.h: structured logs, one JSON object per line on stderr:
 *   {"ts":"2026-11-25T20:31:02.123Z","level":"info","service":"auth",
 *    "requestId":"...","msg":"...", ...fields}
 * Messages start lowercase and say what failed first ("cannot bind '%s': %s").
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <json-c/json.h>

enum sc_log_level { SC_LOG_DEBUG, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR };

/* Set the service name and the minimum level (SC_LOG_LEVEL: debug, info,
 * warn, error; default info). `service` is borrowed for the process's life. */
void sc_log_init(const char *service);

/* Check SC_LOG_LEVEL and apply SC_LOG_FILE, for a daemon at start-up
 * (after sc_log_init). With SC_LOG_FILE set, stderr is reopened onto that
 * file (appending; created 0640): every line, and anything a library
 * writes to stderr, goes there. SC_OK, or SC_EINVAL after logging what is
 * wrong (a level not among the four, a file that cannot be opened). */
int sc_log_open(void);

/* Reopen SC_LOG_FILE after a rotation moved it (SIGHUP, see shutdown.h):
 * the new file takes stderr's place at once for every thread. Without
 * SC_LOG_FILE (stderr is the supervisor's) logs "sighup: nothing to
 * reopen". SC_OK, or SC_EINVAL when the file cannot be opened (logged to
 * the old one, which stays). Never fatal. */
int sc_log_reopen(void);

/* Is `level` logged? Lets callers skip building fields. */
int sc_log_enabled(enum sc_log_level level);

/* A message; request_id may be NULL. */
void sc_log(enum sc_log_level level, const char *request_id, const char *fmt,
            ...) __attribute__((format(printf, 3, 4)));

/* A message with extra fields; takes ownership of `fields` (may be NULL),
 * a JSON object whose keys are copied into the line. */
void sc_log_fields(enum sc_log_level level, const char *request_id,
                   json_object *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A message with extra members already written as JSON text: `members`
 * is len bytes of `"key":value` pairs separated by commas (no braces),
 * appended after "msg" as they are; for hot lines (the HTTP access log)
 * that should not build a tree. */
void sc_log_members(enum sc_log_level level, const char *request_id,
                    const char *msg, const char *members, size_t len);

#define sc_log_debug(rid, ...) sc_log(SC_LOG_DEBUG, rid, __VA_ARGS__)
#define sc_log_info(rid, ...)  sc_log(SC_LOG_INFO, rid, __VA_ARGS__)
#define sc_log_warn(rid, ...)  sc_log(SC_LOG_WARN, rid, __VA_ARGS__)
#define sc_log_error(rid, ...) sc_log(SC_LOG_ERROR, rid, __VA_ARGS__)

/* Write `ts` as ISO 8601 UTC with milliseconds ("2026-11-25T20:31:02.123Z")
 * into buf (at least 32 bytes). Returns buf. */
char *sc_log_timestamp(char *buf, size_t len);

#endif
