/* auth.h: the auth daemon's context and the entry points of its modules.
 * One context per process (struct auth), created in main.c; every handler
 * gets it through its callback argument. */
#ifndef AUTH_H
#define AUTH_H

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "bus.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "password.h"
#include "ratelimit.h"
#include "token.h"

struct auth_mail;

struct auth {
	struct event_base *base;
	struct sc_http_server *http;
	struct sc_db *db;
	struct sc_bus *bus;
	struct sc_hasher *hasher;
	struct sc_token_signer *signer;
	struct sc_token_verifier *verifier;
	struct sc_health health;
	struct auth_mail *mail;

	/* Brute-force and abuse limits (see README.md). */
	struct sc_ratelimit *login_fail_ip;      /* failed logins per IP */
	struct sc_ratelimit *login_fail_account; /* failed logins per login */
	struct sc_ratelimit *register_ip;        /* registrations per IP */
	struct sc_ratelimit *forgot_ip;          /* reset mails per IP */

	long refresh_ttl;       /* seconds */
	int cookie_secure;      /* add Secure to the refresh cookie */
	const char *public_url; /* borrowed from the environment */
};

/* The columns every user query selects, so auth_user_json can render the
 * row; unqualified, for use on auth.users or a CTE over it. */
#define AUTH_USER_COLS                                                         \
	"id, username, email, display_name, avatar_url, wsdc_id, bio, "        \
	"email_verified, to_char(created_at AT TIME ZONE 'UTC', "              \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"

/* users.c: rendering and the /api/users routes, the bus handler. */
enum auth_view { AUTH_VIEW_PUBLIC, AUTH_VIEW_PRIVATE };
/* Row `row` of a result with AUTH_USER_COLS as JSON. Caller owns; release
 * with json_object_put. */
json_object *auth_user_json(const PGresult *res, int row, enum auth_view view);
void auth_users_routes(struct auth *a);
void auth_users_bus(struct auth *a);

/* account.c: register, verify-email, forgot/reset password. */
void auth_account_routes(struct auth *a);

/* session.c: login, refresh, logout. */
void auth_session_routes(struct auth *a);

/* secret.c: opaque tokens (refresh, email) and what is stored of them. */
#define AUTH_SECRET_LEN 43 /* base64url of 32 random bytes, no padding */
/* Fill out (AUTH_SECRET_LEN + 1 bytes) with a fresh random token. */
void auth_secret_new(char out[AUTH_SECRET_LEN + 1]);
/* SHA-256 of `secret` as a bytea literal in hex ("\x" + 64 hex digits) for
 * a query parameter; out must hold 67 bytes. */
void auth_secret_hash(const char *secret, char out[67]);

/* mail.c: the outbox delivery loop. */
/* Caller owns; free with auth_mail_free(). dir is copied. NULL on failure. */
struct auth_mail *auth_mail_new(struct event_base *base, struct sc_db *db,
                                const char *dir);
/* Deliver pending mail soon (after an insert into the outbox). */
void auth_mail_kick(struct auth_mail *m);
void auth_mail_free(struct auth_mail *m);

#endif
