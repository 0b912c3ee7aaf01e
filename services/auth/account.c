/* account.c: registration, email verification, forgotten and reset
 * passwords. Every mail is written to the outbox in the same statement that
 * stores the token it carries (see mail.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "db_reply.h"
#include "error.h"
#include "log.h"
#include "validate.h"

#define PASSWORD_MIN 10
#define PASSWORD_MAX 128

static char *
lowercase_dup(const char *s)
{
	char *d = sc_strdup(s);
	for (char *p = d; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
	}
	return d;
}

static void
reply_ok(struct sc_http_req *req, int status)
{
	json_object *body = json_object_new_object();
	json_object_object_add(body, "ok", json_object_new_boolean(1));
	sc_http_reply_json(req, status, body);
}

static void
reply_invalid_token(struct sc_http_req *req)
{
	sc_http_reply_error(req, 400, "invalid_token",
	                    "this link is invalid, was already used or has "
	                    "expired",
	                    NULL);
}

static bool
rate_limited(struct sc_ratelimit *rl, struct sc_http_req *req, const char *what)
{
	int retry = 0;
	const char *ip = sc_http_req_client_ip(req);
	time_t now = time(NULL);

	if (sc_ratelimit_check(rl, ip, now, &retry)) {
		sc_ratelimit_hit(rl, ip, now);
		return false;
	}
	sc_http_reply_rate_limited(req, retry, what);
	return true;
}

/* ---- POST /api/auth/register -------------------------------------------- */

struct registration {
	struct auth *a;
	struct sc_http_req *req;
	char *username, *email, *password;
};

static void
registration_free(struct registration *op)
{
	explicit_bzero(op->password, strlen(op->password));
	free(op->password);
	free(op->username);
	free(op->email);
	free(op);
}

static void
register_stored_cb(int err, PGresult *res, void *arg)
{
	struct registration *op = arg;

	if (err == SC_EDB &&
	    sc_db_is_unique_violation(res, "users_username_key")) {
		json_object *d = json_object_new_object();
		json_object_object_add(
		    d, "username", json_object_new_string("is already taken"));
		sc_http_reply_error(op->req, 409, "username_taken",
		                    "this username is already taken", d);
	} else if (err == SC_EDB &&
	           sc_db_is_unique_violation(res, "users_email_key")) {
		json_object *d = json_object_new_object();
		json_object_object_add(
		    d, "email",
		    json_object_new_string("is already registered"));
		sc_http_reply_error(op->req, 409, "email_taken",
		                    "an account with this email already exists",
		                    d);
	} else if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else {
		json_object *event = json_object_new_object();
		json_object_object_add(
		    event, "user", auth_user_json(res, 0, AUTH_VIEW_PUBLIC));
		sc_bus_publish(op->a->bus, "user.registered", event,
		               sc_http_req_id(op->req));
		auth_mail_kick(op->a->mail);
		json_object *body = json_object_new_object();
		json_object_object_add(
		    body, "user", auth_user_json(res, 0, AUTH_VIEW_PRIVATE));
		sc_log_info(sc_http_req_id(op->req), "registered user '%s'",
		            op->username);
		sc_http_reply_json(op->req, 201, body);
	}
	registration_free(op);
}

static void
register_hashed_cb(int err, const char *encoded, void *arg)
{
	struct registration *op = arg;
	struct auth *a = op->a;
	char secret[AUTH_SECRET_LEN + 1], hash[67];

	if (err != SC_OK) {
		sc_http_reply_err(op->req, err,
		                  "cannot register now, try again");
		registration_free(op);
		return;
	}
	auth_secret_new(secret);
	auth_secret_hash(secret, hash);
	char *link =
	    sc_asprintf("%s/verify-email?token=%s", a->public_url, secret);
	char *text = sc_asprintf(
	    "Hi %s,\n\nwelcome to spotlight.cam. Confirm your email address by "
	    "opening this link:\n\n%s\n\nThe link works for 48 hours. If you "
	    "did "
	    "not sign up, ignore this mail.\n",
	    op->username, link);
	const char *params[] = {op->username,
	                        op->email,
	                        encoded,
	                        hash,
	                        "Confirm your email for spotlight.cam",
	                        text,
	                        link};
	sc_db_query(
	    a->db,
	    "WITH u AS (INSERT INTO auth.users"
	    "  (username, email, password_hash) VALUES ($1, $2, $3)"
	    "  RETURNING *),"
	    " t AS (INSERT INTO auth.email_tokens"
	    "  (user_id, kind, token_hash, expires_at)"
	    "  SELECT id, 'verify', $4, now() + interval '48 hours' FROM u),"
	    " m AS (INSERT INTO auth.mail_outbox"
	    "  (kind, to_address, subject, body, link)"
	    "  SELECT 'verify', email, $5, $6, $7 FROM u)"
	    " SELECT " AUTH_USER_COLS " FROM u",
	    7, params, register_stored_cb, op);
	explicit_bzero(secret, sizeof secret);
	free(link);
	free(text);
}

static void
register_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"username", "email", "password",
	                                      NULL};
	struct auth *a = arg;
	json_object *body = sc_http_req_json(req);
	const char *username = NULL, *email = NULL, *password = NULL;
	struct sc_valid v;

	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	if (sc_valid_string(&v, body, "username", SC_V_REQUIRED, 3, 30,
	                    &username)) {
		sc_valid_username(&v, "username", username);
	}
	if (sc_valid_string(&v, body, "email", SC_V_REQUIRED, 3, 254, &email)) {
		sc_valid_email(&v, "email", email);
	}
	sc_valid_string(&v, body, "password", SC_V_REQUIRED, PASSWORD_MIN,
	                PASSWORD_MAX, &password);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	if (rate_limited(
	        a->register_ip, req,
	        "too many registrations from this address, try later")) {
		return;
	}
	struct registration *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	op->username = sc_strdup(username);
	op->email = lowercase_dup(email);
	op->password = sc_strdup(password);
	sc_hasher_hash(a->hasher, op->password, register_hashed_cb, op);
}

/* ---- POST /api/auth/verify-email ---------------------------------------- */

static void
verify_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_http_req *req = arg;

	if (err != SC_OK) {
		sc_db_reply_error(req, err, res);
	} else if (PQntuples(res) == 0) {
		reply_invalid_token(req);
	} else {
		json_object *body = json_object_new_object();
		json_object_object_add(
		    body, "user", auth_user_json(res, 0, AUTH_VIEW_PRIVATE));
		sc_http_reply_json(req, 200, body);
	}
}

/* Reads {token} and writes its hash to `hash`; replies and returns false on
 * bad input. */
static bool
read_token(struct sc_http_req *req, const char *const *allowed, char hash[67],
           const char **password)
{
	json_object *body = sc_http_req_json(req);
	const char *token = NULL;
	struct sc_valid v;

	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_string(&v, body, "token", SC_V_REQUIRED, 1, 128, &token);
	if (password != NULL) {
		sc_valid_string(&v, body, "password", SC_V_REQUIRED,
		                PASSWORD_MIN, PASSWORD_MAX, password);
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return false;
	}
	sc_valid_release(&v);
	auth_secret_hash(token, hash);
	return true;
}

static void
verify_email_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"token", NULL};
	struct auth *a = arg;
	char hash[67];

	if (!read_token(req, allowed, hash, NULL)) {
		return;
	}
	const char *params[] = {hash};
	sc_db_query(
	    a->db,
	    "WITH t AS (UPDATE auth.email_tokens SET used_at = now()"
	    "  WHERE token_hash = $1 AND kind = 'verify'"
	    "  AND used_at IS NULL AND expires_at > now()"
	    "  RETURNING user_id)"
	    " UPDATE auth.users SET email_verified = true, updated_at = now()"
	    " FROM t WHERE id = t.user_id RETURNING " AUTH_USER_COLS,
	    1, params, verify_done_cb, req);
}

/* ---- POST /api/auth/forgot-password ------------------------------------- */

struct forgot {
	struct auth *a;
	struct sc_http_req *req;
};

static void
forgot_done_cb(int err, PGresult *res, void *arg)
{
	struct forgot *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else {
		auth_mail_kick(op->a->mail);
		reply_ok(op->req, 202);
	}
	free(op);
}

static void
forgot_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"email", NULL};
	struct auth *a = arg;
	json_object *body = sc_http_req_json(req);
	const char *email = NULL;
	struct sc_valid v;
	char secret[AUTH_SECRET_LEN + 1], hash[67];

	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	if (sc_valid_string(&v, body, "email", SC_V_REQUIRED, 3, 254, &email)) {
		sc_valid_email(&v, "email", email);
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	if (rate_limited(
	        a->forgot_ip, req,
	        "too many reset requests from this address, try later")) {
		return;
	}
	struct forgot *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	char *lower = lowercase_dup(email);
	auth_secret_new(secret);
	auth_secret_hash(secret, hash);
	char *link =
	    sc_asprintf("%s/reset-password?token=%s", a->public_url, secret);
	char *text = sc_asprintf("Hi,\n\nsomeone (hopefully you) asked to "
	                         "reset the password of your "
	                         "spotlight.cam account. Choose a new one "
	                         "here:\n\n%s\n\nThe link works "
	                         "for 1 hour, once. If it was not you, ignore "
	                         "this mail: your password "
	                         "stays as it is.\n",
	                         link);
	const char *params[] = {
	    lower, hash, "Reset your spotlight.cam password", text, link};
	/* Same answer whether or not the address is known: no enumeration. */
	sc_db_query(
	    a->db,
	    "WITH u AS (SELECT id, email FROM auth.users WHERE email = $1),"
	    " t AS (INSERT INTO auth.email_tokens"
	    "  (user_id, kind, token_hash, expires_at)"
	    "  SELECT id, 'reset', $2, now() + interval '1 hour' FROM u),"
	    " m AS (INSERT INTO auth.mail_outbox"
	    "  (kind, to_address, subject, body, link)"
	    "  SELECT 'reset', email, $3, $4, $5 FROM u RETURNING id)"
	    " SELECT count(*) AS queued FROM m",
	    5, params, forgot_done_cb, op);
	explicit_bzero(secret, sizeof secret);
	free(lower);
	free(link);
	free(text);
}

/* ---- POST /api/auth/reset-password -------------------------------------- */

struct reset {
	struct auth *a;
	struct sc_http_req *req;
	char hash[67];
};

static void
reset_done_cb(int err, PGresult *res, void *arg)
{
	struct reset *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else if (PQntuples(res) == 0) {
		reply_invalid_token(op->req);
	} else {
		sc_log_info(sc_http_req_id(op->req),
		            "password reset for user %lld; sessions revoked",
		            sc_db_int(res, 0, "id"));
		reply_ok(op->req, 200);
	}
	free(op);
}

static void
reset_hashed_cb(int err, const char *encoded, void *arg)
{
	struct reset *op = arg;

	if (err != SC_OK) {
		sc_http_reply_err(op->req, err, "cannot reset now, try again");
		free(op);
		return;
	}
	/* Use the token, set the password, end every session: one statement.
	 * Receiving the mail also proves the address. */
	const char *params[] = {op->hash, encoded};
	sc_db_query(
	    op->a->db,
	    "WITH t AS (UPDATE auth.email_tokens SET used_at = now()"
	    "  WHERE token_hash = $1 AND kind = 'reset'"
	    "  AND used_at IS NULL AND expires_at > now()"
	    "  RETURNING user_id),"
	    " u AS (UPDATE auth.users SET password_hash = $2,"
	    "  email_verified = true, updated_at = now()"
	    "  FROM t WHERE id = t.user_id RETURNING id),"
	    " r AS (UPDATE auth.refresh_tokens SET revoked_at = now()"
	    "  WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL)"
	    " SELECT id FROM u",
	    2, params, reset_done_cb, op);
}

static void
reset_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"token", "password", NULL};
	struct auth *a = arg;
	const char *password = NULL;
	char hash[67];

	/* No rate limit: a token is 256 random bits, guessing is hopeless. */
	if (!read_token(req, allowed, hash, &password)) {
		return;
	}
	struct reset *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	memcpy(op->hash, hash, sizeof hash);
	sc_hasher_hash(a->hasher, password, reset_hashed_cb, op);
}

void
auth_account_routes(struct auth *a)
{
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/register",
	              SC_HTTP_JSON, register_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/verify-email",
	              SC_HTTP_JSON, verify_email_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/forgot-password",
	              SC_HTTP_JSON, forgot_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/reset-password",
	              SC_HTTP_JSON, reset_cb, a);
}
