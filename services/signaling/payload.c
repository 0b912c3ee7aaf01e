/* payload.c: the checks on client payloads (see payload.h). */
#include "payload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define JS_SAFE_MAX 9007199254740991LL /* 2^53 - 1 */

json_object *
sg_payload(json_object *args)
{
	json_object *p;

	if (args == NULL || !json_object_is_type(args, json_type_array) ||
	    json_object_array_length(args) < 1) {
		return NULL;
	}
	p = json_object_array_get_idx(args, 0);
	return json_object_is_type(p, json_type_object) ? p : NULL;
}

bool
sg_check_known(struct sc_valid *v, json_object *p, const char *const *allowed)
{
	return sc_valid_known(v, p, allowed);
}

bool
sg_check_id(struct sc_valid *v, json_object *p, const char *field, int64_t *out)
{
	return sc_valid_int(v, p, field, SC_V_REQUIRED, 1, JS_SAFE_MAX, out);
}

static bool
is_trim_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

bool
sg_content_trim(const char *s, size_t n, size_t *start, size_t *len,
                const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t a = 0, b = n;
	long chars;

	while (a < b && is_trim_space(p[a])) {
		a++;
	}
	while (b > a && is_trim_space(p[b - 1])) {
		b--;
	}
	if (a == b) {
		*why = "must not be empty";
		return false;
	}
	for (size_t i = a; i < b; i++) {
		/* C0 but tab, LF and CR; DEL; C1 (U+0080-U+009F) */
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		     p[i] != '\r') ||
		    p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < b && p[i + 1] >= 0x80 &&
		     p[i + 1] <= 0x9f)) {
			*why = "must not contain control characters";
			return false;
		}
	}
	chars = sc_utf8_length(s + a, b - a);
	if (chars < 0) {
		*why = "must be valid UTF-8";
		return false;
	}
	if (chars > SG_CONTENT_MAX) {
		*why = "must be at most 2000 characters";
		return false;
	}
	*start = a;
	*len = b - a;
	return true;
}

static bool
client_id_ok(const char *s, size_t n)
{
	if (n < 1 || n > SG_CLIENT_ID_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

bool
sg_check_message(struct sc_valid *v, json_object *p, const char *room_field,
                 struct sg_message_in *out)
{
	const char *const allowed[] = {room_field, "content", "type",
	                               "clientId", NULL};
	json_object *val;
	const char *why = NULL;
	size_t start = 0, len = 0;
	bool content_ok = false;

	memset(out, 0, sizeof(*out));
	sg_check_known(v, p, allowed);
	sg_check_id(v, p, room_field, &out->room);

	if (!json_object_object_get_ex(p, "content", &val) || val == NULL) {
		sc_valid_fail(v, "content", "is required");
	} else if (!json_object_is_type(val, json_type_string)) {
		sc_valid_fail(v, "content", "must be a string");
	} else if (!sg_content_trim(json_object_get_string(val),
	                            (size_t)json_object_get_string_len(val),
	                            &start, &len, &why)) {
		sc_valid_fail(v, "content", why);
	} else {
		content_ok = true;
	}

	out->type = SG_MSG_TEXT;
	if (json_object_object_get_ex(p, "type", &val) && val != NULL) {
		const char *t = json_object_is_type(val, json_type_string)
		                    ? json_object_get_string(val)
		                    : "";
		if (strcmp(t, "link") == 0) {
			out->type = SG_MSG_LINK;
		} else if (strcmp(t, "text") != 0) {
			sc_valid_fail(v, "type", "must be text or link");
		}
	}

	if (json_object_object_get_ex(p, "clientId", &val) && val != NULL) {
		if (!json_object_is_type(val, json_type_string) ||
		    !client_id_ok(json_object_get_string(val),
		                  (size_t)json_object_get_string_len(val))) {
			sc_valid_fail(v, "clientId",
			              "must be 1 to 64 printable ASCII "
			              "characters without spaces");
		} else {
			out->client_id = sc_strdup(json_object_get_string(val));
		}
	}

	if (content_ok) {
		json_object_object_get_ex(p, "content", &val);
		out->content =
		    sc_strndup(json_object_get_string(val) + start, len);
		if (out->type == SG_MSG_LINK) {
			sc_valid_url(v, "content", out->content);
		}
	}
	if (!sc_valid_ok(v)) {
		sg_message_in_release(out);
		return false;
	}
	return true;
}

void
sg_message_in_release(struct sg_message_in *m)
{
	free(m->content);
	free(m->client_id);
	m->content = NULL;
	m->client_id = NULL;
}

bool
sg_check_signal(struct sc_valid *v, json_object *p, const char *field,
                int64_t *match, json_object **value)
{
	const char *const allowed[] = {"matchId", field, NULL};
	bool null_ok = strcmp(field, "candidate") == 0;
	json_object *val = NULL;
	size_t len;

	*value = NULL;
	sg_check_known(v, p, allowed);
	sg_check_id(v, p, "matchId", match);
	if (!json_object_object_get_ex(p, field, &val)) {
		sc_valid_fail(v, field, "is required");
	} else if (val == NULL && !null_ok) {
		sc_valid_fail(v, field, "must be an object");
	} else if (val != NULL && !json_object_is_type(val, json_type_object)) {
		sc_valid_fail(v, field,
		              null_ok ? "must be an object or null"
		                      : "must be an object");
	} else {
		if (val != NULL) {
			json_object_to_json_string_length(
			    val, JSON_C_TO_STRING_PLAIN, &len);
			if (len > SG_SIGNAL_MAX) {
				sc_valid_fail(v, field,
				              "must be at most 65536 bytes of "
				              "JSON");
			}
		}
		*value = val;
	}
	if (!sc_valid_ok(v)) {
		*value = NULL;
		return false;
	}
	return true;
}

/* A positive decimal integer up to 2^53 - 1, digits only. */
static bool
parse_pos(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	long long x;

	if (n == 0 || n > 16 || strspn(s, "0123456789") != n) {
		return false;
	}
	errno = 0;
	x = strtoll(s, NULL, 10);
	if (errno != 0 || x <= 0 || x > JS_SAFE_MAX) {
		return false;
	}
	*out = x;
	return true;
}

bool
sg_check_history(struct sc_valid *v, const char *before, const char *cursor,
                 const char *limit, int64_t *before_out, int *limit_out)
{
	int64_t b = INT64_MAX, c = INT64_MAX, l = SG_HISTORY_LIMIT;

	if (before != NULL && !parse_pos(before, &b)) {
		sc_valid_fail(v, "before", "must be a message id");
	}
	if (cursor != NULL && !parse_pos(cursor, &c)) {
		sc_valid_fail(v, "cursor", "is not valid");
	}
	if (before != NULL && cursor != NULL && b != c && sc_valid_ok(v)) {
		sc_valid_fail(v, "cursor", "differs from before");
	}
	if (limit != NULL &&
	    (!parse_pos(limit, &l) || l < 1 || l > SG_HISTORY_MAX)) {
		sc_valid_fail(v, "limit", "must be an integer from 1 to 100");
	}
	if (!sc_valid_ok(v)) {
		return false;
	}
	*before_out = before != NULL ? b : c;
	*limit_out = (int)l;
	return true;
}
