/* routes.c: /api/matches over HTTP. Each route checks the token and its
 * input, runs the shared operation (match.c) and turns its outcome into a
 * reply; the list of the caller's matches (HTTP only) lives here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "cursor.h"
#include "db_reply.h"
#include "error.h"
#include "json_out.h"
#include "log.h"
#include "matchmaking.h"
#include "validate.h"

#define LIST_DEFAULT 20
#define LIST_MAX     100
/* A cursor's time is microseconds since 1970; past this (about the year
 * 5100) it cannot come from us, and PostgreSQL would fail on it. */
#define CURSOR_US_MAX 100000000000000000LL

#define STATUS_NAMES "pending, accepted, rejected, cancelled, completed"

/* A positive decimal integer that fits int64 (digits only). */
static bool
parse_id(const char *s, int64_t *out)
{
	size_t n;
	long long v;

	if (s == NULL) {
		return false;
	}
	n = strlen(s);
	if (n == 0 || n > 19 || strspn(s, "0123456789") != n) {
		return false;
	}
	errno = 0;
	v = strtoll(s, NULL, 10);
	if (errno != 0 || v <= 0) {
		return false;
	}
	*out = v;
	return true;
}

static void
reply_outcome(struct sc_http_req *req, const struct mm_outcome *out,
              int ok_status)
{
	if (out->err == SC_OK) {
		json_object *body = json_object_new_object();
		json_object_object_add(body, "match",
		                       json_object_get(out->match));
		sc_http_reply_json(req, ok_status, body);
		return;
	}
	sc_http_reply_error(req, sc_err_http_status(out->err), out->code,
	                    out->message, json_object_get(out->details));
}

static void
created_cb(const struct mm_outcome *out, void *arg)
{
	reply_outcome(arg, out, 201);
}

static void
done_cb(const struct mm_outcome *out, void *arg)
{
	reply_outcome(arg, out, 200);
}

/* ---- POST /api/matches -------------------------------------------------- */

static void
create_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"targetUserId", "eventId", NULL};
	struct matchmaking *m = arg;
	json_object *body = sc_http_req_json(req);
	struct sc_claims claims;
	struct sc_valid v;
	int64_t target = 0, event = 0;

	if (!sc_token_require(m->d.verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_int(&v, body, "targetUserId", SC_V_REQUIRED, 1, INT64_MAX,
	             &target);
	sc_valid_int(&v, body, "eventId", SC_V_REQUIRED, 1, INT64_MAX, &event);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	mm_match_create(m, claims.user_id, target, event, sc_http_req_id(req),
	                created_cb, req);
}

/* ---- GET /api/matches/:id ----------------------------------------------- */

static void
read_cb(struct sc_http_req *req, void *arg)
{
	struct matchmaking *m = arg;
	struct sc_claims claims;
	int64_t id;

	if (!sc_token_require(m->d.verifier, req, &claims)) {
		return;
	}
	if (!parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such match");
		return;
	}
	mm_match_read(m, claims.user_id, id, sc_http_req_id(req), done_cb, req);
}

/* ---- PATCH /api/matches/:id --------------------------------------------- */

static void
update_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"status", NULL};
	struct matchmaking *m = arg;
	json_object *body = sc_http_req_json(req);
	struct sc_claims claims;
	struct sc_valid v;
	const char *name = NULL;
	enum mm_status to = MM_PENDING;
	int64_t id;

	if (!sc_token_require(m->d.verifier, req, &claims)) {
		return;
	}
	if (!parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such match");
		return;
	}
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	if (sc_valid_string(&v, body, "status", SC_V_REQUIRED, 1, 32, &name) &&
	    !mm_status_parse(name, &to)) {
		sc_valid_fail(&v, "status", "must be one of " STATUS_NAMES);
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	mm_match_update(m, claims.user_id, id, to, sc_http_req_id(req), done_cb,
	                req);
}

/* ---- GET /api/matches --------------------------------------------------- */

/* One row of the page, kept past the query for the profile lookup. */
struct list_row {
	int64_t id, event_id, requester_id, target_id;
	char *status, *created_at, *updated_at;
};

/* A page is cached whole, by caller and query (d.cache): matches change
 * only through this daemon's statements or SQL, both of which empty the
 * cache (a local clear before the answer, NOTIFY matchmaking_changed for
 * every daemon), and the profiles in it through user.updated (main.c).
 * The TTL is only a bound for a missed profile edit. */
#define LIST_TTL_MS 30000

struct list {
	struct matchmaking *m;
	struct sc_http_req *req;
	long limit;
	uint64_t gen; /* the cache's, before the query */
	char *key;
	char *next; /* the next page's cursor, or NULL */
	struct list_row *rows;
	int nrows;
};

/* A cursor is "<created_at in microseconds>|<id>" of the last item. */
static bool
cursor_parse(const char *s, int64_t *us, int64_t *id)
{
	char *key = sc_cursor_decode(s), *parts[2];
	bool ok;

	if (key == NULL) {
		return false;
	}
	ok = sc_cursor_split(key, parts, 2) == 2 && parse_id(parts[0], us) &&
	     *us <= CURSOR_US_MAX && parse_id(parts[1], id);
	free(key);
	return ok;
}

static void
list_free(struct list *l)
{
	for (int i = 0; i < l->nrows; i++) {
		free(l->rows[i].status);
		free(l->rows[i].created_at);
		free(l->rows[i].updated_at);
	}
	free(l->rows);
	free(l->next);
	free(l->key);
	free(l);
}

/* The profile of `id` in found (auth's answer), or NULL: null on the wire,
 * as when it is unknown. */
static json_object *
profile_of(json_object *found, int64_t id)
{
	json_object *profile = NULL;
	char key[24];

	if (found == NULL) {
		return NULL;
	}
	snprintf(key, sizeof key, "%lld", (long long)id);
	if (!json_object_object_get_ex(found, key, &profile)) {
		return NULL;
	}
	return profile;
}

/* The page as mm_match_json items filled by mm_profiles_fill would print,
 * written straight as text (same keys, same order). */
static void
list_profiles_cb(int err, json_object *found, void *arg)
{
	struct list *l = arg;
	struct sc_json_out o;

	if (err != SC_OK) {
		sc_log_warn(
		    sc_http_req_id(l->req),
		    "cannot read profiles from auth: %s; matches go out "
		    "without them",
		    sc_err_str(err));
		found = NULL;
	}
	sc_json_out_init(&o);
	sc_json_out_begin_object(&o);
	sc_json_out_key(&o, "items");
	sc_json_out_begin_array(&o);
	for (int i = 0; i < l->nrows; i++) {
		const struct list_row *r = &l->rows[i];
		sc_json_out_begin_object(&o);
		sc_json_out_key(&o, "id");
		sc_json_out_int(&o, r->id);
		sc_json_out_key(&o, "eventId");
		sc_json_out_int(&o, r->event_id);
		sc_json_out_key(&o, "status");
		sc_json_out_string(&o, r->status);
		sc_json_out_key(&o, "requesterId");
		sc_json_out_int(&o, r->requester_id);
		sc_json_out_key(&o, "targetId");
		sc_json_out_int(&o, r->target_id);
		sc_json_out_key(&o, "requester");
		sc_json_out_json(&o, profile_of(found, r->requester_id));
		sc_json_out_key(&o, "target");
		sc_json_out_json(&o, profile_of(found, r->target_id));
		sc_json_out_key(&o, "createdAt");
		sc_json_out_string(&o, r->created_at);
		sc_json_out_key(&o, "updatedAt");
		sc_json_out_string(&o, r->updated_at);
		sc_json_out_end_object(&o);
	}
	sc_json_out_end_array(&o);
	sc_json_out_key(&o, "nextCursor");
	sc_json_out_string(&o, l->next);
	sc_json_out_end_object(&o);
	/* Not without the profiles: auth may be back for the next read. */
	if (found != NULL) {
		sc_cache_put(l->m->d.cache, l->gen, l->key, strlen(l->key),
		             sc_json_out_text(&o), sc_json_out_len(&o),
		             LIST_TTL_MS);
	}
	sc_http_reply_json_text(l->req, 200, sc_json_out_text(&o),
	                        sc_json_out_len(&o));
	sc_json_out_release(&o);
	list_free(l);
}

static char *
str_copy(const PGresult *res, int row, const char *col)
{
	const char *s = sc_db_str(res, row, col);
	return s != NULL ? sc_strdup(s) : NULL;
}

static void
list_done_cb(int err, PGresult *res, void *arg)
{
	struct list *l = arg;
	int n;

	if (err != SC_OK) {
		sc_db_reply_error(l->req, err, res);
		list_free(l);
		return;
	}
	n = PQntuples(res);
	if (n > l->limit) {
		/* One row more than asked for: there is a next page, which
		 * starts after the last row shown. */
		n = (int)l->limit;
		char *key =
		    sc_asprintf("%s|%s", sc_db_str(res, n - 1, "created_us"),
		                sc_db_str(res, n - 1, "id"));
		l->next = sc_cursor_encode(key);
		free(key);
	}
	int64_t *ids = sc_calloc(2 * (size_t)n + 1, sizeof *ids);
	l->rows = sc_calloc((size_t)n + 1, sizeof *l->rows);
	for (int i = 0; i < n; i++) {
		struct list_row *r = &l->rows[i];
		r->id = sc_db_int(res, i, "id");
		r->event_id = sc_db_int(res, i, "event_id");
		r->requester_id = sc_db_int(res, i, "requester_id");
		r->target_id = sc_db_int(res, i, "target_id");
		r->status = str_copy(res, i, "status");
		r->created_at = str_copy(res, i, "created_at");
		r->updated_at = str_copy(res, i, "updated_at");
		ids[2 * i] = r->requester_id;
		ids[2 * i + 1] = r->target_id;
		l->nrows = i + 1;
	}
	sc_profiles_get(l->m->d.profiles, ids, 2 * (size_t)n,
	                sc_http_req_id(l->req), list_profiles_cb, l);
	free(ids);
}

/* One side of "my matches": the caller as requester or as target, newest
 * first, after the cursor. Each side walks its own index; the outer query
 * merges the two (a member is never both: requester <> target). */
#define LIST_SIDE(member)                                                      \
	"(SELECT * FROM matchmaking.matches WHERE " member " = $1"             \
	" AND ($2::text IS NULL OR status = $2)"                               \
	" AND ($3::bigint IS NULL OR event_id = $3)"                           \
	" AND ($4::bigint IS NULL OR (created_at, id) <"                       \
	" ('epoch'::timestamptz + $4::bigint * interval '1 microsecond',"      \
	" $5::bigint))"                                                        \
	" ORDER BY created_at DESC, id DESC LIMIT $6)"

/* The caller's matches: both sides merged, newest first. (Kept out of
 * clang-format, whose reflow of the pieces would hide the query.) */
/* clang-format off */
static const char list_sql[] =
	"SELECT " MM_MATCH_COLS " FROM ("
	LIST_SIDE("requester_id")
	" UNION ALL "
	LIST_SIDE("target_id")
	") AS m ORDER BY m.created_at DESC, m.id DESC LIMIT $6";
/* clang-format on */

static void
list_cb(struct sc_http_req *req, void *arg)
{
	struct matchmaking *m = arg;
	struct sc_claims claims;
	struct sc_valid v;
	const char *status_q = sc_http_req_query(req, "status");
	const char *event_q = sc_http_req_query(req, "eventId");
	const char *limit_q = sc_http_req_query(req, "limit");
	const char *cursor_q = sc_http_req_query(req, "cursor");
	enum mm_status status;
	int64_t event = 0, limit = LIST_DEFAULT, cur_us = 0, cur_id = 0;
	char user_s[24], event_s[24], us_s[24], id_s[24], limit_s[24];

	if (!sc_token_require(m->d.verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	if (status_q != NULL && !mm_status_parse(status_q, &status)) {
		sc_valid_fail(&v, "status", "must be one of " STATUS_NAMES);
	}
	if (event_q != NULL && !parse_id(event_q, &event)) {
		sc_valid_fail(&v, "eventId", "must be a positive integer");
	}
	if (limit_q != NULL &&
	    (!parse_id(limit_q, &limit) || limit > LIST_MAX)) {
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
	}
	if (cursor_q != NULL && !cursor_parse(cursor_q, &cur_us, &cur_id)) {
		sc_valid_fail(&v, "cursor", "is not valid");
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	snprintf(user_s, sizeof user_s, "%lld", (long long)claims.user_id);
	snprintf(event_s, sizeof event_s, "%lld", (long long)event);
	snprintf(us_s, sizeof us_s, "%lld", (long long)cur_us);
	snprintf(id_s, sizeof id_s, "%lld", (long long)cur_id);
	snprintf(limit_s, sizeof limit_s, "%lld", (long long)limit + 1);
	const char *params[] = {
	    user_s,
	    status_q,
	    event_q != NULL ? event_s : NULL,
	    cursor_q != NULL ? us_s : NULL,
	    cursor_q != NULL ? id_s : NULL,
	    limit_s,
	};
	/* Every part is a number or a status name: the key fits. */
	char key[160];
	size_t len;
	snprintf(key, sizeof key, "M|%s|%s|%s|%s|%s|%s", user_s,
	         status_q != NULL ? status_q : "",
	         event_q != NULL ? event_s : "", cursor_q != NULL ? us_s : "",
	         cursor_q != NULL ? id_s : "", limit_s);
	const char *page = sc_cache_get(m->d.cache, key, strlen(key), &len);
	if (page != NULL) {
		sc_http_reply_json_text(req, 200, page, len);
		return;
	}
	struct list *l = sc_calloc(1, sizeof *l);
	l->m = m;
	l->req = req;
	l->limit = (long)limit;
	l->gen = sc_cache_gen(m->d.cache);
	l->key = sc_strdup(key);
	sc_db_query(m->d.db, list_sql, 6, params, list_done_cb, l);
}

void
mm_routes(struct matchmaking *m)
{
	sc_http_route(m->d.http, EVHTTP_REQ_GET, "/api/matches", 0, list_cb, m);
	sc_http_route(m->d.http, EVHTTP_REQ_POST, "/api/matches", SC_HTTP_JSON,
	              create_cb, m);
	sc_http_route(m->d.http, EVHTTP_REQ_GET, "/api/matches/:id", 0, read_cb,
	              m);
	sc_http_route(m->d.http, EVHTTP_REQ_PATCH, "/api/matches/:id",
	              SC_HTTP_JSON, update_cb, m);
}
