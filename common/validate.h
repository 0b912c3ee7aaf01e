/* validate.h: checks on a JSON request object that collect every problem
 * into per-field details for one 422 reply:
 *   {"error":{"code":"validation_failed","message":"...",
 *             "details":{"username":"must be 3 to 30 characters", ...}}}
 * Each check records at most one message per field (the first). */
#ifndef SC_VALIDATE_H
#define SC_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_valid {
	json_object *details; /* owned; NULL while no problem */
};

enum {
	SC_V_REQUIRED = 1 << 0, /* missing or null is an error */
	SC_V_NULLABLE = 1 << 1, /* explicit null allowed (out value NULL) */
	SC_V_TRIM = 1 << 2,     /* reject leading/trailing whitespace */
};

void sc_valid_init(struct sc_valid *v);
void sc_valid_release(struct sc_valid *v);

/* Record a problem with `field` (first message per field wins). */
void sc_valid_fail(struct sc_valid *v, const char *field, const char *message);

/* True when nothing failed. */
bool sc_valid_ok(const struct sc_valid *v);

/* Reply 422 with the collected details; the validator is released. */
struct sc_http_req;
void sc_valid_reply(struct sc_valid *v, struct sc_http_req *req);

/* A string field of UTF-8 with a length in characters (code points) in
 * [min, max]. *out is set (borrowed from obj) when present and valid, else
 * NULL. Returns true when the field is present and valid. Control characters
 * other than \n and \t are rejected. */
bool sc_valid_string(struct sc_valid *v, json_object *obj, const char *field,
                     unsigned flags, size_t min, size_t max, const char **out);

/* An integer field in [min, max] (JSON integers only, not strings).
 * Returns true when present and valid. */
bool sc_valid_int(struct sc_valid *v, json_object *obj, const char *field,
                  unsigned flags, int64_t min, int64_t max, int64_t *out);

/* A boolean field. Returns true when present and valid. */
bool sc_valid_bool(struct sc_valid *v, json_object *obj, const char *field,
                   unsigned flags, bool *out);

/* Format checks on an already-read string; record a failure and return
 * false when it does not match. s NULL (the field was absent or already
 * failed) returns false and records nothing. */
bool sc_valid_email(struct sc_valid *v, const char *field, const char *s);
bool sc_valid_username(struct sc_valid *v, const char *field, const char *s);
bool sc_valid_url(struct sc_valid *v, const char *field, const char *s);

/* Every key of obj must be in the NULL-terminated `allowed` list; each
 * other key is recorded as "unknown field". Returns true when all are known. */
bool sc_valid_known(struct sc_valid *v, json_object *obj,
                    const char *const *allowed);

/* Number of code points in valid UTF-8 `s`, or -1 when not valid UTF-8
 * (overlong forms, surrogates, > U+10FFFF rejected). */
long sc_utf8_length(const char *s, size_t len);

/* No NaN, Infinity or -Infinity anywhere in v (as json-c parsed it).
 * json-c, strict mode included, reads those words, which are not JSON: a
 * body holding one is malformed. A number too large for a double (1e400)
 * is JSON, parsed as infinity: it passes here (its source text is kept)
 * and is left to the field's own range check. Recursion is bounded by the
 * depth the tokener allowed. */
bool sc_json_no_nan(json_object *v);

#endif
