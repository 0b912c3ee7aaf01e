/* validate_fuzz.c: request bodies through the checks every daemon runs on
 * them before touching its database: common/validate.c as the auth,
 * matchmaking and ratings handlers call it (the field lists below are
 * theirs), and the signaling payload checks (services/signaling/payload.c)
 * for Socket.IO event payloads.
 *
 * Input: a request body. It is read as common/http.c reads a JSON body
 * (no NUL, valid UTF-8, json-c strict with its UTF-8 check, depth 32, only
 * whitespace after the value); a body http.c would refuse is not checked
 * further. The field lists mirror the handlers (auth account.c, session.c,
 * users.c; matchmaking routes.c; ratings rating.c, report.c) and must be
 * kept in step with them.
 *
 * Checks: a validator is happy exactly when it recorded nothing; every
 * detail is a string; each accepted string is valid UTF-8 of the allowed
 * length without control characters (and trimmed where asked); accepted
 * integers are in range; unknown keys are named; accepted chat messages and
 * signals have the shape the signaling daemon relies on. */
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "matchmaking/status.h"
#include "ratings/ratings.h"
#include "signaling/payload.h"
#include "validate.h"

#define HTTP_JSON_DEPTH 32 /* common/http.c */

enum kind { K_STRING, K_INT, K_BOOL };
enum extra { X_NONE, X_USERNAME, X_EMAIL, X_URL, X_STATUS, X_REASON };

struct field {
	const char *name;
	enum kind kind;
	unsigned flags;
	int64_t min, max;
	enum extra extra;
};

struct route {
	const char *name;
	const char *const *allowed;
	const struct field *fields;
};

#define END                                                                    \
	{                                                                      \
		NULL, K_STRING, 0, 0, 0, X_NONE                                \
	}

static const char *const register_keys[] = {"username", "email", "password",
                                            NULL};
static const struct field register_fields[] = {
    {"username", K_STRING, SC_V_REQUIRED, 3, 30, X_USERNAME},
    {"email", K_STRING, SC_V_REQUIRED, 3, 254, X_EMAIL},
    {"password", K_STRING, SC_V_REQUIRED, 10, 128, X_NONE},
    END,
};
static const char *const reset_keys[] = {"token", "password", NULL};
static const struct field reset_fields[] = {
    {"token", K_STRING, SC_V_REQUIRED, 1, 128, X_NONE},
    {"password", K_STRING, SC_V_REQUIRED, 10, 128, X_NONE},
    END,
};
static const char *const forgot_keys[] = {"email", NULL};
static const struct field forgot_fields[] = {
    {"email", K_STRING, SC_V_REQUIRED, 3, 254, X_EMAIL},
    END,
};
static const char *const login_keys[] = {"login", "password", NULL};
static const struct field login_fields[] = {
    {"login", K_STRING, SC_V_REQUIRED, 1, 254, X_NONE},
    {"password", K_STRING, SC_V_REQUIRED, 1, 1024, X_NONE},
    END,
};
static const char *const me_keys[] = {"displayName", "avatarUrl", "wsdcId",
                                      "bio", NULL};
static const struct field me_fields[] = {
    {"displayName", K_STRING, SC_V_NULLABLE | SC_V_TRIM, 1, 50, X_NONE},
    {"avatarUrl", K_STRING, SC_V_NULLABLE, 1, 2048, X_URL},
    {"wsdcId", K_INT, SC_V_NULLABLE, 1, 99999999, X_NONE},
    {"bio", K_STRING, SC_V_NULLABLE, 0, 500, X_NONE},
    END,
};
static const char *const match_keys[] = {"targetUserId", "eventId", NULL};
static const struct field match_fields[] = {
    {"targetUserId", K_INT, SC_V_REQUIRED, 1, INT64_MAX, X_NONE},
    {"eventId", K_INT, SC_V_REQUIRED, 1, INT64_MAX, X_NONE},
    END,
};
static const char *const status_keys[] = {"status", NULL};
static const struct field status_fields[] = {
    {"status", K_STRING, SC_V_REQUIRED, 1, 32, X_STATUS},
    END,
};
static const char *const rating_keys[] = {"matchId", "score", "comment",
                                          "wouldCollaborateAgain", NULL};
static const struct field rating_fields[] = {
    {"matchId", K_INT, SC_V_REQUIRED, 1, INT64_MAX, X_NONE},
    {"score", K_INT, SC_V_REQUIRED, 1, 5, X_NONE},
    {"comment", K_STRING, SC_V_NULLABLE, 0, RATINGS_TEXT_MAX, X_NONE},
    {"wouldCollaborateAgain", K_BOOL, SC_V_REQUIRED, 0, 0, X_NONE},
    END,
};
static const char *const report_keys[] = {"reportedUserId", "reason", "details",
                                          "matchId", NULL};
static const struct field report_fields[] = {
    {"reportedUserId", K_INT, SC_V_REQUIRED, 1, INT64_MAX, X_NONE},
    {"reason", K_STRING, SC_V_REQUIRED, 1, 32, X_REASON},
    {"details", K_STRING, SC_V_NULLABLE, 0, RATINGS_TEXT_MAX, X_NONE},
    {"matchId", K_INT, SC_V_NULLABLE, 1, INT64_MAX, X_NONE},
    END,
};

static const struct route routes[] = {
    {"POST /api/auth/register", register_keys, register_fields},
    {"POST /api/auth/password/reset", reset_keys, reset_fields},
    {"POST /api/auth/password/forgot", forgot_keys, forgot_fields},
    {"POST /api/auth/login", login_keys, login_fields},
    {"PATCH /api/users/me", me_keys, me_fields},
    {"POST /api/matches", match_keys, match_fields},
    {"PATCH /api/matches/:id", status_keys, status_fields},
    {"POST /api/ratings", rating_keys, rating_fields},
    {"POST /api/reports", report_keys, report_fields},
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The body as http.c's req_read_json reads it, or NULL where it answers
 * 400 (any JSON value is returned; it answers 400 for a non-object). */
static json_object *
read_body(const char *data, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	char *buf;
	size_t end;

	if (memchr(data, '\0', len) != NULL || sc_utf8_length(data, len) < 0) {
		return NULL;
	}
	buf = malloc(len + 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, len);
	buf[len] = '\0';
	tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	                                JSON_TOKENER_ALLOW_TRAILING_CHARS |
	                                JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	} else {
		while (end < len && (buf[end] == ' ' || buf[end] == '\t' ||
		                     buf[end] == '\r' || buf[end] == '\n')) {
			end++;
		}
		if (end < len) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	json_tokener_free(tok);
	free(buf);
	return obj;
}

/* The details object: NULL exactly when nothing failed; else an object of
 * strings, which serialises. */
static void
check_details(const struct sc_valid *v)
{
	FUZZ_CHECK(sc_valid_ok(v) == (v->details == NULL));
	if (v->details == NULL) {
		return;
	}
	FUZZ_CHECK(json_object_is_type(v->details, json_type_object));
	FUZZ_CHECK(json_object_object_length(v->details) > 0);
	json_object_object_foreach(v->details, key, msg)
	{
		(void)key;
		FUZZ_CHECK(json_object_is_type(msg, json_type_string));
		FUZZ_CHECK(json_object_get_string_len(msg) > 0);
	}
	FUZZ_CHECK(json_object_to_json_string(v->details) != NULL);
}

static bool
has_detail(const struct sc_valid *v, const char *field)
{
	return v->details != NULL &&
	       json_object_object_get_ex(v->details, field, NULL);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* An accepted string, as sc_valid_string promises it. */
static void
check_string(const struct field *f, const char *s)
{
	size_t len = strlen(s);
	long n = sc_utf8_length(s, len);

	FUZZ_CHECK(n >= 0 && (int64_t)n >= f->min && (int64_t)n <= f->max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		FUZZ_CHECK(c >= 0x20 || c == '\n' || c == '\t');
		FUZZ_CHECK(c != 0x7f);
		FUZZ_CHECK(!(c == 0xc2 && i + 1 < len &&
		             (unsigned char)s[i + 1] <= 0x9f));
	}
	if (f->flags & SC_V_TRIM) {
		FUZZ_CHECK(len == 0 ||
		           (!is_space(s[0]) && !is_space(s[len - 1])));
	}
}

static void
run_route(const struct route *r, json_object *body)
{
	struct sc_valid v;
	bool known;

	sc_valid_init(&v);
	known = sc_valid_known(&v, body, r->allowed);
	check_details(&v);
	json_object_object_foreach(body, key, val)
	{
		bool allowed = false;

		(void)val;
		for (size_t i = 0; r->allowed[i] != NULL; i++) {
			allowed = allowed || strcmp(key, r->allowed[i]) == 0;
		}
		FUZZ_CHECK(allowed || has_detail(&v, key));
		FUZZ_CHECK(allowed || !known);
	}
	for (const struct field *f = r->fields; f->name != NULL; f++) {
		const char *s = NULL;
		int64_t n = 0;
		bool b = false, ok;
		json_object *val = NULL;
		bool present = json_object_object_get_ex(body, f->name, &val);

		switch (f->kind) {
		case K_STRING:
			ok =
			    sc_valid_string(&v, body, f->name, f->flags,
			                    (size_t)f->min, (size_t)f->max, &s);
			FUZZ_CHECK(ok == (s != NULL));
			if (ok) {
				FUZZ_CHECK(present && val != NULL);
				check_string(f, s);
				switch (f->extra) {
				case X_USERNAME:
					sc_valid_username(&v, f->name, s);
					break;
				case X_EMAIL:
					sc_valid_email(&v, f->name, s);
					break;
				case X_URL:
					sc_valid_url(&v, f->name, s);
					break;
				case X_STATUS: {
					enum mm_status st;

					if (mm_status_parse(s, &st)) {
						FUZZ_CHECK(
						    strcmp(mm_status_name(st),
						           s) == 0);
					} else {
						sc_valid_fail(&v, f->name,
						              "bad");
					}
					break;
				}
				case X_REASON:
					if (!ratings_reason_valid(s)) {
						sc_valid_fail(&v, f->name,
						              "bad");
					}
					break;
				case X_NONE:
					break;
				}
			}
			break;
		case K_INT:
			ok = sc_valid_int(&v, body, f->name, f->flags, f->min,
			                  f->max, &n);
			if (ok) {
				FUZZ_CHECK(present && n >= f->min &&
				           n <= f->max);
				FUZZ_CHECK(
				    json_object_is_type(val, json_type_int));
			}
			break;
		case K_BOOL:
			ok = sc_valid_bool(&v, body, f->name, f->flags, &b);
			FUZZ_CHECK(!ok ||
			           json_object_is_type(val, json_type_boolean));
			break;
		}
		/* A required field that is absent is always named. */
		if ((f->flags & SC_V_REQUIRED) && !present) {
			FUZZ_CHECK(!ok && has_detail(&v, f->name));
		}
		/* A field that failed its type check is named. */
		if (!ok && present && val != NULL) {
			FUZZ_CHECK(has_detail(&v, f->name));
		}
	}
	check_details(&v);
	sc_valid_release(&v);
	FUZZ_CHECK(v.details == NULL);
}

static void
run_signaling(json_object *body)
{
	static const char *const signal_fields[] = {"offer", "answer",
	                                            "candidate"};
	static const char *const rooms[] = {"eventId", "matchId"};
	json_object *args = json_object_new_array();

	/* An event's arguments: the payload is the first when an object. */
	json_object_array_add(args, json_object_get(body));
	FUZZ_CHECK(sg_payload(args) == body);
	json_object_put(args);

	for (size_t i = 0; i < 2; i++) {
		struct sc_valid v;
		struct sg_message_in m;
		bool ok;

		sc_valid_init(&v);
		ok = sg_check_message(&v, body, rooms[i], &m);
		check_details(&v);
		FUZZ_CHECK(ok == sc_valid_ok(&v));
		if (ok) {
			size_t len = strlen(m.content);
			long n = sc_utf8_length(m.content, len);
			size_t s, l;
			const char *why;

			FUZZ_CHECK(m.room >= 1 && m.room <= 9007199254740991LL);
			FUZZ_CHECK(n >= 1 && n <= SG_CONTENT_MAX);
			/* trimmed already: trimming again changes nothing */
			FUZZ_CHECK(
			    sg_content_trim(m.content, len, &s, &l, &why) &&
			    s == 0 && l == len);
			FUZZ_CHECK(m.client_id == NULL ||
			           (strlen(m.client_id) >= 1 &&
			            strlen(m.client_id) <= SG_CLIENT_ID_MAX));
			sg_message_in_release(&m);
		} else {
			FUZZ_CHECK(m.content == NULL && m.client_id == NULL);
		}
		sc_valid_release(&v);
	}
	for (size_t i = 0; i < 3; i++) {
		struct sc_valid v;
		json_object *value = (json_object *)1;
		int64_t match = 0;
		bool ok;

		sc_valid_init(&v);
		ok =
		    sg_check_signal(&v, body, signal_fields[i], &match, &value);
		check_details(&v);
		FUZZ_CHECK(ok == sc_valid_ok(&v));
		if (ok) {
			FUZZ_CHECK(match >= 1);
			FUZZ_CHECK(value != NULL ||
			           strcmp(signal_fields[i], "candidate") == 0);
			FUZZ_CHECK(
			    value == NULL ||
			    json_object_is_type(value, json_type_object));
		} else {
			FUZZ_CHECK(value == NULL);
		}
		sc_valid_release(&v);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *body = read_body((const char *)data, size);

	if (body == NULL) {
		return 0;
	}
	if (json_object_is_type(body, json_type_object)) {
		for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
			run_route(&routes[i], body);
		}
		run_signaling(body);
	} else {
		/* not an object: every check treats it as an empty body */
		struct sc_valid v;
		struct sg_message_in m;

		sc_valid_init(&v);
		FUZZ_CHECK(!sg_check_message(&v, body, "eventId", &m));
		check_details(&v);
		sc_valid_release(&v);
	}
	json_object_put(body);
	return 0;
}
