/* session.c: login, refresh (rotating refresh tokens with reuse detection)
 * and logout. The access token is a JWT in the body; the refresh token is
 * an opaque secret in an HttpOnly cookie whose SHA-256 alone is stored. */
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

#define REFRESH_COOKIE "sc_refresh"

static void
set_refresh_cookie(struct auth *a, struct sc_http_req *req, const char *secret)
{
	char *cookie = sc_asprintf(
	    REFRESH_COOKIE "=%s; Path=/api/auth; Max-Age=%ld; HttpOnly; "
	                   "SameSite=Strict%s",
	    secret ? secret : "", secret ? a->refresh_ttl : 0L,
	    a->cookie_secure ? "; Secure" : "");
	sc_http_req_add_header(req, "Set-Cookie", cookie);
	free(cookie);
}

/* Reply 200 {accessToken, expiresIn, user} for row 0 of res, with a new
 * refresh cookie holding `secret`. */
static void
reply_session(struct auth *a, struct sc_http_req *req, const PGresult *res,
              const char *secret)
{
	char *token = NULL;
	int64_t id = sc_db_int(res, 0, "id");

	if (sc_token_sign(a->signer, id, sc_db_str(res, 0, "username"),
	                  time(NULL), &token) != SC_OK) {
		sc_log_error(sc_http_req_id(req),
		             "cannot sign an access token");
		sc_http_reply_err(req, SC_EINTERNAL, NULL);
		return;
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "accessToken",
	                       json_object_new_string(token));
	json_object_object_add(body, "expiresIn",
	                       json_object_new_int64(sc_token_ttl(a->signer)));
	json_object_object_add(body, "user",
	                       auth_user_json(res, 0, AUTH_VIEW_PRIVATE));
	free(token);
	set_refresh_cookie(a, req, secret);
	sc_http_reply_json(req, 200, body);
}

static void
reply_too_many(struct sc_http_req *req, int retry_after)
{
	sc_http_reply_rate_limited(req, retry_after,
	                           "too many failed logins, try again later");
}

/* ---- POST /api/auth/login ----------------------------------------------- */

struct login {
	struct auth *a;
	struct sc_http_req *req;
	char *login;    /* lower-cased */
	char *account;  /* the account limiter's key: "u:<id>", or "l:<login>"
	                   for a login that names no account */
	char *password; /* wiped before free */
	char *ip;
	PGresult *user; /* the user row, NULL for an unknown login */
	char secret[AUTH_SECRET_LEN + 1];
};

static void
login_free(struct login *op)
{
	explicit_bzero(op->password, strlen(op->password));
	explicit_bzero(op->secret, sizeof op->secret);
	free(op->password);
	free(op->login);
	free(op->account);
	free(op->ip);
	PQclear(op->user);
	free(op);
}

static void
login_session_cb(int err, PGresult *res, void *arg)
{
	struct login *op = arg;

	(void)res;
	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else {
		reply_session(op->a, op->req, op->user, op->secret);
	}
	login_free(op);
}

static void
login_verified_cb(int err, void *arg)
{
	struct login *op = arg;
	struct auth *a = op->a;
	time_t now = time(NULL);
	int retry = 0;

	/* Checked again now that the verdict is in: attempts verified at
	 * once all passed the first checks before any failure was counted.
	 * Past a limit the verdict is not told, so a burst of guesses learns
	 * no more answers than the limit allows. */
	if ((err == SC_OK || err == SC_EAUTH) &&
	    (!sc_ratelimit_check(a->login_fail_account, op->account, now,
	                         &retry) ||
	     !sc_ratelimit_check(a->login_fail_ip, op->ip, now, &retry))) {
		if (err == SC_EAUTH) {
			sc_ratelimit_hit(a->login_fail_ip, op->ip, now);
			sc_ratelimit_hit(a->login_fail_account, op->account,
			                 now);
		}
		sc_log_warn(sc_http_req_id(op->req),
		            "login limited for '%s' after the check",
		            op->login);
		reply_too_many(op->req, retry);
		login_free(op);
		return;
	}
	if (err == SC_EAUTH) {
		sc_ratelimit_hit(a->login_fail_ip, op->ip, now);
		sc_ratelimit_hit(a->login_fail_account, op->account, now);
		sc_http_reply_error(op->req, 401, "invalid_credentials",
		                    "wrong username, email or password", NULL);
		login_free(op);
		return;
	}
	if (err != SC_OK) {
		sc_http_reply_err(op->req, err,
		                  "cannot check the password now, "
		                  "try again");
		login_free(op);
		return;
	}
	sc_ratelimit_reset(a->login_fail_account, op->account);

	char hash[67], id[24], ttl[24];
	auth_secret_new(op->secret);
	auth_secret_hash(op->secret, hash);
	snprintf(id, sizeof id, "%lld", sc_db_int(op->user, 0, "id"));
	snprintf(ttl, sizeof ttl, "%ld", a->refresh_ttl);
	const char *params[] = {id, hash, ttl};
	sc_db_query(a->db,
	            "INSERT INTO auth.refresh_tokens"
	            " (family_id, user_id, token_hash, expires_at)"
	            " VALUES (gen_random_uuid(), $1, $2,"
	            " now() + make_interval(secs => $3::bigint))",
	            3, params, login_session_cb, op);
}

static void
login_user_cb(int err, PGresult *res, void *arg)
{
	struct login *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		login_free(op);
		return;
	}
	/* An unknown login verifies a dummy hash: the same time as a wrong
	 * password, so response times do not tell which accounts exist. */
	const char *hash = NULL;
	if (PQntuples(res) == 1) {
		op->user =
		    PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		if (op->user == NULL) {
			sc_oom();
		}
		hash = sc_db_str(op->user, 0, "password_hash");
		op->account =
		    sc_asprintf("u:%lld", sc_db_int(op->user, 0, "id"));
	} else {
		op->account = sc_asprintf("l:%s", op->login);
	}
	/* Per account, whichever name (username or email) was typed. */
	int retry = 0;
	if (!sc_ratelimit_check(op->a->login_fail_account, op->account,
	                        time(NULL), &retry)) {
		sc_log_warn(sc_http_req_id(op->req), "login limited for '%s'",
		            op->login);
		reply_too_many(op->req, retry);
		login_free(op);
		return;
	}
	sc_hasher_verify(op->a->hasher, hash, op->password, login_verified_cb,
	                 op);
}

static void
login_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"login", "password", NULL};
	struct auth *a = arg;
	json_object *body = sc_http_req_json(req);
	const char *login = NULL, *password = NULL;
	struct sc_valid v;
	int retry_ip = 0;
	time_t now = time(NULL);

	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_string(&v, body, "login", SC_V_REQUIRED, 1, 254, &login);
	sc_valid_string(&v, body, "password", SC_V_REQUIRED, 1, 1024,
	                &password);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	struct login *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	op->login = sc_strdup(login);
	for (char *p = op->login; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
	}
	op->password = sc_strdup(password);
	op->ip = sc_strdup(sc_http_req_client_ip(req));

	/* Checked before any work: a limited client costs nothing. The
	 * account's limit is checked once the lookup names the account. */
	if (!sc_ratelimit_check(a->login_fail_ip, op->ip, now, &retry_ip)) {
		sc_log_warn(sc_http_req_id(req), "login limited for %s",
		            op->ip);
		reply_too_many(req, retry_ip);
		login_free(op);
		return;
	}
	const char *params[] = {op->login};
	sc_db_query(a->db,
	            "SELECT " AUTH_USER_COLS ", password_hash FROM auth.users"
	            " WHERE username = $1 OR email = $1 LIMIT 1",
	            1, params, login_user_cb, op);
}

/* ---- POST /api/auth/refresh --------------------------------------------- */

struct refresh {
	struct auth *a;
	struct sc_http_req *req;
	char old_hash[67];
	char secret[AUTH_SECRET_LEN + 1];
};

static void
refresh_free(struct refresh *op)
{
	explicit_bzero(op->secret, sizeof op->secret);
	free(op);
}

static void
refresh_reject_cb(int err, PGresult *res, void *arg)
{
	struct refresh *op = arg;

	set_refresh_cookie(op->a, op->req, NULL);
	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else if (PQntuples(res) == 1 && sc_db_bool(res, 0, "reused")) {
		sc_log_warn(
		    sc_http_req_id(op->req),
		    "refresh token reused: revoked its family (%lld tokens)",
		    sc_db_int(res, 0, "revoked"));
		sc_http_reply_error(
		    op->req, 401, "refresh_token_reused",
		    "this session was ended because its refresh "
		    "token was used twice; log in again",
		    NULL);
	} else {
		sc_http_reply_error(
		    op->req, 401, "invalid_refresh_token",
		    "the session has expired or was ended; log in "
		    "again",
		    NULL);
	}
	refresh_free(op);
}

static void
refresh_rotated_cb(int err, PGresult *res, void *arg)
{
	struct refresh *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		refresh_free(op);
		return;
	}
	if (PQntuples(res) == 1) {
		reply_session(op->a, op->req, res, op->secret);
		refresh_free(op);
		return;
	}
	/* Nothing rotated: unknown, expired, revoked, or already used. A used
	 * token presented again means two holders: end the whole family. */
	const char *params[] = {op->old_hash};
	sc_db_query(
	    op->a->db,
	    "WITH t AS (SELECT family_id, used_at FROM auth.refresh_tokens"
	    "  WHERE token_hash = $1),"
	    " rev AS (UPDATE auth.refresh_tokens r SET revoked_at = now()"
	    "  FROM t WHERE r.family_id = t.family_id"
	    "  AND t.used_at IS NOT NULL AND r.revoked_at IS NULL"
	    "  RETURNING r.id)"
	    " SELECT coalesce((SELECT used_at IS NOT NULL FROM t), false)"
	    " AS reused, (SELECT count(*) FROM rev) AS revoked",
	    1, params, refresh_reject_cb, op);
}

static void
refresh_cb(struct sc_http_req *req, void *arg)
{
	struct auth *a = arg;
	const char *old = sc_http_req_cookie(req, REFRESH_COOKIE);
	char new_hash[67], ttl[24];

	if (old == NULL || strlen(old) != AUTH_SECRET_LEN) {
		set_refresh_cookie(a, req, NULL);
		sc_http_reply_error(req, 401, "invalid_refresh_token",
		                    "no session: log in", NULL);
		return;
	}
	struct refresh *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	auth_secret_hash(old, op->old_hash);
	auth_secret_new(op->secret);
	auth_secret_hash(op->secret, new_hash);
	snprintf(ttl, sizeof ttl, "%ld", a->refresh_ttl);
	/* Mark the old token used and issue its successor in one statement:
	 * of two concurrent refreshes with one token, exactly one rotates (the
	 * other waits on the row lock, then sees used_at set). */
	const char *params[] = {op->old_hash, new_hash, ttl};
	sc_db_query(
	    a->db,
	    "WITH old AS (UPDATE auth.refresh_tokens SET used_at = now()"
	    "  WHERE token_hash = $1 AND used_at IS NULL"
	    "  AND revoked_at IS NULL AND expires_at > now()"
	    "  RETURNING family_id, user_id),"
	    " fresh AS (INSERT INTO auth.refresh_tokens"
	    "  (family_id, user_id, token_hash, expires_at)"
	    "  SELECT family_id, user_id, $2,"
	    "  now() + make_interval(secs => $3::bigint) FROM old"
	    "  RETURNING user_id)"
	    " SELECT " AUTH_USER_COLS " FROM auth.users"
	    " WHERE id = (SELECT user_id FROM fresh)",
	    3, params, refresh_rotated_cb, op);
}

/* ---- POST /api/auth/logout ---------------------------------------------- */

static void
logout_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_http_req *req = arg;

	if (err != SC_OK) {
		sc_db_reply_error(req, err, res);
		return;
	}
	sc_http_reply_json(req, 204, NULL);
}

static void
logout_cb(struct sc_http_req *req, void *arg)
{
	struct auth *a = arg;
	const char *old = sc_http_req_cookie(req, REFRESH_COOKIE);
	char hash[67];

	set_refresh_cookie(a, req, NULL);
	if (old == NULL || strlen(old) != AUTH_SECRET_LEN) {
		sc_http_reply_json(req, 204, NULL);
		return;
	}
	auth_secret_hash(old, hash);
	const char *params[] = {hash};
	sc_db_query(
	    a->db,
	    "UPDATE auth.refresh_tokens SET revoked_at = now()"
	    " WHERE family_id = (SELECT family_id FROM auth.refresh_tokens"
	    "  WHERE token_hash = $1) AND revoked_at IS NULL",
	    1, params, logout_done_cb, req);
}

void
auth_session_routes(struct auth *a)
{
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/login", SC_HTTP_JSON,
	              login_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/refresh",
	              SC_HTTP_JSON_OPTIONAL, refresh_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_POST, "/api/auth/logout",
	              SC_HTTP_JSON_OPTIONAL, logout_cb, a);
}
