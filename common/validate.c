/* validate.c: field checks on JSON request objects that collect every
 * problem into one details object for a single 422 reply. */
#include "validate.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define EMAIL_MAX       254
#define EMAIL_LOCAL_MAX 64
#define URL_MAX         2048
#define USERNAME_MIN    3
#define USERNAME_MAX    30

void
sc_valid_init(struct sc_valid *v)
{
	v->details = NULL;
}

void
sc_valid_release(struct sc_valid *v)
{
	json_object_put(v->details);
	v->details = NULL;
}

void
sc_valid_fail(struct sc_valid *v, const char *field, const char *message)
{
	if (v->details == NULL) {
		v->details = json_object_new_object();
	}
	if (!json_object_object_get_ex(v->details, field, NULL)) {
		json_object_object_add(v->details, field,
		                       json_object_new_string(message));
	}
}

bool
sc_valid_ok(const struct sc_valid *v)
{
	return v->details == NULL;
}

void
sc_valid_reply(struct sc_valid *v, struct sc_http_req *req)
{
	json_object *details = v->details;

	v->details = NULL;
	if (details == NULL) {
		details = json_object_new_object();
	}
	sc_http_reply_error(req, 422, "validation_failed", "invalid input",
	                    details);
}

long
sc_utf8_length(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	long n = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			n++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			/* 0x80-0xc1: stray continuation or overlong 2-byte
			 * lead; 0xf5-0xff: never valid. */
			return -1;
		}
		if (len - i <= need) {
			return -1;
		}
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				return -1;
			}
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return -1;
		}
		i += need + 1;
		n++;
	}
	return n;
}

/* Looks the field up; returns true when the caller should go on checking
 * *val (present and not null). Records "is required" as the flags say. */
static bool
field_get(struct sc_valid *v, json_object *obj, const char *field,
          unsigned flags, const char *type_message, json_object **val)
{
	*val = NULL;
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, field, val)) {
		if (flags & SC_V_REQUIRED) {
			sc_valid_fail(v, field, "is required");
		}
		return false;
	}
	if (*val == NULL) {
		/* An explicit null. */
		if (flags & SC_V_NULLABLE) {
			return false;
		}
		sc_valid_fail(v, field,
		              (flags & SC_V_REQUIRED) ? "is required"
		                                      : type_message);
		return false;
	}
	return true;
}

/* True when the UTF-8 string holds a control character other than \n and
 * \t: C0, DEL, and the C1 range U+0080-U+009F (encoded 0xc2 0x80-0x9f). */
static bool
has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') ||
		    p[i] == 0x7f) {
			return true;
		}
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f) {
			return true;
		}
	}
	return false;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

bool
sc_valid_string(struct sc_valid *v, json_object *obj, const char *field,
                unsigned flags, size_t min, size_t max, const char **out)
{
	json_object *val;
	const char *s;
	size_t len;
	long n;
	char msg[64];

	if (out != NULL) {
		*out = NULL;
	}
	if (!field_get(v, obj, field, flags, "must be a string", &val)) {
		return false;
	}
	if (!json_object_is_type(val, json_type_string)) {
		sc_valid_fail(v, field, "must be a string");
		return false;
	}
	s = json_object_get_string(val);
	len = (size_t)json_object_get_string_len(val);
	/* An escaped \u0000 gives an embedded NUL, which C strings (and
	 * PostgreSQL text) cannot carry. */
	if (memchr(s, '\0', len) != NULL || has_control(s, len)) {
		sc_valid_fail(v, field, "must not contain control characters");
		return false;
	}
	if ((n = sc_utf8_length(s, len)) < 0) {
		sc_valid_fail(v, field, "must be valid UTF-8");
		return false;
	}
	if ((flags & SC_V_TRIM) && len > 0 &&
	    (is_space(s[0]) || is_space(s[len - 1]))) {
		sc_valid_fail(v, field, "must not start or end with spaces");
		return false;
	}
	if ((size_t)n < min) {
		if (min == 1) {
			snprintf(msg, sizeof msg, "must not be empty");
		} else {
			snprintf(msg, sizeof msg,
			         "must be at least %zu characters", min);
		}
		sc_valid_fail(v, field, msg);
		return false;
	}
	if ((size_t)n > max) {
		snprintf(msg, sizeof msg, "must be at most %zu characters",
		         max);
		sc_valid_fail(v, field, msg);
		return false;
	}
	if (out != NULL) {
		*out = s;
	}
	return true;
}

bool
sc_valid_int(struct sc_valid *v, json_object *obj, const char *field,
             unsigned flags, int64_t min, int64_t max, int64_t *out)
{
	json_object *val;
	int64_t n;
	bool over;
	char msg[96];

	if (!field_get(v, obj, field, flags, "must be an integer", &val)) {
		return false;
	}
	if (!json_object_is_type(val, json_type_int)) {
		sc_valid_fail(v, field, "must be an integer");
		return false;
	}
	/* json-c saturates: a value past INT64_MAX reads as INT64_MAX, but its
	 * uint64 view tells it apart. (Below INT64_MIN saturates to INT64_MIN
	 * with nothing to tell it apart; it is then treated as INT64_MIN.) */
	n = json_object_get_int64(val);
	over =
	    n == INT64_MAX && json_object_get_uint64(val) > (uint64_t)INT64_MAX;
	if (over || n < min || n > max) {
		if (min == INT64_MIN) {
			snprintf(msg, sizeof msg, "must be at most %" PRId64,
			         max);
		} else if (max == INT64_MAX) {
			snprintf(msg, sizeof msg, "must be at least %" PRId64,
			         min);
		} else {
			snprintf(msg, sizeof msg,
			         "must be between %" PRId64 " and %" PRId64,
			         min, max);
		}
		sc_valid_fail(v, field, msg);
		return false;
	}
	if (out != NULL) {
		*out = n;
	}
	return true;
}

bool
sc_valid_bool(struct sc_valid *v, json_object *obj, const char *field,
              unsigned flags, bool *out)
{
	json_object *val;

	if (!field_get(v, obj, field, flags, "must be true or false", &val)) {
		return false;
	}
	if (!json_object_is_type(val, json_type_boolean)) {
		sc_valid_fail(v, field, "must be true or false");
		return false;
	}
	if (out != NULL) {
		*out = json_object_get_boolean(val) != 0;
	}
	return true;
}

bool
sc_valid_username(struct sc_valid *v, const char *field, const char *s)
{
	size_t len;

	if (s == NULL) {
		return false;
	}
	len = strlen(s);
	if (len < USERNAME_MIN || len > USERNAME_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len) {
		sc_valid_fail(v, field,
		              "must be 3 to 30 characters of a-z, 0-9, _ . -");
		return false;
	}
	return true;
}

/* Printable ASCII or any byte of a multi-byte character: no spaces, no
 * controls. */
static bool
is_graph_byte(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

bool
sc_valid_email(struct sc_valid *v, const char *field, const char *s)
{
	const char *at, *dot;
	size_t len;

	if (s == NULL) {
		return false;
	}
	len = strlen(s);
	for (size_t i = 0; i < len; i++) {
		if (!is_graph_byte((unsigned char)s[i])) {
			goto bad;
		}
	}
	at = strchr(s, '@');
	if (len > EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL ||
	    at == s || (size_t)(at - s) > EMAIL_LOCAL_MAX) {
		goto bad;
	}
	/* The domain has a dot with something on both sides of it. */
	dot = strrchr(at + 1, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0' || at[1] == '.') {
		goto bad;
	}
	return true;
bad:
	sc_valid_fail(v, field, "must be a valid email address");
	return false;
}

bool
sc_valid_url(struct sc_valid *v, const char *field, const char *s)
{
	const char *host;
	size_t len, hostlen;

	if (s == NULL) {
		return false;
	}
	len = strlen(s);
	if (len > URL_MAX) {
		sc_valid_fail(v, field, "must be at most 2048 characters");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_graph_byte((unsigned char)s[i])) {
			goto bad;
		}
	}
	if (strncasecmp(s, "http://", 7) == 0) {
		host = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		host = s + 8;
	} else {
		goto bad;
	}
	hostlen = strcspn(host, "/?#");
	if (hostlen == 0 || host[0] == ':' || host[0] == '@' ||
	    host[hostlen - 1] == '@') {
		goto bad;
	}
	return true;
bad:
	sc_valid_fail(v, field, "must be an http or https URL");
	return false;
}

bool
sc_valid_known(struct sc_valid *v, json_object *obj, const char *const *allowed)
{
	bool ok = true;

	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		return true;
	}
	json_object_object_foreach(obj, key, val)
	{
		bool found = false;

		(void)val;
		for (size_t i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0) {
				found = true;
				break;
			}
		}
		if (!found) {
			sc_valid_fail(v, key, "unknown field");
			ok = false;
		}
	}
	return ok;
}

bool
sc_json_no_nan(json_object *v)
{
	if (json_object_is_type(v, json_type_double)) {
		const char *text;
		if (isfinite(json_object_get_double(v))) {
			return true;
		}
		/* The tokener keeps a number's source text: a digit (after
		 * any sign) means an overflowing number, not a word. */
		text = json_object_to_json_string(v);
		text += *text == '-';
		return *text >= '0' && *text <= '9';
	}
	if (json_object_is_type(v, json_type_array)) {
		size_t len = json_object_array_length(v);

		for (size_t i = 0; i < len; i++) {
			if (!sc_json_no_nan(json_object_array_get_idx(v, i))) {
				return false;
			}
		}
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!sc_json_no_nan(val)) {
				return false;
			}
		}
	}
	return true;
}
