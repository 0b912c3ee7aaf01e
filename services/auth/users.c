/* users.c: the user object on the wire, /api/users/me, public profiles, and
 * the bus request auth.users.get other daemons enrich their replies with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "db_reply.h"
#include "error.h"
#include "log.h"
#include "validate.h"

#define USERS_GET_MAX 100

static json_object *
str_or_null(const PGresult *res, int row, const char *col)
{
	const char *s = sc_db_str(res, row, col);
	return s != NULL ? json_object_new_string(s) : NULL;
}

json_object *
auth_user_json(const PGresult *res, int row, enum auth_view view)
{
	json_object *u = json_object_new_object();

	json_object_object_add(
	    u, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(u, "username",
	                       str_or_null(res, row, "username"));
	if (view == AUTH_VIEW_PRIVATE) {
		json_object_object_add(u, "email",
		                       str_or_null(res, row, "email"));
	}
	json_object_object_add(u, "displayName",
	                       str_or_null(res, row, "display_name"));
	json_object_object_add(u, "avatarUrl",
	                       str_or_null(res, row, "avatar_url"));
	json_object_object_add(
	    u, "wsdcId",
	    sc_db_isnull(res, row, "wsdc_id")
	        ? NULL
	        : json_object_new_int64(sc_db_int(res, row, "wsdc_id")));
	json_object_object_add(u, "bio", str_or_null(res, row, "bio"));
	if (view == AUTH_VIEW_PRIVATE) {
		json_object_object_add(u, "emailVerified",
		                       json_object_new_boolean(sc_db_bool(
		                           res, row, "email_verified")));
	}
	json_object_object_add(u, "createdAt",
	                       str_or_null(res, row, "created_at"));
	return u;
}

/* ---- GET /api/users/me, GET /api/users/:username ------------------------ */

struct user_read {
	struct sc_http_req *req;
	enum auth_view view;
};

static void
user_read_done_cb(int err, PGresult *res, void *arg)
{
	struct user_read *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else if (PQntuples(res) == 0) {
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such user");
	} else {
		sc_http_reply_json(op->req, 200,
		                   auth_user_json(res, 0, op->view));
	}
	free(op);
}

static void
me_get_cb(struct sc_http_req *req, void *arg)
{
	struct auth *a = arg;
	struct sc_claims claims;
	char id[24];

	if (!sc_token_require(a->verifier, req, &claims)) {
		return;
	}
	struct user_read *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->view = AUTH_VIEW_PRIVATE;
	snprintf(id, sizeof id, "%lld", (long long)claims.user_id);
	const char *params[] = {id};
	sc_db_query(a->db,
	            "SELECT " AUTH_USER_COLS " FROM auth.users WHERE id = $1",
	            1, params, user_read_done_cb, op);
}

static void
profile_get_cb(struct sc_http_req *req, void *arg)
{
	struct auth *a = arg;
	struct sc_claims claims;
	const char *username = sc_http_req_param(req, "username");

	if (!sc_token_require(a->verifier, req, &claims)) {
		return;
	}
	if (username == NULL || strlen(username) > 30) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such user");
		return;
	}
	struct user_read *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->view = AUTH_VIEW_PUBLIC;
	const char *params[] = {username};
	sc_db_query(a->db,
	            "SELECT " AUTH_USER_COLS
	            " FROM auth.users WHERE username = $1",
	            1, params, user_read_done_cb, op);
}

/* ---- PATCH /api/users/me ------------------------------------------------ */

struct user_patch {
	struct auth *a;
	struct sc_http_req *req;
};

static void
me_patch_done_cb(int err, PGresult *res, void *arg)
{
	struct user_patch *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else if (PQntuples(res) == 0) {
		sc_http_reply_err(op->req, SC_EAUTH,
		                  "the user no longer exists");
	} else {
		json_object *event = json_object_new_object();
		json_object_object_add(
		    event, "user", auth_user_json(res, 0, AUTH_VIEW_PUBLIC));
		sc_bus_publish(op->a->bus, "user.updated", event,
		               sc_http_req_id(op->req));
		sc_http_reply_json(op->req, 200,
		                   auth_user_json(res, 0, AUTH_VIEW_PRIVATE));
	}
	free(op);
}

static void
me_patch_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"displayName", "avatarUrl",
	                                      "wsdcId", "bio", NULL};
	struct auth *a = arg;
	json_object *body = sc_http_req_json(req);
	struct sc_claims claims;
	struct sc_valid v;
	const char *display = NULL, *avatar = NULL, *bio = NULL;
	int64_t wsdc = 0;
	char id[24], wsdc_s[24];

	if (!sc_token_require(a->verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	bool has_display = json_object_object_get_ex(body, "displayName", NULL);
	bool has_avatar = json_object_object_get_ex(body, "avatarUrl", NULL);
	bool has_wsdc = json_object_object_get_ex(body, "wsdcId", NULL);
	bool has_bio = json_object_object_get_ex(body, "bio", NULL);
	sc_valid_string(&v, body, "displayName", SC_V_NULLABLE | SC_V_TRIM, 1,
	                50, &display);
	if (sc_valid_string(&v, body, "avatarUrl", SC_V_NULLABLE, 1, 2048,
	                    &avatar) &&
	    avatar != NULL) {
		sc_valid_url(&v, "avatarUrl", avatar);
	}
	bool wsdc_set =
	    sc_valid_int(&v, body, "wsdcId", SC_V_NULLABLE, 1, 99999999, &wsdc);
	sc_valid_string(&v, body, "bio", SC_V_NULLABLE, 0, 500, &bio);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	snprintf(id, sizeof id, "%lld", (long long)claims.user_id);
	snprintf(wsdc_s, sizeof wsdc_s, "%lld", (long long)wsdc);
	/* One fixed statement: each column changes only when its flag is set,
	 * so the SQL never depends on which fields came. */
	const char *params[] = {
	    id,
	    has_display ? "t" : "f",
	    display,
	    has_avatar ? "t" : "f",
	    avatar,
	    has_wsdc ? "t" : "f",
	    wsdc_set ? wsdc_s : NULL,
	    has_bio ? "t" : "f",
	    bio,
	};
	struct user_patch *op = sc_calloc(1, sizeof *op);
	op->a = a;
	op->req = req;
	sc_db_query(
	    a->db,
	    "UPDATE auth.users SET"
	    " display_name = CASE WHEN $2::bool THEN $3 ELSE display_name END,"
	    " avatar_url = CASE WHEN $4::bool THEN $5 ELSE avatar_url END,"
	    " wsdc_id = CASE WHEN $6::bool THEN $7::integer ELSE wsdc_id END,"
	    " bio = CASE WHEN $8::bool THEN $9 ELSE bio END,"
	    " updated_at = now()"
	    " WHERE id = $1 RETURNING " AUTH_USER_COLS,
	    9, params, me_patch_done_cb, op);
}

/* ---- bus: auth.users.get ------------------------------------------------ */

static void
users_get_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_bus_req *req = arg;

	if (err != SC_OK) {
		sc_log_error(sc_bus_req_id(req), "auth.users.get failed: %s",
		             res != NULL ? PQresultErrorMessage(res)
		                         : "unavailable");
		sc_bus_reply_err(req,
		                 err == SC_EDB ? SC_EINTERNAL : SC_EUNAVAIL,
		                 "cannot read users");
		return;
	}
	json_object *users = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_object_array_add(users,
		                      auth_user_json(res, i, AUTH_VIEW_PUBLIC));
	}
	json_object *data = json_object_new_object();
	json_object_object_add(data, "users", users);
	sc_bus_reply(req, data);
}

static void
users_get_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct auth *a = arg;
	json_object *ids;
	char *list;
	size_t len = 0, cap = 2 + USERS_GET_MAX * 21;

	if (!json_object_object_get_ex(data, "ids", &ids) ||
	    !json_object_is_type(ids, json_type_array)) {
		sc_bus_reply_err(req, SC_EVALIDATION, "ids must be an array");
		return;
	}
	size_t n = json_object_array_length(ids);
	if (n > USERS_GET_MAX) {
		sc_bus_reply_err(req, SC_EVALIDATION,
		                 "at most 100 ids per request");
		return;
	}
	list = sc_malloc(cap);
	list[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		if (!json_object_is_type(id, json_type_int)) {
			free(list);
			sc_bus_reply_err(req, SC_EVALIDATION,
			                 "ids must be integers");
			return;
		}
		len += (size_t)snprintf(list + len, cap - len, "%s%lld",
		                        i ? "," : "",
		                        (long long)json_object_get_int64(id));
	}
	snprintf(list + len, cap - len, "}");
	const char *params[] = {list};
	sc_db_query(a->db,
	            "SELECT " AUTH_USER_COLS
	            " FROM auth.users WHERE id = ANY($1::bigint[]) ORDER BY id",
	            1, params, users_get_done_cb, req);
	free(list);
}

void
auth_users_routes(struct auth *a)
{
	sc_http_route(a->http, EVHTTP_REQ_GET, "/api/users/me", 0, me_get_cb,
	              a);
	sc_http_route(a->http, EVHTTP_REQ_PATCH, "/api/users/me", SC_HTTP_JSON,
	              me_patch_cb, a);
	sc_http_route(a->http, EVHTTP_REQ_GET, "/api/users/:username", 0,
	              profile_get_cb, a);
}

void
auth_users_bus(struct auth *a)
{
	sc_bus_handle(a->bus, "auth.users.get", users_get_cb, a);
}
